// Package engineconn is the EngineConn runtime: the process an ECM starts to
// hold one live engine session (shell, Python, SQL) and run tasks on it
// through serial, concurrent or once executors.
//
// It must never be started by hand or choose its own resources; it never
// talks to another EngineConn. It reports its state to the manager and obeys
// the timed lock the manager hands to callers.
//
// The package is filled in by the "Real engines" issue.
package engineconn
