// Package orchestrator is the Entrance and the Orchestrator: it accepts jobs,
// queues them fairly per Creator_User_EngineType consumer group, turns each
// job into a physical execution tree (retry, active-backup, multi-active),
// asks the manager for an engine, runs the job on an EngineConn and records
// its history.
//
// # Orchestration
//
// The Orchestrator (implementing Runner) takes a job through small stages,
// each a function one reads in order (stages.go):
//
//   - converter: ${name} variables are substituted in the code (the user's
//     params.variable and the date variables run_date, run_today, run_mon,
//     run_month_begin, run_month_end, run_quarter_*, run_half_year_*,
//     run_year_* and their _std forms, with ${run_date-1} arithmetic, also
//     on numeric user variables; see vars.go), the run type is filled from
//     the engine type (shell→sh, python→py, sql→sql, jdbc→jdbc), and the
//     configuration splits into the engine's startup params (the ask) and
//     the task's runtime params - secrets (jdbc.password and the like) and
//     every jdbc setting go with the task, never in the ask, whose params
//     reach the manager's log and the engine's command line. Before it,
//     Check replaces the request's secrets by vault handles in place, so
//     the record the entrance keeps holds none (secrets.go, RedactRequest;
//     the design is in package datasource);
//   - parser: the job becomes stages of code units (one of one for now);
//   - validator: userCreator and engineType are required and parsed, the
//     user is the submitter, the engine type is known, the code is not
//     empty and fits, the strategy labels are well-formed, a jdbc job's
//     connection settings are well-formed and the data source it names
//     (Config.DataSources) exists and is open to its user; every refusal is
//     a *linkis.Error naming its field. Check runs these three only, so the
//     entrance refuses at submission what Run would;
//   - planner: the logical job (what runs, under which strategy);
//   - optimizer: the physical tree (physical.go), the strategy's shape;
//   - execution and reheater (execution.go): the tree runs from its root;
//     after each node the reheater decides what follows (another round of a
//     retry node after its wait, the next route of a failover node, the end
//     of the other branches of a multi-active node).
//
// # Strategies
//
// Chosen by the label executeStrategy, with routes in executeRoutes:
// routes are separated by ';', each a comma list of key=value among tenant,
// yarnCluster and emInstance (emInstance pins an ECM), e.g.
// "emInstance=ecm-a;emInstance=ecm-b".
//
//   - retry (the default; at most one route): job → stage → retry → exec.
//     A retryable failure - an ask failing with a retryable kind
//     (linkis.IsRetryable), an engine that died or could not be reached
//     mid-task, an engine that cancelled the task itself - is tried again
//     after a wait (Config.RetryWait, label jobRetryTimeout: milliseconds or
//     a duration) up to a cap (Config.RetryCount, label jobRetryCount). A
//     task that ended ERROR because of the user's code is never retried.
//   - activeBackup (two routes or more): job → stage → retry → failover →
//     exec per route. The primary route runs; on a retryable failure (its
//     ECM gone and so no engine, its engine dead) the next route runs.
//   - multiActive (no route: two engines alike; or two routes or more):
//     job → stage → retry → multi-active → exec per branch. Every branch
//     runs at once; the first success wins, the others' tasks are killed
//     and their engines released before Run returns; when every branch
//     fails the job fails with every reason.
//
// These labels and jobRetryCount, jobRetryTimeout, jobQueuingTimeout and
// jobRunningTimeout are the orchestrator's and the entrance's own: they are
// stripped before the manager is asked.
//
// # Execution
//
// An exec leaf asks the manager (EngineAsker) with the ask id
// "{execID}-{round}.{branch}" - a retry, a backup or another branch never
// reuses an ask id, and a re-run of the same job after a restart asks with
// the same ids, so the manager hands back what the first run still held.
// It submits the task with the grant (its params with the secrets
// revealed and a data source's credentials resolved, only now), waiting at
// the engine in the same
// call (Config.SubmitWait), so a short task costs one round trip (the
// first page of its log comes with the answer); a longer
// one is followed with waiting status calls, its progress and log lines
// passed to the Listener (each call, the submission's included, names the
// lines already read, so it returns with the next line as it is printed;
// calls are at least 20 ms apart, so a chatty task is read in batches), and its engine lock renewed half-way to its
// expiry (LockRenewer) so a long job keeps its engine. On every path out the ask is released at the
// manager (a serial engine is free again for the next grant at once) - or,
// when the task ended on its own and the Spec says so (HoldEngines), held
// for the caller to release with its record of the job's end. On
// cancel the task is killed and given Config.KillWait to end before the
// release, and the log lines it printed up to its end are passed on. The Listener hears legal moves only: one Scheduled and one
// Running per try, Retrying between tries (also before a failover).
//
// # Must never
//
// It talks to the manager through the small EngineAsker interface it owns
// and to engines over their task API. It must never decide placement or
// touch the resource ledger itself: those decisions belong to package
// manager, reached only through commands. It never leaves an ask held, a
// task running after its job ended, or a goroutine behind when Run returns.
package orchestrator
