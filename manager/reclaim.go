package manager

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Idle reclaim: a shared ask whose engine fits on no ECM, while idle
// engines of other combined labels hold the room, stops the longest-idle
// of them instead of waiting for their IdleTimeout (Linkis makes the user
// wait; one user's idle engines can hold a small host for an hour). The
// decision is made inside Apply, from the state alone:
//
//  1. It applies only when placing the ask's engine failed for lack of
//     room (ErrInsufficientResource) - not for a quota, a cap, or no ECM
//     at all - and only to shared asks, which can wait in their key's
//     queue while the room is freed (a dedicated ask has no queue).
//  2. If engines already stopping on an available ECM will leave room
//     enough, nothing more is stopped: the ask waits for them.
//  3. Otherwise, with Config.ReclaimIdle, the candidates are the idle
//     engines (Unlock, held by no ask, not being killed, started) of other
//     keys that have no waiting asks. On each available ECM that could
//     ever hold the engine, its candidates are taken longest idle first
//     until the ask fits; the ECM chosen is the one whose last victim has
//     been idle the longest (then the fewest victims, then the ECM id) -
//     which is what stopping idle engines in order of idleness, across the
//     cluster, until one ECM fits, would stop. Locked or busy engines are
//     never candidates.
//  4. The victims are stopped through the usual kill (EffectKill); the
//     ask waits in its key's queue and is served when they are reported
//     ended (a starved key is retried whenever room may appear).
//
// A warm pool's idle engines are candidates like any other; a pool never
// reclaims (pool.go).

// makeRoom is called when a shared ask's engine found no ECM with room.
// It reports whether room is coming for it: engines already stopping
// leave enough, or it stopped idle engines of other keys so that they will.
func (s *State) makeRoom(t int64, a *ask, notes *[]AskResult) bool {
	g := s.groups[a.req.Tenant]
	if g == nil || a.req.EMInstance != "" {
		return false
	}
	var best roomPlan
	var cands []*ec
	for _, m := range g.byID {
		if !ecmEligible(m) || !a.res.FitsIn(m.row.max) {
			continue
		}
		avail := m.row.left()
		cands = cands[:0]
		for _, e := range m.ecs {
			switch {
			case e.status == linkis.StatusShuttingDown:
				avail = addSat(avail, e.res)
			case s.cfg.ReclaimIdle && reclaimable(e, a.key):
				cands = append(cands, e)
			}
		}
		if a.res.FitsIn(avail) {
			return true // engines already stopping will make room
		}
		if len(cands) == 0 {
			continue
		}
		slices.SortFunc(cands, func(x, y *ec) int {
			if c := cmp.Compare(x.idleSince, y.idleSince); c != 0 {
				return c
			}
			return cmp.Compare(x.id, y.id)
		})
		for i, e := range cands {
			avail = addSat(avail, e.res)
			if a.res.FitsIn(avail) {
				p := roomPlan{m: m, victims: cands[:i+1], newest: e.idleSince}
				if best.m == nil || p.better(&best) {
					best = roomPlan{m: m, victims: slices.Clone(p.victims), newest: p.newest}
				}
				break
			}
		}
	}
	if best.m == nil {
		return false
	}
	for _, e := range best.victims {
		idle := time.Duration(t - e.idleSince)
		s.stopEC(t, e, "idle for "+idle.String()+"; reclaimed for "+a.req.Key()+", which found no room", true, notes)
	}
	return true
}

// roomPlan is the engines to stop on one ECM to make room.
type roomPlan struct {
	m       *ecm
	victims []*ec
	newest  int64 // the idleSince of the most recently idle victim
}

func (p *roomPlan) better(q *roomPlan) bool {
	if p.newest != q.newest {
		return p.newest < q.newest
	}
	if len(p.victims) != len(q.victims) {
		return len(p.victims) < len(q.victims)
	}
	return p.m.id < q.m.id
}

// reclaimable reports whether an engine may be stopped to make room for an
// ask of another key: it is started, idle (Unlock, no holder, not being
// killed), of another key, and its key has no ask waiting (which it could
// serve, or whose queue a stop would disturb).
func reclaimable(e *ec, k *keyState) bool {
	return e.key != k && e.used && e.idle() && e.key.waiters.n == 0
}

// addSat adds two valid resources, saturating instead of failing: it only
// bounds what may become free.
func addSat(a, b linkis.Resource) linkis.Resource {
	c, err := a.Add(b)
	if err != nil {
		return a
	}
	return c
}

// noRoom reports whether an engine could not be created only because no
// ECM had room for it.
func noRoom(err error) bool { return errors.Is(err, linkis.ErrInsufficientResource) }
