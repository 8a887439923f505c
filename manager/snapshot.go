package manager

import (
	"slices"
	"sort"

	"github.com/golinkis/golinkis/linkis"
)

// Snapshot layout: magic, format version, then the replicated facts in a
// fixed order - configuration, clocks and counters, quotas, plugin params,
// ECMs by id, the distinct label sets of engines and asks (which they refer
// to by index: a key's hundred engines share one), engines by id, asks in
// the order of asksInOrder; from version 2, the entrance's job records and
// queues (jobcodec.go); from version 3, the configuration's extension
// (after the configuration), the operator's part - health overrides,
// configuration, variables, ended engines (admincodec.go) - the login
// sessions (session.go) and the warm pools by key (pool.go); from version
// 4, the first asks of the queued jobs (jobask.go).
// Everything derivable (ledger
// totals, indexes, queues' links, launch requests) is rebuilt on restore,
// and the restored state is checked against the invariants.
const (
	snapshotMagic   = "GLKS"
	snapshotVersion = 4
)

// Snapshot returns the state's binary form. Two states that applied the
// same commands give byte-identical snapshots.
func (s *State) Snapshot() []byte {
	e := enc{b: make([]byte, 0, 256+len(s.ecs)*96+len(s.ecms)*96+len(s.asks)*64)}
	e.b = append(e.b, snapshotMagic...)
	e.byte(snapshotVersion)
	encodeConfig(&e, s.cfg)
	e.i(s.now)
	e.i(s.lastTick)
	e.u(uint64(s.nextEC))
	e.u(s.seq)

	qs := make([]string, 0, len(s.quotas))
	for k := range s.quotas {
		qs = append(qs, k)
	}
	sort.Strings(qs)
	e.u(uint64(len(qs)))
	for _, k := range qs {
		e.str(k)
		e.res(s.quotas[k])
	}
	ps := make([]string, 0, len(s.pluginParams))
	for k := range s.pluginParams {
		ps = append(ps, k)
	}
	sort.Strings(ps)
	e.u(uint64(len(ps)))
	for _, k := range ps {
		e.str(k)
		e.params(s.pluginParams[k])
	}

	e.u(uint64(len(s.ecms)))
	for _, m := range sortedECMs(s.ecms) {
		e.str(m.id)
		e.str(m.addr)
		e.labels(m.labels)
		e.byte(byte(m.status))
		e.byte(byte(m.health))
		e.load(m.load)
		e.i(m.registeredAt)
		e.i(m.lastSeen)
		e.res(m.row.max)
	}

	ecs := sortedECs(s.ecs)
	as := s.asksInOrder(ecs)
	var sets labelSets
	ecSet, askSet := make([]int, len(ecs)), make([]int, len(as))
	for i, x := range ecs {
		ecSet[i] = sets.index(x.labels)
	}
	for i, a := range as {
		askSet[i] = sets.index(a.req.Labels)
	}
	e.u(uint64(len(sets.list)))
	for _, ls := range sets.list {
		e.labels(ls)
	}

	e.u(uint64(len(ecs)))
	for i, x := range ecs {
		e.u(uint64(x.id))
		e.str(x.ecm.id)
		e.u(uint64(ecSet[i]))
		e.params(x.params)
		e.str(x.addr)
		e.byte(byte(x.status))
		e.byte(byte(x.health))
		e.byte(byte(x.mode))
		e.i(int64(x.capacity))
		e.bool(x.busy)
		e.bool(x.used)
		e.bool(x.killReq)
		e.bool(x.shared)
		e.res(x.res)
		e.i(x.createdAt)
		e.i(x.lastSeen)
		e.i(x.idleSince)
		e.i(int64(x.tasks))
		e.i(x.running)
		e.bool(x.inFree)
		e.u(x.freeSeq)
	}

	e.u(uint64(len(as)))
	for i, a := range as {
		e.str(a.id)
		e.u(a.nonce)
		e.u(uint64(askSet[i]))
		e.params(a.params)
		e.res(a.res)
		e.i(int64(a.capacity))
		e.byte(byte(a.status))
		e.i(a.createdAt)
		e.i(a.deadline)
		e.i(a.lockTimeout)
		var ecID ECID
		if a.ec != nil {
			ecID = a.ec.id
		}
		e.u(uint64(ecID))
		e.u(uint64(a.token))
		e.i(a.expires)
		e.bool(a.created)
		var starting ECID
		if a.starting != nil {
			starting = a.starting.id
		}
		e.u(uint64(starting))
		e.bool(a.reused)
		e.bool(a.inQueue)
		e.u(a.seq)
	}
	s.snapshotJobs(&e)
	s.snapshotAdmin(&e)
	s.snapshotSessions(&e)
	encodePools(&e, s.pools)
	s.snapshotJobAsks(&e)
	return e.b
}

// asksInOrder lists every ask once, in an order that depends only on the
// state and needs no sort of the asks by id: engine by engine (id order),
// the asks holding it (by id: at most its capacity) and the ask it starts
// for; then key by key, the waiting asks in queue order.
func (s *State) asksInOrder(ecs []*ec) []*ask {
	as := make([]*ask, 0, len(s.asks))
	for _, e := range ecs {
		if len(e.grants) > 1 {
			as = append(as, sortedAsks(slices.Clone(e.grants))...) // a copy: Snapshot only reads
		} else {
			as = append(as, e.grants...)
		}
		if e.owner != nil {
			as = append(as, e.owner)
		}
	}
	for _, k := range sortedKeys(s.keys) {
		for a := k.waiters.head; a != nil; a = a.next {
			as = append(as, a)
		}
	}
	return as
}

// labelSets numbers distinct label sets in the order they are first seen.
type labelSets struct {
	byBytes map[string]int
	list    []linkis.Labels
	scratch enc
}

func (t *labelSets) index(ls linkis.Labels) int {
	if t.byBytes == nil {
		t.byBytes = map[string]int{}
	}
	t.scratch.b = t.scratch.b[:0]
	t.scratch.labels(ls)
	if i, ok := t.byBytes[string(t.scratch.b)]; ok {
		return i
	}
	t.byBytes[string(t.scratch.b)] = len(t.list)
	t.list = append(t.list, ls)
	return len(t.list) - 1
}

// Restore is RestoreConfigured with DefaultConfig: for a state that was
// built with New(DefaultConfig(), ...).
func Restore(data []byte, plugins *Plugins) (*State, error) {
	return RestoreConfigured(data, DefaultConfig(), plugins)
}

// RestoreConfigured rebuilds a state from a snapshot. configured is the
// Config the replica was built with (given to New): a snapshot written
// before a part of the configuration existed (version 1 or 2, without its
// extension) takes that part from it, as a replica that applies the same
// log from New(configured, ...) has it. plugins must be the registry the
// snapshot's state was built with (nil for DefaultPlugins()). A snapshot
// that is truncated, inconsistent or breaks an invariant gives
// ErrMalformed.
func RestoreConfigured(data []byte, configured Config, plugins *Plugins) (*State, error) {
	if len(data) < len(snapshotMagic)+1 || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return nil, linkis.Errorf(linkis.ErrMalformed, "snapshot", "not a manager snapshot")
	}
	// Version 1 (before the job queues joined the state) reads as a state
	// without jobs, version 2 as one without the configuration's
	// extension, the operator's part, the sessions or warm pools.
	version := data[len(snapshotMagic)]
	if version < 1 || version > snapshotVersion {
		return nil, linkis.Errorf(linkis.ErrMalformed, "snapshot", "format version %d, this manager reads 1 to %d", version, snapshotVersion)
	}
	d := &dec{b: data[len(snapshotMagic)+1:]}
	cfg := decodeConfig(d)
	if version >= 3 {
		decodeConfigExt(d, &cfg)
	} else {
		copyConfigExt(&cfg, configured)
	}
	if d.err != nil {
		return nil, d.err
	}
	s, err := New(cfg, plugins)
	if err != nil {
		return nil, linkis.Errorf(linkis.ErrMalformed, "snapshot", "configuration: %v", err)
	}
	s.now, s.lastTick, s.nextEC, s.seq = d.i(), d.i(), ECID(d.u()), d.u()
	r := restorer{s: s, d: d}
	r.quotasAndParams()
	r.ecms()
	r.labelSets()
	r.ecs()
	r.asks()
	if version >= 2 && r.ok() {
		if err := s.restoreJobs(d); err != nil {
			return nil, err
		}
		s.jobs.conf = &s.admin.conf
	}
	if version >= 3 && r.ok() {
		if err := s.restoreAdmin(d); err != nil {
			return nil, err
		}
		if err := s.restoreSessions(d); err != nil {
			return nil, err
		}
		r.pools()
	}
	if version >= 4 && r.ok() {
		if err := s.restoreJobAsks(d); err != nil {
			return nil, err
		}
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

type restorer struct {
	s    *State
	d    *dec
	err  error
	sets []linkis.EngineRequest // the snapshot's label sets, parsed
	keys []*keyState            // the key of each label set, once looked up
	last int                    // the label set the last set() call read
}

func (r *restorer) bad(format string, args ...any) {
	if r.err == nil {
		r.err = linkis.Errorf(linkis.ErrMalformed, "snapshot", format, args...)
	}
}

func (r *restorer) ok() bool { return r.err == nil && r.d.err == nil }

func (r *restorer) quotasAndParams() {
	s, d := r.s, r.d
	for n := d.count("quotas", 1<<24, 2); n > 0 && r.ok(); n-- {
		k, q := d.str("quota.key", 512), d.res()
		if err := q.Validate(); err != nil {
			r.bad("quota %q: %v", k, err)
		}
		s.quotas[k] = q
	}
	for n := d.count("pluginParams", 1<<16, 2); n > 0 && r.ok(); n-- {
		s.pluginParams[d.str("plugin", 128)] = d.params()
	}
}

func (r *restorer) ecms() {
	s, d := r.s, r.d
	for n := d.count("ecms", 1<<24, 8); n > 0 && r.ok(); n-- {
		m := &ecm{id: d.str("ecm.id", 128), addr: d.str("ecm.addr", linkis.MaxAddressLen), labels: d.labels(), ecs: map[ECID]*ec{}}
		m.status, m.health, m.load = linkis.NodeStatus(d.byte()), linkis.NodeHealth(d.byte()), d.load()
		m.registeredAt, m.lastSeen, m.row.max = d.i(), d.i(), d.res()
		if !r.ok() {
			return
		}
		if s.ecms[m.id] != nil || !validNodeID(m.id) || !m.health.Valid() || (m.status != linkis.StatusRunning && m.status != linkis.StatusShuttingDown) {
			r.bad("ECM %q is duplicated or has an invalid id, status or health", m.id)
			return
		}
		if err := m.row.max.Validate(); err != nil {
			r.bad("ECM %q: %v", m.id, err)
			return
		}
		s.addECM(m)
	}
}

func (r *restorer) labelSets() {
	n := r.d.count("labelSets", 1<<26, 1)
	r.sets = make([]linkis.EngineRequest, 0, min(n, 1024)) // a corrupt count must not reserve much
	for ; n > 0 && r.ok(); n-- {
		req, err := linkis.ParseEngineRequest(r.d.labels())
		if err != nil && r.d.err == nil {
			r.bad("label set %d: %v", len(r.sets), err)
		}
		r.sets = append(r.sets, req)
	}
}

// set returns the label set an engine or ask refers to.
func (r *restorer) set(what string) (linkis.EngineRequest, bool) {
	i := r.d.u()
	if r.d.err == nil && i >= uint64(len(r.sets)) {
		r.bad("%s refers to label set %d of %d", what, i, len(r.sets))
	}
	if !r.ok() {
		return linkis.EngineRequest{}, false
	}
	r.last = int(i)
	return r.sets[i], true
}

// key returns the key record of the label set set() read last, creating it
// the first time: the engines and asks of one set share one key.
func (r *restorer) key() (*keyState, error) {
	if r.keys == nil {
		r.keys = make([]*keyState, len(r.sets))
	}
	if k := r.keys[r.last]; k != nil {
		return k, nil
	}
	k, err := r.s.keyState(&r.sets[r.last])
	r.keys[r.last] = k
	return k, err
}

func (r *restorer) ecs() {
	s, d := r.s, r.d
	n := d.count("ecs", 1<<26, 16)
	s.ecs, s.addrs = make(map[ECID]*ec, n), make(map[string]*ec, n)
	for ; n > 0 && r.ok(); n-- {
		x := &ec{id: ECID(d.u())}
		ecmID := d.str("ec.ecm", 128)
		req, ok := r.set("engine")
		if !ok {
			return
		}
		x.labels, x.params, x.addr = req.Labels, d.params(), d.str("ec.addr", linkis.MaxAddressLen)
		x.status, x.health, x.mode = linkis.NodeStatus(d.byte()), linkis.NodeHealth(d.byte()), linkis.EngineConnMode(d.byte())
		x.capacity = int32(d.i())
		x.busy, x.used, x.killReq, x.shared = d.bool(), d.bool(), d.bool(), d.bool()
		x.res = d.res()
		x.createdAt, x.lastSeen, x.idleSince = d.i(), d.i(), d.i()
		x.tasks, x.running = int32(d.i()), d.i()
		x.inFree, x.freeSeq = d.bool(), d.u()
		if !r.ok() {
			return
		}
		m := s.ecms[ecmID]
		switch {
		case m == nil:
			r.bad("%v: unknown ECM %q", x.id, ecmID)
		case x.id == 0 || x.id >= s.nextEC || s.ecs[x.id] != nil:
			r.bad("%v: id is zero, duplicated or not yet issued", x.id)
		case !x.status.Valid() || x.status.IsFinal() || !x.health.Valid() || x.mode > linkis.ModeCluster:
			r.bad("%v: invalid status, health or mode", x.id)
		case x.capacity < 1 || x.capacity > linkis.MaxConcurrency || x.tasks < 0:
			r.bad("%v: invalid capacity or task count", x.id)
		case x.res.Validate() != nil:
			r.bad("%v: invalid resource", x.id)
		case x.addr != "" && s.addrs[x.addr] != nil:
			r.bad("%v: address %q is duplicated", x.id, x.addr)
		}
		if !r.ok() {
			return
		}
		k, err := r.key()
		if err != nil {
			r.bad("%v: %v", x.id, err)
			return
		}
		x.ecm, x.key, x.et, x.user = m, k, req.EngineType, req.UserCreator.User
		if err := r.hold(x); err != nil {
			r.bad("%v: %v", x.id, err)
			return
		}
		s.ecs[x.id], m.ecs[x.id], k.ecs[x.id] = x, x, x
		s.ecDues.add(x, s.ecDue(x))
		if x.addr != "" {
			s.addrs[x.addr] = x
		}
		if x.killReq {
			s.killing[x.id] = x
		}
		if x.status == linkis.StatusStarting {
			if x.shared {
				k.sharedStarting += int(x.capacity)
			}
			if !x.killReq {
				lr, err := buildLaunch(k.plugin, x.id, m, x.et, x.user, x.labels, x.params, x.res)
				if err != nil {
					r.bad("%v: %v", x.id, err)
					return
				}
				x.launch = &lr
				s.starting[x.id] = x
			}
		}
	}
}

// hold adds an engine's resources to its ECM and key rows, with checked
// arithmetic: a snapshot must not be able to overflow the ledger.
func (r *restorer) hold(x *ec) error {
	for _, rw := range [...]*row{&x.ecm.row, &x.key.row} {
		p := &rw.locked
		if x.used {
			p = &rw.used
		}
		sum, err := p.Add(x.res)
		if err != nil {
			return err
		}
		*p = sum
	}
	return nil
}

func (r *restorer) asks() {
	s, d := r.s, r.d
	n := d.count("asks", 1<<26, 16)
	s.asks = make(map[string]*ask, n)
	for ; n > 0 && r.ok(); n-- {
		a := &ask{id: d.str("ask.id", MaxAskIDLen), nonce: d.u()}
		req, ok := r.set("ask")
		if !ok {
			return
		}
		params, res := d.params(), d.res()
		a.params, a.res = params, res
		a.capacity, a.status = int32(d.i()), AskStatus(d.byte())
		a.createdAt, a.deadline, a.lockTimeout = d.i(), d.i(), d.i()
		ecID := ECID(d.u())
		a.token, a.expires = LockToken(d.u()), d.i()
		a.created = d.bool()
		startingID := ECID(d.u())
		a.reused = d.bool()
		inQueue := d.bool()
		a.seq = d.u()
		if !r.ok() {
			return
		}
		switch {
		case s.asks[a.id] != nil || validateAskID(a.id) != nil:
			r.bad("ask %q: duplicated or invalid id", a.id)
		case a.capacity < 1 || a.capacity > linkis.MaxConcurrency || a.lockTimeout <= 0:
			r.bad("ask %q: invalid capacity or lock timeout", a.id)
		case a.res.Validate() != nil || a.res.Instances < 1:
			r.bad("ask %q: invalid resource", a.id)
		case validateParams(a.params) != nil:
			r.bad("ask %q: invalid params", a.id)
		}
		if !r.ok() {
			return
		}
		a.req = req
		k, err := r.key()
		if err != nil {
			r.bad("ask %q: %v", a.id, err)
			return
		}
		a.key = k
		if ecID != 0 {
			if a.ec = s.ecs[ecID]; a.ec == nil || a.ec.key != k {
				r.bad("ask %q: engine %v unknown or of another key", a.id, ecID)
				return
			}
		}
		switch {
		case a.status == AskGranted && a.ec != nil && !inQueue:
			a.ec.grants = append(a.ec.grants, a)
			a.ec.bound++
			a.ec.ecm.bound++
		case a.status == AskPending && inQueue && a.ec == nil:
			k.waiters.pushBack(a) // re-sorted by seq in finish
			if startingID != 0 {
				e := s.ecs[startingID]
				if e == nil || e.key != k || e.status != linkis.StatusStarting || !e.shared || e.creator != nil {
					r.bad("ask %q: engine %v cannot be starting for it", a.id, startingID)
					return
				}
				link(a, e)
			}
		case a.status == AskPending && !inQueue && a.ec != nil && a.ec.owner == nil && a.ec.status == linkis.StatusStarting:
			a.ec.owner = a
		default:
			r.bad("ask %q: inconsistent status %v", a.id, a.status)
			return
		}
		s.asks[a.id] = a
		s.askDues.add(a, s.askDue(a))
	}
}

// finish orders the free lists and queues, refiles the ECMs and checks the
// invariants.
func (r *restorer) finish() error {
	s, d := r.s, r.d
	if r.ok() && len(d.b) != 0 {
		r.bad("%d trailing bytes", len(d.b))
	}
	if !r.ok() {
		if r.err != nil {
			return r.err
		}
		return d.err
	}
	for _, k := range sortedKeys(s.keys) {
		var free []*ec
		for _, x := range k.ecs {
			if x.inFree {
				x.inFree = false
				free = append(free, x)
			}
		}
		sort.Slice(free, func(i, j int) bool { return free[i].freeSeq < free[j].freeSeq })
		for _, x := range free {
			k.free.pushFront(x)
		}
		var waiting []*ask
		for a := k.waiters.head; a != nil; a = a.next {
			waiting = append(waiting, a)
		}
		sort.Slice(waiting, func(i, j int) bool { return waiting[i].seq < waiting[j].seq })
		k.waiters = askList{}
		for _, a := range waiting {
			k.waiters.pushBack(a)
		}
		if len(k.ecs) == 0 && k.waiters.n == 0 {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot", "key %q holds nothing", k.key)
		}
		s.noteStarved(k)
	}
	// The ledger is checked with checked arithmetic before anything sums it
	// unchecked (refiling the ECMs does).
	if err := CheckLedger(s); err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot", "restored state is inconsistent: %v", err)
	}
	for _, m := range sortedECMs(s.ecms) {
		s.reindexECM(m)
	}
	if err := checkAfterLedger(s); err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot", "restored state is inconsistent: %v", err)
	}
	return nil
}
