// Package sim is a deterministic discrete-event simulator: one goroutine, a
// heap of timed events and virtual time, driving the real manager state
// machine against simulated ECMs and EngineConns.
//
// # Rules
//
// It must never re-implement a manager decision (reuse, ECM choice,
// reservation, expiry: the real manager.State makes them all), read the
// wall clock, start a goroutine or use unseeded randomness. The same
// scenario, seed and policy give the same run, event for event; Report.RunHash
// (a hash of the event log, the command outcomes and the manager's final
// snapshot) proves it.
//
// # Shape
//
//   - scenario.go, dist.go, trace.go: scenario files (JSON), distributions
//     and CSV traces, with errors that name the file, the line and the field
//     or column.
//   - workload.go: jobs generated (Poisson or bursty arrivals thinned to a
//     daily cycle, Zipf users and creators, engine-type and size mixes) or
//     replayed from a trace or an inline list.
//   - world.go: what the simulated hosts, engine processes and jobs know of
//     themselves.
//   - sim.go: Run, the event loop, the event kinds and apply (every manager
//     call goes through it).
//   - jobs.go: the simulated clients (ask, run, renew, release, retry).
//   - cluster.go: the simulated hosts and engine processes.
//   - faults.go: the faults, listed or drawn.
//   - reconciler.go: EffectsDue → ECMs → commands, and the observer of
//     status transitions.
//   - check.go: the invariant checks, violations and their history.
//   - metrics.go: the measures of one run (see Measures below).
//   - replicate.go: sets of runs - replications in parallel, variants on
//     common random numbers, confidence intervals, the set hash.
//   - sweep.go: what-if runs over one setting.
//   - report.go, chart.go: tables, JSON, CSV and SVG charts.
//   - heap.go, rng.go: a 4-ary event heap; xoshiro256** streams.
//
// # The reconciler
//
// After every event the simulator runs what the leader runs for real: it
// asks manager.State.EffectsDue for the launches, kills and ticks due and
// hands each new one to the simulated ECM, whose reply becomes a command
// through manager.Effect.Settle, the mapping the Raft leader's reconciler
// uses too (launch up: EngineStarted; launch failed: EngineEnded{Failed, Reason,
// Retryable}; kill: EngineEnded once gone; tick: Tick). Its only state is the
// set of launches and kills in flight; a leader change drops it, and the new
// leader rebuilds its work from EffectsDue alone (ECMs launch a ticket at
// most once). O(1) counts (State.EffectCounts, State.TickDue) let it skip
// EffectsDue when nothing new can be due.
//
// # Events
//
// An event is one simulated occurrence handled at its virtual time, each of
// which does at most a few manager commands: a job's arrival, retry, lock
// renewal, end or release; an ECM or engine heartbeat; a launch or kill
// completing at an ECM; an ECM reporting an engine's death; a tick coming
// due; a leader taking over; a fault starting or ending; a host recovering.
// Not counted: re-queueing a message that the network or a leader election
// delays (the event counts once, when it is handled), periodic metric
// samples, invariant checks, and wake-ups voided by a crash or a leader
// change.
//
// # Invariants
//
// After every command the simulator checks what the command touched, which
// is cheap at any size: the status transitions it made (against the
// transition table), the ledger rows of the ECMs and combined labels whose
// engines started, ended or were created (manager.CheckECMLedger and
// CheckKeyLedger, O(engines there)), the instance cap of those labels, that
// an ask did not start an engine while a free engine of its label could
// serve it, and that every job that starts holds the manager's grant on an
// engine with room for it.
//
// The full check - manager.CheckInvariants plus every running job's grant -
// is O(size of the state): tens of milliseconds at 10,000 ECMs. It
// runs after every event on clusters of up to 64 ECMs (tests, property runs,
// the small examples) and, on larger ones, about once per virtual hour of
// the expected run (the 10,000-ECM day: 33) and always at the end; a
// scenario's check.full_every or the CLI's --check-every sets the interval.
// A run that settles (Scenario.Settle) ends with a drift check: every engine
// the manager holds is a live process on the ECM it names, every live
// process is known, and each ECM's ledger holds exactly what its processes
// hold.
//
// A broken invariant stops the run with a *Violation naming the seed, the
// event number and the history that led there: the recent events and
// commands that touched the same jobs, engines and ECMs.
//
// # Faults
//
// ECM crash (the host dies with its engines; on recovery its ECM re-registers
// and the manager forgets what it held), engine crash (reported by its ECM),
// lost heartbeats (an ECM's and its engines' for a window; the manager may
// declare them lost, after which the ECM re-registers and kills the orphans),
// launch failures (a failure rate for a window), leader change (no leader
// for a while; manager calls wait for the next one and the reconciler
// restarts from state alone) and network delay on every manager call.
//
// # Policies
//
// The ECM-choice policy is manager.Placement (rules, binpack, spread,
// two-choices), installed with State.SetPlacement; RunPolicies runs one
// scenario under several with the same seed, hence the same jobs and
// faults (each consumer draws from its own random stream). Idle reclaim
// (manager.Config.ReclaimIdle) is the scenario's manager.reclaim_idle or a
// run's Options.Reclaim; warm pools (manager.SetWarmPool) are the
// scenario's warm_pools, applied before the first job.
//
// # Measures
//
// Per job, for the jobs submitted after the scenario's warm-up: wait (from
// submission to the grant of the attempt that ran) and turnaround (to its
// end) - mean, p50, p90, p95, p99, max - P(wait > 0), and the failures by
// cause (no ECM had room, the key's quota or queue, the engine). Per
// combined label and per user, the same. Over time, integrated exactly at
// every change after the warm-up: utilisation held (what engines reserve
// in the manager's ledger) and busy (an engine's resources in proportion to
// the tasks it runs), per resource, as shares of the capacity of the hosts
// that are up: the mean as ∫used/∫capacity, the busy peak as the highest
// busy/capacity at one moment (a failed host's capacity does not count
// while it is down; levels set during the warm-up count from its end),
// the held peak as the highest of the manager ledger's samples;
// engine-hours and idle engine-hours (engine processes that run no task:
// the price of warm pools and long idle timeouts); the number of jobs in
// the system (Little's L). Per job, a record (submit, grant,
// start, end, key, ECM, engine reused or new, attempts, outcome).
//
// # Replications, comparisons and sweeps
//
// RunSet runs variants (policy, reclaim) × seeds, one run per goroutine at
// a time, each single-threaded and deterministic, so its reports do not
// depend on how many run at once; Set.Hash hashes the run hashes in order.
// Each measure is summarised across seeds as a mean and the half-width of
// its 95% confidence interval (Student's t with R-1 degrees of freedom,
// replications being independent). Variants of one seed see the same jobs
// and faults (common random numbers): a variant's difference from the
// first is taken seed by seed, and called significant when its own 95%
// interval excludes zero. A sweep (Sweep, RunSweep) runs such a set for
// each value of one setting - hosts, arrival rate, instance cap, pool
// size, idle timeout, reclaim, policy - after checking every point as a
// scenario file is checked.
//
// # Why the simulator can be trusted: the validation suite
//
// validate_test.go runs queueing systems whose answers are known through
// the whole simulator - arrivals generated by the workload, the real
// manager's per-key FIFO queue, grants and releases, engines kept warm by a
// pool, events and clocks - and compares, over 8 independent replications
// after a warm-up, the mean wait in queue Wq, P(wait > 0), the time-averaged
// number in the system L and the busy utilisation ρ with theory; each must
// lie within t(0.995, 7) = 3.5 standard errors of the formula, and each
// standard error must be under 5% of the value (a biased simulator cannot
// pass on noise, nor an imprecise test pass by being vague):
//
//   - M/M/1 at ρ = 0.7: Wq = ρ/(μ-λ), P(wait) = ρ, L = ρ/(1-ρ);
//   - M/M/4 at ρ = 0.8: Erlang C, P(wait) = C(4, a), Wq = C/(4μ-λ);
//   - M/D/1 at ρ = 0.7 and M/H2/1 at ρ = 0.5 (hyper-exponential service,
//     squared coefficient of variation 3): Pollaczek-Khinchine,
//     Wq = λE[S²]/(2(1-ρ));
//   - Little's law, L = λW, on the shipped scenarios, with L integrated over
//     time and W averaged over jobs, independently.
//
// The figures of the last run are in BENCHMARKS.md; every case has
// matched (M/M/4: Wq 0.744 ± 0.050 s against 0.746; P(wait) 0.602 ± 0.011
// against 0.596).
package sim
