//go:build !race

package ovn

const raceEnabled = false
