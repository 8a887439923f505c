package sim

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The simulated clients: jobs asking for engines, running, renewing
// their locks, releasing, retrying; and the labels and keys they use.

func (s *Sim) scheduleArrival() {
	js, ok := s.wl.next()
	if !ok {
		s.arrivalsDone = true
		return
	}
	j := int32(len(s.jobs))
	s.jobs = append(s.jobs, job{
		submit: s.start + js.submit, runtime: js.runtime, combo: s.comboFor(js),
		params: js.res, nextOnEC: -1,
	})
	s.push(event{at: s.start + js.submit, kind: evArrival, ref: int64(j)})
}

func (s *Sim) onArrival(e event) {
	if !e.delivered {
		s.scheduleArrival() // the next one, whatever happens to this one
	}
	j := int32(e.ref)
	if !e.delivered {
		s.m.arrive(s, &s.jobs[j])
	}
	if s.cache != nil && !e.delivered && s.cachedStart(e) {
		return
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.m.submitted++
	s.ask(j)
}

// ask makes the next attempt of a job.
func (s *Sim) ask(j int32) {
	jb := &s.jobs[j]
	jb.attempt++
	c := &s.combos[jb.combo]
	key := s.keys[c.key]
	var params map[string]string
	if jb.params >= 0 {
		params = s.params[jb.params]
	}
	id := askID(j, jb.attempt)
	jb.askID = id
	r, err := s.apply(manager.AskEngine{Time: s.now, ID: id, Nonce: s.rngNonce.Uint64(), Labels: c.labels, Params: params})
	s.hist.last().job = j
	if err != nil {
		s.m.asksRefused++
		s.jobFailed(j, err, false)
		return
	}
	// An ask that starts an engine takes no free one, and none becomes
	// free while it is applied: free engines now were free before it.
	if r.Ask.Created {
		if free := s.st.FreeEngines(key); free > 0 {
			s.violate(fmt.Errorf("ask %s started engine %v although %d free engine(s) of %s could serve it", id, r.Ask.EC, free, key))
			return
		}
	}
	if r.Ask.EC != 0 {
		s.noteEC(r.Ask.EC, r.Ask.ECM, c.key)
	}
	if r.Ask.Created {
		// The ask reserved an engine's resources: check those rows now
		// (apply checked what the command's transitions touched).
		s.touchEC(r.Ask.EC)
		s.localChecks()
	}
	switch r.Ask.Status {
	case manager.AskGranted:
		s.startJob(j, r.Ask)
	case manager.AskPending:
		jb.state = jobPending
	default:
		s.jobFailed(j, fmt.Errorf("ask %s is %v", id, r.Ask.Status), false)
	}
}

// startJob runs a job on the engine its ask was granted.
func (s *Sim) startJob(j int32, r manager.AskResult) {
	jb := &s.jobs[j]
	s.noteEC(r.EC, r.ECM, s.combos[jb.combo].key)
	e := s.ec(r.EC)
	jb.state = jobRunning
	jb.ec = r.EC
	jb.granted = s.now
	jb.gen++
	jb.reused = r.Reused
	if r.Reused {
		s.m.grantsReused++
	} else {
		s.m.grantsFresh++
	}
	if e.state != ecRunning {
		// The manager granted an engine that has died (its end is not
		// reported yet): the task fails at once.
		s.push(event{at: s.now, kind: evJobEnd, ref: int64(j), aux: uint64(jb.gen)})
		return
	}
	s.attach(j, r.EC)
	s.checkRunning(j)
	s.push(event{at: s.now + jb.runtime, kind: evJobEnd, ref: int64(j), aux: uint64(jb.gen)})
	if jb.runtime > s.renewEvery {
		s.pushLane(laneRenew, event{at: s.now + s.renewEvery, kind: evRenew, ref: int64(j), aux: uint64(jb.gen)})
	}
}

// attach and detach keep the list of jobs running on an engine.
func (s *Sim) attach(j int32, id manager.ECID) {
	e := &s.ecs[id]
	jb := &s.jobs[j]
	jb.nextOnEC = e.firstJob
	e.firstJob = j
	e.running++
	if e.ecm >= 0 {
		s.ecms[e.ecm].running++
	}
	s.m.taskStarts(s.now, e)
}

func (s *Sim) detach(j int32) {
	jb := &s.jobs[j]
	e := &s.ecs[jb.ec]
	for p := &e.firstJob; *p >= 0; p = &s.jobs[*p].nextOnEC {
		if *p == j {
			*p = jb.nextOnEC
			jb.nextOnEC = -1
			e.running--
			if e.ecm >= 0 {
				s.ecms[e.ecm].running--
			}
			s.m.taskEnds(s.now, e)
			return
		}
	}
}

func (s *Sim) onJobEnd(e event) {
	j := int32(e.ref)
	jb := &s.jobs[j]
	if jb.state != jobRunning || jb.gen != uint32(e.aux) || s.later(e) {
		return
	}
	s.count(e)
	s.hist.last().job = j
	ec := &s.ecs[jb.ec]
	ok := ec.state == ecRunning && s.onEC(j)
	if s.onEC(j) {
		s.detach(j)
	}
	jb.gen++
	if !ok {
		s.jobFailed(j, linkis.Errorf(linkis.ErrEngineFailed, jb.ec.String(), "the engine died under the task"), true)
		return
	}
	jb.state = jobSucceeded
	s.jobsFinal++
	s.m.depart(s, jb)
	if s.cache != nil {
		s.cache[s.combos[jb.combo].key] = jb.ec
	}
	s.apply(manager.ReleaseEngine{Time: s.now, AskID: jb.askID})
	jb.askID = "" // a final job asks nothing more: its id can go
}

// onEC reports whether job j is on its engine's list.
func (s *Sim) onEC(j int32) bool {
	for p := s.ecs[s.jobs[j].ec].firstJob; p >= 0; p = s.jobs[p].nextOnEC {
		if p == j {
			return true
		}
	}
	return false
}

func (s *Sim) onRenew(e event) {
	j := int32(e.ref)
	jb := &s.jobs[j]
	if jb.state != jobRunning || jb.gen != uint32(e.aux) {
		return
	}
	if !e.delivered {
		s.pushLane(laneRenew, event{at: s.now + s.renewEvery, kind: evRenew, ref: e.ref, aux: e.aux})
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.apply(manager.RenewLock{Time: s.now, AskID: jb.askID})
}

// jobFailed handles a failed attempt: it asks again after a backoff when
// the error is retryable and attempts are left, else the job fails. With
// release, the client gives the attempt's ask back (its engine died under
// it; the manager may not know yet).
func (s *Sim) jobFailed(j int32, err error, release bool) {
	jb := &s.jobs[j]
	if jb.state == jobRunning && s.onEC(j) {
		s.detach(j)
	}
	jb.gen++
	if release {
		s.push(event{at: s.now, kind: evRelease, ref: int64(j), aux: uint64(jb.attempt)})
	}
	if linkis.IsRetryable(err) && int(jb.attempt) < s.sc.Client.MaxAttempts {
		jb.state = jobRetryWait
		s.m.retries++
		backoff := int64(s.sc.Client.RetryBackoff) << min(jb.attempt-1, 16)
		s.push(event{at: s.now + backoff, kind: evAsk, ref: int64(j)})
		return
	}
	jb.state = jobFailed
	jb.askID = ""
	jb.fail = classify(err)
	s.jobsFinal++
	s.m.failed++
	s.m.depart(s, jb)
}

// onNotice reacts to an ask whose outcome a command decided.
func (s *Sim) onNotice(n manager.AskResult) {
	j, attempt, ok := parseAskID(n.AskID)
	if !ok || int(j) >= len(s.jobs) || s.jobs[j].attempt != attempt {
		return
	}
	jb := &s.jobs[j]
	switch n.Status {
	case manager.AskGranted:
		if jb.state == jobPending {
			s.startJob(j, n)
		}
	case manager.AskFailed:
		switch jb.state {
		case jobPending:
			s.m.asksFailed++
			s.jobFailed(j, n.Err, false)
		case jobRunning:
			if errors.Is(n.Err, linkis.ErrTimeout) {
				s.m.lockExpiries++
			}
			s.jobFailed(j, n.Err, false)
		}
	}
}

// cachedStart is bugClientCache: run the job on the engine the last job of
// its key used, without asking the manager.
func (s *Sim) cachedStart(e event) bool {
	j := int32(e.ref)
	jb := &s.jobs[j]
	id, ok := s.cache[s.combos[jb.combo].key]
	if !ok || s.ecs[id].state != ecRunning {
		return false
	}
	s.count(e)
	s.hist.last().ec = id
	s.m.submitted++
	jb.attempt++
	jb.askID = askID(j, jb.attempt)
	s.startJob(j, manager.AskResult{AskID: jb.askID, Status: manager.AskGranted, EC: id, Reused: true})
	return true
}

// ---- combos, keys and params ----

func (s *Sim) comboFor(js jobSpec) int32 {
	k := uint64(js.user)<<40 | uint64(js.creator)<<20 | uint64(js.engine)
	if c, ok := s.comboOf[k]; ok {
		return c
	}
	user, creator := s.userName(js.user), s.creatorName(js.creator)
	et := s.engines[js.engine].et
	ls, err := linkis.NewLabels(linkis.LabelUserCreator, user+"-"+creator, linkis.LabelEngineType, et.String())
	if err != nil {
		panic("sim: generated labels are invalid: " + err.Error()) // names were validated with the scenario
	}
	uc := linkis.UserCreator{User: user, Creator: creator}
	c := int32(len(s.combos))
	s.combos = append(s.combos, combo{labels: ls, key: s.keyIndex(linkis.CombinedKey(uc, et, "")), user: js.user})
	s.comboOf[k] = c
	return c
}

func (s *Sim) userName(u int32) string {
	if s.sc.traceTables != nil {
		return s.sc.traceTables.users[u]
	}
	return "user" + strconv.Itoa(int(u)+1)
}

func (s *Sim) creatorName(c int32) string {
	if s.sc.traceTables != nil {
		return s.sc.traceTables.creators[c]
	}
	return s.sc.Workload.Creators[c]
}

func (s *Sim) keyIndex(key string) int32 {
	if i, ok := s.keyOf[key]; ok {
		return i
	}
	i := int32(len(s.keys))
	s.keys = append(s.keys, key)
	s.keyOf[key] = i
	return i
}
