// Package raftstore is where the manager state lives: the deterministic
// state machine of package manager replicated with github.com/hashicorp/raft
// (log in hashicorp/raft-wal or raft-boltdb, stable store in raft-boltdb,
// snapshots in files), its HTTP/JSON API, and the leader-only reconciler
// that carries out the effects the state says are due.
//
// It must never take a scheduling decision of its own, and must never keep
// a timer, retry queue or reservation that lives only in one member's
// memory: everything that must survive a leader change is a replicated
// command (Linkis loses resources exactly there, issues #1192 and #1316).
//
// # Shape
//
//   - store.go: Store, what the API and the reconciler need; Membership.
//   - node.go: Node, one cluster member. Commands queue in front of Raft
//     and ride together in one entry (group commit); the member that
//     proposed an entry hands the outcomes to its callers when it applies
//     it, and fails the entries of a term it no longer leads ("may or may
//     not be applied") - it never waits on Raft's apply futures, which Raft
//     leaves unanswered when it shuts down with committed entries not yet
//     applied. Consistent reads use Raft's read index (see Choices).
//   - entry.go: the log entry format (a tagged batch of items: commands,
//     member records, no-ops; unknown item kinds are skipped).
//   - fsm.go: the raft.FSM and its snapshot format (members + manager
//     snapshot; restore checks every invariant).
//   - replica.go: the state behind a read-write lock, and the callers
//     waiting for asks to be decided (shared by Node and Memory).
//   - logstore.go: the Raft log's store (Config.LogStore: the WAL or
//     raft.db), moving a data directory's log from one to the other, and
//     the stable store.
//   - memory.go: Memory, the state in one process without replication (tests,
//     the embedded system).
//   - reconciler.go: the leader-only loop. Its only memory is which ECM
//     calls it sent recently; a new leader starts empty and sends again
//     whatever the state still says is due (ECMs launch and kill
//     idempotently per ticket).
//   - http.go: the API of package api. Bad input is refused before anything
//     is proposed wherever the request alone shows it (token, size, JSON,
//     labels, resources, required labels); a follower forwards writes and
//     current reads to the leader, once (never twice).
//   - member.go: RunMember, what `linkis manager` runs.
//   - metrics.go: Prometheus metrics, in a registry per store.
//   - testing.go: FakeECMs, an in-memory ECMClient for tests and benchmarks.
//
// # Choices
//
//   - Raft's error values are mapped at the edge to package linkis's kinds:
//     ErrNotLeader (certainly not applied: clients may try another member)
//     and ErrUnavailable (may or may not be applied: asks are idempotent by
//     id, so asking again with the same id is how to find out).
//   - A consistent read uses Raft's read index: a leader that has applied
//     an entry of its own term notes its commit index, confirms with a
//     quorum's heartbeat that it still leads (VerifyLeader: nothing is
//     written) and reads once it has applied that index; a follower asks
//     the leader for the index and waits to have applied as much. A leader
//     new to its term first commits a no-op item, which rides in the next
//     batch. The index the read waits for is the replica's own applied
//     index: it moves with every entry the FSM is handed - commands or not
//     (a no-op item carries none), and membership entries
//     (raft.ConfigurationStore) - so a commit index is always reached
//     (Raft's own no-op of a new term precedes the leader's first entry,
//     which the read index comes after); a restored snapshot sets it to the
//     snapshot's index (raft.FSM.Restore is not told it: the snapshot
//     store handed to Raft, indexedSnapshots, passes it along). Raft's
//     AppliedIndex will not do: it moves when entries are handed to the
//     FSM's goroutine, before they are applied.
//   - Raft's buffered apply channel (BatchApplyCh) stays off: an Apply that
//     races Shutdown can land in the buffer and never be answered.
//   - The log is hashicorp/raft-wal by default (Config.LogStore): an
//     append is one write and one fsync, where a raft-boltdb commit is two
//     fdatasyncs (pages, then meta) - on the leader and then again on a
//     follower, in sequence, for every entry. raft.db stays the stable
//     store (a few writes per election) and is where earlier versions kept
//     the log: a data directory's log is in wal/ when that exists and in
//     raft.db otherwise, and opening with the other store copies it over
//     (built aside and renamed, so a crash mid-copy redoes it), both ways.
//     A raft.db log can have a gap (a member that installed a snapshot
//     keeps older entries below it): only the entries after the gap move,
//     and only when the newest snapshot reaches the gap.
//     raft-wal is at least 0.4.1 (0.4.0 cannot reopen a log after a tail
//     truncation, which a failover causes), and its GetLog is fenced at
//     FirstIndex (it still serves truncated entries from its open segment,
//     and Raft would send those to a follower that needs the snapshot).
//   - The group commit has no timer: an entry is cut as soon as a slot is
//     free, with what is queued; when others are queued with the first
//     item, the batcher yields the processor while the queue keeps growing
//     (never for a lone caller). The earlier 100 µs linger really waited
//     ~1.1 ms (Go's sub-millisecond timers fire late on Linux), on every
//     command of a lone caller. Under a closed loop of 128 callers the
//     entries now carry ~70 commands where the linger made them ~126: two
//     cohorts of callers take turns. Also yielding after an entry's
//     outcomes are handed out merged them again (~110), but measured fewer
//     asks/s and a longer p99 on the WAL (see BENCHMARKS.md).
//   - MaxInflight stays 1: with one fsync per member per entry, 2 and 4
//     entries in flight measured no faster at 128 clients and cut the
//     batches to a half and a quarter (see BENCHMARKS.md).
package raftstore
