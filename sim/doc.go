// Package sim is a deterministic discrete-event simulator: one goroutine, a
// heap of timed events and virtual time, driving the real manager state
// machine against simulated ECMs and EngineConns.
//
// It must never re-implement manager decisions, read the wall clock or use
// unseeded randomness: the same seed gives the same run, event for event.
//
// The package is filled in by the "Simulator" issue.
package sim
