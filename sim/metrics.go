package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"time"
)

// metrics accumulates what a run measures.
type metrics struct {
	submitted, failed, retries                int
	asksRefused, asksFailed, lockExpiries     int
	launchFailures, ecCrashes, ecmCrashes     int
	faults, fullChecks                        int
	grantsReused, grantsFresh, enginesStarted int
	waits, turnarounds                        []int64
	userSlow                                  []float64 // per user: sum of slowdowns
	userN                                     []int32
	samples                                   []Sample
	byKind                                    [evSample + 1]uint64
}

func (m *metrics) init(sc *Scenario) {
	n := sc.Workload.Jobs
	if sc.trace != nil {
		n = len(sc.trace)
	}
	n = min(n, 1<<24)
	m.waits = make([]int64, 0, n)
	m.turnarounds = make([]int64, 0, n)
}

// jobDone records a job that succeeded.
func (m *metrics) jobDone(s *Sim, jb *job) {
	wait := jb.granted - jb.submit
	turn := s.now - jb.submit
	m.waits = append(m.waits, wait)
	m.turnarounds = append(m.turnarounds, turn)
	u := int(s.combos[jb.combo].user)
	for len(m.userSlow) <= u {
		m.userSlow = append(m.userSlow, 0)
		m.userN = append(m.userN, 0)
	}
	// Slowdown: turnaround over the time the job needed, at least 1 s so
	// that instant jobs do not dominate.
	m.userSlow[u] += float64(turn) / float64(max(jb.runtime, int64(time.Second)))
	m.userN[u]++
}

// Sample is one point of the time series.
type Sample struct {
	T             float64 `json:"t"` // seconds since the start
	UtilMemory    float64 `json:"util_memory"`
	UtilCores     float64 `json:"util_cores"`
	UtilInstances float64 `json:"util_instances"`
	Queue         int     `json:"queue"`   // asks waiting for an engine
	Engines       int     `json:"engines"` // engines the manager holds
	Running       int     `json:"running"` // jobs running
}

func (s *Sim) sample() {
	total, engines, waiting := s.st.Load()
	held, _ := total.Used.Add(total.Locked)
	frac := func(a, b int64) float64 {
		if b <= 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	var running int64
	for i := range s.ecms {
		running += s.ecms[i].running
	}
	s.m.samples = append(s.m.samples, Sample{
		T:          float64(s.now-s.start) / 1e9,
		UtilMemory: frac(held.Memory, total.Max.Memory), UtilCores: frac(held.MilliCores, total.Max.MilliCores),
		UtilInstances: frac(held.Instances, total.Max.Instances),
		Queue:         waiting, Engines: engines, Running: int(running),
	})
}

// Percentiles of a duration, in seconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

func percentiles(xs []int64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return float64(s[max(i, 0)]) / 1e9
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99)}
}

// jain is Jain's fairness index of xs: 1 when all are equal, 1/n when one
// has everything.
func jain(xs []float64) float64 {
	var sum, sq float64
	for _, x := range xs {
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 1
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// JobCounts counts jobs by outcome.
type JobCounts struct {
	Submitted  int `json:"submitted"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	Unfinished int `json:"unfinished"`
	Retries    int `json:"retries"`
}

// Utilisation is the mean and peak share of the cluster's capacity held
// by engines, per resource.
type Utilisation struct {
	MemoryMean    float64 `json:"memory_mean"`
	MemoryPeak    float64 `json:"memory_peak"`
	CoresMean     float64 `json:"cores_mean"`
	CoresPeak     float64 `json:"cores_peak"`
	InstancesMean float64 `json:"instances_mean"`
	InstancesPeak float64 `json:"instances_peak"`
}

// Report is the outcome of one run.
type Report struct {
	Scenario string `json:"scenario"`
	Policy   string `json:"policy"`
	Seed     uint64 `json:"seed"`
	// Events counts simulation events (see the package doc); Commands the
	// manager commands they applied, Refused those the manager refused.
	Events uint64 `json:"events"`
	// EventsByKind splits Events by what happened.
	EventsByKind   map[string]uint64 `json:"events_by_kind"`
	Commands       uint64            `json:"commands"`
	Refused        uint64            `json:"commands_refused"`
	VirtualSeconds float64           `json:"virtual_seconds"`
	Jobs           JobCounts         `json:"jobs"`
	Wait           Percentiles       `json:"wait_seconds"`
	Turnaround     Percentiles       `json:"turnaround_seconds"`
	// EnginesStarted counts engines that came up; GrantsReused and
	// GrantsNew split the grants between engines that had served before
	// and fresh ones.
	EnginesStarted int `json:"engines_started"`
	GrantsReused   int `json:"grants_reused"`
	GrantsNew      int `json:"grants_new"`
	// AsksRejected counts asks refused outright (AsksRefused) plus asks
	// that failed while waiting (AsksFailed).
	AsksRejected   int         `json:"asks_rejected"`
	AsksRefused    int         `json:"asks_refused"`
	AsksFailed     int         `json:"asks_failed"`
	LockExpiries   int         `json:"lock_expiries"`
	LaunchFailures int         `json:"launch_failures"`
	ECCrashes      int         `json:"ec_crashes"`
	ECMCrashes     int         `json:"ecm_crashes"`
	Faults         int         `json:"faults"`
	Fairness       float64     `json:"fairness_jain"`
	Utilisation    Utilisation `json:"utilisation"`
	PeakQueue      int         `json:"peak_queue"`
	FullChecks     int         `json:"full_checks"`
	// RunHash is a hash of the event log and the final state: the same
	// scenario, seed and policy give the same hash.
	RunHash   string   `json:"run_hash"`
	Violation string   `json:"violation,omitempty"`
	Series    []Sample `json:"-"`
}

func (s *Sim) report() *Report {
	m := &s.m
	r := &Report{
		Scenario: s.sc.Name, Policy: s.opts.Policy.String(), Seed: s.opts.Seed,
		Events: s.events, Commands: s.commands, Refused: s.refused,
		VirtualSeconds: float64(s.now-s.start) / 1e9,
		Wait:           percentiles(m.waits), Turnaround: percentiles(m.turnarounds),
		EnginesStarted: m.enginesStarted, GrantsReused: m.grantsReused, GrantsNew: m.grantsFresh,
		AsksRefused: m.asksRefused, AsksFailed: m.asksFailed, AsksRejected: m.asksRefused + m.asksFailed,
		LockExpiries: m.lockExpiries, LaunchFailures: m.launchFailures,
		ECCrashes: m.ecCrashes, ECMCrashes: m.ecmCrashes, Faults: m.faults,
		FullChecks: m.fullChecks, Series: m.samples,
	}
	r.EventsByKind = map[string]uint64{}
	for k, n := range m.byKind {
		if n > 0 {
			r.EventsByKind[evKind(k).String()] = n
		}
	}
	r.Jobs = JobCounts{Submitted: len(s.jobs), Failed: m.failed, Retries: m.retries}
	for i := range s.jobs {
		switch s.jobs[i].state {
		case jobSucceeded:
			r.Jobs.Succeeded++
		case jobFailed:
		default:
			r.Jobs.Unfinished++
		}
	}
	var slow []float64
	for u, sum := range m.userSlow {
		if m.userN[u] > 0 {
			slow = append(slow, sum/float64(m.userN[u]))
		}
	}
	r.Fairness = jain(slow)
	u := &r.Utilisation
	for _, x := range m.samples {
		u.MemoryMean += x.UtilMemory
		u.CoresMean += x.UtilCores
		u.InstancesMean += x.UtilInstances
		u.MemoryPeak = max(u.MemoryPeak, x.UtilMemory)
		u.CoresPeak = max(u.CoresPeak, x.UtilCores)
		u.InstancesPeak = max(u.InstancesPeak, x.UtilInstances)
		r.PeakQueue = max(r.PeakQueue, x.Queue)
	}
	if n := float64(len(m.samples)); n > 0 {
		u.MemoryMean /= n
		u.CoresMean /= n
		u.InstancesMean /= n
	}
	if s.violation != nil {
		r.Violation = s.violation.Error()
	}
	r.RunHash = s.runHash(r)
	return r
}

// runHash folds the event-log hash, the manager's final snapshot and the
// run's counts into one hex string.
func (s *Sim) runHash(r *Report) string {
	h := sha256.New()
	var b [8]byte
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(b[:], x)
		h.Write(b[:])
	}
	put(s.hash)
	put(r.Events)
	put(r.Commands)
	put(uint64(r.Jobs.Succeeded))
	put(uint64(r.Jobs.Failed))
	put(uint64(s.now - s.start))
	h.Write(s.st.Snapshot())
	return hex.EncodeToString(h.Sum(nil)[:16])
}
