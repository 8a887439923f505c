package manager

import (
	"fmt"

	"github.com/golinkis/golinkis/linkis"
)

// CheckJobs verifies the entrance's state: every job is filed once in
// every index; a queued job sits in its group's queue, a dispatched one
// holds one running slot, an ended one neither and has its place in the
// history's order; the counts match; the round-robin ring holds exactly
// the groups with a queued job and a free slot; deadlines are filed.
func CheckJobs(s *State) error {
	js := &s.jobs
	if js.all.Len() != len(js.byID) || len(js.byExec) != len(js.byID) {
		return fmt.Errorf("jobs: %d records, %d in order, %d by exec id", len(js.byID), js.all.Len(), len(js.byExec))
	}
	users, ended, dues := 0, 0, 0
	queued := map[*jobGroup]int{}
	running := map[*jobGroup]int{}
	for id, j := range js.byID {
		switch {
		case j.id != id || js.byExec[j.execID] != j || j.id >= js.nextID:
			return fmt.Errorf("jobs: job %d is filed under %d or its exec id %q elsewhere", j.id, id, j.execID)
		case j.key != 0 && js.byKey[j.key] != j:
			return fmt.Errorf("jobs: job %d is not found by its key", j.id)
		case !j.state.Valid():
			return fmt.Errorf("jobs: job %d has state %v", j.id, j.state)
		}
		if u := js.byUser[j.user]; u == nil || !u.Has(j) {
			return fmt.Errorf("jobs: job %d is not among %q's", j.id, j.user)
		}
		_, live := js.live[j.id]
		switch {
		case j.state.Final():
			ended++
			if j.queued || j.active || j.group != nil || !js.ended.Has(j) || live != j.cleanup {
				return fmt.Errorf("jobs: ended job %d is still queued, dispatched or out of the history's order", j.id)
			}
		case j.active:
			if j.queued || j.group == nil || !live || j.state.Queued() && j.state != linkis.JobWaitForRetry || j.state == linkis.JobInited {
				return fmt.Errorf("jobs: dispatched job %d (%v) is also queued, groupless or not live", j.id, j.state)
			}
			running[j.group]++
			dues++
		default:
			if !j.queued || j.group == nil || live || !j.state.Queued() {
				return fmt.Errorf("jobs: job %d (%v) is neither queued nor dispatched nor ended", j.id, j.state)
			}
			queued[j.group]++
			dues++
		}
		if j.ask != nil && !j.queued {
			return fmt.Errorf("jobs: job %d (%v) keeps a first ask but is not queued", j.id, j.state)
		}
		if j.group != nil && (js.groups[j.group.key] != j.group || j.group.key != (jobGroupKey{j.creator, j.user, j.engineType})) {
			return fmt.Errorf("jobs: job %d is in a group that is not its own", j.id)
		}
	}
	for _, u := range js.byUser {
		users += u.Len()
	}
	var bytes int64
	js.ended.Ascend(func(j *job) bool { bytes += int64(len(j.request)); return true })
	if bytes != js.endedBytes {
		return fmt.Errorf("jobs: the history's requests hold %d bytes, counted %d", bytes, js.endedBytes)
	}
	if users != len(js.byID) || ended != js.ended.Len() || len(js.byKey) > len(js.byID) {
		return fmt.Errorf("jobs: %d filed by user, %d in the history's order, for %d jobs (%d ended)", users, js.ended.Len(), len(js.byID), ended)
	}
	total := 0
	for k, g := range js.groups {
		n := 0
		for j, prev := g.head, (*job)(nil); j != nil; prev, j = j, j.next {
			if j.prev != prev || j.group != g || (prev != nil && prev.id >= j.id) {
				return fmt.Errorf("jobs: group %s's queue is broken or out of order at job %d", g.name(), j.id)
			}
			n++
		}
		total += g.running
		eligible := g.queued > 0 && g.running < js.groupCap(g)
		switch {
		case g.key != k:
			return fmt.Errorf("jobs: group %s is filed under another key", g.name())
		case n != g.queued || n != queued[g] || g.running != running[g]:
			return fmt.Errorf("jobs: group %s counts %d queued (%d in its queue, %d by record) and %d running (%d by record)", g.name(), g.queued, n, queued[g], g.running, running[g])
		case g.queued == 0 && g.running == 0:
			return fmt.Errorf("jobs: idle group %s is kept", g.name())
		case eligible != g.inRing:
			return fmt.Errorf("jobs: group %s is eligible %v but in the ring %v", g.name(), eligible, g.inRing)
		}
	}
	if total != js.running {
		return fmt.Errorf("jobs: %d running in all, the groups hold %d", js.running, total)
	}
	if g := js.ring; g != nil {
		for n := 0; ; n++ {
			if !g.inRing || js.groups[g.key] != g || g.rnext.rprev != g || n > len(js.groups) {
				return fmt.Errorf("jobs: the ring is broken at group %s", g.name())
			}
			if g = g.rnext; g == js.ring {
				break
			}
		}
	}
	return checkDueTable(&js.jobDues, js.jobDue, dues, func(j *job) bool { return js.byID[j.id] == j && (j.queued || j.active) })
}
