// Package raftstore replicates the manager state machine with
// github.com/hashicorp/raft (raft-boltdb log and stable store, file
// snapshots) and runs the leader-only reconciler that executes the effects
// package manager says are due.
//
// It must never take a scheduling decision of its own, and must never keep a
// timer, retry queue or reservation that lives only in one node's memory:
// everything that must survive a leader change is a replicated command.
//
// The package is filled in by the "Raft HA" issue.
package raftstore
