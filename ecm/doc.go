// Package ecm is the EngineConnManager, the per-host agent: it registers the
// host's labels and capacity with the manager, heartbeats its load and health,
// and launches, watches and kills EngineConn processes from launch requests,
// idempotently per ticket.
//
// It must never make scheduling decisions or keep ledger state: it executes
// what the manager decided and reports what happened to the processes it owns.
//
// # Launch
//
// A launch (POST /v1/launch) is validated whole before anything happens:
// the ticket, engine type, resource, labels, environment names and material
// names (relative, no "..", no NUL, permission bits only). Then the ECM
// creates DATA/ec-N/{work,logs,results}, writes the materials into work
// through an os.Root (no symbolic link can lead out), and starts the command
// - "linkis" is the ECM's own binary; another program must be one of
// Config.Commands (--allow-command), else the launch fails - in its own
// process group, with a minimal environment (PATH, locale, HOME)
// plus the request's variables plus the ECM's: LINKIS_MANAGER,
// LINKIS_TOKEN_FD, LINKIS_WORK_DIR, LINKIS_LOG_DIR, LINKIS_RESULT_DIR,
// LINKIS_EC_HOST. The cluster token is never in the environment (a process
// of the engine's user could read it from /proc): the engine reads it from
// an inherited socket, descriptor 3 (LINKIS_TOKEN_FD). It reports the
// address of its task API on descriptor 4 (LINKIS_ADDR_FD), one end of a
// socket pair whose other end only the ECM holds. When
// the ECM runs as root, the process runs as the submitting user and the
// directories are theirs; a user the host does not know fails the launch
// (not retryable), as Linkis's `sudo su - user` does, unless
// Config.AllowRootEngines lets such engines run as root. An ECM that is not
// root runs every engine as its own user.
//
// A root ECM runs "linkis" from a copy of its binary in DATA/bin, root's,
// mode 0711 like the directory (binary.go): the engine's user may execute
// it but not read it, so the kernel makes the engine non-dumpable from its
// exec on, and no process of that user may ptrace it, read its memory or
// copy its descriptors with pidfd_getfd (the token and address sockets)
// before the engine's own ProtectSecrets runs - a window SIGSTOP would
// otherwise hold open. The copy is made at start, again when the binary's
// size or modification time changed. An ECM that is not root execs its
// binary as it is: its engines run as its own user, who may read the ECM's
// memory (and token) anyway. A command of Config.Commands runs as it is
// (an interpreter must read its script): it gets the token socket too, so
// allow only programs that make themselves non-dumpable first, or that
// are trusted with the token.
//
// Launch answers at once: Starting, or Running with the engine's address
// once the engine reported it on its socket (the ECM records it in
// DATA/ec-N/engine.addr, then acknowledges; a file in the work directory
// would not do: another process of the engine's user could write it first,
// and the ECM sends the cluster token to that address), or Exited. A second
// launch of a ticket answers with the first one's engine; its record (and
// directory) is kept for Config.Retention after it ends, so a late resend
// cannot start it again. At most Config.MaxStarting engines may be starting
// at once; more launches are refused with a retryable ErrUnavailable. An
// engine that has not written its address within Config.StartTimeout
// (default 5 min, under the manager's 12 min resource-lock timeout) is
// stopped and reported failed, retryable.
//
// # Watch and kill
//
// The process's output goes to logs/engineconn.log up to Config.LogCap,
// then one note says it was truncated and the rest is dropped; the latest
// 16 KiB stay in memory. When the process ends, what is left of its group
// is killed, and the end is reported with ECEnded: a clean exit is not a
// failure; nor is a stop the ECM was asked for or its own shutdown (but
// whoever held the engine may ask again: retryable); a death by signal, exit 137/143,
// or a non-zero exit after the engine served is a failure worth a retry; a
// non-zero exit before it ever served is a start-up failure not worth one.
// The reason quotes the last lines of its output. A manager answering
// unknown_node has settled that engine already. Kill (POST /v1/kill) sends
// SIGTERM to the group, SIGKILL after the grace, and answers once the
// process is gone.
//
// # Host data: task logs and result files
//
// What an engine leaves on the host - the logs of its tasks, saved in
// DATA/ec-N/logs/tasks-S.jsonl, and its result-set files in
// DATA/ec-N/results - stays there and is served by the ECM to any member
// of the cluster, behind the cluster token (api.PathECMEngines; api.ECMClient's TaskLog,
// ResultFiles, ResultPage, OpenResult). A task's log page comes from the
// engine while it serves (it answers from memory, or from what it saved)
// and from the saved file once it exited or cannot be reached: the caller
// asks the same way either time. A result page (header and rows [from,
// from+n), with the file's row count) goes through a row index built in
// one streaming pass on the first request and extended as the file grows
// (resultindex.go): a page reads about its own size, whatever the row
// number; pages stop at api.MaxResultPageBytes. A file is served whole,
// streamed, for an export. Every file is opened through an os.Root of that
// engine's own directory, as engineconn.OpenUserFile does: the directory
// is the engine user's, so a name must be a plain result name (no "/",
// "..", NUL) and the file a regular file with one link - a symbolic link
// (even one inside the directory), a hard link, a FIFO or a directory
// planted there is refused, and neither another engine's files nor the
// ECM's own can be reached. The listing shows only files that would be
// served. api.ResultRefOf turns a path an engine reported into (ECM,
// engine, name).
//
// The engine's process and its output log (engineproc.go) are served the
// same way, for an operator (Linkis's openEngineLog): GET PathECMEngines/
// {ec} says where the process stands (state, pid, how it ended) and
// /{ec}/log pages logs/engineconn.log - stdout and stderr as one file, in
// the order written, so what an engine printed before it failed to start
// is read in context. The file is opened as the result files are (no
// link, one regular file); a line still being written is held back.
//
// The data lives for Config.Retention (--retention, default 7 days) after
// the engine ended: past it every host-data request answers unknown_node
// ("ec": it is gone) even before the cleaner's next pass removes the
// directory; an engine this ECM never had answers the same.
//
// # Metrics
//
// GET /metrics (behind the token) serves the ECM's own registry: engines
// by state, launches, refusals by reason, exits by outcome, and the time
// from launch to an engine serving.
//
// # Restart
//
// The ECM records each engine's pid, start time and uid in
// DATA/ec-N/engine.pid; DATA/ec-N stays the ECM's (only work, logs and
// results are the engine user's), so the user cannot rewrite that record.
// Engines outlive their ECM (own process groups; a write to their broken
// output pipe fails rather than kills them). An ECM restarted on the same
// data directory adopts the engines still running there: it answers
// launches of their tickets with them, kills them on request, polls for
// their end and reports it from the exit record the engine leaves
// (WORK/engineconn.exit). It adopts only a process whose record the ECM
// alone could have written and that still runs as the recorded uid; it
// reads what the user controls (the exit record) as at most 4 KiB of a
// regular file, following no link and never blocking on a FIFO. An
// adopted engine's address is the one the earlier ECM recorded; one that
// was still starting is stopped at once (failed, retryable): it reports
// its address only to the ECM that launched it, and fails to start when
// that one is gone. The ECM also records how
// each engine ended (DATA/ec-N/engine.end); a restarted ECM remembers every
// ticket whose directory is still there and that it does not adopt as
// ended (from that record, else the exit record), so a late resend answers
// Exited and starts nothing, as before the restart. A registration refused because the id is
// registered at this very address is taken as its own earlier one: a restarted ECM must keep
// its id and address. The id registered at another address belongs to another ECM: the
// registration fails, naming it, unless Config.Replace takes the id over (the other's
// engines end). Heartbeats and the deregistration carry the ECM's address, so a replaced ECM
// that still runs neither keeps its successor's registration alive nor removes it.
//
// # Lifetime
//
// Run registers - while no manager answers (none is up yet, no leader) it
// tries again, 100 ms backing off to 5 s and logging each try, for up to
// Config.RegisterWait, then returns the error - heartbeats every
// Config.HeartbeatInterval (registering again if the manager forgot the
// ECM) and removes directories of engines that ended longer than the
// retention ago. When its context ends it stops every engine it runs,
// reports them, deregisters and returns; every goroutine it started has
// ended by then.
package ecm
