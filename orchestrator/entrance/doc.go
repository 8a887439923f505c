// Package entrance is the Entrance of the job pipeline: it accepts jobs,
// persists them, queues them fairly per consumer group, hands each to an
// orchestrator.Runner, records everything that happens to them and, after a
// restart, settles the jobs the previous run left unfinished.
//
// # Lifecycle
//
// Submit validates the request (the submitting user, the userCreator and
// engineType labels, then Runner.Check), reserves a place in the job's
// consumer group (Creator_User_EngineType; its queue has a capacity),
// persists the job in state Inited - durably: Submit returns after the
// fsync, and concurrent submits share one commit - and queues it. A
// scheduler dispatches jobs round-robin across the groups that have queued
// jobs and a free running slot (per-group cap, and a global cap shared
// fairly), so a flood in one group delays another group's job by at most
// one job's run time. A dispatched job reads its request back from the
// history (queued jobs hold about 100 bytes of memory each) and runs in its
// own goroutine: Runner.Run reports Scheduled, Running, Progress, Log and
// Retrying events, which become state changes (checked with
// orchestrator.CheckMove), progress and log lines; the Outcome becomes the
// final state, and result files move into DataDir/results/<user>/<taskID>/.
//
// Timeouts: a queuing timeout (Config.QueueTimeout, label
// jobQueuingTimeout) ends a queued job with Timeout; a running timeout
// (Config.RunTimeout, label jobRunningTimeout) cancels the run's context
// with a cause and ends it with Timeout. Label values are whole seconds or
// Go durations (see ParseTimeout). Kill cancels at any stage.
//
// # History
//
// History is an interface; BoltHistory, on bbolt in DataDir/jobs.db, is
// the default. Inserts are synchronous; later updates and log lines are
// written behind by one writer goroutine in batches (several updates of a
// job between two commits are written once), and served from memory until
// then. A crash may lose the last moments of updates: the job's record is
// then older than the truth, and Open settles it like any job the previous
// run left unfinished (Config.RequeueScheduled, Config.RequeueRunning).
//
// # What it must never do
//
// The entrance never decides placement, never asks the manager for engines
// and never talks to an engine: all of that is the Runner's. It never
// keeps a queued job's request in memory, never lets one user read,
// list, wait for or kill another user's jobs or open their result files,
// and never changes anything on a request it refuses.
package entrance
