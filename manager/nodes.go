package manager

import (
	"github.com/golinkis/golinkis/linkis"
)

// ecm is one EngineConnManager as the manager tracks it.
type ecm struct {
	id           string
	addr         string
	labels       linkis.Labels
	group        *ecmGroup
	status       linkis.NodeStatus
	health       linkis.NodeHealth
	load         linkis.NodeLoad
	registeredAt int64
	lastSeen     int64
	row          row
	ecs          map[ECID]*ec
	bound        int64 // asks holding engines on this ECM
	inTree       bool
	sk           sortKey // the key it is filed under in its group's tree
	slot         int32   // place in State.ecmDues
}

// ec is one EngineConn, from its creation (Starting) until it ends.
type ec struct {
	id        ECID
	ecm       *ecm
	key       *keyState
	et        linkis.EngineType
	user      string
	labels    linkis.Labels
	params    map[string]string // startup params, kept until it starts
	launch    *LaunchRequest    // kept until it starts
	addr      string
	status    linkis.NodeStatus
	health    linkis.NodeHealth
	mode      linkis.EngineConnMode
	capacity  int32 // tasks at once: 1 = serial
	bound     int32 // asks holding it
	busy      bool  // it reports it is at its limit (or running, if serial)
	used      bool  // its resources moved from locked to used
	killReq   bool  // the manager asked its ECM to kill it
	shared    bool  // created for a key's waiters rather than one ask
	res       linkis.Resource
	createdAt int64
	lastSeen  int64
	idleSince int64
	tasks     int32 // asks it served
	running   int64 // running tasks it reports
	grants    []*ask
	owner     *ask // the dedicated ask waiting for it to start
	creator   *ask // the waiting ask a shared engine was started for, until it starts

	slot               int32  // place in State.ecDues
	freeSeq            uint64 // order on its key's free list (higher = newer)
	freePrev, freeNext *ec
	inFree             bool
}

func (e *ec) name() string { return e.id.String() }

// started reports whether it reported it is up and has not stopped.
func (e *ec) started() bool { return e.used && e.status != linkis.StatusShuttingDown }

// liveStatus is the status a started engine has from what the manager and
// the engine know: its mode, the asks holding it, and whether it is busy.
func (e *ec) liveStatus() linkis.NodeStatus {
	switch {
	case e.mode != linkis.ModeComputation:
		if e.busy {
			return linkis.StatusBusy
		}
		return linkis.StatusRunning
	case e.busy || e.capacity > 1 && e.bound >= e.capacity:
		return linkis.StatusBusy
	case e.capacity == 1 && e.bound > 0:
		return linkis.StatusIdle
	}
	return linkis.StatusUnlock
}

// keyState is one combined label: userCreator+engineType[+tenant], its
// ledger row, its engines, the free ones among them, and its waiting asks.
type keyState struct {
	key            string
	plugin         Plugin // of its engine type and version
	row            row    // max is not stored: see State.keyMax
	ecs            map[ECID]*ec
	free           ecList
	waiters        askList
	sharedStarting int // task slots of shared engines still starting
}

// ask is an engine ask from AskEngine until it is released or fails.
type ask struct {
	id          string
	nonce       uint64
	req         linkis.EngineRequest
	key         *keyState
	params      map[string]string
	res         linkis.Resource
	capacity    int32
	status      AskStatus
	createdAt   int64
	deadline    int64 // when a pending ask fails
	lockTimeout int64
	ec          *ec // granted engine, or the dedicated engine it waits for
	token       LockToken
	expires     int64
	created     bool   // it caused an engine to be started
	starting    *ec    // the shared engine starting for it, while it waits (see ec.creator)
	reused      bool   // it was granted an engine that had served before
	seq         uint64 // order in its key's waiting queue
	slot        int32  // place in State.askDues
	prev, next  *ask
	inQueue     bool
}

func (a *ask) result() AskResult {
	r := AskResult{AskID: a.id, Status: a.status, Created: a.created, Reused: a.reused}
	if a.ec != nil {
		r.EC, r.ECM, r.Addr = a.ec.id, a.ec.ecm.id, a.ec.addr
	} else if a.starting != nil {
		r.EC, r.ECM = a.starting.id, a.starting.ecm.id
	}
	if a.status == AskGranted {
		r.Token, r.Expires = a.token, a.expires
	}
	return r
}

// ecList is an intrusive doubly linked list of engines: a key's free list,
// newest first.
type ecList struct {
	head, tail *ec
	n          int
}

func (l *ecList) pushFront(e *ec) {
	e.freePrev, e.freeNext = nil, l.head
	if l.head != nil {
		l.head.freePrev = e
	} else {
		l.tail = e
	}
	l.head = e
	e.inFree = true
	l.n++
}

func (l *ecList) remove(e *ec) {
	if !e.inFree {
		return
	}
	if e.freePrev != nil {
		e.freePrev.freeNext = e.freeNext
	} else {
		l.head = e.freeNext
	}
	if e.freeNext != nil {
		e.freeNext.freePrev = e.freePrev
	} else {
		l.tail = e.freePrev
	}
	e.freePrev, e.freeNext, e.inFree = nil, nil, false
	l.n--
}

// askList is an intrusive FIFO of asks: a key's waiting queue.
type askList struct {
	head, tail *ask
	n          int
}

func (l *askList) pushBack(a *ask) {
	a.next, a.prev = nil, l.tail
	if l.tail != nil {
		l.tail.next = a
	} else {
		l.head = a
	}
	l.tail = a
	a.inQueue = true
	l.n++
}

func (l *askList) remove(a *ask) {
	if !a.inQueue {
		return
	}
	if a.prev != nil {
		a.prev.next = a.next
	} else {
		l.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	} else {
		l.tail = a.prev
	}
	a.prev, a.next, a.inQueue = nil, nil, false
	l.n--
}

// row is one ledger row: what its owner may hold, holds in use, and holds
// locked for engines still starting.
type row struct {
	max, used, locked linkis.Resource
}

// held returns used+locked.
func (r *row) held() linkis.Resource { return mustAdd(r.used, r.locked) }

// left returns max − used − locked, floored at zero.
func (r *row) left() linkis.Resource { return r.max.SubFloor(r.held()) }

// mustAdd and mustSub are ledger arithmetic whose bounds were checked before
// the command started changing the state; failing here means the ledger is
// corrupt, and continuing would spread the corruption to every replica.
func mustAdd(a, b linkis.Resource) linkis.Resource {
	c, err := a.Add(b)
	if err != nil {
		panic("manager: ledger corrupt: " + err.Error())
	}
	return c
}

func mustSub(a, b linkis.Resource) linkis.Resource {
	c, err := a.Sub(b)
	if err != nil {
		panic("manager: ledger corrupt: " + err.Error())
	}
	return c
}

// reserve locks an engine's resources on its ECM and key rows.
func (s *State) reserve(e *ec) {
	e.ecm.row.locked = mustAdd(e.ecm.row.locked, e.res)
	e.key.row.locked = mustAdd(e.key.row.locked, e.res)
}

// commit moves an engine's resources from locked to used.
func (s *State) commit(e *ec) {
	for _, r := range [...]*row{&e.ecm.row, &e.key.row} {
		r.locked = mustSub(r.locked, e.res)
		r.used = mustAdd(r.used, e.res)
	}
	e.used = true
}

// unreserve returns everything an engine holds.
func (s *State) unreserve(e *ec) {
	for _, r := range [...]*row{&e.ecm.row, &e.key.row} {
		if e.used {
			r.used = mustSub(r.used, e.res)
		} else {
			r.locked = mustSub(r.locked, e.res)
		}
	}
}

// keyMax is the max of a key's ledger row: its own quota, else the
// configuration's (confstore.go), else the default.
func (s *State) keyMax(key string) linkis.Resource {
	if q, ok := s.quotas[key]; ok {
		return q
	}
	if q, ok := s.quotaOf(key, nil, nil); ok {
		return q
	}
	return s.cfg.DefaultQuota
}

// keyState returns the record of a request's key, creating it.
func (s *State) keyState(req *linkis.EngineRequest) (*keyState, error) {
	key := req.Key()
	if k := s.keys[key]; k != nil {
		return k, nil
	}
	pl, err := s.plugins.Lookup(req.EngineType)
	if err != nil {
		return nil, err
	}
	k := &keyState{key: key, plugin: pl, ecs: map[ECID]*ec{}}
	s.keys[key] = k
	return k, nil
}

// existingKey returns the record of a request's key if it exists, without
// building the key's string.
func (s *State) existingKey(req *linkis.EngineRequest) *keyState {
	s.scratch = req.AppendKey(s.scratch[:0])
	return s.keys[string(s.scratch)]
}

// dropKeyIfEmpty forgets a key that holds nothing and has no one waiting.
func (s *State) dropKeyIfEmpty(k *keyState) {
	if len(k.ecs) == 0 && k.waiters.n == 0 {
		delete(s.keys, k.key)
		delete(s.starved, k.key)
	}
}
