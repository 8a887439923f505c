// Package clustertest holds the multi-host tests of the linkis command: a
// cluster of `linkis server` members (--no-ecm) and `linkis ecm` hosts,
// one process per host, each host a network namespace of its own
// (internal/hosts) and the clients in another, run under load while hosts
// are killed (kill -9 of a process, or of everything on a host), cut off
// from the others and restarted from their data directories.
//
// They are built the way etcd's robustness tests are: every client
// operation is recorded with its call and return times and what came back
// (accepted; refused for certain - no connection, or an answer that says
// nothing was taken; or unknown), the jobs themselves record on the host
// that runs them that they ran, faults are injected while the load runs,
// and once it is over the history is validated - never a timing. What must
// hold (check_test.go, ledger_test.go):
//
//   - every acknowledged job is in the cluster and has ended, the same on
//     every member (each member's own state is compared with the leader's);
//     a submission refused for certain left no job, one whose outcome is
//     unknown at most one; no job exists that was not submitted;
//   - no job runs twice: each appends "start KEY" and "end KEY" to
//     $HOME/ran.log on its host and is submitted with jobRetryCount=0, so a
//     second start anywhere is a job run twice; a job that Succeed ran once
//     to its end; nothing runs that is not a job;
//   - what clients read of a job never goes back (a read that began after
//     another ended sees a state the first can move to), and a final state
//     read is the one the job ends with;
//   - the ledger returns to zero: once every job ended nothing is locked,
//     asked for or waiting, each ECM's books count exactly the engine
//     processes alive on its host, and once the manager stopped those every
//     ledger is empty;
//   - under go test -race the linkis processes are built with the race
//     detector too, and a race in any of their logs fails the test.
//
// The tests use 500 ms Raft timeouts (clusterConfig.Heartbeat); the
// failover figure of BENCHMARKS.md, BenchmarkLeaderFailover, uses 200 ms.
// A failed test leaves a report - the history, the jobs, the problems with
// each job's log, every process's log and the engines' logs - in
// $LINKIS_CHAOS_REPORTS (default: linkis-chaos-reports in the system's
// temporary directory) and logs where it is. The long run of random kills
// and partitions is TestSoak (build tag soak, `make soak`,
// LINKIS_SOAK_DURATION; LINKIS_CHAOS_SEED replays a schedule of faults).
//
// The tests need root and the ip command (CI runs them as root): a test
// that cannot build its hosts fails, it never skips.
package clustertest
