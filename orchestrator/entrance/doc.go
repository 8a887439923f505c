// Package entrance is the Entrance of the job pipeline, as one part of a
// replicated system: it accepts jobs into the replicated state, serves
// their records, logs and results from any member, and - on the member
// that leads - dispatches them to an orchestrator.Runner.
//
// # Where a job lives
//
// A job's record and the consumer groups' queues are part of the manager's
// replicated state (package manager, jobs.go): Submit proposes a SubmitJob
// command and returns once a quorum committed it; which job runs next
// (FIFO per Creator_User_EngineType group, per-group and global running
// caps, round robin between groups, queue capacity, queuing and running
// timeouts) is decided inside Apply, so every replica agrees and a new
// leader needs nothing but the state. The request is stored as the
// orchestrator's JSON, opaque to the manager. Bulky data stays where it is
// made: a task's log and result sets stay on the host of the ECM that ran
// it (served by that ECM, see HostData); the record keeps where they are,
// the orchestrator's own log lines and a capped tail of engine output.
//
// # Global variables
//
// A user's global variables (Linkis's saveGlobalVariable) live in the
// replicated state. Submit reads those the job's code refers to and its
// own variables do not set - from this member's state when it leads,
// through the leader otherwise - and keeps them with the request
// ("globalVariables" beside Linkis's fields), so every run of the job
// substitutes the values of its submission (orchestrator.Spec.Globals).
//
// # Any member
//
// Reads are linearizable by default (the store reads through the leader's
// index); orchestrator.AllowStale, or Config.StaleReads, serves them from
// the member's own state. Writes from a member that does not lead are
// passed to the leader by the store. Wait is woken by the job's end as
// the member applies it (Store.ObserveJobs), on every member.
//
// # The dispatcher
//
// While its member leads (Store.Lead), the dispatcher runs every
// dispatched job through the Runner, one goroutine each, and turns what
// the Runner reports into UpdateJob commands: a new task or a state
// change at once, progress and lines at least every Config.Checkpoint.
// Like the reconciler it keeps nothing the state does not hold: when a
// member starts leading, it takes up every live job from its record. A
// job whose record names a running task is re-attached to it
// (orchestrator.Resume): the task is followed, not submitted again, and a
// submission the old leader made but never recorded is answered by the
// engine with the task it already has (the submission's key). An engine
// that is gone fails the attempt retryably: the job's retry strategy
// (labels jobRetryCount/jobRetryTimeout, else the orchestrator's default,
// as Linkis retries twice) decides whether it runs again. When the term
// ends, runs are detached (orchestrator.ErrDetached): tasks run on,
// engines stay held, and the next leader takes them up.
//
// Kill and the running timeout end a job in the state at once; its tasks
// are then stopped by the dispatcher - the run cancels them, or, when no
// run of the job is at hand (its leader died), the Runner's Stop
// (TaskStopper) does - and the record says so (Cleaned).
//
// # Migration
//
// A data directory of the version whose entrance kept its own bbolt
// history is imported once at Open (Migrate): its jobs keep their ids,
// logs and results; a history that cannot be read is refused with the
// reason and nothing is imported.
//
// # Administrators
//
// JobAny, JobByExecIDAny, ListAll and KillBy read and kill any user's
// jobs: the entrance does not know who is an administrator, its caller
// (the REST API, by its configured list) does, and calls them for
// administrators only. Every other call names the user it acts for.
//
// # What it must never do
//
// The entrance never decides placement, never touches the resource
// ledger, never lets one user read, list, wait for or kill another user's
// jobs or open their result files through the calls that name a user, and
// never changes anything on a request it refuses. It keeps no job state of its own: a member's entrance can
// stop at any moment and another's takes over.
package entrance
