package manager

import (
	"cmp"
	"slices"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// tick applies everything whose time has come, in a fixed order and, within
// each step, in id order so that every replica does the same:
//
//  1. ECMs silent for ECMLostAfter are lost: their engines end, all they
//     held is released;
//  2. engines that never started within ResourceLockTimeout (including those
//     killed while starting whose end was never confirmed) fail and their
//     locked resources are released; started engines silent for
//     ECLostAfter are lost;
//  3. granted asks whose lock expired give their engine back; waiting asks
//     past their deadline fail with ErrTimeout;
//  4. engines unused for IdleTimeout are reclaimed (killed), except those
//     a warm pool keeps (pool.go);
//  5. keys whose waiting asks need an engine no ECM could take are tried
//     again: engines of other keys may have ended since, and idle ones
//     may be reclaimed for them (reclaim.go);
//  6. warm pools below their minimum start engines (pool.go);
//  7. jobs past their queuing or running deadline end in Timeout, and the
//     job history drops what it no longer keeps.
//
// Candidates come from the due tables (due.go), so a tick costs what is due
// rather than what exists.
func (s *State) tick(t int64) (Result, error) {
	var r Result
	s.lastTick = t
	// Every lost ECM leaves service before any of their engines ends, so
	// the engines started for waiting asks meanwhile go only to live ECMs.
	lostECMs := sortECMSlice(s.ecmDues.dueBy(t, s.ecmDue))
	for _, m := range lostECMs {
		s.failECM(m)
	}
	for _, m := range lostECMs {
		s.drainECM(t, m, "ECM "+m.id+" lost: no heartbeat for "+time.Duration(t-m.lastSeen).String(), &r.Notices)
	}
	var neverStarted, lost, idle []*ec
	for _, e := range s.ecDues.dueBy(t, s.ecDue) {
		switch {
		case !e.used && t-e.createdAt >= int64(s.cfg.ResourceLockTimeout):
			// Starting, or killed while starting and never confirmed gone.
			neverStarted = append(neverStarted, e)
		case e.used && t-e.lastSeen >= int64(s.cfg.ECLostAfter):
			lost = append(lost, e)
		default:
			idle = append(idle, e)
		}
	}
	for _, e := range sortECs(neverStarted) {
		s.endEC(t, e, true, "did not start within "+s.cfg.ResourceLockTimeout.String()+"; its resource lock expired", true, &r.Notices)
	}
	for _, e := range sortECs(lost) {
		if s.ecs[e.id] != e {
			continue // ended by an earlier step
		}
		s.endEC(t, e, true, "lost: no heartbeat for "+time.Duration(t-e.lastSeen).String(), true, &r.Notices)
	}
	var expired, late []*ask
	for _, a := range s.askDues.dueBy(t, s.askDue) {
		if a.status == AskGranted {
			expired = append(expired, a)
		} else {
			late = append(late, a)
		}
	}
	for _, a := range sortedAsks(expired) {
		if s.asks[a.id] == a && a.status == AskGranted { // an earlier step may have ended it
			e := s.ungrant(t, a)
			a.status = AskFailed
			nr := a.result()
			nr.Err = linkis.Errorf(linkis.ErrTimeout, "lock", "the lock on %v expired", e.id)
			r.Notices = append(r.Notices, nr)
			s.afterRelease(t, e, &r.Notices)
		}
	}
	for _, a := range sortedAsks(late) {
		if s.asks[a.id] != a || a.status != AskPending {
			continue
		}
		s.failAsk(a, linkis.Errorf(linkis.ErrTimeout, "ask "+a.id, "no engine within its wait timeout"), &r.Notices)
		s.withdraw(t, a, "its ask timed out", &r.Notices)
	}
	for _, e := range sortECs(idle) {
		if s.ecs[e.id] != e || !e.idle() || t-e.idleSince < int64(s.cfg.IdleTimeout) {
			continue // taken, stopped or ended by an earlier step
		}
		if s.sparedByPool(e) {
			continue
		}
		s.stopEC(t, e, "idle for "+s.cfg.IdleTimeout.String(), true, &r.Notices)
	}
	s.retryStarved(t, &r.Notices)
	s.fillPools(t)
	s.tickJobs(t, &r)
	return r, nil
}

func sortECs(es []*ec) []*ec {
	slices.SortFunc(es, func(a, b *ec) int { return cmp.Compare(a.id, b.id) })
	return es
}

func sortedECMs(m map[string]*ecm) []*ecm {
	out := make([]*ecm, 0, len(m))
	for _, x := range m {
		out = append(out, x)
	}
	return sortECMSlice(out)
}

func sortECMSlice(ms []*ecm) []*ecm {
	slices.SortFunc(ms, func(a, b *ecm) int { return cmp.Compare(a.id, b.id) })
	return ms
}

func sortedKeys(m map[string]*keyState) []*keyState {
	out := make([]*keyState, 0, len(m))
	for _, k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *keyState) int { return cmp.Compare(a.key, b.key) })
	return out
}
