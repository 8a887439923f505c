package manager

import (
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

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
