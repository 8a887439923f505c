package sim

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// metrics accumulates what a run measures. Per-job measures (wait,
// turnaround, outcome) cover the jobs submitted after the warm-up;
// time-averaged levels (utilisation, engines, jobs in the system) are
// integrated exactly, event by event, over the time after the warm-up.
type metrics struct {
	submitted, failed, retries                int
	asksRefused, asksFailed, lockExpiries     int
	launchFailures, ecCrashes, ecmCrashes     int
	faults, fullChecks                        int
	grantsReused, grantsFresh, enginesStarted int
	samples                                   []Sample
	byKind                                    [evSample + 1]uint64

	warmAt   int64 // absolute: the end of the warm-up
	arrivals int   // jobs submitted after the warm-up
	lv       levels
}

// The time-averaged levels, by index.
const (
	lvHeldMem = iota // resources held by engines (as the manager's ledger)
	lvHeldCores
	lvHeldInst
	lvBusyMem // resources of engines in proportion to the tasks they run
	lvBusyCores
	lvBusyInst
	lvCapMem // capacity of the hosts that are up
	lvCapCores
	lvCapInst
	lvInSystem    // jobs submitted and not final
	lvLive        // engine processes running
	lvBusyEngines // engine processes running at least one task
	numLevels
)

// levels integrates piecewise-constant quantities over virtual time.
type levels struct {
	at, from int64 // last update; start of the measured window
	cur      [numLevels]float64
	area     [numLevels]float64 // ∫ cur dt over [from, at], unit·ns
	// busyPeak is, per resource, the highest share of the capacity up
	// that was busy (lvBusy*/lvCap* at the same moment) over [from, at].
	busyPeak [3]float64
}

// add changes level i by d at time now.
func (l *levels) add(now int64, i int, d float64) {
	l.advance(now)
	l.cur[i] += d
}

// advance integrates the levels over [at, now), where they held still,
// and notes the busy shares they held there. Only that part of it in the
// measured window counts: a level set before the warm-up and unchanged
// since counts from the window's start. A state that held for no time (one
// of several changes at the same instant: a host that fails drops its
// capacity, then its engines) is never noted.
func (l *levels) advance(now int64) {
	if now <= l.at {
		return
	}
	if now > l.from {
		dt := float64(now - max(l.at, l.from))
		for k := range l.cur {
			l.area[k] += l.cur[k] * dt
		}
		for k := range l.busyPeak {
			if c := l.cur[lvCapMem+k]; c > 0 {
				l.busyPeak[k] = max(l.busyPeak[k], l.cur[lvBusyMem+k]/c)
			}
		}
	}
	l.at = now
}

// mean returns the time average of level i over [from, end].
func (l *levels) mean(i int, end int64) float64 {
	l.advance(end)
	if end <= l.from {
		return 0
	}
	return l.area[i] / float64(end-l.from)
}

// ratio returns ∫a / ∫b: the share of b that a used on average.
func (l *levels) ratio(a, b int, end int64) float64 {
	l.advance(end)
	if l.area[b] <= 0 {
		return 0
	}
	return l.area[a] / l.area[b]
}

func (m *metrics) init(s *Sim) {
	m.warmAt = s.start + int64(s.sc.Warmup)
	m.lv = levels{at: s.start, from: m.warmAt}
}

// resource adds r (once, or times f) to the three levels from i.
func (m *metrics) resource(now int64, i int, r linkis.Resource, f float64) {
	m.lv.add(now, i, f*float64(r.Memory))
	m.lv.add(now, i+1, f*float64(r.MilliCores))
	m.lv.add(now, i+2, f*float64(r.Instances))
}

// arrive and depart count a job into and out of the system.
func (m *metrics) arrive(s *Sim, jb *job) {
	m.lv.add(s.now, lvInSystem, 1)
	if jb.submit >= m.warmAt {
		m.arrivals++
	}
}

func (m *metrics) depart(s *Sim, jb *job) {
	jb.end = s.now
	m.lv.add(s.now, lvInSystem, -1)
}

// taskStarts and taskEnds follow the busy share of an engine.
func (m *metrics) taskStarts(now int64, e *simEC) {
	if e.running == 1 {
		m.lv.add(now, lvBusyEngines, 1)
	}
	m.resource(now, lvBusyMem, e.res, 1/float64(max(e.capacity, 1)))
}

func (m *metrics) taskEnds(now int64, e *simEC) {
	if e.running == 0 {
		m.lv.add(now, lvBusyEngines, -1)
	}
	m.resource(now, lvBusyMem, e.res, -1/float64(max(e.capacity, 1)))
}

// failClass is why a job finally failed.
type failClass uint8

const (
	failNone   failClass = iota
	failNoRoom           // no ECM had room (refused, or its wait for room ran out)
	failQuota            // its key's quota, cap or queue was full
	failEngine           // its engine failed to start or died under it
	failOther
)

var failNames = [...]string{"", "no_room", "quota", "engine", "other"}

func classify(err error) failClass {
	switch {
	case errors.Is(err, linkis.ErrInsufficientResource), errors.Is(err, linkis.ErrNoNodeAvailable), errors.Is(err, linkis.ErrTimeout):
		return failNoRoom
	case errors.Is(err, linkis.ErrQuotaExceeded), errors.Is(err, linkis.ErrQueueFull):
		return failQuota
	case errors.Is(err, linkis.ErrEngineFailed):
		return failEngine
	}
	return failOther
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
	// Absolute amounts: cores and memory (GiB) held by engines, busy
	// running tasks, and the capacity of the hosts that are up; engine
	// processes that run no task.
	HeldCores, BusyCores, CapCores float64
	HeldMemGiB, BusyMemGiB         float64
	CapMemGiB                      float64
	IdleEngines                    int
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
	lv := &s.m.lv
	s.m.samples = append(s.m.samples, Sample{
		T:          float64(s.now-s.start) / 1e9,
		UtilMemory: frac(held.Memory, total.Max.Memory), UtilCores: frac(held.MilliCores, total.Max.MilliCores),
		UtilInstances: frac(held.Instances, total.Max.Instances),
		Queue:         waiting, Engines: engines, Running: int(running),
		HeldCores: float64(held.MilliCores) / 1000, BusyCores: lv.cur[lvBusyCores] / 1000, CapCores: lv.cur[lvCapCores] / 1000,
		HeldMemGiB: float64(held.Memory) / float64(linkis.GiB), BusyMemGiB: lv.cur[lvBusyMem] / float64(linkis.GiB),
		CapMemGiB:   lv.cur[lvCapMem] / float64(linkis.GiB),
		IdleEngines: int(lv.cur[lvLive] - lv.cur[lvBusyEngines]),
	})
}

// DurationStats summarises durations, in seconds.
type DurationStats struct {
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// durationStats sorts xs (ns) and summarises them.
func durationStats(xs []int64) DurationStats {
	if len(xs) == 0 {
		return DurationStats{}
	}
	slices.Sort(xs)
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return DurationStats{Mean: sum / float64(len(xs)) / 1e9,
		P50: quantile(xs, 0.50), P90: quantile(xs, 0.90), P95: quantile(xs, 0.95), P99: quantile(xs, 0.99),
		Max: float64(xs[len(xs)-1]) / 1e9}
}

// quantile is the nearest-rank quantile of sorted ns values, in seconds.
func quantile(s []int64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)]) / 1e9
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

// Failures splits the failed jobs among the measured ones by why they
// failed: no ECM had room, their key's quota or queue was full, their
// engine failed, or something else.
type Failures struct {
	NoRoom int `json:"no_room"`
	Quota  int `json:"quota"`
	Engine int `json:"engine"`
	Other  int `json:"other"`
}

// Utilisation is the time-averaged and peak share of the capacity of the
// hosts that are up, per resource: held by engines (what the manager's
// ledger reserves) or busy (an engine's resources in proportion to the
// tasks it runs: a serial engine running a task is busy, an idle one is
// held but not busy). A mean is ∫used / ∫capacity over the measured
// window. A busy peak is the highest busy/capacity at any moment of it,
// both taken at the same moment (exact: at every change), so a host that
// fails lowers the capacity the share is of; a held peak is the highest of
// the samples of the manager's ledger.
type Utilisation struct {
	MemoryMean    float64 `json:"memory_mean"`
	MemoryPeak    float64 `json:"memory_peak"`
	CoresMean     float64 `json:"cores_mean"`
	CoresPeak     float64 `json:"cores_peak"`
	InstancesMean float64 `json:"instances_mean"`
	InstancesPeak float64 `json:"instances_peak"`
}

// Little is Little's law measured: the time-averaged number of jobs in the
// system L against the arrival rate λ times the mean time in the system W
// (of the jobs submitted after the warm-up, failed ones included).
type Little struct {
	L      float64 `json:"l"`
	Lambda float64 `json:"lambda_per_s"`
	W      float64 `json:"w_seconds"`
}

// GroupStats are the measures of the jobs of one combined label or user.
type GroupStats struct {
	Name           string  `json:"name"`
	Jobs           int     `json:"jobs"`
	Succeeded      int     `json:"succeeded"`
	Failed         int     `json:"failed"`
	WaitMean       float64 `json:"wait_mean"`
	WaitP95        float64 `json:"wait_p95"`
	PWait          float64 `json:"p_wait"`
	TurnaroundMean float64 `json:"turnaround_mean"`
	TurnaroundP95  float64 `json:"turnaround_p95"`
}

// FaultMark is a fault's place in time, for the charts.
type FaultMark struct {
	At, For float64 // seconds since the start
	Kind    string
}

// WaitPoint is the wait of the jobs submitted in one sample window.
type WaitPoint struct {
	T        float64 // the window's end, seconds since the start
	P50, P95 float64
	N        int
}

// JobRecord is one job as the per-job CSV gives it.
type JobRecord struct {
	Job                int32
	Submit, Grant, End int64 // ns since the start; Grant -1 when never granted, End -1 when not final
	User, Key, ECM     int32 // indexes in the report's name tables; ECM -1 when never granted
	Reused             bool  // granted an engine that had served before
	Attempts           uint8
	Outcome            jobState
	Fail               failClass
}

// Report is the outcome of one run.
type Report struct {
	Scenario string `json:"scenario"`
	Policy   string `json:"policy"`
	// Variant names the run among those compared: the policy, and "/no-reclaim"
	// or "/reclaim" when idle reclaim was set for the run.
	Variant string `json:"variant"`
	Seed    uint64 `json:"seed"`
	// Events counts simulation events (see the package doc); Commands the
	// manager commands they applied, Refused those the manager refused.
	Events uint64 `json:"events"`
	// EventsByKind splits Events by what happened.
	EventsByKind   map[string]uint64 `json:"events_by_kind"`
	Commands       uint64            `json:"commands"`
	Refused        uint64            `json:"commands_refused"`
	VirtualSeconds float64           `json:"virtual_seconds"`
	WarmupSeconds  float64           `json:"warmup_seconds"`
	Jobs           JobCounts         `json:"jobs"`
	// Measured counts the jobs submitted after the warm-up, which the
	// measures below describe.
	Measured int `json:"jobs_measured"`
	// Wait is from submission to the grant of the attempt that ran,
	// Turnaround from submission to the end, of the measured jobs that
	// succeeded; PWait is the share of them that waited at all.
	Wait       DurationStats `json:"wait_seconds"`
	Turnaround DurationStats `json:"turnaround_seconds"`
	PWait      float64       `json:"p_wait"`
	Failures   Failures      `json:"failures"`
	// EnginesStarted counts engines that came up; GrantsReused and
	// GrantsNew split the grants between engines that had served before
	// and fresh ones.
	EnginesStarted int `json:"engines_started"`
	GrantsReused   int `json:"grants_reused"`
	GrantsNew      int `json:"grants_new"`
	// AsksRejected counts asks refused outright (AsksRefused) plus asks
	// that failed while waiting (AsksFailed).
	AsksRejected   int     `json:"asks_rejected"`
	AsksRefused    int     `json:"asks_refused"`
	AsksFailed     int     `json:"asks_failed"`
	LockExpiries   int     `json:"lock_expiries"`
	LaunchFailures int     `json:"launch_failures"`
	ECCrashes      int     `json:"ec_crashes"`
	ECMCrashes     int     `json:"ecm_crashes"`
	Faults         int     `json:"faults"`
	Fairness       float64 `json:"fairness_jain"`
	// Held and Busy are the utilisation of the cluster (see Utilisation).
	Held Utilisation `json:"utilisation_held"`
	Busy Utilisation `json:"utilisation_busy"`
	// EngineHours is the engine processes' running time, IdleEngineHours
	// the part of it during which they ran no task (after the warm-up).
	EngineHours     float64 `json:"engine_hours"`
	IdleEngineHours float64 `json:"idle_engine_hours"`
	Little          Little  `json:"little"`
	PeakQueue       int     `json:"peak_queue"`
	FullChecks      int     `json:"full_checks"`
	// Keys and Users are the measures per combined label and per user, the
	// most active first (at most 20 here; KeysTotal and UsersTotal count
	// them all, which WriteOutputs writes).
	Keys       []GroupStats `json:"keys"`
	Users      []GroupStats `json:"users"`
	KeysTotal  int          `json:"keys_total"`
	UsersTotal int          `json:"users_total"`
	// RunHash is a hash of the event log and the final state: the same
	// scenario, seed and policy give the same hash.
	RunHash   string   `json:"run_hash"`
	Violation string   `json:"violation,omitempty"`
	Series    []Sample `json:"-"`

	allKeys, allUsers []GroupStats
	waitSeries        []WaitPoint
	faultMarks        []FaultMark
	records           []JobRecord
	keyNames          []string
	userNames         []string
	ecmNames          []string
}

// topGroups is how many keys and users a report lists.
const topGroups = 20

func (s *Sim) report() *Report {
	m := &s.m
	end := s.now
	r := &Report{
		Scenario: s.sc.Name, Policy: s.opts.Policy.String(), Variant: s.opts.variant(), Seed: s.opts.Seed,
		Events: s.events, Commands: s.commands, Refused: s.refused,
		VirtualSeconds: float64(s.now-s.start) / 1e9, WarmupSeconds: time.Duration(s.sc.Warmup).Seconds(),
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
	s.jobMeasures(r)
	lv := &m.lv
	r.Held = Utilisation{
		MemoryMean: lv.ratio(lvHeldMem, lvCapMem, end), CoresMean: lv.ratio(lvHeldCores, lvCapCores, end),
		InstancesMean: lv.ratio(lvHeldInst, lvCapInst, end),
	}
	r.Busy = Utilisation{
		MemoryMean: lv.ratio(lvBusyMem, lvCapMem, end), CoresMean: lv.ratio(lvBusyCores, lvCapCores, end),
		InstancesMean: lv.ratio(lvBusyInst, lvCapInst, end),
	}
	lv.advance(end)
	// (at most 1: a share of fractions added and taken away again may
	// exceed it by a rounding error)
	r.Busy.MemoryPeak, r.Busy.CoresPeak, r.Busy.InstancesPeak = min(lv.busyPeak[0], 1), min(lv.busyPeak[1], 1), min(lv.busyPeak[2], 1)
	for _, x := range m.samples { // held peaks: the manager's own ledger, sampled
		if x.T*1e9 >= float64(m.warmAt-s.start) {
			r.Held.MemoryPeak = max(r.Held.MemoryPeak, x.UtilMemory)
			r.Held.CoresPeak = max(r.Held.CoresPeak, x.UtilCores)
			r.Held.InstancesPeak = max(r.Held.InstancesPeak, x.UtilInstances)
			r.PeakQueue = max(r.PeakQueue, x.Queue)
		}
	}
	window := float64(max(end-m.warmAt, 1)) / 1e9
	r.EngineHours = lv.mean(lvLive, end) * window / 3600
	r.IdleEngineHours = (lv.mean(lvLive, end) - lv.mean(lvBusyEngines, end)) * window / 3600
	r.Little.L = lv.mean(lvInSystem, end)
	r.Little.Lambda = float64(m.arrivals) / window
	for i := range s.faults {
		f := &s.faults[i]
		r.faultMarks = append(r.faultMarks, FaultMark{At: time.Duration(f.At).Seconds(), For: time.Duration(f.For).Seconds(), Kind: f.Kind})
	}
	if s.violation != nil {
		r.Violation = s.violation.Error()
	}
	r.RunHash = s.runHash(r)
	return r
}

// jobMeasures fills the per-job measures, the breakdowns, the wait series
// and the records.
func (s *Sim) jobMeasures(r *Report) {
	m := &s.m
	r.keyNames = s.keys
	r.userNames = make([]string, 0, 16)
	for u := int32(0); ; u++ {
		if s.sc.traceTables != nil {
			if int(u) >= len(s.sc.traceTables.users) {
				break
			}
		} else if int(u) >= s.sc.Workload.Users {
			break
		}
		r.userNames = append(r.userNames, s.userName(u))
	}
	for i := range s.ecms {
		r.ecmNames = append(r.ecmNames, s.ecms[i].id)
	}
	if s.opts.Records {
		r.records = make([]JobRecord, len(s.jobs))
	}
	var waits, turns []int64
	var sojourn float64
	waited, sojourns := 0, 0
	type group struct {
		waits, turns             []int64
		jobs, ok, failed, waited int
	}
	byKey := make([]group, len(s.keys))
	byUser := make([]group, len(r.userNames))
	slowSum := make([]float64, len(r.userNames))
	slowN := make([]int, len(r.userNames))
	sample := int64(s.sc.SampleEvery)
	nWin := int((s.now-s.start)/max(sample, 1)) + 1
	winWaits := make([][]int64, min(nWin, 1<<20))
	for i := range s.jobs {
		jb := &s.jobs[i]
		c := &s.combos[jb.combo]
		rec := JobRecord{Job: int32(i), Submit: jb.submit - s.start, Grant: -1, End: -1, User: c.user, Key: c.key, ECM: -1,
			Reused: jb.reused, Attempts: jb.attempt, Outcome: jb.state, Fail: jb.fail}
		if jb.granted > 0 {
			rec.Grant = jb.granted - s.start
			if uint64(jb.ec) < uint64(len(s.ecs)) {
				rec.ECM = s.ecs[jb.ec].ecm
			}
		}
		final := jb.state == jobSucceeded || jb.state == jobFailed
		if final {
			rec.End = jb.end - s.start
		}
		if r.records != nil {
			r.records[i] = rec
		}
		if jb.submit < m.warmAt {
			continue
		}
		r.Measured++
		kg, ug := &byKey[c.key], &byUser[c.user]
		kg.jobs++
		ug.jobs++
		if final {
			sojourn += float64(jb.end - jb.submit)
			sojourns++
		}
		switch jb.state {
		case jobSucceeded:
			wait, turn := jb.granted-jb.submit, jb.end-jb.submit
			waits, turns = append(waits, wait), append(turns, turn)
			for _, g := range []*group{kg, ug} {
				g.ok++
				g.waits, g.turns = append(g.waits, wait), append(g.turns, turn)
				if wait > 0 {
					g.waited++
				}
			}
			if wait > 0 {
				waited++
			}
			// Slowdown: turnaround over the time the job needed, at least
			// 1 s so that instant jobs do not dominate.
			slowSum[c.user] += float64(turn) / float64(max(jb.runtime, int64(time.Second)))
			slowN[c.user]++
			if w := int((jb.submit - s.start) / max(sample, 1)); w < len(winWaits) {
				winWaits[w] = append(winWaits[w], wait)
			}
		case jobFailed:
			kg.failed++
			ug.failed++
			switch jb.fail {
			case failNoRoom:
				r.Failures.NoRoom++
			case failQuota:
				r.Failures.Quota++
			case failEngine:
				r.Failures.Engine++
			default:
				r.Failures.Other++
			}
		}
	}
	r.Wait, r.Turnaround = durationStats(waits), durationStats(turns)
	if len(waits) > 0 {
		r.PWait = float64(waited) / float64(len(waits))
	}
	if sojourns > 0 {
		r.Little.W = sojourn / float64(sojourns) / 1e9
	}
	var slow []float64
	for u := range slowSum {
		if slowN[u] > 0 {
			slow = append(slow, slowSum[u]/float64(slowN[u]))
		}
	}
	r.Fairness = jain(slow)
	stats := func(names []string, gs []group) []GroupStats {
		var out []GroupStats
		for i := range gs {
			g := &gs[i]
			if g.jobs == 0 {
				continue
			}
			w, t := durationStats(g.waits), durationStats(g.turns)
			st := GroupStats{Name: names[i], Jobs: g.jobs, Succeeded: g.ok, Failed: g.failed,
				WaitMean: w.Mean, WaitP95: w.P95, TurnaroundMean: t.Mean, TurnaroundP95: t.P95}
			if g.ok > 0 {
				st.PWait = float64(g.waited) / float64(g.ok)
			}
			out = append(out, st)
		}
		slices.SortStableFunc(out, func(a, b GroupStats) int {
			if c := cmp.Compare(b.Jobs, a.Jobs); c != 0 {
				return c
			}
			return cmp.Compare(a.Name, b.Name)
		})
		return out
	}
	r.allKeys, r.allUsers = stats(s.keys, byKey), stats(r.userNames, byUser)
	r.KeysTotal, r.UsersTotal = len(r.allKeys), len(r.allUsers)
	r.Keys, r.Users = r.allKeys[:min(topGroups, len(r.allKeys))], r.allUsers[:min(topGroups, len(r.allUsers))]
	for w, ws := range winWaits {
		p := WaitPoint{T: float64(int64(w+1)*sample) / 1e9, N: len(ws)}
		if len(ws) > 0 {
			slices.Sort(ws)
			p.P50, p.P95 = quantile(ws, 0.5), quantile(ws, 0.95)
		}
		r.waitSeries = append(r.waitSeries, p)
	}
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
