package manager

import (
	"errors"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func TestAskCreatesThenReuses(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))

	a := h.ask("a1", "alice-IDE", "shell-1")
	if a.Status != AskPending || !a.Created || a.EC == 0 || a.ECM != "ecm1" {
		t.Fatalf("first ask: want a pending creation on ecm1, got %+v", a)
	}
	e := h.ec(a.EC)
	if e.Status != linkis.StatusStarting || e.Used || e.Key != "alice-IDE,shell-1" {
		t.Fatalf("new engine: %+v", e)
	}
	effects := h.s.EffectsDue(h.now)
	if len(effects) != 1 || effects[0].Kind != EffectLaunch || effects[0].EC != a.EC || effects[0].ECM != "ecm1" || effects[0].Launch == nil {
		t.Fatalf("effects after create: %+v", effects)
	}

	r := h.start(a.EC)
	n, ok := noticeFor(r, "a1")
	if !ok || n.Status != AskGranted || n.Token == 0 || n.Addr == "" || n.Reused {
		t.Fatalf("start should grant a1: %+v", r.Notices)
	}
	if got := h.ec(a.EC).Status; got != linkis.StatusIdle {
		t.Fatalf("granted serial engine: want Idle, got %v", got)
	}
	if len(h.s.EffectsDue(h.now)) != 0 {
		t.Fatalf("no effect should be due: %+v", h.s.EffectsDue(h.now))
	}

	h.release("a1")
	if got := h.ec(a.EC).Status; got != linkis.StatusUnlock {
		t.Fatalf("released engine: want Unlock, got %v", got)
	}
	b := h.ask("a2", "alice-IDE", "shell-1")
	if b.Status != AskGranted || b.EC != a.EC || !b.Reused || b.Created {
		t.Fatalf("second ask should reuse %v: %+v", a.EC, b)
	}
	if b.Token == n.Token {
		t.Fatal("a new grant must get a new lock token")
	}
	if st := h.s.Stats(); st.Engines != 1 {
		t.Fatalf("want 1 engine, have %d", st.Engines)
	}
}

func TestLedgerTwoPhases(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.apply(AskEngine{ID: "a1", Nonce: 7, Labels: labels(t, "userCreator", "bob-IDE", "engineType", "python-3"),
		Params: map[string]string{ParamMemory: "2g", ParamCores: "2"}}).Ask
	want := res(2, 2, 1)
	m, _ := h.s.ECM("ecm1")
	k := h.s.Key("bob-IDE,python-3")
	if !m.Ledger.Locked.Equal(want) || !m.Ledger.Used.IsZero() || !k.Ledger.Locked.Equal(want) || !k.Ledger.Used.IsZero() {
		t.Fatalf("after create: ECM %+v key %+v", m.Ledger, k.Ledger)
	}
	h.start(a.EC)
	m, _ = h.s.ECM("ecm1")
	k = h.s.Key("bob-IDE,python-3")
	if !m.Ledger.Used.Equal(want) || !m.Ledger.Locked.IsZero() || !k.Ledger.Used.Equal(want) || !k.Ledger.Locked.IsZero() {
		t.Fatalf("after start: ECM %+v key %+v", m.Ledger, k.Ledger)
	}
	if left := m.Ledger.Left(); !left.Equal(res(62, 30, 19)) {
		t.Fatalf("ECM left: %v", left)
	}
	h.apply(EngineEnded{EC: a.EC, Failed: true, Reason: "killed -9", Retryable: true})
	m, _ = h.s.ECM("ecm1")
	k = h.s.Key("bob-IDE,python-3")
	if !m.Ledger.Used.IsZero() || !m.Ledger.Locked.IsZero() || !k.Ledger.Used.IsZero() || !k.Ledger.Locked.IsZero() {
		t.Fatalf("after end: ECM %+v key %+v", m.Ledger, k.Ledger)
	}
	if _, ok := h.s.Ask("a1"); ok {
		t.Fatal("the ask holding an ended engine must be gone")
	}
}

// Linkis issue #5318: 30 concurrent asks for one key start 30 engines. Here
// they share the key's instance cap of 3.
func TestConcurrentAsksShareCreationsUpToCap(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultQuota = res(100, 100, 3) })
	h.addECM("ecm1", res(100, 100, 50))
	h.addECM("ecm2", res(100, 100, 50))
	for i := 0; i < 30; i++ {
		a := h.ask(askName(i), "carol-IDE", "sql-1")
		if a.Status != AskPending {
			t.Fatalf("ask %d: %+v", i, a)
		}
	}
	if st := h.s.Stats(); st.Engines != 3 || st.Waiting != 30 || st.Starting != 3 {
		t.Fatalf("want 3 engines starting for 30 waiting asks, got %+v", st)
	}
	served := map[string]bool{}
	for round := 0; len(served) < 30; round++ {
		if round > 40 {
			t.Fatalf("only %d asks served", len(served))
		}
		var granted []AskResult
		for _, e := range h.s.ECs() {
			if e.Status == linkis.StatusStarting {
				granted = append(granted, h.start(e.ID).Notices...)
			}
		}
		for _, e := range h.s.ECs() {
			for _, holder := range e.Holders {
				if !served[holder] {
					served[holder] = true
					granted = append(granted, h.askState(holder))
				}
			}
		}
		for _, g := range granted {
			if g.Status == AskGranted {
				if _, still := h.s.Ask(g.AskID); still {
					h.release(g.AskID)
				}
			}
		}
	}
	if st := h.s.Stats(); st.Engines != 3 {
		t.Fatalf("30 asks must be served by 3 engines, have %d", st.Engines)
	}
}

func askName(i int) string { return "ask-" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }

func TestTenantIsolation(t *testing.T) {
	h := newHarness(t)
	h.addECM("plain", res(64, 32, 20))
	h.addECM("acme", res(64, 32, 20), "tenant", "acme")

	a := h.ask("a1", "alice-IDE", "shell-1")
	if a.ECM != "plain" {
		t.Fatalf("untagged ask must go to the untagged ECM, got %s", a.ECM)
	}
	b := h.ask("b1", "alice-IDE", "shell-1", "tenant", "acme")
	if b.ECM != "acme" {
		t.Fatalf("tenant ask must go to the tenant's ECM, got %s", b.ECM)
	}
	h.start(a.EC)
	h.release("a1")
	// A free untagged engine of the same user and engine type must not serve
	// the tenant's ask.
	c := h.ask("c1", "alice-IDE", "shell-1", "tenant", "acme")
	if c.EC == a.EC {
		t.Fatal("a tenant ask reused an untagged engine")
	}
	h.refuse(h.askCmd("d1", "alice-IDE", "shell-1", "tenant", "globex"), linkis.ErrNoNodeAvailable)
}

func TestWaitingAskIsServedOnRelease(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultQuota = res(100, 100, 1) })
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	b := h.ask("b1", "alice-IDE", "shell-1")
	if b.Status != AskPending || b.Created {
		t.Fatalf("at the cap, b1 must wait without creating: %+v", b)
	}
	r := h.release("a1")
	n, ok := noticeFor(r, "b1")
	if !ok || n.Status != AskGranted || n.EC != a.EC || !n.Reused {
		t.Fatalf("release must hand the engine to b1: %+v", r.Notices)
	}
}

func TestEngineFailureFailsItsWaitersAndReleases(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	r := h.apply(EngineEnded{EC: a.EC, Failed: true, Reason: "exec: linkis: not found", Retryable: false})
	n, ok := noticeFor(r, "a1")
	if !ok || n.Status != AskFailed || !errors.Is(n.Err, linkis.ErrEngineFailed) || linkis.IsRetryable(n.Err) {
		t.Fatalf("a1 must fail, not retryable: %+v", r.Notices)
	}
	if st := h.s.Stats(); st.Engines != 0 || st.Asks != 0 || st.Keys != 0 {
		t.Fatalf("nothing may remain: %+v", st)
	}
}

func TestKillThenEnded(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	r := h.apply(KillEngine{EC: a.EC, Reason: "operator"})
	if n, ok := noticeFor(r, "a1"); !ok || n.Status != AskFailed {
		t.Fatalf("the holder must be told: %+v", r.Notices)
	}
	e := h.ec(a.EC)
	if e.Status != linkis.StatusShuttingDown || !e.Killing || !e.Used {
		t.Fatalf("killed engine: %+v", e)
	}
	effects := h.s.EffectsDue(h.now)
	if len(effects) != 1 || effects[0].Kind != EffectKill || effects[0].EC != a.EC {
		t.Fatalf("want a kill effect: %+v", effects)
	}
	// A killed engine is not reused.
	b := h.ask("b1", "alice-IDE", "shell-1")
	if b.EC == a.EC || b.Status != AskPending {
		t.Fatalf("b1 must get a new engine: %+v", b)
	}
	h.apply(EngineEnded{EC: a.EC})
	if _, ok := h.s.EC(a.EC); ok {
		t.Fatal("ended engine still known")
	}
}

func TestTickExpiresLocksAndWaits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultQuota = res(100, 100, 1) })
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.advance(4 * time.Minute)
	h.apply(RenewLock{AskID: "a1"})
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.advance(4 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(Tick{})
	if got := h.askState("a1"); got.Status != AskGranted {
		t.Fatalf("a renewed lock must survive: %+v", got)
	}
	h.ask("b1", "alice-IDE", "shell-1")
	h.advance(2 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	r := h.apply(Tick{})
	if n, ok := noticeFor(r, "a1"); !ok || !errors.Is(n.Err, linkis.ErrTimeout) {
		t.Fatalf("a1's lock must expire: %+v", r.Notices)
	}
	if n, ok := noticeFor(r, "b1"); !ok || n.Status != AskGranted || n.EC != a.EC {
		t.Fatalf("the expired lock's engine must go to b1: %+v", r.Notices)
	}
	c := h.ask("c1", "alice-IDE", "shell-1")
	if c.Status != AskPending {
		t.Fatalf("c1 waits: %+v", c)
	}
	h.advance(4 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(RenewLock{AskID: "b1"})
	h.advance(4 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(RenewLock{AskID: "b1"})
	h.advance(time.Minute)
	r = h.apply(Tick{})
	if n, ok := noticeFor(r, "c1"); !ok || n.Status != AskFailed || !errors.Is(n.Err, linkis.ErrTimeout) || !linkis.IsRetryable(n.Err) {
		t.Fatalf("c1's wait must time out, retryable: %+v", r.Notices)
	}
}

func TestResourceLockExpiresForEngineThatNeverStarts(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.advance(11 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(Tick{})
	if _, ok := h.s.EC(a.EC); !ok {
		t.Fatal("engine gone before its resource lock expired")
	}
	h.advance(time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(Tick{})
	if _, ok := h.s.EC(a.EC); ok {
		t.Fatal("engine that never started must be failed after 12 min")
	}
	m, _ := h.s.ECM("ecm1")
	if !m.Ledger.Locked.IsZero() {
		t.Fatalf("its lock must be released: %+v", m.Ledger)
	}
}

func TestLostNodesReleaseEverything(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	h.addECM("ecm2", res(64, 32, 20))
	var ids []ECID
	for i := 0; i < 4; i++ {
		a := h.ask(askName(i), "alice-IDE", "shell-1", "reuseExclusion", "*", "emInstance", []string{"ecm1", "ecm2"}[i%2])
		h.start(a.EC)
		ids = append(ids, a.EC)
	}
	for step := 0; step < 6; step++ {
		h.advance(time.Minute)
		h.apply(ECMHeartbeat{ID: "ecm2"})
		for _, id := range ids {
			if e, ok := h.s.EC(id); ok && e.ECM == "ecm2" {
				h.apply(ECHeartbeat{EC: id, Status: linkis.StatusIdle})
			}
		}
		h.apply(Tick{})
	}
	if _, ok := h.s.ECM("ecm1"); ok {
		t.Fatal("silent ecm1 must be lost after 5 minutes")
	}
	for _, e := range h.s.ECs() {
		if e.ECM == "ecm1" {
			t.Fatalf("engine %v of the lost ECM survived", e.ID)
		}
	}
	if k := h.s.Key("alice-IDE,shell-1"); k.Engines == 0 {
		t.Fatal("ecm2's engines must survive")
	}
	// Now let ecm2's engines go silent while ecm2 keeps reporting.
	for step := 0; step < 13; step++ {
		h.advance(time.Minute)
		h.apply(ECMHeartbeat{ID: "ecm2"})
		h.apply(Tick{})
	}
	if st := h.s.Stats(); st.Engines != 0 {
		t.Fatalf("silent engines must be lost after 12 minutes: %+v", st)
	}
	m, _ := h.s.ECM("ecm2")
	if !m.Ledger.Used.IsZero() || !m.Ledger.Locked.IsZero() {
		t.Fatalf("lost engines must release their ECM's resources: %+v", m.Ledger)
	}
}

func TestIdleReclamationAndMaxTasks(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxTasksPerEC = 3; c.IdleTimeout = 10 * time.Minute })
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a0", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.release("a0")
	for i := 1; i < 3; i++ {
		b := h.ask(askName(i), "alice-IDE", "shell-1")
		if b.EC != a.EC {
			t.Fatalf("task %d should reuse", i)
		}
		h.release(askName(i))
	}
	if e := h.ec(a.EC); e.Status != linkis.StatusShuttingDown || !e.Killing {
		t.Fatalf("after 3 tasks the engine retires: %+v", e)
	}
	c := h.ask("c", "alice-IDE", "shell-1")
	if c.EC == a.EC {
		t.Fatal("a retired engine was reused")
	}
	h.apply(EngineEnded{EC: a.EC})
	h.start(c.EC)
	h.release("c")
	h.advance(9 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm1"})
	h.apply(ECHeartbeat{EC: c.EC, Status: linkis.StatusUnlock})
	h.apply(Tick{})
	if e := h.ec(c.EC); e.Status != linkis.StatusUnlock {
		t.Fatalf("not idle long enough yet: %+v", e)
	}
	h.advance(time.Minute)
	h.apply(Tick{})
	if e := h.ec(c.EC); !e.Killing {
		t.Fatalf("idle engine must be reclaimed: %+v", e)
	}
}

func TestOnceModeGetsItsOwnEngine(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.release("a")
	o := h.ask("o", "alice-IDE", "shell-1", "engineConnMode", "once")
	if o.EC == a.EC || o.Status != AskPending {
		t.Fatalf("once ask must get a fresh engine: %+v", o)
	}
	r := h.start(o.EC)
	if n, ok := noticeFor(r, "o"); !ok || n.Status != AskGranted {
		t.Fatalf("once engine goes to its ask: %+v", r.Notices)
	}
	if e := h.ec(o.EC); e.Status != linkis.StatusRunning || e.Mode != linkis.ModeOnce {
		t.Fatalf("once engine: %+v", e)
	}
	h.apply(ECHeartbeat{EC: o.EC, Status: linkis.StatusBusy})
	h.refuse(ECHeartbeat{EC: o.EC, Status: linkis.StatusUnlock}, linkis.ErrIllegalTransition)
	h.release("o")
	if e := h.ec(o.EC); !e.Killing {
		t.Fatal("a released once engine is done")
	}
	// A shared ask never takes a once engine.
	b := h.ask("b", "alice-IDE", "shell-1")
	if b.EC != a.EC {
		t.Fatalf("b must reuse the computation engine: %+v", b)
	}
}

func TestReuseExclusionAndPins(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	h.addECM("ecm2", res(64, 32, 20))
	a := h.ask("a", "alice-IDE", "shell-1", "emInstance", "ecm2")
	if a.ECM != "ecm2" {
		t.Fatalf("emInstance pin: %+v", a)
	}
	h.start(a.EC)
	h.release("a")
	addr := h.ec(a.EC).Addr
	b := h.ask("b", "alice-IDE", "shell-1", "reuseExclusion", addr)
	if b.EC == a.EC {
		t.Fatal("reuseExclusion by address ignored")
	}
	c := h.ask("c", "alice-IDE", "shell-1", "engineInstance", addr)
	if c.EC != a.EC || c.Status != AskGranted {
		t.Fatalf("engineInstance pin: %+v", c)
	}
	h.refuse(h.askCmd("d", "alice-IDE", "shell-1", "engineInstance", addr), linkis.ErrEngineBusy)
	h.refuse(h.askCmd("e", "alice-IDE", "shell-1", "engineInstance", "10.9.9.9:1"), linkis.ErrUnknownNode)
	h.refuse(h.askCmd("f", "bob-IDE", "shell-1", "engineInstance", addr), linkis.ErrInvalidLabel)
	h.refuse(h.askCmd("g", "alice-IDE", "shell-1", "emInstance", "nope"), linkis.ErrUnknownNode)
}

func TestConcurrentEngine(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a0", "alice-IDE", "shell-1", "concurrentEngineConn", "3")
	h.start(a.EC)
	for i := 1; i < 3; i++ {
		b := h.ask(askName(i), "alice-IDE", "shell-1")
		if b.EC != a.EC || b.Status != AskGranted {
			t.Fatalf("concurrent engine serves 3 at once, ask %d: %+v", i, b)
		}
	}
	if e := h.ec(a.EC); e.Status != linkis.StatusBusy || len(e.Holders) != 3 {
		t.Fatalf("at its limit the engine is Busy: %+v", e)
	}
	d := h.ask("d", "alice-IDE", "shell-1")
	if d.Status != AskPending || !d.Created || d.EC == a.EC {
		t.Fatalf("a full concurrent engine must not be granted a 4th time: %+v", d)
	}
	r := h.release(askName(1))
	if n, ok := noticeFor(r, "d"); !ok || n.EC != a.EC {
		t.Fatalf("the freed slot goes to the waiting ask: %+v", r.Notices)
	}
	h.release("d")
	if e := h.ec(a.EC); e.Status != linkis.StatusUnlock || len(e.Holders) != 2 {
		t.Fatalf("below its limit the engine is Unlock: %+v", e)
	}
}

func TestGracefulAndForcedDeregistration(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.apply(DeregisterECM{ID: "ecm1"})
	if m, _ := h.s.ECM("ecm1"); m.Status != linkis.StatusShuttingDown {
		t.Fatalf("graceful deregistration: %+v", m)
	}
	// No ECM can start an engine, but one of the key is still alive: its end
	// may make room, so the ask waits for it rather than failing at once.
	if b := h.ask("b", "alice-IDE", "shell-1"); b.Status != AskPending || b.Created {
		t.Fatalf("b waits: %+v", b)
	}
	h.refuse(h.askCmd("c", "bob-IDE", "shell-1"), linkis.ErrNoNodeAvailable)
	r := h.apply(EngineEnded{EC: a.EC})
	if n, ok := noticeFor(r, "b"); !ok || n.Status != AskFailed || !errors.Is(n.Err, linkis.ErrNoNodeAvailable) {
		t.Fatalf("when nothing is left to wait for, b fails with the reason: %+v", r.Notices)
	}
	if _, ok := h.s.ECM("ecm1"); ok {
		t.Fatal("a shutting-down ECM goes when its last engine ends")
	}
	h.addECM("ecm2", res(64, 32, 20))
	c := h.ask("c", "alice-IDE", "shell-1")
	h.start(c.EC)
	r = h.apply(DeregisterECM{ID: "ecm2", Force: true})
	if n, ok := noticeFor(r, "c"); !ok || n.Status != AskFailed {
		t.Fatalf("forced deregistration fails the holders: %+v", r.Notices)
	}
	if st := h.s.Stats(); st.ECMs != 0 || st.Engines != 0 || st.Asks != 0 {
		t.Fatalf("nothing may remain: %+v", st)
	}
}

func TestAskIsIdempotent(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	cmd := h.askCmd("a", "alice-IDE", "shell-1")
	first := h.apply(cmd).Ask
	again := h.apply(cmd).Ask
	if first != again {
		t.Fatalf("retried ask must return the same outcome: %+v vs %+v", first, again)
	}
	if st := h.s.Stats(); st.Engines != 1 {
		t.Fatalf("a retried ask must not start a second engine: %+v", st)
	}
}

// An engine killed while it was starting holds locked resources until its
// end is reported; if it never is, the resource lock expires all the same.
func TestKilledWhileStartingExpires(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a", "alice-IDE", "shell-1")
	h.apply(KillEngine{EC: a.EC})
	h.refuse(EngineStarted{EC: a.EC, Addr: "h:1"}, linkis.ErrIllegalTransition)
	for i := 0; i < 12; i++ {
		h.advance(time.Minute)
		h.apply(ECMHeartbeat{ID: "ecm1"})
		h.apply(Tick{})
	}
	if _, ok := h.s.EC(a.EC); ok {
		t.Fatal("a killed, never-started engine must not hold its lock forever")
	}
	if m, _ := h.s.ECM("ecm1"); !m.Ledger.Locked.IsZero() {
		t.Fatalf("lock not released: %+v", m.Ledger)
	}
}

// Waiting asks get an engine as soon as room appears anywhere, not only
// when an engine of their own key changes. Regression: they waited until
// they timed out.
func TestWaitingAsksAreServedWhenRoomAppears(t *testing.T) {
	h := newHarness(t)
	h.addECM("small", linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 1})
	a1 := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a1.EC)
	a2 := h.ask("a2", "alice-IDE", "shell-1")
	if a2.Status != AskPending || a2.Created {
		t.Fatalf("the full ECM cannot start a second engine; a2 waits for a1's: %+v", a2)
	}
	r := h.apply(RegisterECM{ID: "big", Addr: "big:9101", Max: res(64, 32, 20)})
	if st := h.s.Stats(); st.Starting != 1 || len(r.Notices) != 0 {
		t.Fatalf("a new ECM must start an engine for a2 at once: %+v", st)
	}
	var started ECID
	for _, e := range h.s.ECs() {
		if e.Status == linkis.StatusStarting {
			started = e.ID
		}
	}
	if n, ok := noticeFor(h.start(started), "a2"); !ok || n.Status != AskGranted || n.ECM != "big" {
		t.Fatal("a2 must get the engine started on big")
	}

}

// Room freed by another key's engine serves a waiting ask at once (see
// also TestRoomFreedByAnotherKeyServesStarvedAsk), and the next tick does
// not start a second engine for it.
func TestWaitingAsksAreServedWhenRoomFrees(t *testing.T) {
	h := newHarness(t)
	h.addECM("small", linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 2})
	a := h.ask("a", "alice-IDE", "shell-1")
	h.start(a.EC)
	b1 := h.ask("b1", "bob-IDE", "shell-1")
	h.start(b1.EC)
	b2 := h.ask("b2", "bob-IDE", "shell-1")
	if b2.Status != AskPending || b2.Created {
		t.Fatalf("no room: b2 waits: %+v", b2)
	}
	h.release("a")
	h.apply(KillEngine{EC: a.EC})
	h.apply(EngineEnded{EC: a.EC})
	if st := h.s.Stats(); st.Starting != 1 || h.s.Key("bob-IDE,shell-1").Engines != 2 {
		t.Fatalf("alice's engine ended: an engine must start for b2 at once: %+v", st)
	}
	h.advance(time.Second)
	h.apply(ECMHeartbeat{ID: "small"})
	h.apply(Tick{})
	if st := h.s.Stats(); st.Starting != 1 || h.s.Key("bob-IDE,shell-1").Engines != 2 {
		t.Fatalf("the tick must not start another: %+v", st)
	}
}

func TestPinnedEngineCannotServeADedicatedRequest(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.release("a")
	addr := h.ec(a.EC).Addr
	for _, extra := range [][]string{{"engineConnMode", "once"}, {"reuseExclusion", "*"}, {"executeOnce", "true"}} {
		err := h.refuse(h.askCmd("b", "alice-IDE", "shell-1", append([]string{"engineInstance", addr}, extra...)...), linkis.ErrInvalidLabel)
		if linkis.IsRetryable(err) {
			t.Fatalf("%v: a contradiction never succeeds, so it must not be retryable: %v", extra, err)
		}
	}
}
