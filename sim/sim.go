package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Options are the per-run choices that are not part of a scenario.
type Options struct {
	// Seed drives every random draw of the run.
	Seed uint64
	// Policy is the manager's ECM-choice policy.
	Policy manager.Placement
	// FullCheckEvery overrides the scenario's check.full_every when > 0.
	FullCheckEvery int
	// Progress, when set, is called about every 65,536 events and at the
	// end. It runs on the simulator's goroutine and must return quickly.
	Progress func(Progress)

	bug plantedBug // test-only: see planted_test.go
}

// Progress says how far a run is.
type Progress struct {
	Virtual, Horizon time.Duration
	Events           uint64
	JobsDone, Jobs   int
	Done             bool
}

// plantedBug selects a deliberate bug, to test that the checks catch it.
type plantedBug uint8

const (
	bugNone plantedBug = iota
	// bugClientCache: the client keeps the engine its last job of a key
	// ran on and runs the next job of that key there without asking the
	// manager - a wrapper that skips the manager's lock and ledger.
	bugClientCache
	// bugZombieEngines: an ECM neither reports an engine whose process
	// crashed nor stops heartbeating for it, so the manager holds its
	// resources for ever - the drift the settle check exists for.
	bugZombieEngines
)

// t0 is the virtual start: 2026-01-01T00:00:00Z in Unix nanoseconds.
const t0 = int64(1767225600) * int64(time.Second)

// evKind is what an event does.
type evKind uint8

const (
	evArrival      evKind = iota + 1 // the next job of the workload arrives
	evAsk                            // a job asks again after a retryable failure
	evJobEnd                         // a job's task finishes on its engine
	evRenew                          // a running job renews its lock
	evRelease                        // a client gives back the ask of a failed attempt
	evLaunchDone                     // an ECM's launch completes (or fails)
	evKillDone                       // an ECM killed an engine
	evECEndReport                    // an ECM reports that an engine died
	evECMHeartbeat                   // an ECM heartbeats
	evECHeartbeat                    // an engine heartbeats
	evTick                           // a tick may be due: the reconciler wakes up
	evLeaderUp                       // a new leader's reconciler starts
	evFault                          // a fault begins
	evFaultEnd                       // a fault's window ends
	evECMRecover                     // a crashed host comes back
	evSample                         // a metrics sample (not counted as an event)
)

var evNames = [...]string{"", "Arrival", "Ask", "JobEnd", "Renew", "Release", "LaunchDone", "KillDone", "ECEndReport",
	"ECMHeartbeat", "ECHeartbeat", "Tick", "LeaderUp", "Fault", "FaultEnd", "ECMRecover", "Sample"}

func (k evKind) String() string {
	if int(k) < len(evNames) {
		return evNames[k]
	}
	return "evKind(" + strconv.Itoa(int(k)) + ")"
}

// Launch outcomes carried in an evLaunchDone's aux (low 2 bits; the ECM's
// incarnation above them).
const (
	launchOK uint64 = iota
	launchFailed
	launchUnreachable
)

// Sim is one run. It is single-threaded and not safe for concurrent use.
type Sim struct {
	sc    *Scenario
	opts  Options
	cfg   manager.Config
	st    *manager.State
	start int64 // t0
	now   int64
	// arrivalsEnd is when jobs stop arriving, hardStop when the run ends
	// whatever remains, stopAt when it ends because all jobs are final.
	arrivalsEnd, hardStop, stopAt int64
	settling                      bool

	q     eventHeap
	lanes [numLanes]lane
	seq   uint64

	wl                workload
	rngWL, rngCluster *rng
	rngFaults, rngCli *rng
	rngNonce          *rng
	jobs              []job
	jobsFinal         int
	arrivalsDone      bool

	ecms    []simECM
	ecmByID map[string]int32
	ecs     []simEC
	live    []manager.ECID // running engines, for EC crash faults
	engines []engineInfo
	combos  []combo
	comboOf map[uint64]int32
	keys    []string
	keyOf   map[string]int32
	params  []map[string]string
	sizes   []resAmount

	drv       driver
	obs       observer
	leaderUp  int64 // no leader until then
	failBoost float64
	delay     *Dist
	faults    []FaultSpec
	faultsEnd int64 // when the last fault window closes

	lockTimeout, renewEvery, ecmHB, ecHB int64
	netDelay                             *Dist

	fullEvery uint64
	checkedAt uint64 // the event after which the last full check ran
	events    uint64
	commands  uint64
	refused   uint64
	hash      uint64
	hist      history
	touchedM  []int32
	touchedK  []int32
	violation *Violation
	m         metrics
	cache     map[int32]manager.ECID // bugClientCache only
}

// engineInfo is what the simulator knows of an engine type.
type engineInfo struct {
	spec *EngineSpec
	et   linkis.EngineType
}

// driver is the reconciler's in-flight bookkeeping: the launches and kills
// it has handed to ECMs and not yet seen end. It is all the state a driver
// has; a leader change drops it, and the new leader rebuilds its work from
// EffectsDue alone.
type driver struct {
	launched map[manager.ECID]struct{}
	killed   map[manager.ECID]struct{}
	epoch    uint64 // bumped by a leader change: voids the old leader's wake-ups
	tickAt   int64  // the wake-up already scheduled
}

func (d *driver) reset() {
	d.launched = map[manager.ECID]struct{}{}
	d.killed = map[manager.ECID]struct{}{}
	d.epoch++
	d.tickAt = 0
}

// Run simulates a scenario and returns its report. A broken invariant ends
// the run early with a *Violation error (and the report so far).
func Run(sc *Scenario, opts Options) (*Report, error) {
	s, err := newSim(sc, opts)
	if err != nil {
		return nil, err
	}
	s.run()
	rep := s.report()
	if s.violation != nil {
		return rep, s.violation
	}
	return rep, nil
}

func newSim(sc *Scenario, opts Options) (*Sim, error) {
	if sc.Workload.Trace != "" && sc.trace == nil {
		return nil, fmt.Errorf("scenario %s names trace %s but it was not loaded (use LoadScenario or LoadTrace)", sc.Name, sc.Workload.Trace)
	}
	cfg, err := sc.Manager.config()
	if err != nil {
		return nil, err
	}
	cfg.Seed = opts.Seed ^ 0x5eed
	s := &Sim{
		sc: sc, opts: opts, cfg: cfg, start: t0, now: t0,
		rngWL: newRNG(opts.Seed, streamWorkload), rngCluster: newRNG(opts.Seed, streamCluster),
		rngFaults: newRNG(opts.Seed, streamFaults), rngNonce: newRNG(opts.Seed, streamNonces),
		rngCli:  newRNG(opts.Seed, streamClient),
		ecmByID: map[string]int32{}, comboOf: map[uint64]int32{}, keyOf: map[string]int32{},
		ecs: make([]simEC, 1, 1024), hash: 0xcbf29ce484222325,
	}
	s.arrivalsEnd = t0 + int64(sc.Duration)
	s.hardStop = s.arrivalsEnd + int64(sc.Drain)
	s.stopAt = math.MaxInt64
	plugins := manager.NewPlugins()
	for i := range sc.Engines {
		e := &sc.Engines[i]
		et, _ := linkis.ParseEngineType(e.Type)
		mem, _ := linkis.ParseMemory(e.Memory)
		cores, _ := linkis.ParseCores(e.Cores)
		if err := plugins.Register(manager.Plugin{
			Type: et.Type, Version: et.Version, Concurrency: e.Concurrency,
			Resources: manager.StandardResources{Memory: mem, MilliCores: cores},
			Launcher:  manager.LaunchFunc(simLaunch),
		}); err != nil {
			return nil, fmt.Errorf("engines: %w", err)
		}
		s.engines = append(s.engines, engineInfo{spec: e, et: et})
	}
	st, err := manager.New(cfg, plugins)
	if err != nil {
		return nil, err
	}
	st.SetPlacement(opts.Policy)
	st.SetObserver(&s.obs)
	s.obs.s = s
	s.st = st
	s.drv.reset()
	s.lockTimeout = int64(cfg.LockTimeout)
	s.renewEvery = max(s.lockTimeout/3, int64(time.Second))
	s.ecmHB, s.ecHB = int64(sc.Cluster.ECMHeartbeat), int64(sc.Cluster.ECHeartbeat)
	if nd := &sc.Cluster.NetDelay; nd.Kind != "const" || nd.Value != 0 {
		s.netDelay = nd
	}
	// Sizes and their params.
	if sc.trace != nil {
		s.wl = &traceWorkload{jobs: sc.trace}
		s.sizes = sc.traceTables.resources
	} else {
		s.wl = newGenerator(sc, s.rngWL)
		for _, r := range sc.Workload.ResourceMix {
			var a resAmount
			a.memory, _ = linkis.ParseMemory(r.Memory)
			a.milliCores, _ = linkis.ParseCores(r.Cores)
			s.sizes = append(s.sizes, a)
		}
	}
	for _, a := range s.sizes {
		p := map[string]string{}
		if a.memory > 0 {
			p[manager.ParamMemory] = strconv.FormatInt(a.memory, 10) + "b"
		}
		if a.milliCores > 0 {
			p[manager.ParamCores] = strconv.FormatInt(a.milliCores, 10) + "m"
		}
		s.params = append(s.params, p)
	}
	s.fullEvery = uint64(sc.Check.FullEvery)
	if opts.FullCheckEvery > 0 {
		s.fullEvery = uint64(opts.FullCheckEvery)
	}
	if s.fullEvery == 0 {
		s.fullEvery = autoFullEvery(sc)
	}
	s.m.init(sc)
	if opts.bug == bugClientCache {
		s.cache = map[int32]manager.ECID{}
	}
	if err := s.setUpCluster(); err != nil {
		return nil, err
	}
	s.setUpFaults()
	return s, nil
}

// autoFullEvery: every event on small clusters (up to 64 ECMs); on larger
// ones, whose full check costs O(size) (tens of milliseconds at 10,000
// ECMs), about one per virtual hour of the expected run, so that a day
// costs some 25 full checks.
func autoFullEvery(sc *Scenario) uint64 {
	if sc.ECMCount() <= 64 {
		return 1
	}
	hours := max(uint64(time.Duration(sc.Duration)/time.Hour), 1)
	expected := uint64(max(sc.Workload.Jobs, len(sc.trace))) * 6
	expected += uint64(sc.ECMCount()) * uint64(time.Duration(sc.Duration)/max(time.Duration(sc.Cluster.ECMHeartbeat), time.Second))
	return max(expected/hours, 1000)
}

// simLaunch is the simulator's launch builder: a real ECM would need the
// command line; a simulated one needs only the ticket, type and size.
func simLaunch(c manager.LaunchContext) (manager.LaunchRequest, error) {
	return manager.LaunchRequest{Ticket: c.Ticket, EngineType: c.EngineType, User: c.User, Resource: c.Resource, Labels: c.Labels}, nil
}

func (s *Sim) setUpCluster() error {
	for gi, g := range s.sc.Cluster.ECMs {
		max := s.cfg.DefaultECMResource
		if g.Memory != "" {
			max.Memory, _ = linkis.ParseMemory(g.Memory)
		}
		if g.Cores != "" {
			max.MilliCores, _ = linkis.ParseCores(g.Cores)
		}
		if g.Instances > 0 {
			max.Instances = g.Instances
		}
		ls, err := linkis.ParseLabels(g.Labels)
		if err != nil {
			return fmt.Errorf("cluster.ecms[%d].labels: %w", gi, err)
		}
		for i := 1; i <= g.Count; i++ {
			id := g.Name + "-" + pad5(i)
			if _, dup := s.ecmByID[id]; dup {
				return fmt.Errorf("cluster.ecms[%d]: ECM id %s is used twice", gi, id)
			}
			s.ecmByID[id] = int32(len(s.ecms))
			s.ecms = append(s.ecms, simECM{id: id, addr: id + ":9101", labels: ls, max: max, group: int32(gi), up: true})
		}
	}
	for i := range s.ecms {
		m := &s.ecms[i]
		if _, err := s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max}); err != nil {
			return fmt.Errorf("registering ECM %s: %w", m.id, err)
		}
		// Heartbeats start at a random phase, as real hosts do.
		s.push(event{at: s.now + 1 + int64(s.rngCluster.float()*float64(s.ecmHB)), kind: evECMHeartbeat, ref: int64(i), aux: uint64(m.gen)})
	}
	s.scheduleArrival()
	s.scheduleTick()
	s.push(event{at: s.now + int64(s.sc.SampleEvery), kind: evSample})
	return nil
}

func pad5(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 5 {
		s = "0" + s
	}
	return s
}

// setUpFaults schedules the listed faults and draws the random ones.
func (s *Sim) setUpFaults() {
	s.faults = append(s.faults, s.sc.Faults...)
	rf := &s.sc.RandomFaults
	g := s.rngFaults
	for _, k := range []struct {
		kind string
		rate float64
	}{
		{FaultECMCrash, rf.ECMCrash}, {FaultECCrash, rf.ECCrash}, {FaultLostHeartbeats, rf.LostHeartbeats},
		{FaultLeaderChange, rf.LeaderChange}, {FaultNetworkDelay, rf.NetworkDelay}, {FaultLaunchFailures, rf.LaunchFailures},
	} {
		if k.rate <= 0 {
			continue
		}
		mean := float64(time.Hour) / k.rate
		for t := g.exp(mean); t < float64(s.sc.Duration); t += g.exp(mean) {
			f := FaultSpec{At: Duration(t), Kind: k.kind, Count: 1, For: rf.Outage}
			switch k.kind {
			case FaultLeaderChange:
				f.For = Duration(time.Duration(1+g.intn(10)) * time.Second)
			case FaultLaunchFailures:
				f.Rate = 0.5
			case FaultNetworkDelay:
				f.Delay = Dist{Kind: "uniform", Min: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second)}
			}
			s.faults = append(s.faults, f)
		}
	}
	for i, f := range s.faults {
		s.push(event{at: s.start + int64(f.At), kind: evFault, ref: int64(i)})
		s.faultsEnd = max(s.faultsEnd, s.start+int64(f.At)+int64(f.For))
	}
}

func (s *Sim) push(e event) {
	s.seq++
	e.seq = s.seq
	s.q.push(e)
}

// The lanes: events rescheduled with a fixed delay.
const (
	laneECMHeartbeat = iota
	laneECHeartbeat
	laneRenew
	numLanes
)

// pushLane queues an event due after a lane's fixed delay.
func (s *Sim) pushLane(l int, e event) {
	s.seq++
	e.seq = s.seq
	s.lanes[l].push(e)
}

// pending reports whether any event is queued.
func (s *Sim) pending() bool {
	if s.q.len() > 0 {
		return true
	}
	for i := range s.lanes {
		if s.lanes[i].len() > 0 {
			return true
		}
	}
	return false
}

// next pops the earliest event of the heap and the lanes, by (at, seq).
func (s *Sim) next() event {
	var best *event
	from := -1
	if s.q.len() > 0 {
		best = &s.q.es[0]
	}
	for i := range s.lanes {
		if s.lanes[i].len() == 0 {
			continue
		}
		if e := s.lanes[i].peek(); best == nil || e.before(best) {
			best, from = e, i
		}
	}
	if from < 0 {
		return s.q.pop()
	}
	return s.lanes[from].pop()
}

// run is the event loop.
func (s *Sim) run() {
	for s.pending() && s.violation == nil {
		e := s.next()
		if e.at > s.hardStop || e.at > s.stopAt {
			s.now = min(e.at, s.hardStop, s.stopAt)
			break
		}
		s.now = e.at
		if e.kind == evSample {
			s.sample()
			s.push(event{at: s.now + int64(s.sc.SampleEvery), kind: evSample})
			continue
		}
		s.handle(e)
		if s.violation != nil {
			break
		}
		s.reconcile()
		if s.events%s.fullEvery == 0 && s.events != s.checkedAt {
			s.checkedAt = s.events
			s.fullCheck(false)
		}
		if s.opts.Progress != nil && s.events&0xffff == 0 {
			s.opts.Progress(s.progress(false))
		}
		if s.arrivalsDone && s.jobsFinal == len(s.jobs) && !s.settling {
			// Settle after the last job and the last fault window: the
			// final checks compare the manager with the world at rest.
			s.settling = true
			s.stopAt = max(s.now, s.faultsEnd) + int64(s.sc.Settle)
		}
	}
	if s.violation == nil {
		s.fullCheck(true)
	}
	if s.opts.Progress != nil {
		s.opts.Progress(s.progress(true))
	}
}

func (s *Sim) progress(done bool) Progress {
	return Progress{
		Virtual: time.Duration(s.now - s.start), Horizon: time.Duration(s.arrivalsEnd - s.start),
		Events: s.events, JobsDone: s.jobsFinal, Jobs: len(s.jobs), Done: done,
	}
}

// handle does one event. Handlers that make a manager call first let the
// network (and a leader election) delay it: the event is queued again,
// marked delivered, and does its work then.
func (s *Sim) handle(e event) {
	switch e.kind {
	case evArrival:
		s.onArrival(e)
	case evAsk:
		j := int32(e.ref)
		if s.jobs[j].state != jobRetryWait || s.later(e) {
			return
		}
		s.count(e)
		s.ask(j)
	case evJobEnd:
		s.onJobEnd(e)
	case evRenew:
		s.onRenew(e)
	case evRelease:
		if s.later(e) {
			return
		}
		s.count(e)
		s.apply(manager.ReleaseEngine{Time: s.now, AskID: askID(int32(e.ref), uint8(e.aux))})
	case evLaunchDone:
		s.onLaunchDone(e)
	case evKillDone:
		if s.later(e) {
			return
		}
		s.count(e)
		id := manager.ECID(e.ref)
		s.touchEC(id)
		s.apply(effectCommand(manager.Effect{Kind: manager.EffectKill, EC: id}, ecmReply{Reason: "killed"}, s.now))
	case evECEndReport:
		if s.later(e) {
			return
		}
		s.count(e)
		id := manager.ECID(e.ref)
		s.touchEC(id)
		s.apply(manager.EngineEnded{Time: s.now, EC: id, Failed: true, Reason: "the engine process crashed", Retryable: true})
	case evECMHeartbeat:
		s.onECMHeartbeat(e)
	case evECHeartbeat:
		s.onECHeartbeat(e)
	case evTick:
		if e.aux != s.drv.epoch || e.at != s.drv.tickAt {
			return // an old leader's wake-up, or one superseded
		}
		s.count(e) // the reconciler, run after every event, proposes the tick
	case evLeaderUp:
		if e.aux != s.drv.epoch {
			return
		}
		s.count(e)
		s.scheduleTick()
	case evFault:
		s.count(e)
		s.startFault(int(e.ref))
	case evFaultEnd:
		s.count(e)
		s.endFault(int(e.ref))
	case evECMRecover:
		if s.later(e) {
			return // its registration reaches the manager late (or the next leader)
		}
		s.count(e)
		s.recoverECM(int32(e.ref))
	}
}

// count records an event as done: it is numbered, hashed and kept in the
// history.
func (s *Sim) count(e event) {
	s.events++
	s.m.byKind[e.kind]++
	s.hash = mixHash(s.hash, uint64(e.kind)<<56^uint64(e.ref))
	s.hash = mixHash(s.hash, uint64(e.at-s.start))
	s.hist.add(histEntry{n: s.events, at: e.at - s.start, kind: e.kind, ref: e.ref})
}

// later delays a manager call by the network, or until a leader is
// elected. It reports whether the event was queued again.
func (s *Sim) later(e event) bool {
	if e.delivered {
		return false
	}
	d := s.callDelay()
	if up := s.leaderUp - s.now; up > d {
		d = up
	}
	if d <= 0 {
		return false
	}
	e.delivered = true
	e.at = s.now + d
	s.push(e)
	return true
}

// callDelay draws the delay of one message between two parties.
func (s *Sim) callDelay() int64 {
	var d int64
	if s.netDelay != nil {
		d = s.netDelay.sample(s.rngCluster)
	}
	if s.delay != nil {
		d += s.delay.sample(s.rngCluster)
	}
	return d
}

// ---- jobs ----

func (s *Sim) scheduleArrival() {
	js, ok := s.wl.next()
	if !ok {
		s.arrivalsDone = true
		return
	}
	j := int32(len(s.jobs))
	s.jobs = append(s.jobs, job{
		submit: s.start + js.submit, runtime: js.runtime, combo: s.comboFor(js),
		params: js.res, nextOnEC: -1,
	})
	s.push(event{at: s.start + js.submit, kind: evArrival, ref: int64(j)})
}

func (s *Sim) onArrival(e event) {
	if !e.delivered {
		s.scheduleArrival() // the next one, whatever happens to this one
	}
	j := int32(e.ref)
	if s.cache != nil && !e.delivered && s.cachedStart(e) {
		return
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.m.submitted++
	s.ask(j)
}

// ask makes the next attempt of a job.
func (s *Sim) ask(j int32) {
	jb := &s.jobs[j]
	jb.attempt++
	c := &s.combos[jb.combo]
	key := s.keys[c.key]
	free := s.st.Key(key).Free
	var params map[string]string
	if jb.params >= 0 {
		params = s.params[jb.params]
	}
	id := askID(j, jb.attempt)
	r, err := s.apply(manager.AskEngine{Time: s.now, ID: id, Nonce: s.rngNonce.Uint64(), Labels: c.labels, Params: params})
	s.hist.last().job = j
	if err != nil {
		s.m.asksRefused++
		s.jobFailed(j, err, false)
		return
	}
	if r.Ask.Created && free > 0 {
		s.violate(fmt.Errorf("ask %s started engine %v although %d free engine(s) of %s could serve it", id, r.Ask.EC, free, key))
		return
	}
	if r.Ask.EC != 0 {
		s.noteEC(r.Ask.EC, r.Ask.ECM, c.key)
	}
	if r.Ask.Created {
		// The ask reserved an engine's resources: check those rows now
		// (apply checked what the command's transitions touched).
		s.touchEC(r.Ask.EC)
		s.localChecks()
	}
	switch r.Ask.Status {
	case manager.AskGranted:
		s.startJob(j, r.Ask)
	case manager.AskPending:
		jb.state = jobPending
	default:
		s.jobFailed(j, fmt.Errorf("ask %s is %v", id, r.Ask.Status), false)
	}
}

// startJob runs a job on the engine its ask was granted.
func (s *Sim) startJob(j int32, r manager.AskResult) {
	jb := &s.jobs[j]
	s.noteEC(r.EC, r.ECM, s.combos[jb.combo].key)
	e := s.ec(r.EC)
	jb.state = jobRunning
	jb.ec = r.EC
	jb.granted = s.now
	jb.gen++
	if r.Reused {
		s.m.grantsReused++
	} else {
		s.m.grantsFresh++
	}
	if e.state != ecRunning {
		// The manager granted an engine that has died (its end is not
		// reported yet): the task fails at once.
		s.push(event{at: s.now, kind: evJobEnd, ref: int64(j), aux: uint64(jb.gen)})
		return
	}
	s.attach(j, r.EC)
	s.checkRunning(j)
	s.push(event{at: s.now + jb.runtime, kind: evJobEnd, ref: int64(j), aux: uint64(jb.gen)})
	if jb.runtime > s.renewEvery {
		s.pushLane(laneRenew, event{at: s.now + s.renewEvery, kind: evRenew, ref: int64(j), aux: uint64(jb.gen)})
	}
}

// attach and detach keep the list of jobs running on an engine.
func (s *Sim) attach(j int32, id manager.ECID) {
	e := &s.ecs[id]
	jb := &s.jobs[j]
	jb.nextOnEC = e.firstJob
	e.firstJob = j
	e.running++
	if e.ecm >= 0 {
		s.ecms[e.ecm].running++
	}
}

func (s *Sim) detach(j int32) {
	jb := &s.jobs[j]
	e := &s.ecs[jb.ec]
	for p := &e.firstJob; *p >= 0; p = &s.jobs[*p].nextOnEC {
		if *p == j {
			*p = jb.nextOnEC
			jb.nextOnEC = -1
			e.running--
			if e.ecm >= 0 {
				s.ecms[e.ecm].running--
			}
			return
		}
	}
}

func (s *Sim) onJobEnd(e event) {
	j := int32(e.ref)
	jb := &s.jobs[j]
	if jb.state != jobRunning || jb.gen != uint32(e.aux) || s.later(e) {
		return
	}
	s.count(e)
	s.hist.last().job = j
	ec := &s.ecs[jb.ec]
	ok := ec.state == ecRunning && s.onEC(j)
	if s.onEC(j) {
		s.detach(j)
	}
	jb.gen++
	attempt := jb.attempt
	if !ok {
		s.jobFailed(j, linkis.Errorf(linkis.ErrEngineFailed, jb.ec.String(), "the engine died under the task"), true)
		return
	}
	jb.state = jobSucceeded
	s.jobsFinal++
	s.m.jobDone(s, jb)
	if s.cache != nil {
		s.cache[s.combos[jb.combo].key] = jb.ec
	}
	s.apply(manager.ReleaseEngine{Time: s.now, AskID: askID(j, attempt)})
}

// onEC reports whether job j is on its engine's list.
func (s *Sim) onEC(j int32) bool {
	for p := s.ecs[s.jobs[j].ec].firstJob; p >= 0; p = s.jobs[p].nextOnEC {
		if p == j {
			return true
		}
	}
	return false
}

func (s *Sim) onRenew(e event) {
	j := int32(e.ref)
	jb := &s.jobs[j]
	if jb.state != jobRunning || jb.gen != uint32(e.aux) {
		return
	}
	if !e.delivered {
		s.pushLane(laneRenew, event{at: s.now + s.renewEvery, kind: evRenew, ref: e.ref, aux: e.aux})
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.apply(manager.RenewLock{Time: s.now, AskID: askID(j, jb.attempt)})
}

// jobFailed handles a failed attempt: it asks again after a backoff when
// the error is retryable and attempts are left, else the job fails. With
// release, the client gives the attempt's ask back (its engine died under
// it; the manager may not know yet).
func (s *Sim) jobFailed(j int32, err error, release bool) {
	jb := &s.jobs[j]
	if jb.state == jobRunning && s.onEC(j) {
		s.detach(j)
	}
	jb.gen++
	if release {
		s.push(event{at: s.now, kind: evRelease, ref: int64(j), aux: uint64(jb.attempt)})
	}
	if linkis.IsRetryable(err) && int(jb.attempt) < s.sc.Client.MaxAttempts {
		jb.state = jobRetryWait
		s.m.retries++
		backoff := int64(s.sc.Client.RetryBackoff) << min(jb.attempt-1, 16)
		s.push(event{at: s.now + backoff, kind: evAsk, ref: int64(j)})
		return
	}
	jb.state = jobFailed
	s.jobsFinal++
	s.m.failed++
}

// onNotice reacts to an ask whose outcome a command decided.
func (s *Sim) onNotice(n manager.AskResult) {
	j, attempt, ok := parseAskID(n.AskID)
	if !ok || int(j) >= len(s.jobs) || s.jobs[j].attempt != attempt {
		return
	}
	jb := &s.jobs[j]
	switch n.Status {
	case manager.AskGranted:
		if jb.state == jobPending {
			s.startJob(j, n)
		}
	case manager.AskFailed:
		switch jb.state {
		case jobPending:
			s.m.asksFailed++
			s.jobFailed(j, n.Err, false)
		case jobRunning:
			if errors.Is(n.Err, linkis.ErrTimeout) {
				s.m.lockExpiries++
			}
			s.jobFailed(j, n.Err, false)
		}
	}
}

// cachedStart is bugClientCache: run the job on the engine the last job of
// its key used, without asking the manager.
func (s *Sim) cachedStart(e event) bool {
	j := int32(e.ref)
	jb := &s.jobs[j]
	id, ok := s.cache[s.combos[jb.combo].key]
	if !ok || s.ecs[id].state != ecRunning {
		return false
	}
	s.count(e)
	s.hist.last().ec = id
	s.m.submitted++
	jb.attempt++
	s.startJob(j, manager.AskResult{AskID: askID(j, jb.attempt), Status: manager.AskGranted, EC: id, Reused: true})
	return true
}

// ---- combos, keys and params ----

func (s *Sim) comboFor(js jobSpec) int32 {
	k := uint64(js.user)<<40 | uint64(js.creator)<<20 | uint64(js.engine)
	if c, ok := s.comboOf[k]; ok {
		return c
	}
	user, creator := s.userName(js.user), s.creatorName(js.creator)
	et := s.engines[js.engine].et
	ls, err := linkis.NewLabels(linkis.LabelUserCreator, user+"-"+creator, linkis.LabelEngineType, et.String())
	if err != nil {
		panic("sim: generated labels are invalid: " + err.Error()) // names were validated with the scenario
	}
	uc := linkis.UserCreator{User: user, Creator: creator}
	c := int32(len(s.combos))
	s.combos = append(s.combos, combo{labels: ls, key: s.keyIndex(linkis.CombinedKey(uc, et, "")), user: js.user})
	s.comboOf[k] = c
	return c
}

func (s *Sim) userName(u int32) string {
	if s.sc.traceTables != nil {
		return s.sc.traceTables.users[u]
	}
	return "user" + strconv.Itoa(int(u)+1)
}

func (s *Sim) creatorName(c int32) string {
	if s.sc.traceTables != nil {
		return s.sc.traceTables.creators[c]
	}
	return s.sc.Workload.Creators[c]
}

func (s *Sim) keyIndex(key string) int32 {
	if i, ok := s.keyOf[key]; ok {
		return i
	}
	i := int32(len(s.keys))
	s.keys = append(s.keys, key)
	s.keyOf[key] = i
	return i
}

// ---- engines ----

// ec returns the record of an engine, growing the table.
func (s *Sim) ec(id manager.ECID) *simEC {
	for uint64(len(s.ecs)) <= uint64(id) {
		s.ecs = append(s.ecs, simEC{ecm: -1, key: -1, engine: -1, firstJob: -1, liveIdx: -1})
	}
	return &s.ecs[id]
}

// noteEC records where an engine is, from a manager answer.
func (s *Sim) noteEC(id manager.ECID, ecm string, key int32) {
	e := s.ec(id)
	if e.ecm < 0 {
		if m, ok := s.ecmByID[ecm]; ok {
			e.ecm = m
		}
	}
	if e.key < 0 {
		e.key = key
	}
}

// ecDie ends an engine process. Its jobs fail (their task died); with
// report, its ECM tells the manager.
func (s *Sim) ecDie(id manager.ECID, why string, report bool) {
	e := &s.ecs[id]
	if e.state == ecDead {
		return
	}
	wasRunning := e.state == ecRunning
	e.state = ecDead
	if s.opts.bug == bugZombieEngines && report {
		report = false // the crash goes unreported, and the heartbeats go on
	} else {
		e.inc++
	}
	if e.liveIdx >= 0 {
		last := s.live[len(s.live)-1]
		s.live[e.liveIdx] = last
		s.ecs[last].liveIdx = e.liveIdx
		s.live = s.live[:len(s.live)-1]
		e.liveIdx = -1
	}
	for e.firstJob >= 0 {
		j := e.firstJob
		s.jobFailed(j, linkis.Errorf(linkis.ErrEngineFailed, id.String(), "%s", why), true)
	}
	if report && wasRunning && e.ecm >= 0 && s.ecms[e.ecm].up {
		s.push(event{at: s.now, kind: evECEndReport, ref: int64(id)})
	}
}

func (s *Sim) setRunning(id manager.ECID) {
	e := &s.ecs[id]
	e.state = ecRunning
	e.liveIdx = int32(len(s.live))
	s.live = append(s.live, id)
	s.push(event{at: s.now + 1 + int64(s.rngCluster.float()*float64(s.ecHB)), kind: evECHeartbeat, ref: int64(id), aux: uint64(e.inc)})
}

func (s *Sim) onLaunchDone(e event) {
	id := manager.ECID(e.ref)
	ec := &s.ecs[id]
	outcome, gen := e.aux&3, uint32(e.aux>>2)
	if outcome == launchOK && (ec.state == ecDead || ec.ecm < 0 || s.ecms[ec.ecm].gen != gen) {
		return // killed meanwhile, or the host went down with it
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.touchEC(id)
	eff := manager.Effect{Kind: manager.EffectLaunch, EC: id}
	if outcome != launchOK {
		if ec.state == ecLaunching {
			ec.state = ecDead
		}
		reason := "launch failed"
		if outcome == launchUnreachable {
			reason = "ECM unreachable"
		} else {
			s.m.launchFailures++
		}
		s.apply(effectCommand(eff, ecmReply{Failed: true, Reason: reason, Retryable: true}, s.now))
		return
	}
	if ec.state == ecLaunching {
		s.setRunning(id)
	}
	_, err := s.apply(effectCommand(eff, ecmReply{Addr: ecAddr(id)}, s.now))
	switch {
	case err == nil:
	case errors.Is(err, linkis.ErrUnknownNode):
		s.ecDie(id, "the manager no longer knows it", false)
	}
}

// ---- hosts ----

func (s *Sim) onECMHeartbeat(e event) {
	mi := int32(e.ref)
	m := &s.ecms[mi]
	if !m.up || m.gen != uint32(e.aux) {
		return
	}
	if !e.delivered {
		s.pushLane(laneECMHeartbeat, event{at: s.now + s.ecmHB, kind: evECMHeartbeat, ref: e.ref, aux: e.aux})
		if m.hbLostUntil > s.now {
			return
		}
	}
	if s.later(e) {
		return
	}
	s.count(e)
	_, err := s.apply(manager.ECMHeartbeat{Time: s.now, ID: m.id, Load: linkis.NodeLoad{RunningTasks: m.running}})
	if errors.Is(err, linkis.ErrUnknownNode) {
		// The manager declared it lost and forgot its engines: they must
		// go, and the ECM registers again.
		s.killAllOn(mi, "its ECM was declared lost")
		s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max})
		s.touchECM(mi)
	}
}

func (s *Sim) killAllOn(mi int32, why string) {
	m := &s.ecms[mi]
	for _, id := range m.ecs {
		if s.ecs[id].ecm == mi {
			s.ecDie(id, why, false)
		}
	}
	m.ecs = m.ecs[:0]
}

func (s *Sim) onECHeartbeat(e event) {
	id := manager.ECID(e.ref)
	ec := &s.ecs[id]
	zombie := s.opts.bug == bugZombieEngines && ec.state == ecDead
	if ec.state != ecRunning && !zombie || ec.inc != uint32(e.aux) {
		return
	}
	m := &s.ecms[ec.ecm]
	if !e.delivered {
		s.pushLane(laneECHeartbeat, event{at: s.now + s.ecHB, kind: evECHeartbeat, ref: e.ref, aux: e.aux})
		if m.hbLostUntil > s.now || !m.up {
			return
		}
	}
	if s.later(e) {
		return
	}
	s.count(e)
	status := linkis.StatusUnlock
	if ec.running >= ec.capacity {
		status = linkis.StatusBusy
	}
	_, err := s.apply(manager.ECHeartbeat{Time: s.now, EC: id, Status: status, Load: linkis.NodeLoad{RunningTasks: int64(ec.running)}})
	if errors.Is(err, linkis.ErrUnknownNode) {
		s.ecDie(id, "the manager no longer knows it", false)
	}
}

// recoverECM brings a crashed host back: its ECM tells the manager to
// forget what it held before the crash, and registers afresh.
func (s *Sim) recoverECM(mi int32) {
	m := &s.ecms[mi]
	if m.up {
		return
	}
	m.up = true
	m.gen++
	m.ecs = m.ecs[:0]
	s.touchECM(mi)
	if _, ok := s.st.ECM(m.id); ok {
		s.apply(manager.DeregisterECM{Time: s.now, ID: m.id, Force: true})
	}
	s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max})
	s.pushLane(laneECMHeartbeat, event{at: s.now + s.ecmHB, kind: evECMHeartbeat, ref: int64(mi), aux: uint64(m.gen)})
}

func (s *Sim) crashECM(mi int32, recoverAfter int64) {
	m := &s.ecms[mi]
	if !m.up {
		return
	}
	m.up = false
	m.gen++
	s.m.ecmCrashes++
	for _, id := range m.ecs {
		if s.ecs[id].ecm == mi {
			s.ecDie(id, "its host crashed", false)
		}
	}
	m.ecs = m.ecs[:0]
	if recoverAfter > 0 {
		s.push(event{at: s.now + recoverAfter, kind: evECMRecover, ref: int64(mi)})
	}
}

// ---- faults ----

func (s *Sim) pickECMs(f *FaultSpec, up bool) []int32 {
	if f.ECM != "" {
		if i, ok := s.ecmByID[f.ECM]; ok {
			return []int32{i}
		}
		return nil
	}
	var out []int32
	for tries := 0; len(out) < f.Count && tries < 4*f.Count+16; tries++ {
		i := int32(s.rngFaults.intn(len(s.ecms)))
		if s.ecms[i].up == up || !up {
			out = append(out, i)
		}
	}
	return out
}

func (s *Sim) startFault(i int) {
	f := &s.faults[i]
	s.m.faults++
	switch f.Kind {
	case FaultECMCrash:
		for _, mi := range s.pickECMs(f, true) {
			s.crashECM(mi, int64(f.For))
		}
	case FaultECCrash:
		for n := 0; n < f.Count && len(s.live) > 0; n++ {
			id := s.live[s.rngFaults.intn(len(s.live))]
			s.m.ecCrashes++
			s.ecDie(id, "the engine process crashed", true)
		}
	case FaultLostHeartbeats:
		for _, mi := range s.pickECMs(f, true) {
			s.ecms[mi].hbLostUntil = max(s.ecms[mi].hbLostUntil, s.now+int64(f.For))
		}
	case FaultLaunchFailures:
		s.failBoost = f.Rate
		s.push(event{at: s.now + int64(f.For), kind: evFaultEnd, ref: int64(i)})
	case FaultNetworkDelay:
		s.delay = &f.Delay
		s.push(event{at: s.now + int64(f.For), kind: evFaultEnd, ref: int64(i)})
	case FaultLeaderChange:
		s.drv.reset()
		s.leaderUp = s.now + int64(f.For)
		s.push(event{at: s.leaderUp, kind: evLeaderUp, aux: s.drv.epoch})
	}
}

func (s *Sim) endFault(i int) {
	switch f := &s.faults[i]; f.Kind {
	case FaultLaunchFailures:
		s.failBoost = 0
	case FaultNetworkDelay:
		if s.delay == &f.Delay {
			s.delay = nil
		}
	}
}

// ---- the reconciler ----

// ecmReply is what an ECM answered to a launch or a kill.
type ecmReply struct {
	Addr      string
	Failed    bool
	Reason    string
	Retryable bool
}

// effectCommand maps an effect and the ECM's reply to the command the
// reconciler proposes: a launch that came up is EngineStarted, one that
// could not is EngineEnded (failed, with the reason and whether a retry
// makes sense); a kill is EngineEnded once the engine is gone; a tick is a
// Tick. It is the one place that mapping lives, so that it can be swapped
// for the real reconciler's.
func effectCommand(eff manager.Effect, rep ecmReply, now int64) manager.Command {
	switch eff.Kind {
	case manager.EffectLaunch:
		if rep.Failed {
			return manager.EngineEnded{Time: now, EC: eff.EC, Failed: true, Reason: rep.Reason, Retryable: rep.Retryable}
		}
		return manager.EngineStarted{Time: now, EC: eff.EC, Addr: rep.Addr}
	case manager.EffectKill:
		return manager.EngineEnded{Time: now, EC: eff.EC, Reason: rep.Reason}
	}
	return manager.Tick{Time: now}
}

// reconcile is the leader's reconciler: it runs after every event, asks
// the manager what is due and hands new launches and kills to the ECMs.
// The O(1) counts let it skip EffectsDue when nothing new can be due.
func (s *Sim) reconcile() {
	if s.now < s.leaderUp {
		return
	}
	for pass := 0; pass < 8; pass++ {
		l, k := s.st.EffectCounts()
		tick := s.now >= s.st.TickDue()
		if l == len(s.drv.launched) && k == len(s.drv.killed) && !tick {
			return
		}
		for _, eff := range s.st.EffectsDue(s.now) {
			switch eff.Kind {
			case manager.EffectLaunch:
				if _, done := s.drv.launched[eff.EC]; !done {
					s.drv.launched[eff.EC] = struct{}{}
					s.dispatchLaunch(eff)
				}
			case manager.EffectKill:
				if _, done := s.drv.killed[eff.EC]; !done {
					s.drv.killed[eff.EC] = struct{}{}
					s.dispatchKill(eff)
				}
			case manager.EffectTick:
				s.apply(effectCommand(eff, ecmReply{}, s.now))
				s.scheduleTick()
			}
		}
	}
}

// scheduleTick wakes the reconciler when the next tick is due.
func (s *Sim) scheduleTick() {
	at := max(s.st.TickDue(), s.now)
	if s.drv.tickAt == at {
		return
	}
	s.drv.tickAt = at
	s.push(event{at: at, kind: evTick, aux: s.drv.epoch})
}

// dispatchLaunch hands a launch to its ECM. The ECM is idempotent: a
// ticket it already has is not launched again (it reports what became of
// it instead).
func (s *Sim) dispatchLaunch(eff manager.Effect) {
	mi, ok := s.ecmByID[eff.ECM]
	if !ok {
		return
	}
	m := &s.ecms[mi]
	ec := s.ec(eff.EC)
	if ec.ecm < 0 {
		ec.ecm = mi
	}
	if ec.engine < 0 && eff.Launch != nil {
		s.learnLaunch(ec, eff.Launch)
	}
	s.touchECM(mi)
	d := s.callDelay()
	switch {
	case !m.up:
		s.push(event{at: s.now + d + int64(time.Second), kind: evLaunchDone, ref: int64(eff.EC), aux: launchUnreachable})
	case ec.state == ecNone:
		ec.state = ecLaunching
		ec.ecmGen = m.gen
		m.ecs = append(m.ecs, eff.EC)
		lat := s.sc.Cluster.ECMs[m.group].LaunchLatency.sample(s.rngCluster)
		if ec.engine >= 0 {
			lat += s.engines[ec.engine].spec.Start.sample(s.rngCluster)
		}
		outcome := launchOK
		if p := max(s.sc.Cluster.ECMs[m.group].LaunchFailRate, s.failBoost); p > 0 && s.rngCluster.float() < p {
			outcome = launchFailed
		}
		s.push(event{at: s.now + d + lat, kind: evLaunchDone, ref: int64(eff.EC), aux: uint64(m.gen)<<2 | outcome})
	case ec.state == ecRunning:
		s.push(event{at: s.now + d, kind: evLaunchDone, ref: int64(eff.EC), aux: uint64(ec.ecmGen)<<2 | launchOK})
	case ec.state == ecDead:
		s.push(event{at: s.now + d, kind: evLaunchDone, ref: int64(eff.EC), aux: launchFailed})
	}
}

func (s *Sim) learnLaunch(ec *simEC, lr *manager.LaunchRequest) {
	for i := range s.engines {
		if s.engines[i].et == lr.EngineType {
			ec.engine = int32(i)
			ec.capacity = int32(s.engines[i].spec.Concurrency)
			break
		}
	}
	ec.res = lr.Resource
	if ec.key < 0 {
		if req, err := linkis.ParseEngineRequest(lr.Labels); err == nil {
			ec.key = s.keyIndex(req.Key())
		}
	}
}

// dispatchKill hands a kill to its ECM. An ECM that is down cannot be
// reached: the kill stays in flight (the host's loss or recovery ends the
// engine), and a new leader would try again.
func (s *Sim) dispatchKill(eff manager.Effect) {
	mi, ok := s.ecmByID[eff.ECM]
	if !ok || !s.ecms[mi].up {
		return
	}
	ec := s.ec(eff.EC)
	if ec.state == ecLaunching || ec.state == ecRunning {
		s.ecDie(eff.EC, "killed", false)
	}
	s.push(event{at: s.now + s.callDelay() + int64(100*time.Millisecond), kind: evKillDone, ref: int64(eff.EC)})
}

// ---- the manager calls ----

// observer watches every status change the manager applies: it checks it
// against the transition table, prunes the reconciler's in-flight sets and
// notes what each command touched for the local checks.
type observer struct {
	s   *Sim
	err error
}

// Transition implements manager.Observer (for ECMs).
func (o *observer) Transition(kind linkis.NodeKind, id string, from, to linkis.NodeStatus) {
	if err := linkis.CheckTransition(kind, id, from, to); err != nil && o.err == nil {
		o.err = err
	}
	if mi, ok := o.s.ecmByID[id]; ok && kind == linkis.KindECM {
		o.s.touchECM(mi)
	}
}

// ECTransition implements manager.ECObserver.
func (o *observer) ECTransition(ecid manager.ECID, from, to linkis.NodeStatus) {
	if !linkis.CanTransition(linkis.KindEngineConn, from, to) && o.err == nil {
		o.err = linkis.CheckTransition(linkis.KindEngineConn, ecid.String(), from, to)
	}
	if from == linkis.StatusStarting {
		delete(o.s.drv.launched, ecid)
		if to == linkis.StatusUnlock || to == linkis.StatusRunning {
			o.s.m.enginesStarted++
		}
	}
	if to.IsFinal() {
		delete(o.s.drv.launched, ecid)
		delete(o.s.drv.killed, ecid)
	}
	// Only starts, stops while starting and ends move the ledger; grants
	// and releases change statuses (Unlock, Idle, Busy) but no row.
	if from == linkis.StatusStarting || to.IsFinal() {
		o.s.touchEC(ecid)
	}
}

// apply applies one command at the current virtual time, hashes its
// outcome, passes the asks it decided to the client, and checks what it
// touched.
func (s *Sim) apply(c manager.Command) (manager.Result, error) {
	r, err := s.st.Apply(c)
	s.commands++
	h := uint64(c.Type())<<56 ^ uint64(r.EC)<<8 ^ uint64(r.Ask.Status)
	if err != nil {
		h ^= 0xff << 48
		s.refused++
	}
	s.hash = mixHash(s.hash, h)
	s.hist.addCmd(c.Type(), err, r.EC)
	if err == nil {
		for i := range r.Notices {
			s.onNotice(r.Notices[i])
		}
	}
	if s.obs.err != nil {
		s.violate(fmt.Errorf("illegal status transition: %w", s.obs.err))
	}
	s.localChecks()
	return r, err
}
