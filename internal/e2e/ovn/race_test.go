//go:build race

package ovn

// raceEnabled makes TestMain build the binary under test with -race too.
const raceEnabled = true
