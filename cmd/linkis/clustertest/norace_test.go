//go:build linux && !race

package clustertest

const raceEnabled = false
