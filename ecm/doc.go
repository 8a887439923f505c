// Package ecm is the EngineConnManager, the per-host agent: it registers the
// host's labels and capacity with the manager, heartbeats its load and health,
// and launches, watches and kills EngineConn processes from launch requests,
// idempotently per ticket.
//
// It must never make scheduling decisions or keep ledger state: it executes
// what the manager decided and reports what happened to the processes it owns.
//
// The package is filled in by the "Real engines" issue.
package ecm
