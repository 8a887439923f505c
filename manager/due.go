package manager

import (
	"math"

	"github.com/golinkis/golinkis/linkis"
)

// A dueTable finds, without walking maps, the items a tick must look at.
// It keeps for every item a lower bound on when it next needs attention, in
// a dense array a tick scans sequentially. The bounds are lazy: inputs that
// only ever postpone a deadline (a heartbeat moving lastSeen, a renewed
// lock) do not touch the table; when a stale bound comes due the tick
// computes the precise deadline and stores it instead. Only changes that
// can bring a deadline earlier - creating an item, granting an ask, an
// engine becoming idle, a configuration change - must lower the bound.
//
// The table is not part of the replicated state: which slot holds which
// item, and how stale a bound is, differ between a state and its restored
// copy, but a tick acts only on precise deadlines, in id order.
type dueTable[T slotted] struct {
	items []T
	due   []int64
}

// slotted is an item that remembers its place in a dueTable: index+1, 0
// when it is not in one.
type slotted interface {
	comparable
	slotp() *int32
}

func (e *ec) slotp() *int32  { return &e.slot }
func (a *ask) slotp() *int32 { return &a.slot }
func (m *ecm) slotp() *int32 { return &m.slot }

func (d *dueTable[T]) add(x T, at int64) {
	d.items = append(d.items, x)
	d.due = append(d.due, at)
	*x.slotp() = int32(len(d.items))
}

func (d *dueTable[T]) remove(x T) {
	i := *x.slotp() - 1
	if i < 0 {
		return
	}
	last := len(d.items) - 1
	d.items[i], d.due[i] = d.items[last], d.due[last]
	*d.items[i].slotp() = i + 1
	var zero T
	d.items[last] = zero
	d.items, d.due = d.items[:last], d.due[:last]
	*x.slotp() = 0
}

// lower brings an item's bound down to at, if at is earlier.
func (d *dueTable[T]) lower(x T, at int64) {
	if i := *x.slotp() - 1; i >= 0 && at < d.due[i] {
		d.due[i] = at
	}
}

// dueBy returns the items whose precise deadline is at or before now, and
// refreshes the stale bounds it meets on the way.
func (d *dueTable[T]) dueBy(now int64, precise func(T) int64) []T {
	var out []T
	for i, at := range d.due {
		if at > now {
			continue
		}
		if p := precise(d.items[i]); p <= now {
			out = append(out, d.items[i])
		} else {
			d.due[i] = p
		}
	}
	return out
}

// refresh recomputes every bound (after the timeouts changed).
func (d *dueTable[T]) refresh(precise func(T) int64) {
	for i, x := range d.items {
		d.due[i] = precise(x)
	}
}

// after returns t+d, saturating instead of overflowing.
func after(t int64, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

// ecmDue is when an ECM is lost unless it reports.
func (s *State) ecmDue(m *ecm) int64 { return after(m.lastSeen, int64(s.cfg.ECMLostAfter)) }

// ecDue is an engine's next deadline: its resource lock expiring while it
// has not started, being lost once it has, or being reclaimed while idle.
func (s *State) ecDue(e *ec) int64 {
	d := after(e.lastSeen, int64(s.cfg.ECLostAfter))
	if !e.used {
		d = after(e.createdAt, int64(s.cfg.ResourceLockTimeout))
	}
	if e.idle() {
		d = min(d, after(e.idleSince, int64(s.cfg.IdleTimeout)))
	}
	return d
}

// askDue is when a granted ask's lock expires or a pending ask gives up.
func (s *State) askDue(a *ask) int64 {
	if a.status == AskGranted {
		return a.expires
	}
	return a.deadline
}

// idle reports whether an engine is free and may be reclaimed when it has
// been so for IdleTimeout.
func (e *ec) idle() bool {
	return e.status == linkis.StatusUnlock && e.bound == 0 && !e.killReq
}

// refreshDues recomputes every bound after the timeouts changed.
func (s *State) refreshDues() {
	s.ecmDues.refresh(s.ecmDue)
	s.ecDues.refresh(s.ecDue)
	s.askDues.refresh(s.askDue)
}
