package manager

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func launchesDue(h *harness) []ECID { return effectsDue(h, EffectLaunch) }

// newPoolHarness is a harness whose nodes are never lost for silence (the
// tests jump hours ahead without heartbeats), with one large ECM.
func newPoolHarness(t *testing.T, mutate ...func(*Config)) *harness {
	t.Helper()
	h := newHarness(t, append([]func(*Config){silentNodesStay}, mutate...)...)
	h.addECM("host", res(64, 32, 50))
	return h
}

// A pool starts its engines ahead of demand, through the launches a
// driver executes; an ask takes one without waiting, the next tick starts
// a replacement, and idle reclamation spares the pool's minimum.
func TestWarmPoolLifecycle(t *testing.T) {
	h := newPoolHarness(t)
	h.apply(SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 2})
	pool := launchesDue(h)
	if len(pool) != 2 {
		t.Fatalf("a pool of 2 launched %v", pool)
	}
	for _, e := range h.s.EffectsDue(h.now) {
		if e.Kind == EffectLaunch && (e.Launch == nil || e.Launch.EngineType.String() != "python-3" || e.Launch.User != "alice") {
			t.Fatalf("pool launch %+v", e)
		}
	}
	// A tick while they start adds nothing.
	h.advance(time.Second)
	h.apply(Tick{})
	if got := launchesDue(h); !slices.Equal(got, pool) {
		t.Fatalf("launches %v while the pool starts, want %v", got, pool)
	}
	for _, id := range pool {
		h.start(id)
	}
	if ps := h.s.WarmPools(); len(ps) != 1 || ps[0] != (PoolInfo{Key: "alice-IDE,python-3", MinIdle: 2, Idle: 2}) {
		t.Fatalf("pools: %+v", ps)
	}
	a := h.ask("job-1", "alice-IDE", "python-3")
	if a.Status != AskGranted || a.Created || !slices.Contains(pool, a.EC) {
		t.Fatalf("the ask must take a warm engine at once: %+v", a)
	}
	h.advance(time.Second)
	h.apply(Tick{})
	if got := launchesDue(h); len(got) != 1 {
		t.Fatalf("the tick must start one replacement, launches %v", got)
	}
	// Idle reclamation spares the pool's minimum and stops the surplus.
	h.start(launchesDue(h)[0])
	h.release("job-1")
	h.advance(2 * time.Hour)
	h.apply(Tick{})
	stopped := 0
	for _, e := range h.s.ECs() {
		if e.Killing {
			stopped++
		}
	}
	if ps := h.s.WarmPools(); stopped != 1 || ps[0].Idle != 2 {
		t.Fatalf("after the idle timeout: %d stopped, pool %+v", stopped, ps)
	}
	// Without its pool, the key's engines go after their idle timeout.
	h.apply(SetWarmPool{Key: "alice-IDE,python-3"})
	h.advance(2 * time.Hour)
	h.apply(Tick{})
	for _, e := range h.s.ECs() {
		if !e.Killing {
			t.Fatalf("engine %v survived its idle timeout without a pool: %+v", e.ID, e)
		}
	}
	if len(h.s.WarmPools()) != 0 {
		t.Fatal("the pool was not removed")
	}
}

// A pool never takes its key above the instance cap, even when asks hold
// every engine it started.
func TestWarmPoolNeverAboveTheCap(t *testing.T) {
	h := newPoolHarness(t, func(c *Config) { c.DefaultQuota.Instances = 2 })
	h.apply(SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 2})
	for _, id := range launchesDue(h) {
		h.start(id)
	}
	h.ask("j1", "alice-IDE", "python-3")
	h.ask("j2", "alice-IDE", "python-3")
	for range 3 {
		h.advance(time.Second)
		h.apply(Tick{})
	}
	if k := h.s.Key("alice-IDE,python-3"); k.Engines != 2 || len(launchesDue(h)) != 0 {
		t.Fatalf("key %+v, launches %v: the pool went above the cap", k, launchesDue(h))
	}
}

// A pool whose engines find no room waits for room and stops nothing.
func TestWarmPoolWaitsForRoom(t *testing.T) {
	h := newHarness(t, silentNodesStay)
	h.addECM("host", res(8, 1, 10))
	a := h.ask("bob", "bob-IDE", "python-3")
	h.start(a.EC)
	h.release("bob")
	h.apply(SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 1})
	if len(launchesDue(h)) != 0 || len(killsDue(h)) != 0 {
		t.Fatalf("launches %v kills %v: a pool must neither overfill nor reclaim", launchesDue(h), killsDue(h))
	}
	// bob's engine goes after its idle timeout; the pool fills then.
	h.advance(2 * time.Hour)
	h.apply(Tick{})
	h.apply(EngineEnded{EC: a.EC})
	h.advance(time.Second)
	h.apply(Tick{})
	if got := launchesDue(h); len(got) != 1 {
		t.Fatalf("the pool did not fill once room appeared: %v", got)
	}
}

func TestWarmPoolBadInput(t *testing.T) {
	h := newPoolHarness(t, func(c *Config) { c.DefaultQuota = res(1, 10, 5) })
	for _, tc := range []struct {
		name string
		c    SetWarmPool
		kind error
	}{
		{"above the cap", SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 6}, linkis.ErrInvalidArgument},
		{"above the quota", SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 3}, linkis.ErrInvalidArgument}, // 3 × 512m > 1g
		{"negative", SetWarmPool{Key: "alice-IDE,python-3", MinIdle: -1}, linkis.ErrInvalidArgument},
		{"unknown engine type", SetWarmPool{Key: "alice-IDE,spark-3", MinIdle: 1}, linkis.ErrUnknownEngineType},
		{"no engine type", SetWarmPool{Key: "alice-IDE", MinIdle: 1}, linkis.ErrInvalidLabel},
		{"bad user", SetWarmPool{Key: "alice,python-3", MinIdle: 1}, linkis.ErrInvalidLabel},
		{"empty", SetWarmPool{MinIdle: 1}, linkis.ErrInvalidLabel},
		{"four parts", SetWarmPool{Key: "a-b,python-3,t,x", MinIdle: 1}, linkis.ErrInvalidLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.refuse(tc.c, tc.kind)
		})
	}
}

// Pools are part of the snapshot; a version-1 snapshot (before pools and
// the configuration's extension) still restores: without pools, and with
// the extension as configured (what New was given), as a replica that
// replays the same log has it - not with the extension's defaults.
func TestWarmPoolSnapshot(t *testing.T) {
	h := newPoolHarness(t, func(c *Config) { c.ReclaimIdle = false })
	h.apply(SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 2})
	h.apply(SetWarmPool{Key: "bob-IDE,shell-1,acme", MinIdle: 1})
	snap := h.s.Snapshot()
	r, err := Restore(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) || !slices.Equal(r.WarmPools(), h.s.WarmPools()) || r.Config().ReclaimIdle {
		t.Fatalf("restored pools %+v, want %+v", r.WarmPools(), h.s.WarmPools())
	}

	// The same state without pools, written as version 1.
	h2 := newPoolHarness(t, func(c *Config) { c.ReclaimIdle = false })
	a := h2.ask("a", "alice-IDE", "python-3")
	h2.start(a.EC)
	v1 := olderSnapshot(t, h2.s, h2.s.Snapshot(), 1)
	for _, reclaim := range []bool{false, true} {
		configured := h2.s.Config()
		configured.ReclaimIdle = reclaim
		old, err := RestoreConfigured(v1, configured, nil)
		if err != nil {
			t.Fatalf("a version-1 snapshot: %v", err)
		}
		if !reflect.DeepEqual(old.Config(), configured) || len(old.WarmPools()) != 0 || len(old.ECs()) != 1 {
			t.Fatalf("restored from version 1 configured with ReclaimIdle %v: config %+v, pools %+v, engines %d", reclaim, old.Config(), old.WarmPools(), len(old.ECs()))
		}
	}
}

func silentNodesStay(c *Config) { c.ECLostAfter, c.ECMLostAfter = 48*time.Hour, 48*time.Hour }
