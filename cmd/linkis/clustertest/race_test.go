//go:build linux && race

package clustertest

// raceEnabled: the test binary has the race detector, and so do the
// linkis processes it starts.
const raceEnabled = true
