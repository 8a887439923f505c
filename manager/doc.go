// Package manager is the LinkisManager core as a pure, deterministic state
// machine: label routing, engine reuse and creation, ECM selection, the
// three-level resource ledger and the lifecycle of ECMs and EngineConns.
//
// # Rules
//
// The package does no I/O, reads no clock, starts no goroutine and uses no
// unseeded randomness. Time, randomness (an ask's nonce) and identities
// arrive inside the commands it applies, so the same commands applied to two
// States give byte-identical snapshots. That is what lets the Raft FSM
// replicate it and the simulator drive it under virtual time.
//
// # Shape
//
//   - commands.go, codec.go, wire.go: the commands and their versioned
//     binary encoding (type byte with an ignore-if-unknown bit, body
//     version, compact body).
//   - state.go: State and Apply. Each command is checked fully before
//     anything changes, so it either applies completely or returns a typed
//     error from package linkis and changes nothing.
//   - labels.go: the label index - ECMs grouped by CORE label signature
//     (tenant), ordered by load in a B-tree, with postings of their other
//     labels for the scorer.
//   - select.go: the chain of rules that chooses an ECM.
//   - appmanager.go: asks - reuse, dedicated and shared creation, the
//     per-key waiting queue, timed locks, release.
//   - engines.go, ecms.go: engine and ECM lifecycles, heartbeats.
//   - nodes.go: the records and the ledger rows (ECM, combined label,
//     engine; each max/used/locked; lock on create, used on start, released
//     on end).
//   - tick.go: time-driven changes - expired locks and waits, resource
//     locks of engines that never started, lost nodes, idle reclamation.
//   - due.go: the due tables - lazy lower bounds on every deadline in dense
//     arrays, so that a tick costs what is due rather than what exists.
//   - reclaim.go: idle reclaim - an ask that fits on no ECM stops the
//     longest-idle engines of other keys that hold the room.
//   - pool.go: warm pools - a per-key minimum of started idle engines,
//     kept by Tick, started ahead of demand.
//   - effects.go: EffectsDue, the pure list of what a driver must do.
//   - plugin.go: engine plugins (resource factory + launch builder).
//   - snapshot.go: Snapshot and Restore (RestoreConfigured: an older
//     snapshot takes what it lacks of the configuration from the one the
//     replica runs with).
//   - invariants.go: the invariants, exported for tests and the simulator.
//   - admin.go, confstore.go, enginehistory.go, adminviews.go,
//     admincodec.go: the operator's part (issue "Operating it") - health
//     overrides (a drain survives heartbeats and re-registration),
//     relabelling, bulk kills, the configuration tree whose values are in
//     force as quotas (keyMax), startup params (newAsk) and the entrance's
//     caps (groupCap), global variables, the bounded history of ended
//     engines, and paged reads that copy the page only. CheckAdmin checks
//     an operator command without applying it.
//   - jobs.go, jobcmds.go, jobviews.go, jobcodec.go, jobcheck.go: the
//     Entrance's state - job records and the consumer groups' queues
//     (FIFO per Creator_User_EngineType, per-group and global running
//     caps, round robin between groups, queue capacity, queuing and running
//     timeouts, a bounded history). It lives in the same state as the
//     manager so that one Raft log orders both: which job runs next is
//     decided inside Apply and every replica agrees. A job's request is
//     opaque bytes here (the orchestrator's encoding): the core never sees
//     Linkis's wire shapes. Bulky data (task logs, result sets) is not
//     here: a record keeps where it lives, the orchestrator's own lines and
//     a capped tail of engine output.
//
// # Where we differ from Linkis, and why
//
//   - Ask decides reuse or creation, picks the ECM and reserves resources in
//     one command, so replicas agree and no check-then-act race exists
//     (Linkis #4916, #1192).
//   - Asks for one combined label share engines that are starting, up to the
//     label's instance cap, instead of each starting its own (Linkis #5318).
//     Asks that wait for an engine no ECM could take are retried whenever
//     room may have appeared (an ECM registers or recovers, a quota rises,
//     a tick passes), and fail with a retryable timeout only when their
//     wait runs out.
//   - Lock expiry, lost-node sweeps and idle reclamation are replicated Tick
//     commands, not timers in one manager's memory (Linkis #1192, #1316).
//   - An ask that fits on no ECM while idle engines of other users hold
//     the room stops the longest-idle of them and waits for the room
//     (Config.ReclaimIdle; reclaim.go); Linkis makes it fail or wait for
//     their idle timeout, an hour by default.
//   - A combined label may keep a warm pool of started, idle engines
//     (SetWarmPool, after Kyuubi's engine pool; Linkis has none).
//   - The label scorer ranks (Linkis computes scores but never uses them).
//   - The selection rules rank in the order they are listed, with memory
//     load in bands; Linkis applies them as successive stable sorts, which
//     makes its last rule the most significant. Running tasks are those the
//     ECM reports, as in Linkis, so grants and releases never refile an ECM.
//   - Contradictory requests (an engineInstance pin with once mode,
//     executeOnce or reuseExclusion=*) are refused, not silently reduced.
//
// The engine plugins handed to New must be pure and identical on every
// replica; they are code, not state, and are not part of a snapshot.
package manager
