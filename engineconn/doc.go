// Package engineconn is the EngineConn runtime: the process an ECM starts to
// hold one live engine session (shell, Python, SQL) and run tasks on it
// through serial, concurrent or once executors.
//
// It must never be started by hand or choose its own resources; it never
// talks to another EngineConn. It reports its state to the manager and obeys
// the timed lock the manager hands to callers.
//
// # Start-up
//
// `linkis engineconn --ticket ec-N --engine TYPE-VERSION [--param k=v]...`
// builds its creation context (Config, ParseArgs) from its arguments and the
// environment its ECM set: LINKIS_TICKET, LINKIS_ENGINE_TYPE, LINKIS_USER,
// LINKIS_LABELS (engineConnMode and concurrentEngineConn choose the
// executor), LINKIS_MANAGER, LINKIS_TOKEN_FD (a descriptor it reads the
// cluster token from and closes; LINKIS_TOKEN, for a run by hand, when it
// is not set), LINKIS_ADDR_FD (a socket it reports its address on),
// LINKIS_WORK_DIR, LINKIS_LOG_DIR, LINKIS_RESULT_DIR, LINKIS_EC_HOST. Run
// then opens the engine session (the Engine found in the Registry by
// type), serves the task API on LINKIS_EC_HOST:0, writes its address to
// the LINKIS_ADDR_FD socket and waits for its ECM's "ok" (the ECM answers
// launches with the address), reports ECStarted and a first heartbeat
// (Unlock; Running for a once engine). The address travels on that socket,
// not in a file of the work directory: any process of the engine's user
// could write such a file first, and the ECM sends the cluster token to
// the address. The engine marks the socket close-on-exec as it reads its
// configuration, so the user's code never holds it; an engine whose ECM
// does not acknowledge (it is gone) fails to start.
//
// # Executors
//
// One executor with a capacity: 1 is Linkis's serial ComputationExecutor,
// N > 1 the concurrent one (concurrentEngineConn=N), and engineConnMode=once
// (or executeOnce=true) runs the job given by the engineconn.once.code
// parameter (or the material named by engineconn.once.code.file) at
// start-up, reports Success or Failed and exits. A submission when the
// capacity is used is refused with a retryable ErrEngineBusy. Status:
// Starting → Unlock; serial: Idle while a grant is held, Busy while a task
// runs; concurrent: Busy at N running, Unlock below; ShuttingDown at the
// end. A heartbeat goes out on every change and every
// engineconn.heartbeat (default 2 min), from one goroutine so reports stay
// in order.
//
// # Locks: how an engine learns its lock
//
// The manager hands each caller a grant: an ask id and a 16-hex-digit lock
// token (api.AskResult). The caller presents both with every task (or once,
// ahead of time, with POST /v1/lock). An engine trusts a grant only after
// asking the manager (GET /v1/asks/{id}: Granted, to this engine, with this
// token); it then keeps it until the expiry the manager stated, verifying
// it again on its first use after GrantTTL (30 s), so a warm task rarely
// costs a manager round trip and a grant released through the manager
// stops opening the engine within 30 s (at once when released through the
// engine, see below, or when the manager grants the engine anew). A serial engine serves one grant: a
// newly verified grant replaces the previous one (the manager only grants
// a serial engine to one ask at a time, so the old one was released). A
// wrong token, a released ask, or an ask of another engine is refused with
// ErrLockMismatch and nothing runs. When a grant's expiry passes, the engine
// asks the manager again: a renewed grant stays, an ended one is dropped
// and reported with ECUnlock (a manager that already expired it answers
// lock_mismatch, which is fine). A caller that is done can also end its
// grant through the engine (POST /v1/unlock), which reports ECUnlock.
// We chose verification by the manager over a shared secret so that the
// manager stays the only authority on locks and the engine needs no key.
//
// # The cluster token
//
// The engine needs the cluster token to talk to the manager, and runs the
// user's code as the user it runs as. ProtectSecrets (called by `linkis
// engineconn`) takes the token out of the environment its children inherit
// and makes the process non-dumpable, so that code of the same user cannot
// read it from /proc or by attaching. A per-engine credential issued by
// the manager would be stronger; the manager API has none yet.
//
// # Task service
//
// Submit returns the task id at once (PENDING); the task runs (RUNNING) and
// ends SUCCESS, ERROR or CANCEL (killed on request or at shutdown). A
// submission may carry a key (the job's attempt id): a key the engine has
// seen answers with that task (same id, Existing) and starts nothing,
// whatever grant it carries, so a caller that cannot know whether its
// submission arrived - a new manager leader after the old one died -
// submits again without running the job twice. Keys of kept tasks are
// always remembered, and a forgotten keyed task's final status stays with
// its key for the last Config.KeepKeys such tasks (see keys.go). A
// submission may also wait for the end (POST /v1/tasks?waitMs=N,
// api.EngineClient.Run), so a short task costs one round trip; with
// &logSize=S the answer also carries the first page of an ended task's log.
// A status call may wait too (GET /v1/tasks/{id}?waitMs=N): for the end,
// and with &logLines=K also for the task's log to pass K lines, so that a
// caller that has read K lines hears of the next one as it is printed
// (a submission's wait takes &logLines=0 the same way). After a new line
// such a wait goes on 10 ms for the task's end: a short task that prints
// still costs one call, and a chatty one is read in batches.
// Engines hand output to the log as it comes (a line is never held back
// waiting for more), so a line printed is a line visible. A program the
// shell runs may itself buffer its output when it is not a terminal (C
// stdio, python3 without -u): its lines come when it flushes them
// (`stdbuf -oL prog`, `python3 -u`).
// Progress is 0..1. Logs are kept per task in memory up to
// engineconn.task.log.cap bytes, then one line notes the truncation; they
// are read in pages of lines; a task's log is appended to a segment file,
// LOGDIR/tasks-S.jsonl for 1,000 tasks (ReadSavedLog), when its record is
// forgotten (and, for those still kept, when the engine exits), which
// serves it from then on and outlives the engine - never on a task's own
// path; a record is dropped only once its log is saved, so a log is always
// in one place or the other. SavedLogPage reads a page of a saved log for
// the engine and for its ECM, which serves it after the engine is gone;
// OpenUserFile is how anyone but the engine's user opens a file the
// engine left (one regular file of the directory, no link, no FIFO). (A file per task cost an inode allocation per task: a third of a
// busy shell engine's CPU on ext4.) Result sets are JSON Lines files under the
// result directory (api.ReadResultSet reads them): a header with the
// columns' names and types, then one array per row; only their paths
// travel. The last KeepTasks ended tasks are kept for queries.
//
// # Exit
//
// The engine exits with status 0 on SIGTERM (running tasks are cancelled),
// after engineconn.max.free.time without work (grants the callers released
// through the manager are checked with it first), after
// engineconn.max.task.num tasks, when its once job ended, or when the
// manager no longer knows it. It reports ShuttingDown before it goes (a
// once engine reports Success or Failed instead: ShuttingDown would fail
// the ask its job belongs to); its ECM reports the process's end. After
// its last task (max tasks, a once job) it lingers engineconn.exit.linger
// (default 5 s), refusing work but answering status and log queries, so
// the caller of that task can still fetch it. It writes WORK/engineconn.exit
// ("ok" or "failed REASON") as it goes, for an ECM that restarted and lost
// its exit status; and it survives its ECM's death (a write to its broken
// output pipe fails instead of killing it).
//
// # Engines
//
// An Engine opens one Session per process; Session.Run runs a task with
// the Task's writers for output, Logf, SetProgress and NewResultSet. The
// built-in engines are in engineconn/engines; a new one is a type
// registered under its name (see the Registry example) - nothing else
// changes.
package engineconn
