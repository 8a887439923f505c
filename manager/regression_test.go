package manager

// Regression tests for bugs found by reviewing the code; each comment says
// what went wrong.

import (
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Regression, found in review: An engine that starts moves its deadline from createdAt+ResourceLockTimeout
// to lastSeen+ECLostAfter. When ECLostAfter < ResourceLockTimeout that is
// EARLIER, but engineStarted never lowers the engine's bound in ecDues, so a
// tick past the lost deadline does not see it.
func TestStartedEngineIsLostOnTime(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ECLostAfter = time.Minute
		c.ResourceLockTimeout = 12 * time.Minute
	})
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC) // granted to a1 at once: Idle, not idle() - no lowering
	h.advance(2 * time.Minute)
	h.apply(Tick{})
	if _, ok := h.s.EC(a.EC); ok {
		t.Fatalf("engine %v silent for 2m with ECLostAfter=1m should be lost at this tick; the due table still holds createdAt+12m", a.EC)
	}
}

// Regression, found in review: Same bug seen as replica divergence: a live state and its restored copy
// apply the same tick and end with different snapshots.
func TestRestoredCopyLosesEnginesLikeTheOriginal(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ECLostAfter = time.Minute
		c.ResourceLockTimeout = 12 * time.Minute
	})
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	cp, err := Restore(h.s.Snapshot(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Minute)
	tick := Tick{Time: h.now}
	if _, err := h.s.Apply(tick); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Apply(tick); err != nil {
		t.Fatal(err)
	}
	if string(h.s.Snapshot()) != string(cp.Snapshot()) {
		_, live := h.s.EC(a.EC)
		_, restored := cp.EC(a.EC)
		t.Fatalf("live and restored replicas diverge after the same Tick: engine known live=%v restored=%v", live, restored)
	}
}

// Regression, found in review: The key ledger row has no bound on extra dimensions its quota does not
// name (FitsInQuota treats them as unlimited), so two engines on two ECMs
// can sum past int64 and reserve() panics inside Apply instead of refusing.
func TestKeyLedgerOverflowIsRefused(t *testing.T) {
	h := newHarness(t)
	big := linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 32_000, Instances: 20, Extra: []linkis.Quantity{{Name: "gpu", Value: math.MaxInt64}}}
	h.addECM("ecm1", big)
	h.addECM("ecm2", big)
	params := map[string]string{ParamExtraPref + "gpu": strconv.FormatInt(math.MaxInt64, 10)}
	mk := func(id string) AskEngine {
		c := h.askCmd(id, "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
		c.Params = params
		c.Time = h.now
		return c
	}
	h.apply(mk("a1"))
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("second ask panicked inside Apply (all replicas would crash): %v", p)
			}
		}()
		_, err := h.s.Apply(mk("a2"))
		t.Logf("second ask: err=%v", err)
	}()
	h.check()
}

// Regression, found in review: A waiter queued behind the key's only engine (quota cap reached) is
// failed at once with ErrQuotaExceeded when that engine is stopped, although
// the engine's end - which frees the quota - is imminent and the waiter's
// wait has not run out. Once the engine ends there is room, but the waiter
// is gone.
func TestWaiterOutlivesItsKeysShuttingDownEngine(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxTasksPerEC = 1 })
	h.addECM("ecm1", res(64, 32, 20))
	h.apply(SetQuota{Key: "alice-IDE,shell-1", Max: linkis.Resource{Memory: 20 * linkis.GiB, MilliCores: 10_000, Instances: 1}})
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	b := h.ask("b1", "alice-IDE", "shell-1")
	if b.Status != AskPending {
		t.Fatalf("b1 should wait: %+v", b)
	}
	// a1 lets go: the engine served its maximum and is retired.
	r := h.release("a1")
	if n, ok := noticeFor(r, "b1"); ok && n.Status == AskFailed {
		t.Fatalf("b1 failed at once (%v) while the retired engine is still shutting down; it should keep waiting for the quota to free", n.Err)
	}
	h.apply(EngineEnded{EC: a.EC})
	if st, ok := h.s.Ask("b1"); !ok || st.Status == AskFailed {
		t.Fatalf("b1 should be pending on a new engine now that there is room: %+v ok=%v", st, ok)
	}
}

// Regression, found in review: A pending shared ask keeps pointing (Ask view / AskResult.EC) at the
// engine it caused to start after that engine ended; meanwhile another
// waiter - whose own engine is still starting - is the one failed.
func TestFailedStartFailsTheAskItWasFor(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	b := h.ask("b1", "alice-IDE", "shell-1")
	if !a.Created || !b.Created || a.EC == b.EC {
		t.Fatalf("want two creations: %+v %+v", a, b)
	}
	r := h.apply(EngineEnded{EC: b.EC, Failed: true, Reason: "boom"})
	if n, ok := noticeFor(r, "b1"); !ok || n.Status != AskFailed {
		t.Fatalf("the ask the failed engine was started for must fail: %+v", r.Notices)
	}
	if _, ok := noticeFor(r, "a1"); ok {
		t.Fatalf("a1's own engine is still starting; it must not be failed: %+v", r.Notices)
	}
	if st := h.askState("a1"); st.Status != AskPending || st.EC != a.EC {
		t.Fatalf("a1 still waits for its engine: %+v", st)
	}
}

// idleSince is set only when an ask lets go or the engine starts; an
// engine that stays Busy (reported) with no holder for longer than
// IdleTimeout is reclaimed the instant it reports Unlock, although it has
// not been unused at all.
func TestIdleClockRestartsAfterBusy(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 10 * time.Minute })
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelConcurrentEngineConn, "2")
	h.start(a.EC)
	h.apply(ECHeartbeat{EC: a.EC, Status: linkis.StatusBusy})
	h.release("a1") // task still running on the engine
	for i := 0; i < 6; i++ {
		h.advance(5 * time.Minute)
		h.apply(ECMHeartbeat{ID: "ecm1"})
		h.apply(ECHeartbeat{EC: a.EC, Status: linkis.StatusBusy})
		h.apply(Tick{})
	}
	h.apply(ECHeartbeat{EC: a.EC, Status: linkis.StatusUnlock})
	h.advance(time.Second)
	h.apply(Tick{})
	if e := h.ec(a.EC); e.Killing {
		t.Fatalf("engine busy until 1s ago was reclaimed as idle (idleSince=%v, now=%v)", time.Duration(h.now-e.IdleSince), h.now)
	}
}

// Regression, found in review: Lowering MaxTasksPerEC with Configure leaves engines that already served
// more than the new maximum on their key's free list: the next ask reuses
// one instead of retiring it.
func TestConfigureRetiresOverusedEngines(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxTasksPerEC = 10 })
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a0", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.release("a0")
	for i := 1; i < 3; i++ {
		id := "a" + strconv.Itoa(i)
		h.ask(id, "alice-IDE", "shell-1")
		h.release(id)
	}
	cfg := h.s.Config()
	cfg.MaxTasksPerEC = 2
	h.apply(Configure{Config: cfg})
	b := h.ask("b", "alice-IDE", "shell-1")
	if b.Status == AskGranted && b.EC == a.EC {
		t.Fatalf("engine %v served %d tasks, over the new maximum of 2, yet was reused", a.EC, h.ec(a.EC).Tasks)
	}
}

// Regression, found in review: A shared waiter whose own engine can never be placed (it needs more than
// any ECM has) sits at the head of its key's queue. serveKey only ever tries
// to start an engine for the FIRST waiter with no engine starting, so when
// room appears for the waiters behind it (an ECM registers), nothing is
// started for them: they wait until their wait runs out.
func TestUnplaceableWaiterDoesNotBlockOthers(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", linkis.Resource{Memory: 2 * linkis.GiB, MilliCores: 8000, Instances: 1})
	a0 := h.ask("a0", "alice-IDE", "shell-1")
	h.start(a0.EC) // a0 holds the key's only engine; ecm1 is full (1 instance)

	big := h.askCmd("big", "alice-IDE", "shell-1")
	big.Params = map[string]string{ParamMemory: "4g"} // more than any ECM will ever have
	if r := h.apply(big).Ask; r.Status != AskPending {
		t.Fatalf("big should wait for the key's engine: %+v", r)
	}
	if r := h.ask("b", "alice-IDE", "shell-1"); r.Status != AskPending || r.Created {
		t.Fatalf("b should wait, nothing can start now: %+v", r)
	}
	// Room for b appears.
	h.addECM("ecm2", linkis.Resource{Memory: 2 * linkis.GiB, MilliCores: 8000, Instances: 10})
	h.apply(Tick{})
	if st := h.askState("b"); st.EC == 0 {
		t.Fatalf("ecm2 has room for b's engine, but none was started for it (the head waiter 'big' can never be placed and blocks the queue): %+v; engines %+v", st, h.s.Stats())
	}
}

// Regression, found in review: Raising MaxTasksPerEC with Configure puts an engine that had reached the
// old maximum back on its key's free list, but the key's waiters are not
// served (the key is not starved: an engine is starting for them). The key
// is left with a free engine AND waiting asks - an invariant violation - and
// the waiter keeps waiting for the starting engine instead of taking the
// free one.
func TestConfigureRaisingMaxTasksServesWaiters(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxTasksPerEC = 2 })
	h.addECM("ecm1", res(64, 32, 20))
	a1 := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelConcurrentEngineConn, "3")
	h.start(a1.EC)
	if r := h.ask("a2", "alice-IDE", "shell-1", linkis.LabelConcurrentEngineConn, "3"); r.EC != a1.EC {
		t.Fatalf("a2 should share the concurrent engine: %+v", r)
	}
	// The engine served its 2 tasks: not reusable; a3 waits for a new one.
	a3 := h.ask("a3", "alice-IDE", "shell-1", linkis.LabelConcurrentEngineConn, "3")
	if a3.Status != AskPending || a3.EC == a1.EC {
		t.Fatalf("a3 should wait for a new engine: %+v", a3)
	}
	cfg := h.s.Config()
	cfg.MaxTasksPerEC = 10
	r, err := h.s.Apply(Configure{Time: h.now, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInvariants(h.s); err != nil {
		t.Fatalf("after Configure raising MaxTasksPerEC: %v (notices %+v)", err, r.Notices)
	}
	if n, ok := noticeFor(r, "a3"); !ok || n.Status != AskGranted {
		t.Fatalf("the engine reusable again must go to the waiting a3: %+v", r.Notices)
	}
}

// Regression, found in review: An ask excluding an instance by address (reuseExclusion=host:port) that
// gets an engine of its own is granted it when it starts even if the new
// engine came up at the excluded address (ports are reused after an engine
// ends). The ask then holds an engine its labels exclude, which
// CheckBindings forbids.
func TestOwnEngineAtExcludedAddressIsNotGranted(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.apply(EngineStarted{EC: a.EC, Addr: "10.0.0.9:7000"})
	h.apply(EngineEnded{EC: a.EC, Failed: true, Reason: "crashed"})
	b := h.ask("b1", "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "10.0.0.9:7000")
	if b.Status != AskPending || !b.Created {
		t.Fatalf("b1 should get an engine of its own: %+v", b)
	}
	r, err := h.s.Apply(EngineStarted{Time: h.now, EC: b.EC, Addr: "10.0.0.9:7000"})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckInvariants(h.s); err != nil {
		t.Fatalf("b1 was granted an engine at the address it excludes: %v (notices %+v)", err, r.Notices)
	}
	if n, ok := noticeFor(r, "b1"); !ok || n.Status != AskFailed || !linkis.IsRetryable(n.Err) {
		t.Fatalf("b1 must be told, retryably, that its engine is one it excludes: %+v", r.Notices)
	}
}

// Regression, found in review: When a shared engine that was started for an ask fails to start after its
// creator was served by another engine, endEC fails the HEAD waiter instead,
// even though that waiter's own engine is still starting and the failed
// engine was surplus (the remaining starting engines cover the queue).
func TestSurplusEngineFailureFailsNobodyCovered(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a0 := h.ask("a0", "alice-IDE", "shell-1")
	h.start(a0.EC)
	a1 := h.ask("a1", "alice-IDE", "shell-1")
	a2 := h.ask("a2", "alice-IDE", "shell-1")
	if !a1.Created || !a2.Created || a1.EC == a2.EC {
		t.Fatalf("want one engine starting for each: %+v %+v", a1, a2)
	}
	// a0 lets go: its engine goes to the head waiter a1; a1's engine is now surplus.
	if n, ok := noticeFor(h.release("a0"), "a1"); !ok || n.Status != AskGranted {
		t.Fatalf("a1 should get a0's engine")
	}
	r := h.apply(EngineEnded{EC: a1.EC, Failed: true, Reason: "boom", Retryable: true})
	if n, ok := noticeFor(r, "a2"); ok {
		t.Fatalf("a2's own engine %v is still starting and covers the queue, yet a2 failed with the surplus engine %v: %+v", a2.EC, a1.EC, n)
	}
}

// Regression, found in review: A once-mode engine that finishes its job reports Success; the ask that
// holds it is reported AskFailed with a RETRYABLE ErrEngineFailed
// ("reported Success"), inviting the caller to run the finished job again.
func TestOnceEngineSuccessFinishesItsAsk(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelEngineConnMode, "once")
	h.start(a.EC)
	h.apply(ECHeartbeat{EC: a.EC, Status: linkis.StatusBusy})
	r := h.apply(ECHeartbeat{EC: a.EC, Status: linkis.StatusSuccess})
	n, ok := noticeFor(r, "a1")
	if !ok {
		t.Fatalf("a1's status changed without a notice: %+v", r.Notices)
	}
	if n.Status == AskFailed && linkis.IsRetryable(n.Err) {
		t.Fatalf("once job succeeded, but its ask is reported failed and retryable: %+v (%v)", n, n.Err)
	}
}

// Regression, found in review: A once-mode engine that comes up at an address its own ask excludes is
// stopped in engineStarted without refreshEC: its due-table bound stays at
// createdAt+ResourceLockTimeout although, now that it is used, its precise
// deadline is lastSeen+ECLostAfter. A restored replica holds the precise
// bound, so the same Tick loses the engine on one replica and not on the
// other.
func TestStoppedOnceEngineIsLostOnTime(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.ECLostAfter = time.Minute
		c.ResourceLockTimeout = 12 * time.Minute
	})
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelEngineConnMode, "once", linkis.LabelReuseExclusion, "10.0.0.9:7000")
	if a.Status != AskPending || !a.Created {
		t.Fatalf("a1 should get an engine of its own: %+v", a)
	}
	r := h.apply(EngineStarted{EC: a.EC, Addr: "10.0.0.9:7000"})
	if n, ok := noticeFor(r, "a1"); !ok || n.Status != AskFailed {
		t.Fatalf("a1 must be failed: %+v", r.Notices)
	}
	if e := h.ec(a.EC); !e.Killing || !e.Used {
		t.Fatalf("engine should be used and being killed: %+v", e)
	}
	cp, err := Restore(h.s.Snapshot(), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.advance(2 * time.Minute) // silent for 2m; ECLostAfter is 1m
	tick := Tick{Time: h.now}
	if _, err := h.s.Apply(tick); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Apply(tick); err != nil {
		t.Fatal(err)
	}
	_, live := h.s.EC(a.EC)
	_, restored := cp.EC(a.EC)
	if live || restored || string(h.s.Snapshot()) != string(cp.Snapshot()) {
		t.Fatalf("engine silent past ECLostAfter: still known live=%v restored=%v (replicas diverge: %v)",
			live, restored, string(h.s.Snapshot()) != string(cp.Snapshot()))
	}
}

// Regression, found in review: Config.Validate blames DefaultQuota when DefaultECMResource has no
// instance.
func TestConfigErrorNamesDefaultECMResource(t *testing.T) {
	h := newHarness(t)
	cfg := h.s.Config()
	cfg.DefaultECMResource.Instances = 0
	err := h.refuse(Configure{Config: cfg}, linkis.ErrInvalidArgument)
	var le *linkis.Error
	if !errors.As(err, &le) || le.Field != "DefaultECMResource" {
		t.Fatalf("the field at fault is DefaultECMResource, the error says: %v", err)
	}
}

// Regression, found in review: A Tick that finds two ECMs lost ends them one at a time: the engines of
// the first are ended while the second is still Running and eligible, so
// the key's waiter is given a new engine on the second - which the same
// tick then drops, failing the waiter - although a live ECM had room.
// Whether the waiter survives depends only on how the lost ECMs' ids sort.
func TestTickDoesNotPlaceOnECMLostInSameTick(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HotspotTopK = 1 })
	h.apply(SetQuota{Key: "alice-IDE,shell-1", Max: linkis.Resource{Memory: 20 * linkis.GiB, MilliCores: 10_000, Instances: 1}})
	h.addECM("ecm-a", res(64, 32, 20))
	a0 := h.ask("a0", "alice-IDE", "shell-1")
	if a0.ECM != "ecm-a" {
		t.Fatalf("a0 should be on ecm-a: %+v", a0)
	}
	h.start(a0.EC)
	a1 := h.ask("a1", "alice-IDE", "shell-1") // waits: the key's instance cap is 1
	if a1.Status != AskPending || a1.Created {
		t.Fatalf("a1 should wait: %+v", a1)
	}
	h.addECM("ecm-b", res(512, 256, 100)) // ranks first: most left
	h.advance(4 * time.Minute)
	h.addECM("ecm-c", res(16, 8, 10)) // heartbeats; a and b fall silent
	h.advance(2 * time.Minute)
	h.apply(ECMHeartbeat{ID: "ecm-c"})
	h.apply(ECHeartbeat{EC: a0.EC, Status: linkis.StatusIdle})
	r := h.apply(Tick{})
	if _, ok := h.s.ECM("ecm-b"); ok {
		t.Fatalf("ecm-b should be lost")
	}
	if n, ok := noticeFor(r, "a1"); ok && n.Status == AskFailed {
		t.Fatalf("a1 failed (%v) although ecm-c is alive with room: it was placed on ecm-b, lost in the same tick", n.Err)
	}
	if st := h.askState("a1"); st.ECM != "ecm-c" {
		t.Fatalf("a1 should wait for an engine on ecm-c: %+v", st)
	}
}

// Regression, found in review: A launch builder that refuses one ask's params (non-retryably) must not
// fail a later waiter of the same key whose params it accepts: serveKey's
// placement cache is keyed by resource only, but createEC's outcome also
// depends on the ask's params (the launch request is built from them).
func TestLaunchErrorOfOneWaiterIsNotAnothers(t *testing.T) {
	p := DefaultPlugins()
	if err := p.Register(Plugin{
		Type: "svc", Version: "*", Concurrency: 2,
		Resources: StandardResources{Memory: linkis.GiB, MilliCores: 1000},
		Launcher: LaunchFunc(func(c LaunchContext) (LaunchRequest, error) {
			if c.Params["svc.script"] == "bad" {
				return LaunchRequest{}, linkis.ValueError(linkis.ErrInvalidArgument, "svc.script", "bad", "no such script")
			}
			return StandardLauncher{}.Build(c)
		}),
	}); err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, p)

	h.addECM("ecm1", res(1, 1, 10)) // room for one engine
	a1 := h.ask("a1", "u-IDE", "svc-1")
	if a1.Status != AskPending || !a1.Created {
		t.Fatalf("a1: %+v", a1)
	}
	// a2 is covered by a1's engine (two slots): it waits without trying.
	c2 := h.askCmd("a2", "u-IDE", "svc-1")
	c2.Params = map[string]string{"svc.script": "bad"}
	if r := h.apply(c2).Ask; r.Status != AskPending {
		t.Fatalf("a2: %+v", r)
	}
	// a3 (valid params, same resource) finds no room and waits.
	if r := h.ask("a3", "u-IDE", "svc-1"); r.Status != AskPending || r.Created {
		t.Fatalf("a3: %+v", r)
	}
	if r := h.ask("a4", "u-IDE", "svc-1"); r.Status != AskPending || r.Created {
		t.Fatalf("a4: %+v", r)
	}
	// Room appears: a2 fails with its own launch error; a3 must get an engine.
	r := h.apply(RegisterECM{ID: "ecm2", Addr: "ecm2:9101", Labels: labels(t), Max: res(8, 8, 10)})
	if n, ok := noticeFor(r, "a2"); !ok || n.Status != AskFailed {
		t.Fatalf("a2 should fail with its launch error: %+v (%v)", n, ok)
	}
	if n, ok := noticeFor(r, "a3"); ok && n.Status == AskFailed {
		t.Fatalf("a3 was failed with a2's launch error: %+v", n)
	}
	if a3 := h.askState("a3"); a3.Status != AskPending || !a3.Created {
		t.Fatalf("a3 should wait for an engine started for it: %+v", a3)
	}
}

// Regression, found in review: an engine of another key that ends frees
// room on its ECM, but nothing retried the keys starved for room until the
// next tick - which fails late waits before it retries - so an ask whose
// wait ran out in between failed although it could have been placed.
func TestRoomFreedByAnotherKeyServesStarvedAsk(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 2))
	a := h.ask("a1", "alice-IDE", "shell-1")
	h.start(a.EC)
	b1 := h.ask("b1", "bob-IDE", "shell-1")
	h.start(b1.EC)
	b2 := h.askCmd("b2", "bob-IDE", "shell-1")
	b2.WaitTimeout = 900 * time.Millisecond
	if r := h.apply(b2).Ask; r.Status != AskPending || r.Created {
		t.Fatalf("b2: %+v, want waiting with no room for an engine", r)
	}
	h.advance(100 * time.Millisecond)
	h.release("a1")
	h.apply(KillEngine{EC: a.EC})
	h.apply(EngineEnded{EC: a.EC})
	w := h.askState("b2")
	if w.EC == 0 || !w.Created {
		t.Fatalf("b2 after alice's engine ended: %+v, want an engine starting for it", w)
	}
	h.start(w.EC)
	h.advance(900 * time.Millisecond)
	h.apply(Tick{})
	if got := h.askState("b2"); got.Status != AskGranted {
		t.Fatalf("b2 after the tick: %+v, want granted", got)
	}
}

// Regression, found in review: nothing checked the groups' id-ordered
// lists the two-choices placement draws from, so a corruption there was
// invisible (two-choices skips what it cannot use and falls back).
func TestCheckIndexesSeesTheIdOrder(t *testing.T) {
	h := newHarness(t)
	h.addECM("b", res(8, 8, 8))
	h.addECM("a", res(8, 8, 8))
	if err := CheckIndexes(h.s); err != nil {
		t.Fatal(err)
	}
	for _, g := range h.s.groups {
		g.byID = g.byID[:1]
	}
	if err := CheckIndexes(h.s); err == nil {
		t.Fatal("an ECM missing from its group's id order went unseen")
	}
}
