package manager

import (
	"github.com/golinkis/golinkis/linkis"
)

// Ledger is one ledger row as a reader sees it.
type Ledger struct {
	Max, Used, Locked linkis.Resource
}

// Left returns max − used − locked, floored at zero.
func (l Ledger) Left() linkis.Resource {
	r := row{max: l.Max, used: l.Used, locked: l.Locked}
	return r.left()
}

// ECMInfo is a read-only view of an ECM.
type ECMInfo struct {
	ID           string
	Addr         string
	Labels       linkis.Labels
	Status       linkis.NodeStatus
	Health       linkis.NodeHealth
	Load         linkis.NodeLoad
	RegisteredAt int64
	LastSeen     int64
	Ledger       Ledger
	Engines      int
	Holders      int64 // asks holding engines on this ECM (Load.RunningTasks is what it reports)
}

// ECInfo is a read-only view of an engine.
type ECInfo struct {
	ID         ECID
	ECM        string
	Key        string // combined label
	EngineType linkis.EngineType
	User       string
	Labels     linkis.Labels
	Addr       string
	Status     linkis.NodeStatus
	Health     linkis.NodeHealth
	Mode       linkis.EngineConnMode
	Capacity   int
	Holders    []string // ids of the asks holding it, sorted
	Resource   linkis.Resource
	Used       bool // resources are in use (false: locked while starting)
	Killing    bool // the manager asked for it to be killed
	Tasks      int  // asks it served
	CreatedAt  int64
	LastSeen   int64
	IdleSince  int64
}

// KeyInfo is a read-only view of a combined label.
type KeyInfo struct {
	Key     string
	Ledger  Ledger
	Engines int
	Free    int // engines ready to be reused
	Waiting int // asks waiting for an engine
}

// Stats counts what the manager holds.
type Stats struct {
	ECMs, Engines, Keys, Asks, Waiting, Starting, Killing int
	EnginesByStatus                                       map[linkis.NodeStatus]int
}

func (m *ecm) info() ECMInfo {
	return ECMInfo{
		ID: m.id, Addr: m.addr, Labels: m.labels, Status: m.status, Health: m.health, Load: m.load,
		RegisteredAt: m.registeredAt, LastSeen: m.lastSeen,
		Ledger:  Ledger{Max: m.row.max, Used: m.row.used, Locked: m.row.locked},
		Engines: len(m.ecs), Holders: m.bound,
	}
}

func (e *ec) info() ECInfo {
	holders := make([]string, len(e.grants))
	for i, a := range sortedAsks(append([]*ask(nil), e.grants...)) {
		holders[i] = a.id
	}
	return ECInfo{
		ID: e.id, ECM: e.ecm.id, Key: e.key.key, EngineType: e.et, User: e.user, Labels: e.labels,
		Addr: e.addr, Status: e.status, Health: e.health, Mode: e.mode, Capacity: int(e.capacity),
		Holders: holders, Resource: e.res, Used: e.used, Killing: e.killReq, Tasks: int(e.tasks),
		CreatedAt: e.createdAt, LastSeen: e.lastSeen, IdleSince: e.idleSince,
	}
}

// ECM returns a view of one ECM.
func (s *State) ECM(id string) (ECMInfo, bool) {
	m := s.ecms[id]
	if m == nil {
		return ECMInfo{}, false
	}
	return m.info(), true
}

// ECMs returns every ECM, ordered by id.
func (s *State) ECMs() []ECMInfo {
	ms := sortedECMs(s.ecms)
	out := make([]ECMInfo, len(ms))
	for i, m := range ms {
		out[i] = m.info()
	}
	return out
}

// EC returns a view of one engine.
func (s *State) EC(id ECID) (ECInfo, bool) {
	e := s.ecs[id]
	if e == nil {
		return ECInfo{}, false
	}
	return e.info(), true
}

// ECs returns every engine, ordered by id.
func (s *State) ECs() []ECInfo {
	es := sortedECs(s.ecs)
	out := make([]ECInfo, len(es))
	for i, e := range es {
		out[i] = e.info()
	}
	return out
}

// Key returns a view of one combined label ("user-creator,type-version[,tenant]").
// A key that holds nothing reports its max and zeros.
func (s *State) Key(key string) KeyInfo {
	ki := KeyInfo{Key: key, Ledger: Ledger{Max: s.keyMax(key)}}
	if k := s.keys[key]; k != nil {
		ki.Ledger.Used, ki.Ledger.Locked = k.row.used, k.row.locked
		ki.Engines, ki.Free, ki.Waiting = len(k.ecs), k.free.n, k.waiters.n
	}
	return ki
}

// Keys returns every combined label that holds something or has asks
// waiting, ordered by key.
func (s *State) Keys() []KeyInfo {
	ks := sortedKeys(s.keys)
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = s.Key(k.key)
	}
	return out
}

// Ask returns where an ask stands; false when the manager no longer knows
// it (released, failed, or never made).
func (s *State) Ask(id string) (AskResult, bool) {
	a := s.asks[id]
	if a == nil {
		return AskResult{}, false
	}
	return a.result(), true
}

// Stats counts what the manager holds.
func (s *State) Stats() Stats {
	st := Stats{
		ECMs: len(s.ecms), Engines: len(s.ecs), Keys: len(s.keys), Asks: len(s.asks),
		Starting: len(s.starting), Killing: len(s.killing), EnginesByStatus: map[linkis.NodeStatus]int{},
	}
	for _, k := range s.keys {
		st.Waiting += k.waiters.n
	}
	for _, e := range s.ecs {
		st.EnginesByStatus[e.status]++
	}
	return st
}
