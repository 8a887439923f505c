package manager

import (
	"fmt"

	"github.com/golinkis/golinkis/linkis"
)

// What a driver that runs after every command (the simulator) needs cheaply:
// O(1) counts that tell it whether EffectsDue can hold anything new, and
// invariant checks local to one ECM or one combined label, so that it can
// check what a command touched after every command and leave the full,
// O(size) CheckInvariants for intervals.

// ECObserver is an Observer that is told engine transitions by ticket
// instead of by name: SetObserver detects it, and then calls ECTransition
// for engines (sparing a string per transition) and Transition for ECMs.
type ECObserver interface {
	Observer
	ECTransition(id ECID, from, to linkis.NodeStatus)
}

// EffectCounts returns how many engines await a launch and how many a kill:
// the launch and kill effects EffectsDue would return now.
func (s *State) EffectCounts() (launches, kills int) { return len(s.starting), len(s.killing) }

// Load sums memory, cores and instances over every ECM's ledger row (extra
// dimensions are left out) and counts the engines and the asks waiting for
// one. It costs O(ECMs + keys) and allocates nothing.
func (s *State) Load() (total Ledger, engines, waiting int) {
	var mx, used, locked linkis.Resource
	for _, m := range s.ecms {
		r := &m.row
		mx.Memory += r.max.Memory
		mx.MilliCores += r.max.MilliCores
		mx.Instances += r.max.Instances
		used.Memory += r.used.Memory
		used.MilliCores += r.used.MilliCores
		used.Instances += r.used.Instances
		locked.Memory += r.locked.Memory
		locked.MilliCores += r.locked.MilliCores
		locked.Instances += r.locked.Instances
	}
	for _, k := range s.keys {
		waiting += k.waiters.n
	}
	return Ledger{Max: mx, Used: used, Locked: locked}, len(s.ecs), waiting
}

// CheckECMLedger checks one ECM as CheckLedger and CheckLocks do: its used
// and locked equal the sums over its engines, it holds no more than its
// max, each of its engines is live and filed under it, and it counts its
// engines' holders. An ECM the state does not know passes. It costs
// O(engines on the ECM).
func CheckECMLedger(s *State, id string) error {
	m := s.ecms[id]
	if m == nil {
		return nil
	}
	var used, locked linkis.Resource
	var bound int64
	var err error
	for eid, e := range m.ecs {
		if e.ecm != m || s.ecs[eid] != e || e.status.IsFinal() {
			return fmt.Errorf("ECM %s lists engine %v that is ended or filed elsewhere", id, eid)
		}
		p := &locked
		if e.used {
			p = &used
		}
		if *p, err = p.Add(e.res); err != nil {
			return fmt.Errorf("ledger: ECM %s: %w", id, err)
		}
		bound += int64(e.bound)
	}
	if !used.Equal(m.row.used) || !locked.Equal(m.row.locked) {
		return fmt.Errorf("ledger: ECM %s records used %v locked %v, its engines hold used %v locked %v", id, m.row.used, m.row.locked, used, locked)
	}
	if held, err := used.Add(locked); err != nil || !held.FitsIn(m.row.max) {
		return fmt.Errorf("ledger: ECM %s holds %v, more than its max %v", id, held, m.row.max)
	}
	if bound != m.bound {
		return fmt.Errorf("ECM %s counts %d holders, its engines %d", id, m.bound, bound)
	}
	return nil
}

// CheckKeyLedger checks one combined label: its used and locked equal the
// sums over its engines and fit its max, and it has no free engine while
// asks wait. A key the state does not hold passes. It costs O(engines of
// the key).
func CheckKeyLedger(s *State, key string) error {
	k := s.keys[key]
	if k == nil {
		return nil
	}
	var used, locked linkis.Resource
	var err error
	for eid, e := range k.ecs {
		if e.key != k || s.ecs[eid] != e || e.status.IsFinal() {
			return fmt.Errorf("key %s lists engine %v that is ended or filed elsewhere", key, eid)
		}
		p := &locked
		if e.used {
			p = &used
		}
		if *p, err = p.Add(e.res); err != nil {
			return fmt.Errorf("ledger: key %s: %w", key, err)
		}
	}
	if !used.Equal(k.row.used) || !locked.Equal(k.row.locked) {
		return fmt.Errorf("ledger: key %s records used %v locked %v, its engines hold used %v locked %v", key, k.row.used, k.row.locked, used, locked)
	}
	max := s.keyMax(key)
	if held, err := used.Add(locked); err != nil || !held.FitsInQuota(max, max) {
		return fmt.Errorf("ledger: key %s holds %v, more than its max %v", key, held, max)
	}
	if k.free.n > 0 && k.waiters.n > 0 {
		return fmt.Errorf("key %s has free engines and waiting asks", key)
	}
	return nil
}

// TickDue returns when the next tick is due: EffectsDue(now) lists a tick
// once now reaches it.
func (s *State) TickDue() int64 { return s.lastTick + int64(s.cfg.TickInterval) }

// FreeEngines returns how many engines of a combined label are ready to be
// reused (KeyInfo.Free, without building the rest of KeyInfo).
func (s *State) FreeEngines(key string) int {
	if k := s.keys[key]; k != nil {
		return k.free.n
	}
	return 0
}
