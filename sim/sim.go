package sim

import (
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
	// Reclaim sets the manager's idle reclaim for this run (ReclaimOn,
	// ReclaimOff), overriding the scenario's; the zero value keeps it.
	Reclaim Toggle
	// Records keeps one record per job in the report, for WriteOutputs's
	// jobs-*.csv (48 bytes a job: 48 MB for a day of a million).
	Records bool
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

// Toggle turns a setting on or off for a run, or keeps the scenario's.
type Toggle int8

// The toggles.
const (
	ScenarioDefault Toggle = iota
	ReclaimOn
	ReclaimOff
)

// variant names a run among those compared: its policy, and its reclaim
// setting when the options set one.
func (o Options) variant() string {
	switch o.Reclaim {
	case ReclaimOn:
		return o.Policy.String() + "/reclaim"
	case ReclaimOff:
		return o.Policy.String() + "/no-reclaim"
	}
	return o.Policy.String()
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

// String names the event kind.
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
	hot     []ecmHot // what every event of a host reads first, apart (cache)
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
	effects   []manager.Effect // the reconciler's buffer
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
	if p := sc.unloaded(); p != "" {
		return nil, fmt.Errorf("scenario %s: %s reads a file that was not loaded (use LoadScenario)", sc.Name, p)
	}
	cfg, err := sc.Manager.config()
	if err != nil {
		return nil, err
	}
	cfg.Seed = opts.Seed ^ 0x5eed
	switch opts.Reclaim {
	case ReclaimOn:
		cfg.ReclaimIdle = true
	case ReclaimOff:
		cfg.ReclaimIdle = false
	}
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
	s.m.init(s)
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
			s.ecms = append(s.ecms, simECM{id: id, addr: id + ":9101", labels: ls, max: max, group: int32(gi)})
			s.hot = append(s.hot, ecmHot{up: true})
		}
	}
	for i := range s.ecms {
		m := &s.ecms[i]
		if _, err := s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max}); err != nil {
			return fmt.Errorf("registering ECM %s: %w", m.id, err)
		}
		s.m.resource(s.now, lvCapMem, m.max, 1)
		// Heartbeats start at a random phase, as real hosts do.
		s.push(event{at: s.now + 1 + int64(s.rngCluster.float()*float64(s.ecmHB)), kind: evECMHeartbeat, ref: int64(i), aux: uint64(s.hot[i].gen)})
	}
	if err := s.setUpPools(); err != nil {
		return err
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
		s.apply(manager.Effect{Kind: manager.EffectKill, EC: id}.Settle(s.now, manager.EngineReport{State: manager.ReportExited, Reason: "killed"}))
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

// ---- the manager calls ----

// apply applies one command at the current virtual time, hashes its
// outcome, passes the asks it decided to the client, and checks what it
// touched.
func (s *Sim) apply(c manager.Command) (manager.Result, error) {
	r, err := s.st.Apply(c)
	s.commands++
	typ := manager.TypeOf(c) // not c.Type(): the command would escape to the heap
	h := uint64(typ)<<56 ^ uint64(r.EC)<<8 ^ uint64(r.Ask.Status)
	if err != nil {
		h ^= 0xff << 48
		s.refused++
	}
	s.hash = mixHash(s.hash, h)
	s.hist.addCmd(typ, err, r.EC)
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

// setUpPools applies the scenario's warm pools, expanding "*" over the
// workload's users, creators and engine types.
func (s *Sim) setUpPools() error {
	var users, creators []string
	if t := s.sc.traceTables; t != nil {
		users, creators = t.users, t.creators
	} else {
		for u := range s.sc.Workload.Users {
			users = append(users, s.userName(int32(u)))
		}
		creators = s.sc.Workload.Creators
	}
	pick := func(want string, all []string) []string {
		if want == "" || want == "*" {
			return all
		}
		return []string{want}
	}
	var engines []string
	for _, e := range s.sc.Engines {
		engines = append(engines, e.Type)
	}
	n := 0
	for i, p := range s.sc.WarmPools {
		if p.MinIdle == 0 {
			continue
		}
		for _, u := range pick(p.User, users) {
			for _, c := range pick(p.Creator, creators) {
				for _, e := range pick(p.Engine, engines) {
					if n++; n > maxPoolKeys {
						return fmt.Errorf("warm_pools: more than %d combined labels", maxPoolKeys)
					}
					key := u + "-" + c + "," + e
					if _, err := s.apply(manager.SetWarmPool{Time: s.now, Key: key, MinIdle: p.MinIdle}); err != nil {
						return fmt.Errorf("warm_pools[%d]: %s: %w", i, key, err)
					}
				}
			}
		}
	}
	return nil
}
