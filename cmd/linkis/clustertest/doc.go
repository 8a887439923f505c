// Package clustertest holds the multi-host tests of the linkis command: a
// cluster of `linkis server` members and `linkis ecm` hosts, one process
// per host, each host a network namespace of its own (internal/hosts), run
// under load while hosts are killed (kill -9), cut off and restarted.
//
// They are built the way etcd's robustness tests are: every client
// operation is recorded with its call and return times and what it saw,
// the jobs themselves record on their host that they ran, faults are
// injected while the load runs, and once it is over the history is
// validated - never a timing. What must hold:
//
//   - every acknowledged job is in the cluster and reaches exactly one
//     final state, the same on every member; a submission refused for
//     certain left no job, one whose outcome is unknown left at most one;
//   - no job runs twice (each job appends "start KEY" and "end KEY" to a
//     file on the host that runs it; jobs are submitted with
//     jobRetryCount=0 so that a re-run would show), a job that Succeed ran
//     once to its end, and nothing runs that was not submitted;
//   - what clients read of a job never goes back (a job seen ended is
//     ended with the same state in every later read);
//   - the ledger returns to zero: nothing stays locked or asked for once
//     every job ended, each ECM's books count exactly the engines alive on
//     its host, and once those are stopped every ledger is empty.
//
// A failed test leaves a report - the history as JSON and every process's
// log - in $LINKIS_CHAOS_REPORTS (default: the system's temporary
// directory), and logs where it is and the seed of its faults
// (LINKIS_CHAOS_SEED replays the same fault schedule).
//
// The tests need root and the ip command (CI runs them as root): a test
// that cannot build its hosts fails, it never skips. The long run of random
// kills and partitions is TestSoak (build tag soak, `make soak`,
// LINKIS_SOAK_DURATION); the failover figure of BENCHMARKS.md is
// BenchmarkLeaderFailover.
package clustertest
