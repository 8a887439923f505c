package manager

import (
	"cmp"
	"errors"
	"slices"
	"unicode/utf8"

	"github.com/golinkis/golinkis/linkis"
)

// Limits on what one ask may carry.
const (
	MaxAskIDLen      = 128
	MaxParams        = 64
	MaxParamKeyLen   = 128
	MaxParamValueLen = 4096
)

// An ask takes one of four paths:
//
//   - pinned (engineInstance): that engine if it can serve now, else a
//     retryable ErrEngineBusy;
//   - dedicated (once mode, executeOnce, reuseExclusion=*): a new engine
//     of its own, granted to it when it starts;
//   - constrained (a reuseExclusion list or an emInstance pin): a free
//     engine that satisfies the constraint, else a dedicated one;
//   - shared (everything else): a free engine of its key; else it waits in
//     the key's FIFO queue, and a new engine is started only when the
//     engines already starting for the key cannot cover the queue and the
//     key is under its instance cap. Thirty asks for one key against a cap
//     of three start three engines and share them (Linkis issue #5318).
func (s *State) askEngine(t int64, c AskEngine) (Result, error) {
	if err := validateAskID(c.ID); err != nil {
		return Result{}, err
	}
	if a := s.asks[c.ID]; a != nil {
		return Result{Ask: a.result()}, nil // a retried ask: same outcome
	}
	a, err := s.newAsk(t, c)
	if err != nil {
		return Result{}, err
	}
	req := &a.req
	var notes []AskResult // of engines reclaimed for it (reclaim.go)
	switch {
	case req.EngineInstance != "" && req.Dedicated():
		return Result{}, linkis.ValueError(linkis.ErrInvalidLabel, linkis.LabelEngineInstance, req.EngineInstance,
			"a pinned engine cannot serve a request for an engine of its own (once mode, executeOnce or reuseExclusion=*)")
	case req.EngineInstance != "":
		e, err := s.pinnedEngine(a)
		if err != nil {
			return Result{}, err
		}
		s.grant(t, a, e)
	case req.Dedicated():
		if _, err := s.createEC(t, a, false); err != nil {
			return Result{}, err
		}
	case len(req.ReuseExclusion.Instances) > 0 || req.EMInstance != "":
		if e := s.compatibleFree(a); e != nil {
			s.grant(t, a, e)
		} else if _, err := s.createEC(t, a, false); err != nil {
			return Result{}, err
		}
	default:
		if err := s.askShared(t, a, &notes); err != nil {
			return Result{}, err
		}
	}
	s.asks[a.id] = a
	s.askDues.add(a, s.askDue(a))
	r := Result{Ask: a.result(), Notices: notes}
	r.EC = r.Ask.EC
	return r, nil
}

// askShared serves an ask that any engine of its key may take: a free one
// at once; otherwise the ask waits in the key's queue, and a new engine
// starts for it unless those already starting cover the queue. When no ECM
// has room for its engine, room may be made for it (reclaim.go). When no
// engine can start, none is coming and none of the key exists to wait
// for, the ask is refused with the reason.
func (s *State) askShared(t int64, a *ask, notes *[]AskResult) error {
	k := a.key
	if k != nil && k.free.head != nil {
		s.grant(t, a, k.free.head)
		return nil
	}
	if k != nil && k.waiters.n >= s.cfg.MaxWaitersPerKey {
		return linkis.ValueError(linkis.ErrQueueFull, "key", k.key, "too many asks are already waiting for this combined label")
	}
	if k == nil || k.sharedStarting <= k.waiters.n {
		e, err := s.createEC(t, a, true)
		switch {
		case err == nil:
			a.created = true
			link(a, e)
			k = e.key
		case noRoom(err) && s.makeRoom(t, a, notes):
			// Room is coming: wait for it (nothing below can fail).
			if k == nil {
				k, _ = s.keyState(&a.req) // its plugin was found by newAsk
			}
		case k == nil || len(k.ecs) == 0 || !linkis.IsRetryable(err):
			return err // it can never be met, or no engine of the key will free anything
		}
	}
	s.enqueue(a, k)
	s.noteStarved(k)
	return nil
}

// newAsk checks an AskEngine and builds its record without touching the
// state.
func (s *State) newAsk(t int64, c AskEngine) (*ask, error) {
	req, err := linkis.ParseEngineRequest(c.Labels)
	if err != nil {
		return nil, err
	}
	// A key is one engine type and version: an existing key already knows
	// its plugin.
	k := s.existingKey(&req)
	var pl Plugin
	if k != nil {
		pl = k.plugin
	} else if pl, err = s.plugins.Lookup(req.EngineType); err != nil {
		return nil, err
	}
	if err := validateParams(c.Params); err != nil {
		return nil, err
	}
	if c.LockTimeout < 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "lockTimeout", "must not be negative, got %v", c.LockTimeout)
	}
	if c.WaitTimeout < 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "waitTimeout", "must not be negative, got %v", c.WaitTimeout)
	}
	params := s.mergedParams(req.EngineType, s.configParams(&req, c.Params)) // plugin defaults < configuration < the ask's own
	res, err := pl.Resources.Resource(params)
	if err != nil {
		return nil, err
	}
	if err := res.Validate(); err != nil {
		return nil, err
	}
	if res.Instances < 1 {
		res.Instances = 1 // every engine is at least one instance: the cap counts them
	}
	capacity := pl.Concurrency
	if req.Concurrency > 0 {
		capacity = req.Concurrency
	}
	if req.Mode != linkis.ModeComputation {
		capacity = 1
	}
	a := &ask{
		id: c.ID, nonce: c.Nonce, req: req, key: k, params: params, res: res,
		capacity: int32(capacity), status: AskPending, createdAt: t,
		deadline:    after(t, int64(s.cfg.AskWaitTimeout)),
		lockTimeout: int64(s.cfg.LockTimeout),
	}
	if c.WaitTimeout > 0 {
		a.deadline = after(t, int64(c.WaitTimeout))
	}
	if c.LockTimeout > 0 {
		a.lockTimeout = int64(c.LockTimeout)
	}
	return a, nil
}

func validateAskID(id string) error {
	if id == "" || len(id) > MaxAskIDLen || !utf8.ValidString(id) {
		return linkis.ValueError(linkis.ErrInvalidArgument, "askID", id, "must be 1-128 bytes of UTF-8")
	}
	return nil
}

func validateParams(p map[string]string) error {
	if len(p) > MaxParams {
		return linkis.Errorf(linkis.ErrInvalidArgument, "params", "%d params, at most %d allowed", len(p), MaxParams)
	}
	if paramsValid(p) {
		return nil // the common case, without sorting the names
	}
	for _, k := range paramNames(p) { // in order, so the error names the same param everywhere
		v := p[k]
		if k == "" || len(k) > MaxParamKeyLen || !utf8.ValidString(k) {
			return linkis.ValueError(linkis.ErrInvalidArgument, "params", k, "param names must be 1-128 bytes of UTF-8")
		}
		if len(v) > MaxParamValueLen || !utf8.ValidString(v) {
			return linkis.ValueError(linkis.ErrInvalidArgument, "params."+k, v, "param values must be at most 4096 bytes of UTF-8")
		}
	}
	return nil
}

// paramsValid reports whether every param passes validateParams's checks.
func paramsValid(p map[string]string) bool {
	for k, v := range p {
		if k == "" || len(k) > MaxParamKeyLen || !utf8.ValidString(k) || len(v) > MaxParamValueLen || !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// paramNames returns a params map's names in order.
func paramNames(p map[string]string) []string {
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// mergedParams layers the ask's params over the engine type's configured
// defaults (type, then type-version).
func (s *State) mergedParams(et linkis.EngineType, own map[string]string) map[string]string {
	if len(s.pluginParams) == 0 {
		return own
	}
	base, versioned := s.pluginParams[et.Type], s.pluginParams[et.String()]
	if len(base) == 0 && len(versioned) == 0 {
		return own
	}
	m := make(map[string]string, len(base)+len(versioned)+len(own))
	for _, src := range []map[string]string{base, versioned, own} {
		for k, v := range src {
			m[k] = v
		}
	}
	return m
}

// pinnedEngine finds the engine an engineInstance label names, if it can
// serve the ask now.
func (s *State) pinnedEngine(a *ask) (*ec, error) {
	name := a.req.EngineInstance
	e := s.addrs[name]
	if e == nil {
		if id, err := ParseECID(name); err == nil {
			e = s.ecs[id]
		}
	}
	switch {
	case e == nil:
		return nil, linkis.ValueError(linkis.ErrUnknownNode, linkis.LabelEngineInstance, name, "no such engine")
	case e.key != a.key:
		return nil, linkis.ValueError(linkis.ErrInvalidLabel, linkis.LabelEngineInstance, name, "the engine serves "+e.key.key+", not "+a.req.Key())
	case !e.inFree || a.excludes(e):
		return nil, linkis.ValueError(linkis.ErrEngineBusy, linkis.LabelEngineInstance, name, "the engine is "+e.status.String())
	}
	return e, nil
}

// excludes reports whether the ask's reuse exclusion or ECM pin rules the
// engine out.
func (a *ask) excludes(e *ec) bool {
	x := a.req.ReuseExclusion
	if x.All || x.Excludes(e.id.String()) || e.addr != "" && x.Excludes(e.addr) {
		return true
	}
	return a.req.EMInstance != "" && e.ecm.id != a.req.EMInstance
}

// namesExcluded reports whether the ask's reuse exclusion names the engine
// itself (by ticket or address) - unlike "*", which only forbids reusing
// an engine that already existed.
func (a *ask) namesExcluded(e *ec) bool {
	x := a.req.ReuseExclusion
	if x.All {
		return false
	}
	return x.Excludes(e.id.String()) || e.addr != "" && x.Excludes(e.addr)
}

// compatibleFree returns the newest free engine of the ask's key that its
// constraints allow.
func (s *State) compatibleFree(a *ask) *ec {
	k := a.key
	if k == nil {
		return nil
	}
	for e := k.free.head; e != nil; e = e.freeNext {
		if !a.excludes(e) {
			return e
		}
	}
	return nil
}

// createEC starts a new engine for an ask: checks the key's quota, chooses
// the ECM, builds the launch request, and only then reserves and records.
// A shared engine goes to the key's waiters; otherwise the ask owns it.
func (s *State) createEC(t int64, a *ask, shared bool) (*ec, error) {
	k, key, pl := a.key, "", Plugin{}
	if k != nil {
		key, pl = k.key, k.plugin
	} else {
		var err error
		if pl, err = s.plugins.Lookup(a.req.EngineType); err != nil {
			return nil, err
		}
		key = a.req.Key()
	}
	max := s.keyMax(key)
	left := max
	if k != nil {
		left = max.SubFloor(k.row.held())
	}
	if !a.res.FitsInQuota(max, max) {
		err := linkis.ValueError(linkis.ErrQuotaExceeded, "key", key, "needs "+a.res.String()+", more than the combined label's whole quota "+max.String())
		never := false
		err.Retry = &never
		return nil, err
	}
	if !a.res.FitsInQuota(left, max) {
		return nil, linkis.ValueError(linkis.ErrQuotaExceeded, "key", key, "needs "+a.res.String()+"; the combined label has "+left.String()+" left of "+max.String())
	}
	if k != nil {
		// Dimensions the quota does not name are unbounded on the key's row
		// (each ECM bounds its own): the row's total must stay representable.
		if _, err := k.row.held().Add(a.res); err != nil {
			return nil, linkis.ValueError(linkis.ErrResourceOverflow, "key", key, "the combined label's ledger would overflow")
		}
	}
	m, err := s.selectECM(t, &a.req, a.res, a.nonce)
	if err != nil {
		return nil, err
	}
	id := s.nextEC
	lr, err := buildLaunch(pl, id, m, a.req.EngineType, a.req.UserCreator.User, a.req.Labels, a.params, a.res)
	if err != nil {
		return nil, err
	}
	// Nothing below can fail: the state changes from here on.
	s.nextEC++
	if k == nil {
		k = &keyState{key: key, plugin: pl, ecs: map[ECID]*ec{}}
		s.keys[key] = k
	}
	e := &ec{
		id: id, ecm: m, key: k, et: a.req.EngineType, user: a.req.UserCreator.User,
		labels: a.req.Labels, params: a.params, launch: &lr,
		status: linkis.StatusStarting, mode: a.req.Mode, capacity: a.capacity,
		shared: shared, res: a.res, createdAt: t, lastSeen: t, idleSince: t,
	}
	if a.req.ExecuteOnce && e.mode == linkis.ModeComputation {
		e.mode = linkis.ModeOnce
	}
	s.ecs[id] = e
	m.ecs[id] = e
	k.ecs[id] = e
	s.starting[id] = e
	s.ecDues.add(e, s.ecDue(e))
	s.reserve(e)
	s.reindexECM(m)
	if shared {
		k.sharedStarting += int(e.capacity)
	} else {
		e.owner = a
		a.ec = e
		a.created = true
	}
	a.key = k
	return e, nil
}

func buildLaunch(pl Plugin, id ECID, m *ecm, et linkis.EngineType, user string, ls linkis.Labels, params map[string]string, res linkis.Resource) (LaunchRequest, error) {
	return pl.Launcher.Build(LaunchContext{Ticket: id, ECM: m.id, EngineType: et, User: user, Labels: ls, Params: params, Resource: res})
}

// grant hands a started engine to an ask under a timed lock.
func (s *State) grant(t int64, a *ask, e *ec) {
	a.key = e.key
	a.status = AskGranted
	a.ec = e
	a.reused = e.tasks > 0
	a.token = s.newToken(a.nonce, e)
	a.expires = after(t, a.lockTimeout)
	s.askDues.lower(a, a.expires)
	e.grants = append(e.grants, a)
	e.bound++
	e.tasks++
	e.ecm.bound++
	s.refreshEC(e)
}

// newToken derives a lock token from the ask's nonce (the proposer's
// randomness, so tokens cannot be guessed), the engine and a sequence
// number, and makes it unique among the engine's holders even when two asks
// carry the same nonce.
func (s *State) newToken(nonce uint64, e *ec) LockToken {
	t := LockToken(mix64(nonce ^ mix64(uint64(e.id)<<20^s.nextSeq())))
	for taken := true; taken; {
		taken = false
		for _, g := range e.grants {
			if g.token == t {
				t, taken = t+1, true
			}
		}
	}
	return t
}

// ungrant takes an engine back from an ask that held it.
func (s *State) ungrant(t int64, a *ask) *ec {
	e := a.ec
	for i, g := range e.grants {
		if g == a {
			e.grants[i] = e.grants[len(e.grants)-1]
			e.grants[len(e.grants)-1] = nil
			e.grants = e.grants[:len(e.grants)-1]
			break
		}
	}
	e.bound--
	e.ecm.bound--
	e.idleSince = t // the idle clock restarts when a holder lets go
	if e.capacity == 1 {
		e.busy = false // the caller is done; a serial engine is free again
	}
	s.forgetAsk(a)
	a.status = AskDone
	s.refreshEC(e)
	return e
}

// refreshEC recomputes a started engine's status and deadline, and whether
// it is on its key's free list. An engine is reusable when it is Unlock, healthy, in
// computation mode and has not served its maximum of tasks.
func (s *State) refreshEC(e *ec) {
	if e.status == linkis.StatusStarting || e.status == linkis.StatusShuttingDown || e.status.IsFinal() {
		return
	}
	s.setECStatus(e, e.liveStatus())
	s.ecDues.lower(e, s.ecDue(e))
	reusable := e.status == linkis.StatusUnlock && e.health.Usable() && e.mode == linkis.ModeComputation &&
		!e.killReq && int(e.tasks) < s.cfg.MaxTasksPerEC
	switch {
	case reusable && !e.inFree:
		e.freeSeq = s.nextSeq()
		e.key.free.pushFront(e)
	case !reusable && e.inFree:
		e.key.free.remove(e)
	}
}

// enqueue puts a shared ask at the back of its key's waiting queue.
func (s *State) enqueue(a *ask, k *keyState) {
	a.key = k
	a.seq = s.nextSeq()
	k.waiters.pushBack(a)
}

// link records that shared engine e was started for waiting ask a, and
// unlink forgets it: when e starts, stops or ends, or a stops waiting.
func link(a *ask, e *ec) { a.starting, e.creator = e, a }

func unlink(a *ask, e *ec) {
	if a != nil && e != nil && a.starting == e && e.creator == a {
		a.starting, e.creator = nil, nil
	}
}

// dequeue takes an ask out of its key's waiting queue.
func dequeue(a *ask) {
	a.key.waiters.remove(a)
	unlink(a, a.starting)
}

// serveKey hands free engines to the key's waiting asks in order, and
// starts new engines while those already starting cannot cover the queue:
// one for each waiting ask that has none starting for it, in queue order.
// An ask whose own request cannot be placed does not hold up those behind
// it (asks for a resource that could not be placed are not tried twice in
// one pass). Such an
// ask fails with the reason when it can never be met, or when no engine of
// the key exists whose end could make room; otherwise it keeps waiting.
func (s *State) serveKey(t int64, k *keyState, notes *[]AskResult) {
	var failed []placement
	a := k.waiters.head
	for a != nil {
		if e := k.free.head; e != nil {
			h := k.waiters.head
			dequeue(h)
			s.grant(t, h, e)
			*notes = append(*notes, h.result())
			a = k.waiters.head
			continue
		}
		if k.sharedStarting >= k.waiters.n {
			break
		}
		for a != nil && a.starting != nil {
			a = a.next
		}
		if a == nil {
			break
		}
		next := a.next
		var err error
		var retryable, coming bool
		if p := placementError(failed, a.res); p != nil {
			err, retryable, coming = p.err, p.retryable, p.coming
		} else {
			e, cerr := s.createEC(t, a, true)
			if cerr == nil {
				a.created = true
				link(a, e)
				a = next
				continue
			}
			err, retryable = cerr, linkis.IsRetryable(cerr)
			coming = retryable && noRoom(cerr) && s.makeRoom(t, a, notes)
			if placementFailure(cerr) {
				failed = append(failed, placement{a.res, cerr, retryable, coming})
			}
		}
		if !retryable || len(k.ecs) == 0 && !coming {
			dequeue(a)
			s.failAsk(a, err, notes)
		}
		a = next
	}
	s.noteStarved(k)
	s.dropKeyIfEmpty(k)
}

// placement remembers that a resource could not be placed in this pass.
type placement struct {
	res       linkis.Resource
	err       error
	retryable bool // linkis.IsRetryable(err), which is too dear to ask per waiter
	coming    bool // room is being made for it (reclaim.go): its asks wait
}

// placementFailure reports whether an error depends only on the resource
// asked for (so another ask for the same resource would get it too), unlike
// a launch builder's error about an ask's own params.
func placementFailure(err error) bool {
	for _, kind := range [...]error{linkis.ErrQuotaExceeded, linkis.ErrResourceOverflow, linkis.ErrInsufficientResource, linkis.ErrNoNodeAvailable} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// placementError returns the failure already met in this pass for the
// resource, or nil.
func placementError(failed []placement, r linkis.Resource) *placement {
	for i := range failed {
		if failed[i].res.Equal(r) {
			return &failed[i]
		}
	}
	return nil
}

// noteStarved files a key whose waiting asks outnumber the engines starting
// for it - it needs an engine no ECM could take when it was asked - or
// unfiles one that no longer does.
func (s *State) noteStarved(k *keyState) {
	if k.waiters.n > k.sharedStarting && s.keys[k.key] == k {
		s.starved[k.key] = k
	} else if len(s.starved) > 0 { // most calls find none starved: no hashing then
		delete(s.starved, k.key)
	}
}

// retryStarved serves the starved keys, in key order, after something that
// may have made room: an engine ended, an ECM registered or became usable,
// a quota or the configuration changed, or a tick passed.
func (s *State) retryStarved(t int64, notes *[]AskResult) {
	if len(s.starved) == 0 {
		return
	}
	for _, k := range sortedKeys(s.starved) {
		if s.keys[k.key] == k {
			s.serveKey(t, k, notes)
		} else {
			delete(s.starved, k.key)
		}
	}
}

// forgetAsk drops an ask that is done, failed or cancelled.
func (s *State) forgetAsk(a *ask) {
	delete(s.asks, a.id)
	s.askDues.remove(a)
}

// failAsk ends an ask that did not, or no longer, holds an engine.
func (s *State) failAsk(a *ask, err error, notes *[]AskResult) {
	s.forgetAsk(a)
	a.status = AskFailed
	r := a.result()
	r.Err = err
	*notes = append(*notes, r)
}

// releaseEngine gives back what an ask holds, or cancels it if it waits.
func (s *State) releaseEngine(t int64, c ReleaseEngine) (Result, error) {
	a := s.asks[c.AskID]
	if a == nil {
		return Result{}, linkis.ValueError(linkis.ErrUnknownAsk, "askID", c.AskID, "no such ask (already released, failed or never made)")
	}
	var r Result
	switch {
	case a.status == AskGranted:
		e := s.ungrant(t, a)
		s.afterRelease(t, e, &r.Notices)
	default:
		s.forgetAsk(a)
		s.withdraw(t, a, "its ask was cancelled", &r.Notices)
	}
	a.status = AskDone
	r.Ask = a.result()
	r.EC = r.Ask.EC
	return r, nil
}

// withdraw takes a pending ask away from what it waits for: its key's
// queue, or the engine starting for it alone (a once engine that no one
// waits for any more is stopped).
func (s *State) withdraw(t int64, a *ask, why string, notes *[]AskResult) {
	if a.inQueue {
		dequeue(a)
		s.dropKeyIfEmpty(a.key)
		return
	}
	e := a.ec
	e.owner = nil
	if e.mode != linkis.ModeComputation {
		s.stopEC(t, e, why, true, notes)
	}
}

// afterRelease decides what happens to an engine an ask let go: a once
// engine is done; an engine that served its maximum of tasks is retired;
// otherwise it serves the key's next waiting ask.
func (s *State) afterRelease(t int64, e *ec, notes *[]AskResult) {
	switch {
	case e.mode != linkis.ModeComputation:
		s.stopEC(t, e, "its job is done", true, notes)
	case int(e.tasks) >= s.cfg.MaxTasksPerEC && e.bound == 0:
		s.stopEC(t, e, "it served its maximum of tasks", true, notes)
	default:
		s.serveKey(t, e.key, notes)
	}
}

// renewLock extends a granted ask's lock.
func (s *State) renewLock(t int64, c RenewLock) (Result, error) {
	a := s.asks[c.AskID]
	if a == nil {
		return Result{}, linkis.ValueError(linkis.ErrUnknownAsk, "askID", c.AskID, "no such ask")
	}
	if a.status == AskGranted {
		a.expires = after(t, a.lockTimeout)
	}
	return Result{Ask: a.result(), EC: a.result().EC}, nil
}

// unlockEngine releases the grant an engine reports it no longer holds.
func (s *State) unlockEngine(t int64, c UnlockEngine) (Result, error) {
	e, err := s.engine(c.EC)
	if err != nil {
		return Result{}, err
	}
	for _, a := range e.grants {
		if a.token == c.Token {
			var r Result
			s.ungrant(t, a)
			s.afterRelease(t, e, &r.Notices)
			r.Ask, r.EC = a.result(), e.id
			return r, nil
		}
	}
	return Result{}, linkis.Errorf(linkis.ErrLockMismatch, e.name(), "no ask holds it with that token")
}

// sortedAsks returns asks ordered by id, for deterministic iteration.
func sortedAsks(as []*ask) []*ask {
	slices.SortFunc(as, func(a, b *ask) int { return cmp.Compare(a.id, b.id) })
	return as
}
