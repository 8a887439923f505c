// Package orchestrator is the Entrance and the Orchestrator: it accepts jobs,
// queues them fairly per Creator_User_EngineType consumer group, turns each
// job into a physical execution tree (retry, active-backup, multi-active),
// asks the manager for an engine, runs the job on an EngineConn and records
// its history.
//
// It talks to the manager through the small EngineAsker interface it owns and
// to engines over their task API. It must never decide placement or touch the
// resource ledger itself: those decisions belong to package manager, reached
// only through commands.
//
// The package is filled in by the "Jobs end to end" issue.
package orchestrator
