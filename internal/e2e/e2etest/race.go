//go:build race

package e2etest

// raceEnabled makes Main build the binary under test with -race too, so
// that data races in the child processes fail their output checks.
const raceEnabled = true
