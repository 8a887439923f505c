package manager

import (
	"github.com/golinkis/golinkis/linkis"
)

// MaxReasonLen bounds the free text a failure report may carry.
const MaxReasonLen = 4096

func (s *State) engine(id ECID) (*ec, error) {
	if e := s.ecs[id]; e != nil {
		return e, nil
	}
	return nil, linkis.ValueError(linkis.ErrUnknownNode, "ec", id.String(), "no such engine (never created, or already ended)")
}

// engineStarted moves an engine from Starting to serving: its locked
// resources become used, and it goes to the ask that owns it or to its
// key's waiting queue. Reporting the same start twice is a no-op.
func (s *State) engineStarted(t int64, c EngineStarted) (Result, error) {
	e, err := s.engine(c.EC)
	if err != nil {
		return Result{}, err
	}
	if err := linkis.ValidateAddress("addr", c.Addr); err != nil {
		return Result{}, err
	}
	if e.status != linkis.StatusStarting {
		if e.addr == c.Addr {
			return Result{EC: e.id}, nil
		}
		if !e.used {
			return Result{}, linkis.Errorf(linkis.ErrIllegalTransition, e.name(), "it was stopped while starting; it must not serve")
		}
		return Result{}, linkis.Errorf(linkis.ErrIllegalTransition, e.name(), "it is %v at %q; it cannot start again at %q", e.status, e.addr, c.Addr)
	}
	if other := s.addrs[c.Addr]; other != nil {
		return Result{}, linkis.ValueError(linkis.ErrDuplicate, "addr", c.Addr, other.name()+" already serves at this address")
	}
	r := Result{EC: e.id}
	s.commit(e)
	e.addr = c.Addr
	e.lastSeen, e.idleSince = t, t
	s.ecDues.lower(e, s.ecDue(e)) // started: lost after ECLostAfter, which may come sooner
	e.params, e.launch = nil, nil
	s.addrs[c.Addr] = e
	delete(s.starting, e.id)
	if e.shared {
		e.key.sharedStarting -= int(e.capacity)
		unlink(e.creator, e) // it is no longer starting for anyone
	}
	s.setECStatus(e, e.liveStatus())
	switch a := e.owner; {
	case a != nil && a.namesExcluded(e):
		// Its own reuse exclusion names the engine started for it (an
		// address came back, or it named the ticket it would get).
		e.owner = nil
		s.failAsk(a, linkis.ValueError(linkis.ErrEngineBusy, linkis.LabelReuseExclusion, e.addr, "the engine started for this ask is one it excludes; ask again"), &r.Notices)
		if e.mode != linkis.ModeComputation {
			s.stopEC(t, e, "its ask excludes it", true, &r.Notices)
			return r, nil
		}
		s.refreshEC(e)
	case a != nil:
		e.owner = nil
		s.grant(t, a, e)
		r.Notices = append(r.Notices, a.result())
	default:
		s.refreshEC(e)
	}
	s.serveKey(t, e.key, &r.Notices)
	return r, nil
}

// engineEnded releases everything an engine held and forgets it.
func (s *State) engineEnded(t int64, c EngineEnded) (Result, error) {
	e, err := s.engine(c.EC)
	if err != nil {
		return Result{}, err
	}
	if len(c.Reason) > MaxReasonLen {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "reason", "longer than %d bytes", MaxReasonLen)
	}
	r := Result{EC: e.id}
	s.endEC(t, e, c.Failed, c.Reason, c.Retryable, &r.Notices)
	return r, nil
}

// engineError is what asks that depended on an engine are told when it
// goes away.
func engineError(e *ec, reason string, retryable bool) error {
	if reason == "" {
		reason = "ended"
	}
	err := linkis.Errorf(linkis.ErrEngineFailed, e.name(), "%s", reason)
	err.Retry = &retryable
	return err
}

// stopEC takes an engine out of service: its holders and its owner are
// told it failed, it leaves the free list and the starting set, and - when
// the manager asks for it (kill) - a kill effect becomes due. It keeps its
// resources until it is reported ended.
func (s *State) stopEC(t int64, e *ec, reason string, kill bool, notes *[]AskResult) {
	if e.status == linkis.StatusShuttingDown {
		if kill && !e.killReq {
			e.killReq = true
			s.killing[e.id] = e
		}
		return
	}
	if e.status == linkis.StatusStarting && e.shared {
		e.key.sharedStarting -= int(e.capacity)
		unlink(e.creator, e)
	}
	e.key.free.remove(e)
	delete(s.starting, e.id)
	e.launch = nil
	if kill {
		e.killReq = true
		s.killing[e.id] = e
	}
	s.setECStatus(e, linkis.StatusShuttingDown)
	if len(e.grants) > 0 || e.owner != nil { // the error only for someone to tell
		s.dropHolders(e, engineError(e, "stopped: "+reason, true), notes)
	}
	s.reindexECM(e.ecm)
	s.serveKey(t, e.key, notes)
}

// finishHolders ends the asks holding a once engine that succeeded: their
// job is done, not failed. (An ask still waiting for it to start is not
// held and is failed by dropHolders.)
func (s *State) finishHolders(e *ec, notes *[]AskResult) {
	for _, a := range sortedAsks(e.grants) {
		e.ecm.bound--
		s.forgetAsk(a)
		a.status = AskDone
		*notes = append(*notes, a.result())
	}
	e.grants, e.bound = nil, 0
}

// dropHolders fails the asks that hold or await an engine.
func (s *State) dropHolders(e *ec, err error, notes *[]AskResult) {
	if len(e.grants) > 0 {
		for _, a := range sortedAsks(e.grants) {
			e.ecm.bound--
			s.failAsk(a, err, notes)
		}
		e.grants, e.bound = nil, 0
	}
	if a := e.owner; a != nil {
		e.owner = nil
		s.failAsk(a, err, notes)
	}
}

// endEC forgets an engine and returns everything it held. When an engine
// that was starting for its key's waiters fails, the ask it was started
// for fails with it (the first waiting ask, if that one no longer waits),
// so that a broken engine type cannot loop forever; the others are served
// by the engines left or by new ones.
func (s *State) endEC(t int64, e *ec, failed bool, reason string, retryable bool, notes *[]AskResult) {
	k, m := e.key, e.ecm
	wasStartingShared := e.status == linkis.StatusStarting && e.shared
	err := engineError(e, reason, retryable)
	victim := e.creator
	if wasStartingShared {
		k.sharedStarting -= int(e.capacity)
		unlink(e.creator, e)
	}
	if !failed && e.mode != linkis.ModeComputation {
		s.finishHolders(e, notes) // a once job that ran to its end
	}
	s.dropHolders(e, err, notes)
	s.recordEnded(t, e, failed, reason) // the history of ended engines (enginehistory.go)
	k.free.remove(e)
	s.unreserve(e)
	delete(s.ecs, e.id)
	s.ecDues.remove(e)
	delete(m.ecs, e.id)
	delete(k.ecs, e.id)
	delete(s.starting, e.id)
	delete(s.killing, e.id)
	if e.addr != "" && s.addrs[e.addr] == e {
		delete(s.addrs, e.addr)
	}
	end := linkis.StatusSuccess
	if failed {
		end = linkis.StatusFailed
	}
	s.setECStatus(e, end)
	if wasStartingShared && failed {
		if victim == nil || !victim.inQueue {
			// Its ask was served otherwise: someone fails only if the
			// engines still starting no longer cover the queue.
			victim = nil
			if k.sharedStarting < k.waiters.n {
				victim = k.waiters.head
				for victim != nil && victim.starting != nil {
					victim = victim.next
				}
			}
		}
		if victim != nil {
			dequeue(victim)
			s.failAsk(victim, err, notes)
			n := &(*notes)[len(*notes)-1]
			n.EC, n.ECM = e.id, m.id // the engine that failed it
		}
	}
	s.reindexECM(m)
	if m.status == linkis.StatusShuttingDown && len(m.ecs) == 0 {
		s.setECMStatus(m, linkis.StatusSuccess)
		s.removeECM(m)
	}
	s.serveKey(t, k, notes)
	// Its resources are back on the ECM and the key's ledger: keys that
	// wait for room may now fit.
	s.retryStarved(t, notes)
}

// killEngine asks for an engine to be stopped.
func (s *State) killEngine(t int64, c KillEngine) (Result, error) {
	e, err := s.engine(c.EC)
	if err != nil {
		return Result{}, err
	}
	if len(c.Reason) > MaxReasonLen {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "reason", "longer than %d bytes", MaxReasonLen)
	}
	reason := c.Reason
	if reason == "" {
		reason = "killed on request"
	}
	r := Result{EC: e.id}
	s.stopEC(t, e, reason, true, &r.Notices)
	return r, nil
}

// ecHeartbeat records what an engine reports. Computation engines report
// Busy, Idle, Unlock or Locked (which say only whether they are busy: the
// manager knows who holds them); once engines report Running or Busy; any
// engine may report ShuttingDown, Success or Failed. A report the
// transition table forbids is refused.
func (s *State) ecHeartbeat(t int64, c ECHeartbeat) (Result, error) {
	e, err := s.engine(c.EC)
	if err != nil {
		return Result{}, err
	}
	if !c.Status.Valid() {
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "status", c.Status.String(), "not a node status")
	}
	if !c.Health.Valid() {
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "health", c.Health.String(), "not a node health")
	}
	if err := c.Load.Validate(); err != nil {
		return Result{}, err
	}
	r := Result{EC: e.id}
	switch c.Status {
	case linkis.StatusSuccess, linkis.StatusFailed:
		s.endEC(t, e, c.Status == linkis.StatusFailed, "it reported "+c.Status.String(), true, &r.Notices)
		return r, nil
	case linkis.StatusShuttingDown:
		e.lastSeen = t
		s.stopEC(t, e, "it is shutting down", false, &r.Notices)
		return r, nil
	case linkis.StatusStarting:
		if e.status != linkis.StatusStarting {
			return Result{}, badReport(e, c.Status)
		}
		e.lastSeen = t
		return r, nil
	}
	once := e.mode != linkis.ModeComputation
	onceStatus := c.Status == linkis.StatusRunning || c.Status == linkis.StatusBusy
	if !e.started() || once && !onceStatus || !once && c.Status == linkis.StatusRunning {
		return Result{}, badReport(e, c.Status)
	}
	busy := c.Status == linkis.StatusBusy
	was := e.busy
	e.busy = busy // the status it would have, then back: nothing has changed yet
	next := e.liveStatus()
	e.busy = was
	if !linkis.CanTransition(linkis.KindEngineConn, e.status, next) { // the name only when it is refused
		return Result{}, linkis.CheckTransition(linkis.KindEngineConn, e.name(), e.status, next)
	}
	if e.busy && !busy {
		e.idleSince = t // the idle clock restarts when it stops being busy
	}
	e.lastSeen, e.busy, e.health, e.running = t, busy, c.Health, c.Load.RunningTasks
	s.refreshEC(e)
	if e.key.waiters.n > 0 { // it may have become free for them
		s.serveKey(t, e.key, &r.Notices)
	}
	return r, nil
}

func badReport(e *ec, reported linkis.NodeStatus) error {
	return linkis.Errorf(linkis.ErrIllegalTransition, e.name(), "a %v engine that is %v cannot report %v", e.mode, e.status, reported)
}

// sortedECs returns engines ordered by id, for deterministic iteration.
func sortedECs(m map[ECID]*ec) []*ec {
	out := make([]*ec, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	return sortECs(out)
}
