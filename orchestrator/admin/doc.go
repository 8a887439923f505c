// Package admin is the operator's side of the system - what Linkis's
// management console and DataSphereStudio do through the linkisManager,
// configuration and variable REST calls: list ECMs and engines, drain or
// relabel an ECM, kill engines, read an engine's own output (also of one
// that failed to start), see and reset resource rows, and edit the
// configuration tree and the global variables.
//
// It is its own package, beside the entrance, because it is a second
// backend of the REST edge (orchestrator/restapi declares what it needs
// and translates Linkis's wire to these calls): it reads and changes the
// replicated state and asks ECM hosts for engine data, which the job path
// never does, and it is large enough to deserve a room.
//
// # Rules
//
//   - Every change is a manager command applied by every replica
//     (ModifyECM, KillEngines, SetConfig, SetVariables; EngineEnded for a
//     reset); nothing is kept in one member's memory. A change is first
//     checked against the current state (State.CheckAdmin, under a
//     linearizable read) and proposed only when it would be accepted, so
//     bad input never reaches the log: the applied index does not move.
//   - Reads are linearizable unless the caller allows stale ones
//     (orchestrator.AllowStale), and copy only the page asked for.
//   - Who may do what is decided here, from the Caller the REST edge
//     authenticated: administrators see and change everything; a user sees
//     only their own engines, resources, history and configuration, and
//     changes only their own configuration (never above the limits the
//     administrators set) and variables. Another user's engine is answered
//     as if it did not exist.
//   - A reset never zeroes a ledger row blindly: it asks the ECMs of the
//     row's engines whether they still run them, ends (EngineEnded) those
//     an ECM no longer has, and leaves alone those whose ECM cannot be
//     asked - the row is then what the engines that really hold it hold.
package admin
