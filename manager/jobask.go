package manager

import (
	"strconv"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// A job's first engine ask, made by the state as it dispatches the job.
//
// Without it each job commits three entries in turn - its submission, the
// ask of its engine once the dispatcher has started it, and its end - and
// the ask sits between the dispatch and the engine on every job's path.
// The orchestrator's engine pool saved that ask by keeping engines between
// jobs in the leader's memory, which a new leader cannot see: after a
// kill -9 of the leader it asked again under the job's own ask id, got
// another engine and ran the job a second time. So the submission carries
// the ask (SubmitJob.Ask) and the command that dispatches the job makes it,
// under the id the orchestrator's first attempt asks with (JobAskID): the
// dispatcher finds it granted (or pending) in the state it applied, and
// any leader after it finds the same ask. The state gives it back when the
// job is over, if no one else did: at its end when none of its tasks may
// run, else when its tasks were stopped (UpdateJob.Cleaned).

// JobAsk is the engine ask of a job's first attempt (see SubmitJob.Ask):
// an AskEngine without its id and time, which the dispatch gives it.
type JobAsk struct {
	Nonce       uint64
	Labels      linkis.Labels
	Params      map[string]string
	LockTimeout time.Duration
	WaitTimeout time.Duration
}

// JobAskID is the id under which a job's attempt asks for its engine: the
// job's exec id, the retry round (from 1) and the branch of the strategy
// node the attempt runs in (0 outside one).
func JobAskID(execID string, round, branch int) string {
	return execID + "-" + strconv.Itoa(round) + "." + strconv.Itoa(branch)
}

// firstAskID is the id of the ask the state makes for job j.
func firstAskID(j *job) string { return JobAskID(j.execID, 1, 0) }

// askFirst makes the first ask of a job being dispatched, if its
// submission carried one. An ask the state refuses (its engine type is
// gone, say) changes nothing: the orchestrator asks itself and hears why.
func (s *State) askFirst(t int64, j *job, r *Result) {
	a := j.ask
	if a == nil {
		return
	}
	j.ask = nil
	rr, err := s.askEngine(t, AskEngine{Time: t, ID: firstAskID(j), Nonce: a.Nonce, Labels: a.Labels, Params: a.Params,
		LockTimeout: a.LockTimeout, WaitTimeout: a.WaitTimeout})
	if err == nil {
		r.Notices = append(append(r.Notices, rr.Ask), rr.Notices...)
	}
}

// releaseFirst gives back the first ask of a job that is over, if it still
// holds or waits for an engine (its run never used it, or ended without
// releasing it).
func (s *State) releaseFirst(t int64, j *job, r *Result) {
	if a := s.asks[firstAskID(j)]; a != nil && a.status != AskDone {
		if rr, err := s.releaseEngine(t, ReleaseEngine{Time: t, AskID: a.id}); err == nil {
			r.Notices = append(append(r.Notices, rr.Ask), rr.Notices...)
		}
	}
}

func (e *enc) jobAsk(a *JobAsk) {
	e.bool(a != nil)
	if a != nil {
		e.u(a.Nonce)
		e.labels(a.Labels)
		e.params(a.Params)
		e.dur(a.LockTimeout)
		e.dur(a.WaitTimeout)
	}
}

func (d *dec) jobAsk() *JobAsk {
	if !d.bool() {
		return nil
	}
	a := &JobAsk{Nonce: d.u(), Labels: d.labels(), Params: d.params(), LockTimeout: d.dur(), WaitTimeout: d.dur()}
	if a.LockTimeout < 0 || a.WaitTimeout < 0 {
		d.fail("ask.timeout")
	}
	return a
}

// snapshotJobAsks writes the first asks of the queued jobs, in task id
// order (snapshot version 4).
func (s *State) snapshotJobAsks(e *enc) {
	var ids []int64
	s.jobs.all.Ascend(func(j *job) bool {
		if j.ask != nil {
			ids = append(ids, j.id)
		}
		return true
	})
	e.u(uint64(len(ids)))
	for _, id := range ids {
		e.i(id)
		e.jobAsk(s.jobs.byID[id].ask)
	}
}

// restoreJobAsks reads what snapshotJobAsks wrote.
func (s *State) restoreJobAsks(d *dec) error {
	prev := int64(0)
	for n := d.count("jobAsks", maxJobCount, 2); n > 0 && d.err == nil; n-- {
		id := d.i()
		a := d.jobAsk()
		j := s.jobs.byID[id]
		switch {
		case d.err != nil:
		case id <= prev || j == nil || !j.queued || a == nil:
			return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobAsks", "job %d: out of order, unknown, not queued or without its ask", id)
		default:
			j.ask, prev = a, id
		}
	}
	return d.err
}
