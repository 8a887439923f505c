package manager

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// TestStateMachineProperty drives a real State with random command
// sequences (pgregory.net/rapid) next to a deliberately small model of what
// must exist: the registered ECMs, the engines and their key, the live asks
// and their status. After every command it checks that the state machine
// agrees with the model, that a refused command changed nothing, that every
// invariant holds and that no illegal status transition happened; at the
// end of each run it replays the commands (directly, through the codec, and
// through a snapshot/restore at a random point) and requires byte-identical
// snapshots.
//
// The model does not re-implement the manager: it predicts refusals, the
// reuse of free engines, caps and time-driven expiries, and otherwise only
// requires that nothing changes silently (every ask that changes status is
// named in the command's result, every engine that appears or disappears
// does so in a command allowed to create or end it).
//
// Longer runs: make soak, or -rapid.checks=N -rapid.steps=M.
func TestStateMachineProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := newPropTest(t)
		p.setUp(t)
		actions := p.actions()
		// Repeat averages 30 actions; a few rounds reach deeper states
		// (engines that served several tasks, queues, expiries).
		for range propRounds {
			t.Repeat(actions)
		}
		p.checkReplay(t)
	})
}

const propRounds = 8

// The model's world: two users, two engine types, one tenant, four ECMs.
var (
	propUsers   = []string{"alice-IDE", "bob-IDE"}
	propTypes   = []string{"shell-1", "python-3"}
	propTenants = []string{"", "acme"}
	// ecm-1: default capacity; ecm-2: medium with a scorable label;
	// ecm-s: small (fills up fast); ecm-t: tenant acme.
	propECMIDs = []string{"ecm-1", "ecm-2", "ecm-s", "ecm-t"}
)

func propECMSpec(id string) (tenant string, kv []string, max linkis.Resource) {
	switch id {
	case "ecm-2":
		return "", []string{"zone", "z1"}, linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 8000, Instances: 4}
	case "ecm-s":
		return "", nil, linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 2}
	case "ecm-t":
		return "acme", []string{"tenant", "acme"}, linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 8000, Instances: 4}
	}
	return "", nil, linkis.Resource{} // the configured default
}

func propKeys() []string {
	var ks []string
	for _, u := range propUsers {
		for _, et := range propTypes {
			for _, tn := range propTenants {
				uc, _ := linkis.ParseUserCreator(u)
				e, _ := linkis.ParseEngineType(et)
				ks = append(ks, linkis.CombinedKey(uc, e, tn))
			}
		}
	}
	return ks
}

func propConfig() Config {
	cfg := DefaultConfig()
	cfg.NewECMStandby = 0
	// Locks, waits and idleness expire well before nodes are lost, so that
	// a run sees them while its ECMs are alive.
	cfg.LockTimeout = 3 * time.Minute
	cfg.AskWaitTimeout = 4 * time.Minute
	cfg.IdleTimeout = 6 * time.Minute
	cfg.ResourceLockTimeout = 8 * time.Minute
	cfg.ECLostAfter = 9 * time.Minute
	cfg.ECMLostAfter = 10 * time.Minute
	cfg.TickInterval = time.Second
	cfg.MaxTasksPerEC = 4
	cfg.MaxWaitersPerKey = 3
	cfg.DefaultQuota = linkis.Resource{Memory: 20 * linkis.GiB, MilliCores: 10_000, Instances: 3}
	return cfg
}

// Model records.
type (
	propECM struct {
		tenant   string
		shutting bool // gracefully deregistered, waiting for its engines
		health   linkis.NodeHealth
		lastSeen int64
	}
	propEC struct {
		key, ecm  string
		mode      linkis.EngineConnMode
		capacity  int
		owner     string // the ask it was created for; "" when shared
		status    linkis.NodeStatus
		used      bool
		addr      string
		createdAt int64
		lastSeen  int64
	}
	propAsk struct {
		key      string
		status   AskStatus
		ec       ECID // granted engine
		own      ECID // the engine created for it alone (dedicated/constrained)
		token    LockToken
		expires  int64
		deadline int64
	}
)

// propAskMeta is what the test knows of an AskEngine it builds.
type propAskMeta struct {
	key     string
	variant string
	fresh   bool      // the id is not a live ask: not a retry
	prior   AskResult // for a retry: what the state said before
}

// ownsEngine reports whether an engine the ask starts is its own (dedicated
// and constrained asks) rather than shared with its key's queue.
func (m *propAskMeta) ownsEngine() bool {
	switch m.variant {
	case "once", "hugeOnce", "exclusive", "emInstance", "excludeOne":
		return true
	}
	return false
}

type propLogged struct {
	cmd Command
	res Result
	err error
}

type propTest struct {
	cfg     Config
	s       *State
	checker *TransitionChecker
	now     int64
	nonce   uint64
	askSeq  int
	maxEC   ECID

	ecms    map[string]*propECM
	ecs     map[ECID]*propEC
	asks    map[string]*propAsk
	ended   []ECID   // engines that existed and ended
	usedIDs []string // every ask id ever used
	quotas  map[string]int64
	defInst int64
	pools   map[string]int // warm pools: key → minimum

	log []propLogged
}

func newPropTest(t *rapid.T) *propTest {
	cfg := propConfig()
	cfg.ReclaimIdle = rapid.Bool().Draw(t, "reclaimIdle")
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &propTest{
		cfg: cfg, s: s, checker: &TransitionChecker{}, now: t0,
		ecms: map[string]*propECM{}, ecs: map[ECID]*propEC{}, asks: map[string]*propAsk{},
		quotas: map[string]int64{}, defInst: cfg.DefaultQuota.Instances, pools: map[string]int{},
	}
	s.SetObserver(p.checker)
	return p
}

// actions maps action names to actions; an action listed under several
// names is drawn more often (rapid draws names uniformly).
func (p *propTest) actions() map[string]func(*rapid.T) {
	m := map[string]func(*rapid.T){"": p.checkState}
	for _, a := range []struct {
		name   string
		weight int
		f      func(*rapid.T)
	}{
		{"registerECM", 1, p.actRegister},
		{"deregisterECM", 1, p.actDeregister},
		{"ecmHeartbeat", 1, p.actECMHeartbeat},
		{"heartbeatAll", 2, p.actHeartbeatAll},
		{"ecHeartbeat", 2, p.actECHeartbeat},
		{"ask", 5, p.actAsk},
		{"engineStarted", 2, p.actStarted},
		{"startAll", 1, p.actStartAll},
		{"engineEnded", 1, p.actEnded},
		{"release", 3, p.actRelease},
		{"kill", 1, p.actKill},
		{"renewLock", 1, p.actRenew},
		{"unlock", 1, p.actUnlock},
		{"advance", 1, p.actAdvance},
		{"tick", 2, p.actTick},
		{"setQuota", 1, p.actSetQuota},
		{"pluginParams", 1, p.actPluginParams},
		{"warmPool", 1, p.actWarmPool},
	} {
		for i := range a.weight {
			name := a.name
			if i > 0 {
				name = fmt.Sprintf("%s#%d", a.name, i+1)
			}
			m[name] = a.f
		}
	}
	return m
}

// setUp registers ecm-1 and a random choice of the other ECMs.
func (p *propTest) setUp(t *rapid.T) {
	for _, id := range propECMIDs {
		if id != "ecm-1" && !rapid.Bool().Draw(t, "register "+id) {
			continue
		}
		_, kv, max := propECMSpec(id)
		_, err := p.apply(t, RegisterECM{Time: p.now, ID: id, Addr: id + ":9101", Labels: propLabels(t, kv...), Max: max}, nil)
		propExpectOK(t, err)
	}
}

func propLabels(t *rapid.T, kv ...string) linkis.Labels {
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// ---------------------------------------------------------------- apply

// apply applies one command at the test clock and checks everything that
// does not depend on which action built it. meta is set for AskEngine.
func (p *propTest) apply(t *rapid.T, c Command, meta *propAskMeta) (Result, error) {
	t.Helper()
	before := p.s.Snapshot()
	ecsBefore := propECMap(p.s.ECs())
	keysBefore := propKeyMap(p.s.Keys())
	r, err := p.s.Apply(c)
	p.log = append(p.log, propLogged{cmd: c, res: r, err: err})
	t.Logf("#%d %s %s -> err=%v ask=%+v notices=%+v", len(p.log), c.Type(), propFmtCmd(c), err, r.Ask, r.Notices)
	if err != nil {
		if !bytes.Equal(before, p.s.Snapshot()) {
			t.Fatalf("%v was refused (%v) but changed the state", c.Type(), err)
		}
		var le *linkis.Error
		if !errors.As(err, &le) {
			t.Fatalf("%v: error %v is not a typed *linkis.Error", c.Type(), err)
		}
		if !reflect.DeepEqual(r, Result{}) {
			t.Fatalf("%v: refused with %v but returned a result %+v", c.Type(), err, r)
		}
		p.checkInvariants(t)
		return r, err
	}
	if p.s.Now() != c.At() {
		t.Fatalf("%v at %d: state clock is %d", c.Type(), c.At(), p.s.Now())
	}
	p.checkInvariants(t)
	p.afterSuccess(t, c, r, meta, ecsBefore, keysBefore)
	return r, nil
}

func (p *propTest) checkInvariants(t *rapid.T) {
	t.Helper()
	if err := CheckInvariants(p.s); err != nil {
		t.Fatalf("invariant broken: %v", err)
	}
	if err := p.checker.Err(); err != nil {
		t.Fatalf("illegal transition: %v", err)
	}
}

// afterSuccess reconciles the model with what a successful command did and
// checks that it did only what such a command may do.
func (p *propTest) afterSuccess(t *rapid.T, c Command, r Result, meta *propAskMeta, ecsBefore map[ECID]ECInfo, keysBefore map[string]KeyInfo) {
	t.Helper()
	now := c.At()
	ecsAfter := propECMap(p.s.ECs())

	// What the model learns from the command itself about ECMs.
	switch c := c.(type) {
	case RegisterECM:
		tenant, _ := c.Labels.Get(linkis.LabelTenant)
		p.ecms[c.ID] = &propECM{tenant: tenant, lastSeen: now}
	case ECMHeartbeat:
		p.ecms[c.ID].health, p.ecms[c.ID].lastSeen = c.Health, now
	case DeregisterECM:
		if _, still := p.s.ECM(c.ID); still && !c.Force {
			p.ecms[c.ID].shutting = true
		}
	}

	// Engines that appeared or disappeared.
	var created, gone []ECID
	for id := range ecsAfter {
		if _, ok := ecsBefore[id]; !ok {
			created = append(created, id)
		}
	}
	for id := range ecsBefore {
		if _, ok := ecsAfter[id]; !ok {
			gone = append(gone, id)
		}
	}
	slices.Sort(created)
	slices.Sort(gone)

	// Which commands may create engines, and which may end them.
	// Commands that may make room (a new or recovered ECM, a higher quota,
	// a tick) may start engines, but only for keys whose asks were waiting.
	mayCreate, onlyForWaiters, wantGone := true, false, []ECID(nil)
	switch c := c.(type) {
	case RenewLock, SetPluginParams:
		mayCreate = false
	case SetWarmPool:
		onlyForWaiters = false
	case RegisterECM, ECMHeartbeat, SetQuota, Configure:
		onlyForWaiters = true
	case EngineEnded:
		wantGone = []ECID{c.EC}
	case ECHeartbeat:
		if c.Status == linkis.StatusSuccess || c.Status == linkis.StatusFailed {
			wantGone = []ECID{c.EC}
		}
	case DeregisterECM:
		if c.Force {
			for id, e := range ecsBefore {
				if e.ECM == c.ID {
					wantGone = append(wantGone, id)
				}
			}
		}
	case Tick:
		wantGone = p.predictTickEnds(now, ecsBefore)
	case AskEngine:
		if meta == nil || !meta.fresh {
			mayCreate = false
		}
	}
	slices.Sort(wantGone)
	if !slices.Equal(gone, wantGone) {
		t.Fatalf("%v ended engines %v, want exactly %v", c.Type(), gone, wantGone)
	}
	if !mayCreate && len(created) > 0 {
		t.Fatalf("%v created engines %v", c.Type(), created)
	}
	p.checkPoolFill(t, c, created, ecsAfter, keysBefore)
	p.checkStops(t, c, ecsBefore, ecsAfter, keysBefore)
	for _, id := range created {
		if k := ecsAfter[id].Key; onlyForWaiters && keysBefore[k].Waiting == 0 {
			t.Fatalf("%v created engine %v for key %s, which had no waiting ask", c.Type(), id, k)
		}
	}
	if ask, ok := c.(AskEngine); ok && len(created) > 0 {
		if len(created) != 1 || !r.Ask.Created || r.Ask.EC != created[0] {
			t.Fatalf("ask %s created %v but reports %+v", ask.ID, created, r.Ask)
		}
	}
	for _, id := range created {
		e := ecsAfter[id]
		if id <= p.maxEC {
			t.Fatalf("new engine %v does not have a fresh id (highest seen %v)", id, p.maxEC)
		}
		m := p.ecms[e.ECM]
		if m == nil || m.shutting || !m.health.Usable() {
			t.Fatalf("engine %v created on ECM %s which the model says is not eligible (%+v)", id, e.ECM, m)
		}
		if d, ok := c.(DeregisterECM); ok && d.ID == e.ECM {
			t.Fatalf("engine %v created on ECM %s while it was deregistered", id, e.ECM)
		}
		if propKeyTenant(e.Key) != m.tenant {
			t.Fatalf("engine %v of key %s created on ECM %s of tenant %q", id, e.Key, e.ECM, m.tenant)
		}
		if e.Status != linkis.StatusStarting || e.Used {
			t.Fatalf("new engine %v is %v used=%v", id, e.Status, e.Used)
		}
		if !slices.Contains(propKeys(), e.Key) {
			t.Fatalf("new engine %v has an unknown key %s", id, e.Key)
		}
		owner := ""
		if a, ok := c.(AskEngine); ok && meta.ownsEngine() {
			owner = a.ID
		} else {
			// A shared engine: only for a key whose asks wait, never while
			// the key has a free engine.
			if ok {
				if e.Key != meta.key {
					t.Fatalf("ask for %s created an engine of %s", meta.key, e.Key)
				}
			} else if keysBefore[e.Key].Waiting == 0 && !p.poolMayFill(c, e.Key) {
				t.Fatalf("%v created shared engine %v for key %s that had no waiting ask", c.Type(), id, e.Key)
			}
			if e.Mode != linkis.ModeComputation {
				t.Fatalf("shared engine %v is in mode %v", id, e.Mode)
			}
			if _, isTick := c.(Tick); !isTick && !p.poolMayFill(c, e.Key) {
				if k := p.s.Key(e.Key); k.Free > 0 {
					t.Fatalf("%v started engine %v for key %s which has %d free engines", c.Type(), id, e.Key, k.Free)
				}
			}
		}
		p.ecs[id] = &propEC{key: e.Key, ecm: e.ECM, mode: e.Mode, capacity: e.Capacity, owner: owner, createdAt: now, lastSeen: now}
	}
	if len(created) > 0 {
		p.maxEC = max(p.maxEC, created[len(created)-1])
	}
	// Linkis #5318: asks of one key share the engines starting for it; a
	// new shared engine starts only while those cannot cover the queue.
	// Right after a command that started one, the starting shared slots
	// exceed the waiting asks by less than the newest engine's capacity.
	// (A tick may fail waiting asks after starting engines: not checked.)
	_, isTick := c.(Tick)
	_, isPool := c.(SetWarmPool)
	if !isTick && !isPool {
		newest := map[string]*propEC{}
		for _, id := range created {
			if e := p.ecs[id]; e.owner == "" {
				newest[e.key] = e
			}
		}
		for key, last := range newest {
			slots := 0
			for id, e := range p.ecs {
				if e.key == key && e.owner == "" && ecsAfter[id].Status == linkis.StatusStarting {
					slots += e.capacity
				}
			}
			if w := p.s.Key(key).Waiting; slots > w+last.capacity-1 {
				t.Fatalf("%v left key %s with %d starting shared slots for %d waiting asks", c.Type(), key, slots, w)
			}
		}
	}
	for _, id := range gone {
		delete(p.ecs, id)
		p.ended = append(p.ended, id)
	}
	// What never changes about an engine, and what the model tracks.
	for id, me := range p.ecs {
		e, ok := ecsAfter[id]
		if !ok {
			t.Fatalf("model engine %v is not in the state", id)
		}
		if e.Key != me.key || e.ECM != me.ecm || e.Mode != me.mode || e.Capacity != me.capacity {
			t.Fatalf("engine %v changed identity: %+v, model %+v", id, e, me)
		}
		if me.addr != "" && e.Addr != me.addr {
			t.Fatalf("engine %v changed address %s -> %s", id, me.addr, e.Addr)
		}
		me.status, me.used, me.addr = e.Status, e.Used, e.Addr
	}
	if len(p.ecs) != len(ecsAfter) {
		t.Fatalf("model has %d engines, state %d", len(p.ecs), len(ecsAfter))
	}
	switch c := c.(type) {
	case ECHeartbeat:
		if me := p.ecs[c.EC]; me != nil {
			me.lastSeen = now
		}
	case EngineStarted:
		if ecsBefore[c.EC].Status == linkis.StatusStarting {
			p.ecs[c.EC].lastSeen = now
		}
	}

	// ECMs that disappeared.
	lost := map[string]bool{}
	if _, ok := c.(Tick); ok {
		for id, m := range p.ecms {
			if now-m.lastSeen >= int64(p.cfg.ECMLostAfter) {
				lost[id] = true
			}
		}
	}
	for id, m := range p.ecms {
		info, ok := p.s.ECM(id)
		if ok {
			if lost[id] {
				t.Fatalf("ECM %s silent since %v survived the tick", id, time.Duration(now-m.lastSeen))
			}
			want := linkis.StatusRunning
			if m.shutting {
				want = linkis.StatusShuttingDown
			}
			if info.Status != want {
				t.Fatalf("ECM %s is %v, model says %v", id, info.Status, want)
			}
			continue
		}
		allowed := lost[id]
		switch c := c.(type) {
		case DeregisterECM:
			allowed = allowed || c.ID == id
		case Tick, EngineEnded, ECHeartbeat:
			allowed = allowed || m.shutting
		}
		if !allowed {
			t.Fatalf("ECM %s vanished on %v", id, c.Type())
		}
		for eid, e := range p.ecs {
			if e.ecm == id {
				t.Fatalf("ECM %s is gone but engine %v on it is not", id, eid)
			}
		}
		delete(p.ecms, id)
	}
	if st := p.s.Stats(); st.ECMs != len(p.ecms) {
		t.Fatalf("state has %d ECMs, model %d", st.ECMs, len(p.ecms))
	}

	// Asks: the command's own ask, then the notices, in order.
	grantedNow := map[string]bool{}
	switch c := c.(type) {
	case AskEngine:
		if !meta.fresh {
			if !reflect.DeepEqual(r.Ask, meta.prior) {
				t.Fatalf("retried ask %s: got %+v, first outcome %+v", c.ID, r.Ask, meta.prior)
			}
			if len(created) > 0 || len(gone) > 0 || len(r.Notices) > 0 {
				t.Fatalf("retried ask %s changed something: created %v gone %v notices %+v", c.ID, created, gone, r.Notices)
			}
			break
		}
		if r.Ask.AskID != c.ID {
			t.Fatalf("ask %s: result names %s", c.ID, r.Ask.AskID)
		}
		a := &propAsk{key: meta.key, status: r.Ask.Status, deadline: now + int64(p.cfg.AskWaitTimeout)}
		switch r.Ask.Status {
		case AskGranted:
			a.ec, a.token, a.expires = r.Ask.EC, r.Ask.Token, r.Ask.Expires
			grantedNow[c.ID] = true
		case AskPending:
			if r.Ask.Created {
				if me := p.ecs[r.Ask.EC]; me != nil && me.owner == c.ID {
					a.own = r.Ask.EC
				}
			} else if r.Ask.EC != 0 {
				t.Fatalf("pending ask %s created nothing but names engine %v", c.ID, r.Ask.EC)
			}
		default:
			t.Fatalf("new ask %s is %v", c.ID, r.Ask.Status)
		}
		p.asks[c.ID] = a
		p.usedIDs = append(p.usedIDs, c.ID)
	case ReleaseEngine:
		if r.Ask.AskID != c.AskID || r.Ask.Status != AskDone {
			t.Fatalf("release %s: result %+v", c.AskID, r.Ask)
		}
		delete(p.asks, c.AskID)
	case UnlockEngine:
		a := p.asks[r.Ask.AskID]
		if a == nil || a.status != AskGranted || a.ec != c.EC || a.token != c.Token || r.Ask.Status != AskDone {
			t.Fatalf("unlock %v/%v released %+v, model %+v", c.EC, c.Token, r.Ask, a)
		}
		delete(p.asks, r.Ask.AskID)
	case RenewLock:
		a := p.asks[c.AskID]
		if a == nil || r.Ask.AskID != c.AskID || r.Ask.Status != a.status {
			t.Fatalf("renew %s: result %+v, model %+v", c.AskID, r.Ask, a)
		}
		if a.status == AskGranted {
			if r.Ask.Expires != now+int64(p.cfg.LockTimeout) {
				t.Fatalf("renew %s: expires %d, want %d", c.AskID, r.Ask.Expires, now+int64(p.cfg.LockTimeout))
			}
			a.expires = r.Ask.Expires
		}
	}
	for _, n := range r.Notices {
		a := p.asks[n.AskID]
		if a == nil {
			t.Fatalf("%v: notice about an ask the model does not know: %+v", c.Type(), n)
		}
		switch n.Status {
		case AskGranted:
			a.status, a.ec, a.token, a.expires = AskGranted, n.EC, n.Token, n.Expires
			grantedNow[n.AskID] = true
		case AskFailed:
			if n.Err == nil {
				t.Fatalf("failed notice without an error: %+v", n)
			}
			delete(p.asks, n.AskID)
			delete(grantedNow, n.AskID)
		case AskDone:
			// Only a once engine that ended without failing finishes the
			// asks holding it.
			ec, ok := ecsBefore[n.EC]
			if !ok || ec.Mode == linkis.ModeComputation || a.status != AskGranted || n.Err != nil {
				t.Fatalf("%v: done notice for an ask that did not hold a finished once engine: %+v", c.Type(), n)
			}
			delete(p.asks, n.AskID)
		default:
			t.Fatalf("%v: notice with status %v: %+v", c.Type(), n.Status, n)
		}
	}
	for id := range grantedNow {
		if a := p.asks[id]; a.expires != now+int64(p.cfg.LockTimeout) {
			t.Fatalf("ask %s granted at %d expires at %d, want +%v", id, now, a.expires, p.cfg.LockTimeout)
		}
	}
	p.checkAsks(t, ecsAfter)

	// Time-driven expiries.
	if _, ok := c.(Tick); ok {
		for id, a := range p.asks {
			if a.status == AskGranted && a.expires <= now {
				t.Fatalf("ask %s's lock expired at %d but survived the tick at %d", id, a.expires, now)
			}
			if a.status == AskPending && a.deadline <= now {
				t.Fatalf("ask %s's wait ended at %d but survived the tick at %d", id, a.deadline, now)
			}
		}
		for _, e := range ecsAfter {
			if e.Status == linkis.StatusUnlock && !e.Killing && len(e.Holders) == 0 && now-e.IdleSince >= int64(p.cfg.IdleTimeout) && !p.keptByPool(e.Key) {
				t.Fatalf("engine %v idle since %v survived the tick", e.ID, time.Duration(now-e.IdleSince))
			}
		}
	}
}

// predictTickEnds lists the engines a tick at now must end: those on ECMs
// silent for ECMLostAfter, those starting for ResourceLockTimeout, and
// started ones silent for ECLostAfter.
func (p *propTest) predictTickEnds(now int64, before map[ECID]ECInfo) []ECID {
	var out []ECID
	for id, e := range before {
		me := p.ecs[id]
		m := p.ecms[e.ECM]
		switch {
		case m != nil && now-m.lastSeen >= int64(p.cfg.ECMLostAfter):
		case !e.Used && now-me.createdAt >= int64(p.cfg.ResourceLockTimeout): // starting, or killed while starting
		case e.Used && now-me.lastSeen >= int64(p.cfg.ECLostAfter):
		default:
			continue
		}
		out = append(out, id)
	}
	return out
}

// checkAsks requires the state's asks to be exactly the model's, each in
// the status the model last heard of: an ask never changes silently.
func (p *propTest) checkAsks(t *rapid.T, ecs map[ECID]ECInfo) {
	t.Helper()
	st := p.s.Stats()
	if st.Asks != len(p.asks) {
		t.Fatalf("state has %d asks, model %d", st.Asks, len(p.asks))
	}
	waiting := map[string]int{}
	for id, a := range p.asks {
		got, ok := p.s.Ask(id)
		if !ok {
			t.Fatalf("ask %s vanished without a notice", id)
		}
		if got.Status != a.status {
			t.Fatalf("ask %s is %v, model last heard %v", id, got.Status, a.status)
		}
		switch a.status {
		case AskGranted:
			e, ok := ecs[a.ec]
			switch {
			case got.EC != a.ec || got.Token != a.token || got.Expires != a.expires:
				t.Fatalf("granted ask %s changed silently: %+v, model %+v", id, got, a)
			case !ok:
				t.Fatalf("ask %s holds engine %v which does not exist", id, a.ec)
			case e.Key != a.key:
				t.Fatalf("ask %s of key %s holds engine %v of key %s", id, a.key, e.ID, e.Key)
			case got.ECM != e.ECM || got.Addr != e.Addr || got.Addr == "":
				t.Fatalf("ask %s names engine %v at %s on %s; it is at %q on %s", id, e.ID, got.Addr, got.ECM, e.Addr, e.ECM)
			case !slices.Contains(e.Holders, id):
				t.Fatalf("ask %s holds engine %v which does not list it: %v", id, e.ID, e.Holders)
			case e.Status == linkis.StatusStarting || e.Status == linkis.StatusShuttingDown:
				t.Fatalf("ask %s holds engine %v which is %v", id, e.ID, e.Status)
			case a.own != 0 && a.ec != a.own:
				t.Fatalf("ask %s was granted %v, not the engine %v started for it", id, a.ec, a.own)
			case e.Mode != linkis.ModeComputation && (p.ecs[e.ID].owner != id || len(e.Holders) != 1):
				t.Fatalf("once engine %v (created for %q) is held by %v", e.ID, p.ecs[e.ID].owner, e.Holders)
			}
		case AskPending:
			if a.own == 0 {
				waiting[a.key]++
				continue
			}
			if e, ok := ecs[a.own]; !ok || e.Status != linkis.StatusStarting || got.EC != a.own {
				t.Fatalf("ask %s waits for its engine %v, which is %+v (ask %+v)", id, a.own, e, got)
			}
		}
	}
	for _, k := range propKeys() {
		if w := p.s.Key(k).Waiting; w != waiting[k] {
			t.Fatalf("key %s has %d waiting asks, model %d", k, w, waiting[k])
		}
	}
}

// checkState is the Repeat invariant: the package's invariants, legal
// transitions, and the properties that hold between commands.
func (p *propTest) checkState(t *rapid.T) {
	t.Helper()
	p.checkInvariants(t)
	p.checkPools(t)
	for _, k := range propKeys() {
		ki := p.s.Key(k)
		want := p.defInst
		if q, ok := p.quotas[k]; ok {
			want = q
		}
		if ki.Ledger.Max.Instances != want {
			t.Fatalf("key %s has instance cap %d, model %d", k, ki.Ledger.Max.Instances, want)
		}
		if int64(ki.Engines) > ki.Ledger.Max.Instances {
			t.Fatalf("key %s has %d engines, cap %d", k, ki.Engines, ki.Ledger.Max.Instances)
		}
	}
	ecs := p.s.ECs()
	free := map[string]int{}
	var launches, kills []ECID
	for _, e := range ecs {
		if e.Status == linkis.StatusUnlock && !e.Killing && e.Health.Usable() && e.Mode == linkis.ModeComputation && e.Tasks < p.cfg.MaxTasksPerEC {
			free[e.Key]++
		}
		if e.Status == linkis.StatusStarting && !e.Killing {
			launches = append(launches, e.ID)
		}
		if e.Killing {
			kills = append(kills, e.ID)
		}
		// A once engine serves the one ask it was started for, then stops.
		if e.Mode != linkis.ModeComputation && e.Status != linkis.StatusStarting && e.Status != linkis.StatusShuttingDown &&
			(len(e.Holders) != 1 || e.Holders[0] != p.ecs[e.ID].owner) {
			t.Fatalf("once engine %v (for %q) is %v and held by %v", e.ID, p.ecs[e.ID].owner, e.Status, e.Holders)
		}
		if e.Tasks > p.cfg.MaxTasksPerEC {
			t.Fatalf("engine %v served %d tasks, max %d", e.ID, e.Tasks, p.cfg.MaxTasksPerEC)
		}
		if e.Tasks >= p.cfg.MaxTasksPerEC && len(e.Holders) == 0 && e.Status != linkis.StatusStarting && e.Status != linkis.StatusShuttingDown {
			t.Fatalf("engine %v served its %d tasks, holds none, but is %v", e.ID, e.Tasks, e.Status)
		}
	}
	// Every reusable engine is on its key's free list, and only those.
	for _, k := range propKeys() {
		if got := p.s.Key(k).Free; got != free[k] {
			t.Fatalf("key %s counts %d free engines, %d are reusable", k, got, free[k])
		}
	}
	// The effects a driver would execute: launch exactly the starting
	// engines, kill exactly those being killed, each on its own ECM.
	var gotLaunch, gotKill []ECID
	for _, ef := range p.s.EffectsDue(p.now) {
		e, ok := p.s.EC(ef.EC)
		switch ef.Kind {
		case EffectLaunch:
			gotLaunch = append(gotLaunch, ef.EC)
			if !ok || ef.Launch == nil || ef.Launch.Ticket != ef.EC || ef.ECM != e.ECM || ef.ECMAddr != e.ECM+":9101" {
				t.Fatalf("bad launch effect %+v for %+v", ef, e)
			}
		case EffectKill:
			gotKill = append(gotKill, ef.EC)
			if !ok || ef.ECM != e.ECM || ef.ECMAddr != e.ECM+":9101" {
				t.Fatalf("bad kill effect %+v for %+v", ef, e)
			}
		}
	}
	if !slices.Equal(gotLaunch, launches) || !slices.Equal(gotKill, kills) {
		t.Fatalf("effects due launch %v kill %v; starting %v, killing %v", gotLaunch, gotKill, launches, kills)
	}
	for _, m := range p.s.ECMs() {
		if m.Status == linkis.StatusShuttingDown && m.Engines == 0 {
			t.Fatalf("ECM %s is shutting down with no engine left but still registered", m.ID)
		}
	}
}

// ---------------------------------------------------------------- actions

func (p *propTest) advance(d time.Duration) { p.now += int64(d) }

func (p *propTest) eligibleIn(tenant string) bool {
	for _, m := range p.ecms {
		if m.tenant == tenant && !m.shutting && m.health.Usable() {
			return true
		}
	}
	return false
}

func (p *propTest) actRegister(t *rapid.T) {
	id := rapid.SampledFrom(propECMIDs).Draw(t, "ecm")
	tenant, kv, max := propECMSpec(id)
	variant := rapid.SampledFrom([]string{"ok", "ok", "ok", "badID", "badLabel"}).Draw(t, "variant")
	c := RegisterECM{Time: p.now, ID: id, Addr: id + ":9101", Max: max}
	switch variant {
	case "badID":
		c.ID = "bad id"
	case "badLabel":
		kv = append(kv[:len(kv):len(kv)], linkis.LabelUserCreator, "alice-IDE")
	}
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	c.Labels = ls
	registered := p.ecms[id] != nil
	_, err = p.apply(t, c, nil)
	switch {
	case variant == "badID":
		propExpectErr(t, err, linkis.ErrInvalidArgument)
	case registered:
		propExpectErr(t, err, linkis.ErrDuplicate)
	case variant == "badLabel":
		propExpectErr(t, err, linkis.ErrInvalidLabel)
	default:
		propExpectOK(t, err)
		if p.ecms[id] == nil || p.ecms[id].tenant != tenant {
			t.Fatalf("model did not learn ECM %s", id)
		}
		if info, ok := p.s.ECM(id); !ok || info.Status != linkis.StatusRunning {
			t.Fatalf("registered ECM %s: %+v", id, info)
		}
	}
}

func (p *propTest) actDeregister(t *rapid.T) {
	id := rapid.SampledFrom(append(propECMIDs[:len(propECMIDs):len(propECMIDs)], "ecm-x")).Draw(t, "ecm")
	force := rapid.Bool().Draw(t, "force")
	m := p.ecms[id]
	var engines []ECID
	for eid, e := range p.ecs {
		if e.ecm == id {
			engines = append(engines, eid)
		}
	}
	_, err := p.apply(t, DeregisterECM{Time: p.now, ID: id, Force: force}, nil)
	if m == nil {
		propExpectErr(t, err, linkis.ErrUnknownNode)
		return
	}
	propExpectOK(t, err)
	_, still := p.s.ECM(id)
	switch {
	case force || len(engines) == 0:
		if still {
			t.Fatalf("ECM %s deregistered (force=%v, %d engines) is still there", id, force, len(engines))
		}
	default:
		if !still {
			t.Fatalf("ECM %s with engines %v vanished on graceful deregistration", id, engines)
		}
		for _, eid := range engines {
			if e, ok := p.s.EC(eid); ok && (e.Status != linkis.StatusShuttingDown || !e.Killing) {
				t.Fatalf("engine %v of shutting-down ECM %s is %v killing=%v", eid, id, e.Status, e.Killing)
			}
		}
	}
}

var propHealths = []linkis.NodeHealth{
	linkis.HealthHealthy, linkis.HealthHealthy, linkis.HealthHealthy, linkis.HealthWarn,
	linkis.HealthUnHealthy, linkis.HealthStockAvailable, linkis.HealthStockUnavailable, linkis.NodeHealth(9),
}

func (p *propTest) actECMHeartbeat(t *rapid.T) {
	id := rapid.SampledFrom(append(propECMIDs[:len(propECMIDs):len(propECMIDs)], "ecm-x")).Draw(t, "ecm")
	h := rapid.SampledFrom(propHealths).Draw(t, "health")
	running := rapid.Int64Range(0, 3).Draw(t, "running")
	_, err := p.apply(t, ECMHeartbeat{Time: p.now, ID: id, Health: h, Load: linkis.NodeLoad{RunningTasks: running}}, nil)
	switch {
	case p.ecms[id] == nil:
		propExpectErr(t, err, linkis.ErrUnknownNode)
	case !h.Valid():
		propExpectErr(t, err, linkis.ErrInvalidArgument)
	default:
		propExpectOK(t, err)
	}
}

// actHeartbeatAll keeps the cluster alive: every ECM and every started
// engine reports in, healthy.
func (p *propTest) actHeartbeatAll(t *rapid.T) {
	for _, id := range propSorted(p.ecms) {
		_, err := p.apply(t, ECMHeartbeat{Time: p.now, ID: id}, nil)
		propExpectOK(t, err)
	}
	for _, id := range propSorted(p.ecs) {
		e := p.ecs[id]
		if e == nil || e.status == linkis.StatusStarting || e.status == linkis.StatusShuttingDown {
			continue
		}
		status := linkis.StatusUnlock
		if e.mode != linkis.ModeComputation {
			status = e.status
		}
		_, err := p.apply(t, ECHeartbeat{Time: p.now, EC: id, Status: status}, nil)
		propExpectOK(t, err)
	}
}

var propStatuses = []linkis.NodeStatus{
	linkis.StatusStarting, linkis.StatusUnlock, linkis.StatusLocked, linkis.StatusIdle, linkis.StatusBusy,
	linkis.StatusRunning, linkis.StatusShuttingDown, linkis.StatusFailed, linkis.StatusSuccess,
	linkis.NodeStatus(0), linkis.NodeStatus(13),
}

// pickEC draws an engine the model knows, or one it does not (an ended
// one or one never created).
func (p *propTest) pickEC(t *rapid.T, known int) (ECID, bool) {
	ids := propSorted(p.ecs)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "knownEC") < known {
		return ids[rapid.IntRange(0, len(ids)-1).Draw(t, "ec")], true
	}
	if len(p.ended) > 0 && rapid.Bool().Draw(t, "endedEC") {
		return p.ended[rapid.IntRange(0, len(p.ended)-1).Draw(t, "ec")], false
	}
	return 1_000_000, false
}

// pickECOf draws an engine, preferring those of the key.
func (p *propTest) pickECOf(t *rapid.T, key string) (ECID, bool) {
	var same []ECID
	for _, id := range propSorted(p.ecs) {
		if p.ecs[id].key == key {
			same = append(same, id)
		}
	}
	if len(same) > 0 && rapid.IntRange(0, 9).Draw(t, "sameKey") < 7 {
		return same[rapid.IntRange(0, len(same)-1).Draw(t, "ec")], true
	}
	return p.pickEC(t, 7)
}

// propWeighted repeats the first element of a pool three times.
func propWeighted(pool []string) []string {
	return append([]string{pool[0], pool[0]}, pool...)
}

func (p *propTest) actECHeartbeat(t *rapid.T) {
	id, known := p.pickEC(t, 9)
	status := rapid.SampledFrom(propStatuses).Draw(t, "status")
	h := rapid.SampledFrom(propHealths).Draw(t, "health")
	var prev linkis.NodeStatus
	var mode linkis.EngineConnMode
	if e := p.ecs[id]; e != nil {
		prev, mode = e.status, e.mode
	}
	_, err := p.apply(t, ECHeartbeat{Time: p.now, EC: id, Status: status, Health: h, Load: linkis.NodeLoad{RunningTasks: 1}}, nil)
	if !known {
		propExpectErr(t, err, linkis.ErrUnknownNode)
		return
	}
	if !status.Valid() || !h.Valid() {
		propExpectErr(t, err, linkis.ErrInvalidArgument)
		return
	}
	e := p.ecs[id] // after the report
	switch status {
	case linkis.StatusSuccess, linkis.StatusFailed:
		propExpectOK(t, err)
		if _, ok := p.s.EC(id); ok {
			t.Fatalf("engine %v reported %v but is still there", id, status)
		}
		return
	case linkis.StatusShuttingDown:
		propExpectOK(t, err)
		if e.status != linkis.StatusShuttingDown {
			t.Fatalf("engine %v reported ShuttingDown but is %v", id, e.status)
		}
		return
	}
	if err != nil {
		// Which reports are legal: Starting only while starting; a live
		// status only once started; once engines Running/Busy only,
		// computation engines anything but Running.
		legal := false
		started := prev != linkis.StatusStarting && prev != linkis.StatusShuttingDown
		switch {
		case status == linkis.StatusStarting:
			legal = prev == linkis.StatusStarting
		case !started:
		case mode != linkis.ModeComputation:
			legal = status == linkis.StatusRunning || status == linkis.StatusBusy
		default:
			legal = status != linkis.StatusRunning
		}
		if legal {
			t.Fatalf("engine %v (%v, %v) refused a legal report %v: %v", id, prev, mode, status, err)
		}
		propExpectErr(t, err, linkis.ErrIllegalTransition)
		return
	}
	started := prev != linkis.StatusStarting && prev != linkis.StatusShuttingDown
	switch {
	case status == linkis.StatusStarting:
		if prev != linkis.StatusStarting {
			t.Fatalf("engine %v that is %v accepted report Starting", id, prev)
		}
	case !started:
		t.Fatalf("engine %v that is %v accepted report %v", id, prev, status)
	case mode != linkis.ModeComputation:
		if status != linkis.StatusRunning && status != linkis.StatusBusy {
			t.Fatalf("once engine %v accepted report %v", id, status)
		}
		if e.status != status {
			t.Fatalf("once engine %v reported %v but is %v", id, status, e.status)
		}
	default:
		if status == linkis.StatusRunning {
			t.Fatalf("computation engine %v accepted report Running", id)
		}
		if status == linkis.StatusBusy && e.status != linkis.StatusBusy {
			t.Fatalf("engine %v reported Busy but is %v", id, e.status)
		}
		if e.status != linkis.StatusUnlock && e.status != linkis.StatusIdle && e.status != linkis.StatusBusy {
			t.Fatalf("engine %v reported %v and is %v", id, status, e.status)
		}
	}
}

var propAskVariants = []string{
	"shared", "shared", "shared", "shared", "concurrent", "bigMemory",
	"once", "exclusive", "excludeOne", "emInstance", "engineInstance",
	"unknownType", "noUser", "noType", "hugeOnce",
}

func (p *propTest) actAsk(t *rapid.T) {
	// The id: usually new, sometimes one used before (a retry when the ask
	// is still live, a new ask otherwise).
	id := ""
	if len(p.usedIDs) > 0 && rapid.IntRange(0, 9).Draw(t, "oldID") == 0 {
		id = p.usedIDs[rapid.IntRange(0, len(p.usedIDs)-1).Draw(t, "id")]
	} else {
		p.askSeq++
		id = fmt.Sprintf("a%d", p.askSeq)
	}
	// Most asks share one key, so that its engines are reused, fill up,
	// retire and queue asks.
	user := rapid.SampledFrom(propWeighted(propUsers)).Draw(t, "user")
	et := rapid.SampledFrom(propWeighted(propTypes)).Draw(t, "engineType")
	tenant := rapid.SampledFrom(propWeighted(propTenants)).Draw(t, "tenant")
	variant := rapid.SampledFrom(propAskVariants).Draw(t, "variant")
	uc, _ := linkis.ParseUserCreator(user)
	etp, _ := linkis.ParseEngineType(et)
	key := linkis.CombinedKey(uc, etp, tenant)

	kv := []string{}
	if variant != "noUser" {
		kv = append(kv, linkis.LabelUserCreator, user)
	}
	switch variant {
	case "noType":
	case "unknownType":
		kv = append(kv, linkis.LabelEngineType, "spark-2")
	default:
		kv = append(kv, linkis.LabelEngineType, et)
	}
	if tenant != "" {
		kv = append(kv, linkis.LabelTenant, tenant)
	}
	if rapid.IntRange(0, 4).Draw(t, "zone") == 0 { // a non-core label: ranks ECMs, not part of the key
		kv = append(kv, "zone", "z1")
	}
	var params map[string]string
	var pin ECID // engineInstance / excludeOne target
	pinKnown := false
	pinECM := ""
	switch variant {
	case "concurrent":
		kv = append(kv, linkis.LabelConcurrentEngineConn, "2")
	case "bigMemory":
		params = map[string]string{ParamMemory: "6g"}
	case "once":
		kv = append(kv, linkis.LabelEngineConnMode, "once")
	case "hugeOnce": // more than the key's whole quota
		kv = append(kv, linkis.LabelEngineConnMode, "once")
		params = map[string]string{ParamMemory: "30g"}
	case "exclusive":
		kv = append(kv, linkis.LabelReuseExclusion, "*")
	case "emInstance":
		pinECM = rapid.SampledFrom(append(propECMIDs[:len(propECMIDs):len(propECMIDs)], "ecm-x")).Draw(t, "emInstance")
		kv = append(kv, linkis.LabelEMInstance, pinECM)
	case "excludeOne", "engineInstance":
		pin, pinKnown = p.pickECOf(t, key)
		name := pin.String()
		if e := p.ecs[pin]; e != nil && e.addr != "" && rapid.Bool().Draw(t, "byAddr") {
			name = e.addr
		}
		lk := linkis.LabelReuseExclusion
		if variant == "engineInstance" {
			lk = linkis.LabelEngineInstance
		}
		kv = append(kv, lk, name)
	}
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	p.nonce++
	cmd := AskEngine{Time: p.now, ID: id, Nonce: mix64(p.nonce), Labels: ls, Params: params}

	meta := &propAskMeta{key: key, variant: variant, fresh: p.asks[id] == nil}
	if !meta.fresh {
		meta.prior, _ = p.s.Ask(id)
	}
	keyBefore := p.s.Key(key)
	statsBefore := p.s.Stats()
	var pinInfo ECInfo
	if pinKnown {
		pinInfo, _ = p.s.EC(pin)
	}
	serving := false
	for _, e := range p.s.ECs() {
		if e.Key == key && e.Mode == linkis.ModeComputation && !e.Killing && e.Status != linkis.StatusShuttingDown {
			serving = true
		}
	}
	rb := p.roomBefore(cmd)
	r, err := p.apply(t, cmd, meta)
	if !meta.fresh {
		propExpectOK(t, err)
		return
	}
	p.checkAskReclaim(t, cmd, meta, r, err, rb)
	a := r.Ask
	createErrs := []error{linkis.ErrNoNodeAvailable, linkis.ErrInsufficientResource, linkis.ErrQuotaExceeded}
	engines := p.s.Stats().Engines
	switch variant {
	case "noUser", "noType":
		propExpectErr(t, err, linkis.ErrMissingLabel)
	case "unknownType":
		propExpectErr(t, err, linkis.ErrUnknownEngineType)
	case "hugeOnce":
		propExpectErr(t, err, linkis.ErrQuotaExceeded)
		if linkis.IsRetryable(err) {
			t.Fatalf("an ask larger than its key's whole quota must not be retryable: %v", err)
		}
	case "engineInstance":
		switch {
		case !pinKnown:
			propExpectErr(t, err, linkis.ErrUnknownNode)
		case pinInfo.Key != key:
			propExpectErr(t, err, linkis.ErrInvalidLabel)
		case pinInfo.Status == linkis.StatusUnlock && !pinInfo.Killing && pinInfo.Health.Usable() &&
			pinInfo.Mode == linkis.ModeComputation && pinInfo.Tasks < p.cfg.MaxTasksPerEC:
			propExpectOK(t, err)
			if a.Status != AskGranted || a.EC != pin || a.Created {
				t.Fatalf("ask pinned to free engine %v: %+v", pin, a)
			}
		default:
			propExpectErr(t, err, linkis.ErrEngineBusy)
		}
	case "once", "exclusive":
		if err != nil {
			propExpectErr(t, err, createErrs...)
			return
		}
		if a.Status != AskPending || !a.Created || engines != statsBefore.Engines+1 {
			t.Fatalf("dedicated ask %s must start its own engine: %+v (engines %d -> %d)", id, a, statsBefore.Engines, engines)
		}
		e, _ := p.s.EC(a.EC)
		if (variant == "once") != (e.Mode == linkis.ModeOnce) || e.Capacity != 1 {
			t.Fatalf("dedicated ask %s (%s) got engine %+v", id, variant, e)
		}
	case "emInstance":
		if err != nil {
			if p.ecms[pinECM] == nil {
				propExpectErr(t, err, linkis.ErrUnknownNode, linkis.ErrQuotaExceeded)
			} else {
				propExpectErr(t, err, createErrs...)
			}
			return
		}
		if a.ECM != pinECM {
			t.Fatalf("ask pinned to ECM %s got %+v", pinECM, a)
		}
		if (a.Status == AskGranted) == a.Created {
			t.Fatalf("constrained ask %s: %+v", id, a)
		}
	case "excludeOne":
		if err != nil {
			propExpectErr(t, err, createErrs...)
			return
		}
		if a.EC == pin {
			t.Fatalf("ask excluding %v got it: %+v", pin, a)
		}
		if (a.Status == AskGranted) == a.Created {
			t.Fatalf("constrained ask %s: %+v", id, a)
		}
	default: // shared: reuse a free engine, else wait (and maybe start one)
		switch {
		case keyBefore.Free > 0:
			propExpectOK(t, err)
			if a.Status != AskGranted || a.Created || engines != statsBefore.Engines {
				t.Fatalf("key %s had %d free engines but ask %s got %+v (engines %d -> %d)", key, keyBefore.Free, id, a, statsBefore.Engines, engines)
			}
		case keyBefore.Waiting >= p.cfg.MaxWaitersPerKey:
			propExpectErr(t, err, linkis.ErrQueueFull)
		case err != nil:
			if serving {
				t.Fatalf("key %s has a serving engine, yet ask %s was refused: %v", key, id, err)
			}
			if keyBefore.Engines == 0 && !p.eligibleIn(tenant) {
				propExpectErr(t, err, linkis.ErrNoNodeAvailable)
			}
			propExpectErr(t, err, createErrs...)
		default:
			if a.Status != AskPending {
				t.Fatalf("key %s had no free engine, ask %s: %+v", key, id, a)
			}
			if a.Created != (engines == statsBefore.Engines+1) {
				t.Fatalf("ask %s created=%v but engines %d -> %d", id, a.Created, statsBefore.Engines, engines)
			}
		}
	}
}

func propAddr(id ECID) string {
	return fmt.Sprintf("10.0.%d.%d:%d", id/250, id%250+1, 20000+id%40000)
}

func (p *propTest) actStarted(t *rapid.T) {
	var starting, started, stopped []ECID
	for _, id := range propSorted(p.ecs) {
		switch e := p.ecs[id]; {
		case e.status == linkis.StatusStarting:
			starting = append(starting, id)
		case e.addr != "":
			started = append(started, id)
		default: // stopped while starting
			stopped = append(stopped, id)
		}
	}
	variant := rapid.SampledFrom([]string{"start", "start", "start", "unknown", "again", "dupAddr", "stopped"}).Draw(t, "variant")
	if (variant == "start" || variant == "dupAddr") && len(starting) == 0 || variant == "again" && len(started) == 0 ||
		variant == "stopped" && len(stopped) == 0 {
		variant = "unknown"
	}
	switch variant {
	case "start":
		p.startEC(t, starting[rapid.IntRange(0, len(starting)-1).Draw(t, "ec")])
	case "unknown":
		id, _ := p.pickEC(t, 0)
		_, err := p.apply(t, EngineStarted{Time: p.now, EC: id, Addr: propAddr(id)}, nil)
		propExpectErr(t, err, linkis.ErrUnknownNode)
	case "stopped": // an engine stopped while starting must never serve
		id := stopped[rapid.IntRange(0, len(stopped)-1).Draw(t, "ec")]
		_, err := p.apply(t, EngineStarted{Time: p.now, EC: id, Addr: propAddr(id)}, nil)
		propExpectErr(t, err, linkis.ErrIllegalTransition)
	case "again":
		id := started[rapid.IntRange(0, len(started)-1).Draw(t, "ec")]
		same := rapid.Bool().Draw(t, "sameAddr")
		addr := p.ecs[id].addr
		if !same {
			addr = "10.9.9.9:1"
		}
		before := p.s.Stats()
		_, err := p.apply(t, EngineStarted{Time: p.now, EC: id, Addr: addr}, nil)
		if !same {
			propExpectErr(t, err, linkis.ErrIllegalTransition)
			return
		}
		propExpectOK(t, err)
		if after := p.s.Stats(); !reflect.DeepEqual(before, after) {
			t.Fatalf("a repeated start of %v changed the state: %+v -> %+v", id, before, after)
		}
	case "dupAddr":
		id := starting[rapid.IntRange(0, len(starting)-1).Draw(t, "ec")]
		if len(started) == 0 {
			p.startEC(t, id)
			return
		}
		other := started[rapid.IntRange(0, len(started)-1).Draw(t, "other")]
		_, err := p.apply(t, EngineStarted{Time: p.now, EC: id, Addr: p.ecs[other].addr}, nil)
		propExpectErr(t, err, linkis.ErrDuplicate)
	}
}

// startEC reports a starting engine up and checks where it went.
func (p *propTest) startEC(t *rapid.T, id ECID) {
	owner := ""
	for aid, a := range p.asks {
		if a.status == AskPending && a.own == id {
			owner = aid
		}
	}
	_, err := p.apply(t, EngineStarted{Time: p.now, EC: id, Addr: propAddr(id)}, nil)
	propExpectOK(t, err)
	e := p.ecs[id]
	if e == nil || e.status == linkis.StatusStarting || !e.used || e.addr != propAddr(id) {
		t.Fatalf("engine %v after start: %+v", id, e)
	}
	if owner != "" {
		if a := p.asks[owner]; a == nil || a.status != AskGranted || a.ec != id {
			t.Fatalf("engine %v started for ask %s, which is %+v", id, owner, a)
		}
	}
}

// actStartAll reports every starting engine up (a well-behaved fleet).
func (p *propTest) actStartAll(t *rapid.T) {
	for _, id := range propSorted(p.ecs) {
		if e := p.ecs[id]; e != nil && e.status == linkis.StatusStarting {
			p.startEC(t, id)
		}
	}
}

func (p *propTest) actEnded(t *rapid.T) {
	id, known := p.pickEC(t, 9)
	failed := rapid.Bool().Draw(t, "failed")
	_, err := p.apply(t, EngineEnded{Time: p.now, EC: id, Failed: failed, Reason: "exit", Retryable: !failed}, nil)
	if !known {
		propExpectErr(t, err, linkis.ErrUnknownNode)
		return
	}
	propExpectOK(t, err)
}

// pickAsk draws a live ask, or an id the state does not know.
func (p *propTest) pickAsk(t *rapid.T, known int) (string, bool) {
	ids := propSorted(p.asks)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "knownAsk") < known {
		return ids[rapid.IntRange(0, len(ids)-1).Draw(t, "ask")], true
	}
	for _, id := range p.usedIDs {
		if p.asks[id] == nil && rapid.Bool().Draw(t, "doneAsk") {
			return id, false
		}
	}
	return "nope", false
}

func (p *propTest) actRelease(t *rapid.T) {
	id, known := p.pickAsk(t, 9)
	var a propAsk
	if known {
		a = *p.asks[id]
	}
	_, err := p.apply(t, ReleaseEngine{Time: p.now, AskID: id}, nil)
	if !known {
		propExpectErr(t, err, linkis.ErrUnknownAsk)
		return
	}
	propExpectOK(t, err)
	// A once engine is done when its ask lets go of it; an engine that
	// served its maximum of tasks retires when no one holds it.
	ec := a.ec
	if a.status == AskPending {
		ec = a.own
	}
	if me := p.ecs[ec]; me != nil && ec != 0 {
		e, _ := p.s.EC(ec)
		if me.mode != linkis.ModeComputation && e.Status != linkis.StatusShuttingDown {
			t.Fatalf("once engine %v is %v after its ask %s was released", ec, e.Status, id)
		}
	}
}

func (p *propTest) actKill(t *rapid.T) {
	id, known := p.pickEC(t, 8)
	_, err := p.apply(t, KillEngine{Time: p.now, EC: id, Reason: "operator"}, nil)
	if !known {
		propExpectErr(t, err, linkis.ErrUnknownNode)
		return
	}
	propExpectOK(t, err)
	if e, ok := p.s.EC(id); !ok || e.Status != linkis.StatusShuttingDown || !e.Killing {
		t.Fatalf("killed engine %v: %+v", id, e)
	}
}

func (p *propTest) actRenew(t *rapid.T) {
	id, known := p.pickAsk(t, 8)
	_, err := p.apply(t, RenewLock{Time: p.now, AskID: id}, nil)
	if !known {
		propExpectErr(t, err, linkis.ErrUnknownAsk)
		return
	}
	propExpectOK(t, err)
}

func (p *propTest) actUnlock(t *rapid.T) {
	var granted []string
	for _, id := range propSorted(p.asks) {
		if p.asks[id].status == AskGranted {
			granted = append(granted, id)
		}
	}
	variant := rapid.SampledFrom([]string{"right", "right", "wrong", "unknown"}).Draw(t, "variant")
	if len(granted) == 0 {
		variant = "unknown"
	}
	switch variant {
	case "unknown":
		id, _ := p.pickEC(t, 0)
		_, err := p.apply(t, UnlockEngine{Time: p.now, EC: id, Token: 1}, nil)
		propExpectErr(t, err, linkis.ErrUnknownNode)
	case "right":
		a := p.asks[granted[rapid.IntRange(0, len(granted)-1).Draw(t, "ask")]]
		_, err := p.apply(t, UnlockEngine{Time: p.now, EC: a.ec, Token: a.token}, nil)
		propExpectOK(t, err)
	case "wrong":
		a := p.asks[granted[rapid.IntRange(0, len(granted)-1).Draw(t, "ask")]]
		tok := a.token ^ 1
		for _, b := range p.asks {
			if b.status == AskGranted && b.ec == a.ec && b.token == tok {
				t.Skip("token collision")
			}
		}
		_, err := p.apply(t, UnlockEngine{Time: p.now, EC: a.ec, Token: tok}, nil)
		propExpectErr(t, err, linkis.ErrLockMismatch)
	}
}

var propAdvances = []time.Duration{
	time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 3 * time.Minute,
	5 * time.Minute, 7 * time.Minute, 9 * time.Minute, 11 * time.Minute, time.Hour,
}

func (p *propTest) actAdvance(t *rapid.T) {
	p.advance(rapid.SampledFrom(propAdvances[:5]).Draw(t, "by"))
}

func (p *propTest) actTick(t *rapid.T) {
	if rapid.IntRange(0, 9).Draw(t, "far") == 0 {
		p.tickFar(t)
		return
	}
	p.advance(rapid.SampledFrom(append([]time.Duration{0}, propAdvances...)).Draw(t, "by"))
	_, err := p.apply(t, Tick{Time: p.now}, nil)
	propExpectOK(t, err)
}

// actTickFar lets every node fall silent past ECMLostAfter: the tick must
// leave nothing behind.
func (p *propTest) tickFar(t *rapid.T) {
	p.advance(p.cfg.ECMLostAfter + rapid.SampledFrom([]time.Duration{0, time.Minute, 20 * time.Minute}).Draw(t, "extra"))
	_, err := p.apply(t, Tick{Time: p.now}, nil)
	propExpectOK(t, err)
	st := p.s.Stats()
	if st.ECMs != 0 || st.Engines != 0 || st.Asks != 0 || st.Waiting != 0 || st.Starting != 0 || st.Killing != 0 {
		t.Fatalf("after every node went silent: %+v", st)
	}
	for _, k := range p.s.Keys() {
		if !k.Ledger.Used.IsZero() || !k.Ledger.Locked.IsZero() || k.Engines != 0 {
			t.Fatalf("key %s still holds %+v", k.Key, k)
		}
	}
	if ks := p.s.Keys(); len(ks) != 0 {
		t.Fatalf("keys left after every node was lost: %+v", ks)
	}
}

func (p *propTest) actSetQuota(t *rapid.T) {
	key := rapid.SampledFrom(append(propKeys(), "")).Draw(t, "key")
	inst := rapid.Int64Range(1, 3).Draw(t, "instances")
	reset := rapid.IntRange(0, 9).Draw(t, "reset") == 0
	// Memory and cores never bind: at most 3 engines of at most 6g and 1
	// core each. A quota is refused exactly when the key has more engines.
	max := linkis.Resource{Memory: 20 * linkis.GiB, MilliCores: 10_000, Instances: inst}
	_, err := p.apply(t, SetQuota{Time: p.now, Key: key, Max: max, Reset: reset}, nil)
	engines := func(k string) int64 { return int64(p.s.Key(k).Engines) }
	switch {
	case key == "" && reset:
		propExpectErr(t, err, linkis.ErrInvalidArgument)
	case key == "":
		over := false
		for _, k := range propKeys() {
			if _, own := p.quotas[k]; !own && engines(k) > inst {
				over = true
			}
		}
		if over {
			propExpectErr(t, err, linkis.ErrInvalidResource)
			return
		}
		propExpectOK(t, err)
		p.defInst = inst
	case reset:
		if engines(key) > p.defInst {
			propExpectErr(t, err, linkis.ErrInvalidResource)
			return
		}
		propExpectOK(t, err)
		delete(p.quotas, key)
	default:
		if engines(key) > inst {
			propExpectErr(t, err, linkis.ErrInvalidResource)
			return
		}
		propExpectOK(t, err)
		p.quotas[key] = inst
	}
}

// actPluginParams changes the default startup parameters of an engine
// type (and so what new engines need).
func (p *propTest) actPluginParams(t *rapid.T) {
	et := rapid.SampledFrom([]string{"shell", "python-3", "spark", "spark-2"}).Draw(t, "engineType")
	mem := rapid.SampledFrom([]string{"", "128m", "1g", "2g", "lots"}).Draw(t, "memory")
	params := map[string]string{}
	if mem != "" {
		params[ParamMemory] = mem
	}
	_, err := p.apply(t, SetPluginParams{Time: p.now, EngineType: et, Params: params}, nil)
	switch {
	case strings.HasPrefix(et, "spark"):
		propExpectErr(t, err, linkis.ErrUnknownEngineType)
	case mem == "lots":
		propExpectErr(t, err, linkis.ErrInvalidResource)
	default:
		propExpectOK(t, err)
	}
}

// ---------------------------------------------------------------- replay

// checkReplay applies the propLogged commands (refused ones included) to fresh
// States - as they are, through the command codec, and with a snapshot and
// restore at a random point - and requires the same results and the same
// snapshot, byte for byte.
func (p *propTest) checkReplay(t *rapid.T) {
	want := p.s.Snapshot()
	replay := func(name string, s *State, from int, decode bool) {
		t.Helper()
		checker := &TransitionChecker{}
		s.SetObserver(checker)
		for i := from; i < len(p.log); i++ {
			l := p.log[i]
			c := l.cmd
			if decode {
				d, err := DecodeCommand(EncodeCommand(c))
				if err != nil {
					t.Fatalf("%s: command %d (%v) does not decode: %v", name, i+1, c.Type(), err)
				}
				c = d
			}
			r, err := s.Apply(c)
			if fmt.Sprint(err) != fmt.Sprint(l.err) {
				t.Fatalf("%s: command %d (%v): error %v, first run %v", name, i+1, c.Type(), err, l.err)
			}
			if !reflect.DeepEqual(r, l.res) {
				t.Fatalf("%s: command %d (%v): result %+v, first run %+v", name, i+1, c.Type(), r, l.res)
			}
		}
		if err := checker.Err(); err != nil {
			t.Fatalf("%s: illegal transition: %v", name, err)
		}
		if got := s.Snapshot(); !bytes.Equal(got, want) {
			t.Fatalf("%s: snapshot differs from the original run (%d vs %d bytes)", name, len(got), len(want))
		}
	}
	fresh := func() *State {
		s, err := New(p.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	replay("replay", fresh(), 0, false)
	replay("decoded replay", fresh(), 0, true)

	// Snapshot and restore the final state.
	r, err := Restore(want, nil)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if err := CheckInvariants(r); err != nil {
		t.Fatalf("restored state: %v", err)
	}
	if got := r.Snapshot(); !bytes.Equal(got, want) {
		t.Fatalf("restored state snapshots differently (%d vs %d bytes)", len(got), len(want))
	}
	if a, b := p.s.EffectsDue(p.now), r.EffectsDue(p.now); !reflect.DeepEqual(a, b) {
		t.Fatalf("restored state has different effects due:\n%+v\n%+v", b, a)
	}

	// Restore halfway and carry on: what the snapshot leaves out must not
	// matter to what comes after.
	cut := rapid.IntRange(0, len(p.log)).Draw(t, "restoreAt")
	s := fresh()
	for _, l := range p.log[:cut] {
		_, _ = s.Apply(l.cmd)
	}
	mid, err := Restore(s.Snapshot(), nil)
	if err != nil {
		t.Fatalf("restore after %d commands: %v", cut, err)
	}
	replay(fmt.Sprintf("replay restored after %d commands", cut), mid, cut, false)
}

// ---------------------------------------------------------------- helpers

func propExpectOK(t *rapid.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("want success, got %v", err)
	}
}

func propExpectErr(t *rapid.T, err error, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want one of %v, got success", kinds)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("want one of %v, got %v", kinds, err)
}

func propECMap(es []ECInfo) map[ECID]ECInfo {
	m := make(map[ECID]ECInfo, len(es))
	for _, e := range es {
		m[e.ID] = e
	}
	return m
}

func propKeyMap(ks []KeyInfo) map[string]KeyInfo {
	m := make(map[string]KeyInfo, len(ks))
	for _, k := range ks {
		m[k.Key] = k
	}
	return m
}

func propKeyTenant(key string) string {
	parts := strings.Split(key, ",")
	if len(parts) == 3 {
		return parts[2]
	}
	return ""
}

func propSorted[K interface{ ~string | ~uint64 }, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// propFmtCmd prints a command compactly for the failure log.
func propFmtCmd(c Command) string {
	switch c := c.(type) {
	case AskEngine:
		return fmt.Sprintf("{t=%d id=%s labels=%v params=%v}", c.Time-t0, c.ID, c.Labels, c.Params)
	case Tick:
		return fmt.Sprintf("{t=%d (+%v)}", c.Time-t0, time.Duration(c.Time-t0))
	}
	s := fmt.Sprintf("%+v", c)
	return strings.Replace(s, fmt.Sprintf("Time:%d", c.At()), fmt.Sprintf("t=%d", c.At()-t0), 1)
}
