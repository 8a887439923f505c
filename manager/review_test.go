package manager

import (
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
