package manager

import (
	"slices"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// idleEngines gives alice three idle engines on a 2-core host, filling it:
// python (1 core, idle since the start), then shell and sql (0.5 core
// each, idle one and two minutes later).
func idleEngines(t *testing.T, mutate ...func(*Config)) (*harness, []ECID) {
	t.Helper()
	h := newHarness(t, mutate...)
	h.addECM("host", res(8, 2, 10))
	var ids []ECID
	for i, et := range []string{"python-3", "shell-1", "sql-1"} {
		id := "alice-" + et
		a := h.ask(id, "alice-IDE", et)
		h.start(a.EC)
		h.release(id)
		ids = append(ids, a.EC)
		if i < 2 {
			h.advance(time.Minute)
		}
	}
	return h, ids
}

func killsDue(h *harness) []ECID { return effectsDue(h, EffectKill) }

// effectsDue returns the engines of the effects of one kind due now.
func effectsDue(h *harness, kind EffectKind) []ECID {
	var out []ECID
	for _, e := range h.s.EffectsDue(h.now) {
		if e.Kind == kind {
			out = append(out, e.EC)
		}
	}
	return out
}

// The two-user case: alice's idle engines hold both cores; bob's
// ask stops the longest-idle of them - one, enough for his engine - waits,
// and gets an engine once it is gone, long before alice's idle timeout.
func TestReclaimStopsTheLongestIdleForAnotherUser(t *testing.T) {
	h, ids := idleEngines(t)
	h.advance(time.Minute)
	b := h.ask("bob-1", "bob-IDE", "shell-1")
	if b.Status != AskPending || b.Created {
		t.Fatalf("bob's ask: %+v", b)
	}
	if got := killsDue(h); !slices.Equal(got, ids[:1]) {
		t.Fatalf("kills due %v, want only the longest-idle engine %v", got, ids[:1])
	}
	if e := h.ec(ids[0]); e.Status != linkis.StatusShuttingDown || !e.Killing {
		t.Fatalf("victim %v: %+v", ids[0], e)
	}
	for _, id := range ids[1:] {
		if e := h.ec(id); e.Status != linkis.StatusUnlock {
			t.Fatalf("engine %v was not needed but is %v", id, e.Status)
		}
	}
	// A tick before the kill completes stops nothing more: the room is coming.
	h.advance(time.Second)
	h.apply(Tick{})
	if got := killsDue(h); !slices.Equal(got, ids[:1]) {
		t.Fatalf("after a tick, kills due %v, want still %v", got, ids[:1])
	}
	r := h.apply(EngineEnded{EC: ids[0], Reason: "killed"})
	if len(r.Notices) != 0 {
		t.Fatalf("the victim's end decided asks: %+v", r.Notices)
	}
	a := h.askState("bob-1")
	if a.EC == 0 || !a.Created {
		t.Fatalf("bob's ask after the room was freed: %+v", a)
	}
	r = h.start(a.EC)
	if n, ok := noticeFor(r, "bob-1"); !ok || n.Status != AskGranted {
		t.Fatalf("bob's ask was not granted when his engine started: %+v", r.Notices)
	}
}

// Locked and busy engines are never stopped, and an ask that finds no room
// and nothing idle to reclaim is refused as before.
func TestReclaimNeverTouchesLockedOrBusyEngines(t *testing.T) {
	h := newHarness(t)
	h.addECM("host", res(8, 2, 10))
	held := h.ask("held", "alice-IDE", "python-3")
	h.start(held.EC)
	busy := h.ask("busy", "alice-IDE", "shell-1")
	h.start(busy.EC)
	h.release("busy")
	h.apply(ECHeartbeat{EC: busy.EC, Status: linkis.StatusBusy})
	conc := h.ask("conc", "alice-IDE", "sql-1", linkis.LabelConcurrentEngineConn, "2")
	h.start(conc.EC) // held by one ask of two: Unlock, but not idle
	if e := h.ec(conc.EC); e.Status != linkis.StatusUnlock {
		t.Fatalf("concurrent engine with one holder is %v", e.Status)
	}
	h.advance(time.Hour / 2)
	h.refuse(h.askCmd("bob-1", "bob-IDE", "shell-1"), linkis.ErrInsufficientResource)
	if got := killsDue(h); len(got) != 0 {
		t.Fatalf("kills due %v: a locked or busy engine was reclaimed", got)
	}
}

// Reclaim happens only when the ask would otherwise fail or wait: not when
// some ECM has room, not for a quota, not for the asker's own key, and not
// when it is switched off.
func TestReclaimOnlyWhenNeeded(t *testing.T) {
	t.Run("another ECM has room", func(t *testing.T) {
		h, _ := idleEngines(t)
		h.addECM("host2", res(8, 2, 10))
		b := h.ask("bob-1", "bob-IDE", "shell-1")
		if !b.Created || len(killsDue(h)) != 0 || b.ECM != "host2" {
			t.Fatalf("bob's ask %+v, kills %v", b, killsDue(h))
		}
	})
	t.Run("quota", func(t *testing.T) {
		h, _ := idleEngines(t)
		h.apply(SetQuota{Key: "bob-IDE,shell-1", Max: linkis.Resource{Memory: linkis.GiB, MilliCores: 100, Instances: 1}})
		h.refuse(h.askCmd("bob-1", "bob-IDE", "shell-1"), linkis.ErrQuotaExceeded)
		if len(killsDue(h)) != 0 {
			t.Fatal("a quota refusal reclaimed engines")
		}
	})
	t.Run("own key", func(t *testing.T) {
		h, ids := idleEngines(t)
		a := h.ask("alice-again", "alice-IDE", "python-3")
		if a.Status != AskGranted || a.EC != ids[0] || len(killsDue(h)) != 0 {
			t.Fatalf("alice's own idle engine must serve her: %+v, kills %v", a, killsDue(h))
		}
	})
	t.Run("switched off", func(t *testing.T) {
		h, _ := idleEngines(t, func(c *Config) { c.ReclaimIdle = false })
		h.refuse(h.askCmd("bob-1", "bob-IDE", "shell-1"), linkis.ErrInsufficientResource)
		if len(killsDue(h)) != 0 {
			t.Fatal("reclaim is off but engines were stopped")
		}
	})
	t.Run("bigger than any ECM", func(t *testing.T) {
		h, _ := idleEngines(t)
		c := h.askCmd("bob-1", "bob-IDE", "shell-1")
		c.Params = map[string]string{ParamCores: "3"}
		h.refuse(c, linkis.ErrInsufficientResource)
		if len(killsDue(h)) != 0 {
			t.Fatal("engines were stopped for an ask no ECM can ever hold")
		}
	})
}

// A second ask that needs the same room waits for the stops already under
// way instead of stopping more; once the first is served it reclaims
// again, the next longest idle.
func TestReclaimOneAtATime(t *testing.T) {
	h, ids := idleEngines(t)
	h.ask("bob-1", "bob-IDE", "python-3") // 1 core: the python engine
	h.ask("carol-1", "carol-IDE", "python-3")
	if got := killsDue(h); !slices.Equal(got, ids[:1]) {
		t.Fatalf("kills %v, want %v", got, ids[:1])
	}
	h.apply(EngineEnded{EC: ids[0]})
	if a := h.askState("bob-1"); !a.Created || a.EC == 0 {
		t.Fatalf("bob: %+v", a)
	}
	// carol is retried at once (a starved key) and needs the other core:
	// shell and sql, idle next longest.
	if got := killsDue(h); !slices.Equal(got, ids[1:]) {
		t.Fatalf("kills %v, want %v", got, ids[1:])
	}
	if a := h.askState("carol-1"); a.Status != AskPending {
		t.Fatalf("carol: %+v", a)
	}
	h.apply(EngineEnded{EC: ids[1]})
	h.apply(EngineEnded{EC: ids[2]})
	if a := h.askState("carol-1"); !a.Created || a.EC == 0 {
		t.Fatalf("carol after the room was freed: %+v", a)
	}
}

// The ECM chosen is the one whose victims have been idle the longest, and
// only as many are stopped as the ask needs.
func TestReclaimChoosesTheOldestRoom(t *testing.T) {
	h := newHarness(t)
	h.addECM("a", res(8, 1, 10))
	h.addECM("b", res(8, 1, 10))
	// On a: one python (1 core), idle since t+2m. On b: two shells, idle
	// since t+0 and t+1m.
	s1 := h.ask("s1", "alice-IDE", "shell-1", linkis.LabelEMInstance, "b")
	s2 := h.ask("s2", "alice-IDE", "shell-1", linkis.LabelEMInstance, "b")
	p := h.ask("p", "alice-IDE", "python-3", linkis.LabelEMInstance, "a")
	for _, id := range []ECID{s1.EC, s2.EC, p.EC} {
		h.start(id)
	}
	h.release("s1")
	h.advance(time.Minute)
	h.release("s2")
	h.advance(time.Minute)
	h.release("p")
	h.advance(time.Minute)
	b := h.ask("bob", "bob-IDE", "python-3")
	if b.Status != AskPending {
		t.Fatalf("bob: %+v", b)
	}
	if got := killsDue(h); !slices.Equal(got, []ECID{s1.EC, s2.EC}) {
		t.Fatalf("kills %v, want both shells on b (idle longest) %v", got, []ECID{s1.EC, s2.EC})
	}
}

// A warm pool's idle engines are reclaimable; the pool does not take the
// room back, and refills on a later tick only where room is left.
func TestReclaimTakesFromAWarmPool(t *testing.T) {
	h := newHarness(t)
	h.addECM("host", res(8, 2, 10))
	h.apply(SetWarmPool{Key: "alice-IDE,python-3", MinIdle: 2})
	var pool []ECID
	for _, e := range h.s.EffectsDue(h.now) {
		if e.Kind == EffectLaunch {
			pool = append(pool, e.EC)
			h.start(e.EC)
		}
	}
	if len(pool) != 2 {
		t.Fatalf("pool launched %v", pool)
	}
	h.advance(time.Minute)
	b := h.ask("bob", "bob-IDE", "shell-1")
	if b.Status != AskPending || !slices.Equal(killsDue(h), pool[:1]) {
		t.Fatalf("bob %+v, kills %v", b, killsDue(h))
	}
	h.apply(EngineEnded{EC: pool[0]})
	bob := h.askState("bob")
	h.start(bob.EC)
	h.advance(time.Second)
	h.apply(Tick{})
	// 0.5 core is left: the pool's python (1 core) does not fit, and
	// nothing of bob's is stopped for it.
	if got := killsDue(h); len(got) != 0 {
		t.Fatalf("the pool reclaimed %v", got)
	}
	if ps := h.s.WarmPools(); len(ps) != 1 || ps[0].Idle != 1 || ps[0].Starting != 0 {
		t.Fatalf("pool after the reclaim: %+v", ps)
	}
}
