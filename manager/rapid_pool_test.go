package manager

import (
	"cmp"
	"slices"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// The state-machine property's part about warm pools (pool.go) and idle
// reclaim (reclaim.go):
//
//   - a pool is refused above its key's instance cap; a tick or the
//     SetWarmPool starts engines for a pool only up to its minimum (never
//     above the cap: checkState checks every key's cap after every step);
//   - idle reclamation spares a pool's minimum;
//   - an engine that a command stops (asks it to be killed) was idle - Unlock,
//     held by no ask, of a key with no waiting ask - unless the command
//     names it (KillEngine, DeregisterECM), releases its last holder (a
//     once engine or one that served its maximum) or is a tick whose
//     expired locks released it: a locked or busy engine is never
//     reclaimed;
//   - an ask reclaims only when no ECM of its tenant has room, or room
//     coming, for it; only on one ECM, the longest-idle engines there, and
//     no more than it needs.

func (p *propTest) actWarmPool(t *rapid.T) {
	key := rapid.SampledFrom(append(propKeys(), "alice-IDE", "alice-IDE,spark-2")).Draw(t, "key")
	min := rapid.IntRange(-1, 4).Draw(t, "minIdle")
	_, err := p.apply(t, SetWarmPool{Time: p.now, Key: key, MinIdle: min}, nil)
	cap := p.defInst
	if q, ok := p.quotas[key]; ok {
		cap = q
	}
	switch {
	case key == "alice-IDE":
		propExpectErr(t, err, linkis.ErrInvalidLabel)
	case key == "alice-IDE,spark-2":
		propExpectErr(t, err, linkis.ErrUnknownEngineType)
	case min < 0 || int64(min) > cap:
		propExpectErr(t, err, linkis.ErrInvalidArgument)
	default:
		propExpectOK(t, err)
		if min == 0 {
			delete(p.pools, key)
		} else {
			p.pools[key] = min
		}
	}
}

// poolMayFill reports whether c may start engines for key's warm pool.
func (p *propTest) poolMayFill(c Command, key string) bool {
	switch c := c.(type) {
	case Tick:
		return p.pools[key] > 0
	case SetWarmPool:
		return c.Key == key && c.MinIdle > 0
	}
	return false
}

// keptByPool reports whether an idle engine of key may outlive its idle
// timeout: its pool has no more than its minimum.
func (p *propTest) keptByPool(key string) bool {
	for _, pi := range p.s.WarmPools() {
		if pi.Key == key {
			return pi.Idle <= pi.MinIdle
		}
	}
	return false
}

// checkPoolFill requires a command that started engines for a pool (shared
// engines starting for no ask, of a key no ask waited for) to have
// stopped at the pool's minimum.
func (p *propTest) checkPoolFill(t *rapid.T, c Command, created []ECID, ecsAfter map[ECID]ECInfo, keysBefore map[string]KeyInfo) {
	t.Helper()
	filled := map[string]bool{}
	for _, id := range created {
		e := p.s.ecs[id]
		// A key without waiting asks gets shared engines only from its pool
		// (with waiters, an engine started for an ask that then gave up in
		// the same tick is unlinked too).
		if e.shared && e.creator == nil && e.owner == nil && e.status == linkis.StatusStarting && keysBefore[e.key.key].Waiting == 0 {
			if !p.poolMayFill(c, e.key.key) {
				t.Fatalf("%v started engine %v for key %s with no ask and no pool", c.Type(), id, e.key.key)
			}
			filled[e.key.key] = true
		}
	}
	for _, pi := range p.s.WarmPools() {
		if filled[pi.Key] && pi.Idle+pi.Starting > pi.MinIdle {
			t.Fatalf("%v filled pool %s beyond its minimum: %+v", c.Type(), pi.Key, pi)
		}
	}
}

// checkStops checks every engine a command newly asked to be killed.
func (p *propTest) checkStops(t *rapid.T, c Command, before, after map[ECID]ECInfo, keysBefore map[string]KeyInfo) {
	t.Helper()
	for id, b := range before {
		a, ok := after[id]
		if !ok || b.Killing || !a.Killing {
			continue
		}
		switch c := c.(type) {
		case KillEngine:
			if c.EC == id {
				continue
			}
		case DeregisterECM:
			if c.ID == b.ECM {
				continue
			}
		case ReleaseEngine:
			if ma := p.asks[c.AskID]; slices.Contains(b.Holders, c.AskID) || ma != nil && ma.own == id {
				continue // its last holder let go (a once engine, or its maximum of tasks), or its own ask withdrew
			}
		case UnlockEngine:
			if c.EC == id {
				continue
			}
		case Tick:
			expired := len(b.Holders) > 0
			for _, h := range b.Holders {
				if ma := p.asks[h]; ma == nil || ma.status != AskGranted || ma.expires > c.Time {
					expired = false
				}
			}
			if expired {
				continue // its holders' locks expired, and then it retired
			}
			if p.ownerTimedOut(id, c.Time) {
				continue // the dedicated ask it was starting for gave up
			}
		}
		waiting := keysBefore[b.Key].Waiting
		if _, ok := c.(Tick); ok {
			// An ask still waiting on the key when its engine has been idle
			// long enough to stop is one this engine cannot serve (labels,
			// tenant): one that could was granted it as it went idle. And
			// a tick first fails the asks whose wait is over.
			waiting = 0
		}
		if !b.Used || b.Status != linkis.StatusUnlock || len(b.Holders) > 0 || waiting > 0 {
			t.Fatalf("%v stopped engine %v, which was not idle: %+v (its key had %d waiting)", c.Type(), id, b, waiting)
		}
		if _, isTick := c.(Tick); !isTick && !p.cfg.ReclaimIdle {
			t.Fatalf("%v reclaimed idle engine %v with ReclaimIdle off", c.Type(), id)
		}
	}
}

// roomBefore is what an ask's reclaim check needs from before the ask.
type roomBefore struct {
	res   linkis.Resource
	ecms  []ECMInfo
	ecs   map[ECID]ECInfo
	keys  map[string]KeyInfo
	valid bool
}

func (p *propTest) roomBefore(c AskEngine) roomBefore {
	a, err := p.s.newAsk(c.Time, c)
	if err != nil {
		return roomBefore{}
	}
	return roomBefore{res: a.res, ecms: p.s.ECMs(), ecs: propECMap(p.s.ECs()), keys: propKeyMap(p.s.Keys()), valid: true}
}

// checkAskReclaim checks the engines an ask stopped to make room for
// itself.
func (p *propTest) checkAskReclaim(t *rapid.T, c AskEngine, meta *propAskMeta, r Result, err error, rb roomBefore) {
	t.Helper()
	var victims []ECInfo
	for id, b := range rb.ecs {
		if a, ok := p.s.EC(id); ok && !b.Killing && a.Killing {
			victims = append(victims, b)
		}
	}
	if len(victims) == 0 {
		return
	}
	switch {
	case err != nil || r.Ask.Status != AskPending || r.Ask.Created:
		t.Fatalf("ask %s reclaimed %d engines but is %+v, %v", c.ID, len(victims), r.Ask, err)
	case !p.cfg.ReclaimIdle:
		t.Fatalf("ask %s reclaimed with ReclaimIdle off", c.ID)
	case meta.ownsEngine():
		t.Fatalf("dedicated ask %s (%s) reclaimed", c.ID, meta.variant)
	case !rb.valid:
		t.Fatalf("ask %s was refused by newAsk before, yet reclaimed", c.ID)
	}
	tenant := propKeyTenant(meta.key)
	incoming := func(ecm string) linkis.Resource {
		var in linkis.Resource
		for _, e := range rb.ecs {
			if e.ECM == ecm && e.Status == linkis.StatusShuttingDown {
				in = addSat(in, e.Resource)
			}
		}
		return in
	}
	// Needed: no ECM of the tenant had room, or room coming.
	for _, m := range rb.ecms {
		mm := p.ecms[m.ID]
		if mm == nil || mm.tenant != tenant || m.Status != linkis.StatusRunning || !m.Health.Usable() {
			continue
		}
		if rb.res.FitsIn(addSat(m.Ledger.Left(), incoming(m.ID))) {
			t.Fatalf("ask %s reclaimed %d engines although ECM %s had room for %v", c.ID, len(victims), m.ID, rb.res)
		}
	}
	// One ECM, the longest-idle reclaimable engines there, no more than needed.
	byIdle := func(x, y ECInfo) int {
		if d := cmp.Compare(x.IdleSince, y.IdleSince); d != 0 {
			return d
		}
		return cmp.Compare(x.ID, y.ID)
	}
	slices.SortFunc(victims, byIdle)
	ecm := victims[0].ECM
	var left linkis.Resource
	for _, m := range rb.ecms {
		if m.ID == ecm {
			left = addSat(m.Ledger.Left(), incoming(ecm))
		}
	}
	last := victims[len(victims)-1]
	for i, v := range victims {
		if v.ECM != ecm {
			t.Fatalf("ask %s reclaimed on two ECMs: %v", c.ID, victims)
		}
		if v.Key == meta.key {
			t.Fatalf("ask %s reclaimed an engine of its own key: %+v", c.ID, v)
		}
		if i < len(victims)-1 {
			left = addSat(left, v.Resource)
		}
	}
	if rb.res.FitsIn(left) {
		t.Fatalf("ask %s reclaimed %d engines; %d were enough", c.ID, len(victims), len(victims)-1)
	}
	if !rb.res.FitsIn(addSat(left, last.Resource)) {
		t.Fatalf("ask %s reclaimed %d engines, which do not make room", c.ID, len(victims))
	}
	for _, e := range rb.ecs {
		chosen := slices.ContainsFunc(victims, func(v ECInfo) bool { return v.ID == e.ID })
		if e.ECM == ecm && !chosen && e.Key != meta.key && e.Used && e.Status == linkis.StatusUnlock &&
			!e.Killing && len(e.Holders) == 0 && rb.keys[e.Key].Waiting == 0 && byIdle(e, last) < 0 {
			t.Fatalf("ask %s reclaimed %v but spared %v, idle longer", c.ID, last.ID, e.ID)
		}
	}
}

// checkPools requires the state's pools to be the model's.
func (p *propTest) checkPools(t *rapid.T) {
	t.Helper()
	got := p.s.WarmPools()
	if len(got) != len(p.pools) {
		t.Fatalf("state has pools %+v, model %v", got, p.pools)
	}
	for _, pi := range got {
		if p.pools[pi.Key] != pi.MinIdle {
			t.Fatalf("pool %+v, model %v", pi, p.pools)
		}
	}
}

// ownerTimedOut reports whether the dedicated ask an engine is starting for
// has waited past its deadline by now.
func (p *propTest) ownerTimedOut(id ECID, now int64) bool {
	for _, a := range p.asks {
		if a.status == AskPending && a.own == id && a.deadline <= now {
			return true
		}
	}
	return false
}
