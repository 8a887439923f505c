package manager

import (
	"fmt"
	"sync"

	"github.com/golinkis/golinkis/linkis"
)

// The invariants below hold after every command. Tests, Restore and the
// simulator call them; each returns a violation it finds, naming the node or
// row concerned (when several are broken, which one is reported may vary
// from run to run: the checks walk maps to stay fast on large states). They
// read the state and never change it.

// CheckInvariants runs every invariant check.
func CheckInvariants(s *State) error {
	if err := CheckLedger(s); err != nil {
		return err
	}
	return checkAfterLedger(s)
}

// checkAfterLedger runs the checks that assume the ledger sums are
// representable (Restore runs CheckLedger first, then refiles, then these).
func checkAfterLedger(s *State) error {
	for _, check := range [...]func(*State) error{
		CheckNoEndedHolders, CheckBindings, CheckLocks, CheckStatuses, CheckIndexes, CheckDues, CheckJobs, CheckOperator,
	} {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

// CheckLedger verifies conservation: for every ECM and every combined
// label, used and locked each equal the sum over its live engines of what
// they hold in that phase, and used+locked ≤ max.
func CheckLedger(s *State) error {
	sum := func(es map[ECID]*ec) (used, locked linkis.Resource, err error) {
		for _, e := range es {
			p := &locked
			if e.used {
				p = &used
			}
			if *p, err = p.Add(e.res); err != nil {
				return used, locked, err
			}
		}
		return used, locked, nil
	}
	for _, m := range s.ecms {
		used, locked, err := sum(m.ecs)
		if err != nil {
			return fmt.Errorf("ledger: ECM %s: %w", m.id, err)
		}
		if !used.Equal(m.row.used) || !locked.Equal(m.row.locked) {
			return fmt.Errorf("ledger: ECM %s records used %v locked %v, its engines hold used %v locked %v", m.id, m.row.used, m.row.locked, used, locked)
		}
		held, err := m.row.used.Add(m.row.locked)
		if err != nil || !held.FitsIn(m.row.max) {
			return fmt.Errorf("ledger: ECM %s holds %v, more than its max %v", m.id, held, m.row.max)
		}
	}
	for _, k := range s.keys {
		used, locked, err := sum(k.ecs)
		if err != nil {
			return fmt.Errorf("ledger: key %s: %w", k.key, err)
		}
		if !used.Equal(k.row.used) || !locked.Equal(k.row.locked) {
			return fmt.Errorf("ledger: key %s records used %v locked %v, its engines hold used %v locked %v", k.key, k.row.used, k.row.locked, used, locked)
		}
		max := s.keyMax(k.key)
		held, err := k.row.used.Add(k.row.locked)
		if err != nil || !held.FitsInQuota(max, max) {
			return fmt.Errorf("ledger: key %s holds %v, more than its max %v", k.key, held, max)
		}
	}
	return nil
}

// CheckNoEndedHolders verifies that no ended engine holds anything: every
// engine the state knows is live and filed under its ECM and its key, and
// nothing refers to an engine the state has forgotten.
func CheckNoEndedHolders(s *State) error {
	filed := 0
	for _, m := range s.ecms {
		for id, e := range m.ecs {
			switch {
			case e.ecm != m || e.id != id || s.ecs[id] != e:
				return fmt.Errorf("ECM %s lists engine %v that is not filed under it", m.id, id)
			case e.status.IsFinal() || !e.status.Valid():
				return fmt.Errorf("engine %v is %v but still holds %v", e.id, e.status, e.res)
			case e.key == nil || e.key.ecs[id] != e:
				return fmt.Errorf("engine %v is not filed under its key", e.id)
			}
			filed++
		}
	}
	onKeys := 0
	for key, k := range s.keys {
		if k.key != key {
			return fmt.Errorf("key %s is filed as %s", k.key, key)
		}
		for _, e := range k.ecs {
			if e.key != k {
				return fmt.Errorf("key %s lists engine %v of key %s", key, e.id, e.key.key)
			}
		}
		onKeys += len(k.ecs)
	}
	// Every engine the ECMs list is known and filed under its key; equal
	// counts mean no engine is known but unlisted, and keys list no other.
	if filed != len(s.ecs) || onKeys != len(s.ecs) {
		return fmt.Errorf("ECMs list %d engines and keys %d, the state knows %d", filed, onKeys, len(s.ecs))
	}
	addressed := 0
	for _, e := range s.ecs {
		if e.addr != "" {
			addressed++
		}
	}
	for addr, e := range s.addrs {
		if s.ecs[e.id] != e || e.addr != addr {
			return fmt.Errorf("address %s points at an ended engine %v", addr, e.id)
		}
	}
	if addressed != len(s.addrs) {
		return fmt.Errorf("%d engines have an address, the address index holds %d", addressed, len(s.addrs))
	}
	for _, set := range [...]map[ECID]*ec{s.starting, s.killing} {
		for id, e := range set {
			if s.ecs[id] != e {
				return fmt.Errorf("effect set lists ended engine %v", id)
			}
		}
	}
	for _, a := range s.asks {
		if a.ec != nil && s.ecs[a.ec.id] != a.ec {
			return fmt.Errorf("ask %s refers to ended engine %v", a.id, a.ec.id)
		}
	}
	return nil
}

// CheckBindings verifies that every ask bound to an engine (holding it or
// waiting for it to start) matches it: the same CORE labels, hence the same
// combined key, and none of the ask's exclusions.
func CheckBindings(s *State) error {
	for _, a := range s.asks {
		if a.starting != nil && (a.starting.creator != a || a.starting.key != a.key || s.ecs[a.starting.id] != a.starting) {
			return fmt.Errorf("ask %s names engine %v as starting for it, inconsistently", a.id, a.starting.id)
		}
		switch a.status {
		case AskPending: // waits in its key's queue, or for the engine it owns
			if a.inQueue == (a.ec != nil) || a.ec != nil && a.ec.owner != a {
				return fmt.Errorf("pending ask %s waits for nothing (queued %v, engine %v)", a.id, a.inQueue, a.ec)
			}
		case AskGranted:
		default:
			return fmt.Errorf("ask %s is %v but still kept", a.id, a.status)
		}
		e := a.ec
		if e == nil {
			continue
		}
		if !linkis.CoreMatch(a.req.Labels, e.labels) || a.key != e.key {
			return fmt.Errorf("ask %s (%s) is bound to engine %v of %s", a.id, a.req.Key(), e.id, e.key.key)
		}
		if a.status == AskGranted && a.req.EngineInstance == "" && a.excludes(e) && !a.req.ReuseExclusion.All {
			return fmt.Errorf("ask %s holds engine %v that its labels exclude", a.id, e.id)
		}
	}
	return nil
}

// CheckLocks verifies the timed locks: an engine is held by at most its
// capacity of asks - a serial engine never by two - each granted ask holds
// exactly the engine it names, and ECMs count their engines' holders.
func CheckLocks(s *State) error {
	holds := 0
	for _, e := range s.ecs {
		if int(e.bound) != len(e.grants) || e.bound > e.capacity {
			return fmt.Errorf("engine %v has %d holders, bound %d, capacity %d", e.id, len(e.grants), e.bound, e.capacity)
		}
		for i, a := range e.grants {
			if a.status != AskGranted || a.ec != e || s.asks[a.id] != a {
				return fmt.Errorf("engine %v is held by ask %s which is %v on %v", e.id, a.id, a.status, a.ec)
			}
			for _, b := range e.grants[:i] {
				if a == b || a.token == b.token {
					return fmt.Errorf("engine %v is held twice by one ask or under one token", e.id)
				}
			}
		}
		holds += len(e.grants)
		if e.owner != nil && (e.owner.ec != e || e.owner.status != AskPending || e.status != linkis.StatusStarting) {
			return fmt.Errorf("engine %v has an inconsistent owner ask %s", e.id, e.owner.id)
		}
		if c := e.creator; c != nil && (c.starting != e || !c.inQueue || s.asks[c.id] != c || e.status != linkis.StatusStarting || !e.shared) {
			return fmt.Errorf("engine %v names ask %s as the one it starts for, inconsistently", e.id, c.id)
		}
	}
	// Each grant names its engine and no engine lists an ask twice, so
	// equal counts mean every granted ask is listed by its engine.
	granted := 0
	for _, a := range s.asks {
		if a.status == AskGranted {
			granted++
		}
	}
	if granted != holds {
		return fmt.Errorf("%d asks are granted but engines list %d holders", granted, holds)
	}
	for _, m := range s.ecms {
		var n int64
		for _, e := range m.ecs {
			n += int64(e.bound)
		}
		if n != m.bound {
			return fmt.Errorf("ECM %s counts %d holders, its engines %d", m.id, m.bound, n)
		}
	}
	return nil
}

// CheckStatuses verifies that each node's status agrees with what the
// manager knows of it, and that the free lists and queues hold exactly the
// engines and asks they should.
func CheckStatuses(s *State) error {
	launching, killing := 0, 0
	for _, e := range s.ecs {
		switch {
		case e.status == linkis.StatusStarting && e.used:
			return fmt.Errorf("engine %v is Starting but its resources are in use", e.id)
		case e.status != linkis.StatusStarting && e.status != linkis.StatusShuttingDown && !e.used:
			return fmt.Errorf("engine %v is %v but its resources are still locked", e.id, e.status)
		case e.killReq && e.status != linkis.StatusShuttingDown:
			return fmt.Errorf("engine %v is being killed but is %v", e.id, e.status)
		case e.started() && e.status != e.liveStatus():
			return fmt.Errorf("engine %v is %v but should be %v", e.id, e.status, e.liveStatus())
		case e.inFree && (e.status != linkis.StatusUnlock || e.mode != linkis.ModeComputation || !e.health.Usable() || int(e.tasks) >= s.cfg.MaxTasksPerEC):
			return fmt.Errorf("engine %v is on the free list but is %v/%v", e.id, e.status, e.health)
		}
		if e.status == linkis.StatusStarting && !e.killReq {
			launching++
		}
		if e.killReq {
			killing++
		}
	}
	// The effect sets hold only engines that belong there (checked from
	// their side: they are small), and as many as there are.
	for id, e := range s.starting {
		if e.id != id || e.status != linkis.StatusStarting || e.killReq {
			return fmt.Errorf("engine %v is %v but launch-pending", id, e.status)
		}
	}
	for id, e := range s.killing {
		if e.id != id || !e.killReq {
			return fmt.Errorf("engine %v is kill-pending but no kill was requested", id)
		}
	}
	if launching != len(s.starting) || killing != len(s.killing) {
		return fmt.Errorf("%d engines await launch and %d a kill, the effect sets hold %d and %d", launching, killing, len(s.starting), len(s.killing))
	}
	for _, k := range s.keys {
		n, slots := 0, 0
		for _, e := range k.ecs {
			if e.inFree {
				n++
			}
			if e.shared && e.status == linkis.StatusStarting {
				slots += int(e.capacity)
			}
		}
		count := 0
		for e := k.free.head; e != nil && count <= n; e = e.freeNext {
			if e.key != k || !e.inFree {
				return fmt.Errorf("key %s free list holds a foreign engine %v", k.key, e.id)
			}
			count++
		}
		if count != n || k.free.n != n {
			return fmt.Errorf("key %s free list has %d engines, %d are marked free", k.key, count, n)
		}
		if slots != k.sharedStarting {
			return fmt.Errorf("key %s counts %d starting slots, its engines %d", k.key, k.sharedStarting, slots)
		}
		if k.free.n > 0 && k.waiters.n > 0 {
			return fmt.Errorf("key %s has free engines and waiting asks", k.key)
		}
		if k.waiters.n > k.sharedStarting && s.starved[k.key] != k {
			return fmt.Errorf("key %s has %d asks waiting for %d starting slots but is not filed as starved", k.key, k.waiters.n, k.sharedStarting)
		}
		w := 0
		for a := k.waiters.head; a != nil && w <= k.waiters.n; a = a.next {
			if a.status != AskPending || a.ec != nil || a.key != k || s.asks[a.id] != a {
				return fmt.Errorf("key %s queue holds ask %s in an invalid state", k.key, a.id)
			}
			w++
		}
		if w != k.waiters.n {
			return fmt.Errorf("key %s queue has %d asks, counts %d", k.key, w, k.waiters.n)
		}
	}
	for key, k := range s.starved {
		if s.keys[key] != k {
			return fmt.Errorf("starved key %s is not a key the state holds", key)
		}
	}
	for _, m := range s.ecms {
		if m.status != linkis.StatusRunning && m.status != linkis.StatusShuttingDown {
			return fmt.Errorf("ECM %s is %v but still registered", m.id, m.status)
		}
	}
	return nil
}

// CheckIndexes verifies the ECM trees: exactly the available, healthy ECMs
// are filed, each under its current sort key.
func CheckIndexes(s *State) error {
	n := 0
	for _, m := range s.ecms {
		if m.group == nil || s.groups[m.group.tenant] != m.group {
			return fmt.Errorf("ECM %s is not in its label group", m.id)
		}
		if m.inTree != ecmEligible(m) {
			return fmt.Errorf("ECM %s filed=%v but eligible=%v", m.id, m.inTree, ecmEligible(m))
		}
		if m.inTree {
			n++
			if m.sk != s.sortKeyOf(m) {
				return fmt.Errorf("ECM %s is filed under a stale sort key", m.id)
			}
			if got, ok := m.group.tree.Get(m); !ok || got != m {
				return fmt.Errorf("ECM %s is not found in its tree", m.id)
			}
		}
	}
	total := 0
	for _, g := range s.groups {
		total += g.tree.Len()
		// byID lists the group's members in id order (placement.go).
		if len(g.byID) != g.members {
			return fmt.Errorf("group %q lists %d ECMs by id, has %d", g.tenant, len(g.byID), g.members)
		}
		for i, m := range g.byID {
			if s.ecms[m.id] != m || m.group != g || (i > 0 && g.byID[i-1].id >= m.id) {
				return fmt.Errorf("group %q: its id order is wrong at ECM %s", g.tenant, m.id)
			}
		}
	}
	if total != n {
		return fmt.Errorf("trees hold %d ECMs, %d are eligible", total, n)
	}
	return nil
}

// CheckDues verifies the due tables a tick works from: every ECM, engine
// and ask is in its table exactly once, and no stored bound is later than
// the item's real deadline (a later bound would let the deadline pass
// unseen - and differently on a restored replica, whose bounds are exact).
func CheckDues(s *State) error {
	if err := checkDueTable(&s.ecmDues, s.ecmDue, len(s.ecms), func(m *ecm) bool { return s.ecms[m.id] == m }); err != nil {
		return fmt.Errorf("ECM due table: %w", err)
	}
	if err := checkDueTable(&s.ecDues, s.ecDue, len(s.ecs), func(e *ec) bool { return s.ecs[e.id] == e }); err != nil {
		return fmt.Errorf("engine due table: %w", err)
	}
	if err := checkDueTable(&s.askDues, s.askDue, len(s.asks), func(a *ask) bool { return s.asks[a.id] == a }); err != nil {
		return fmt.Errorf("ask due table: %w", err)
	}
	return nil
}

func checkDueTable[T slotted](d *dueTable[T], precise func(T) int64, n int, known func(T) bool) error {
	if len(d.items) != n || len(d.due) != n {
		return fmt.Errorf("holds %d items for %d", len(d.items), n)
	}
	for i, x := range d.items {
		if *x.slotp() != int32(i+1) || !known(x) {
			return fmt.Errorf("slot %d holds an item filed elsewhere or forgotten", i)
		}
		if p := precise(x); d.due[i] > p {
			return fmt.Errorf("slot %d is due at %d, after its deadline %d", i, d.due[i], p)
		}
	}
	return nil
}

// TransitionChecker is an Observer that records every status transition
// the transition table forbids. It is safe for concurrent use.
type TransitionChecker struct {
	mu         sync.Mutex
	violations []error
}

// Transition implements Observer.
func (c *TransitionChecker) Transition(kind linkis.NodeKind, id string, from, to linkis.NodeStatus) {
	if err := linkis.CheckTransition(kind, id, from, to); err != nil {
		c.mu.Lock()
		c.violations = append(c.violations, err)
		c.mu.Unlock()
	}
}

// Err returns the first illegal transition seen, or nil.
func (c *TransitionChecker) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) == 0 {
		return nil
	}
	return c.violations[0]
}
