package manager

import (
	"errors"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

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
