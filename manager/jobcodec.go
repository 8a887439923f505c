package manager

import (
	"math"
	"slices"
	"sort"

	"github.com/golinkis/golinkis/linkis"
)

// Bounds a decoder believes for the job commands' lists.
const (
	maxJobLines = 1 << 16
	maxJobParts = 1 << 16
)

// appendJobCommand encodes the body of a job command (after the header
// and time); it reports false for a command that is not one.
func appendJobCommand(e *enc, c Command) bool {
	switch c := c.(type) {
	case SubmitJob:
		e.u(c.Key)
		e.u(uint64(c.Nonce))
		e.str(c.User)
		e.str(c.Creator)
		e.str(c.EngineType)
		e.str(string(c.Request))
		e.dur(c.QueueTimeout)
		e.dur(c.RunTimeout)
		e.jobAsk(c.Ask) // version 2
	case UpdateJob:
		e.i(c.TaskID)
		e.byte(byte(c.State))
		e.str(c.Reason)
		e.f64(c.Progress)
		e.str(c.ProgressInfo)
		e.i(int64(c.Attempts))
		e.i(int64(c.Round))
		e.str(c.EC)
		e.strs(c.Results)
		e.strs(c.Log)
		e.strs(c.LogAfter)
		e.strs(c.Tail)
		e.task(c.Task)
		e.str(c.TaskEnded)
		e.i(int64(c.TaskLines))
		e.bool(c.Cleaned)
		e.strs(c.Release)
	case KillJob:
		e.i(c.TaskID)
		e.str(c.By)
	case ConfigureJobs:
		e.jobConfig(c.Config)
	case ImportJob:
		e.jobView(&c.Job)
	default:
		return false
	}
	return true
}

// decodeJobCommand decodes the body of a job command of type typ.
func decodeJobCommand(d *dec, typ CommandType, version byte, t int64) Command {
	switch typ {
	case CmdSubmitJob:
		c := SubmitJob{Time: t, Key: d.u()}
		nonce := d.u()
		if nonce > math.MaxUint32 {
			d.fail("nonce")
		}
		c.Nonce = uint32(nonce)
		c.User, c.Creator, c.EngineType = d.str("user", maxJobName), d.str("creator", maxJobName), d.str("engineType", maxJobName)
		if r := d.str("request", MaxJobRequestBytes); r != "" {
			c.Request = []byte(r)
		}
		c.QueueTimeout, c.RunTimeout = d.dur(), d.dur()
		if version > 1 {
			c.Ask = d.jobAsk()
		}
		return c
	case CmdUpdateJob:
		c := UpdateJob{Time: t, TaskID: d.i(), State: linkis.JobState(d.byte()), Reason: d.str("reason", MaxReasonLen)}
		c.Progress, c.ProgressInfo = d.f64(), d.str("progressInfo", MaxReasonLen)
		c.Attempts, c.Round = int(d.i()), int(d.i())
		c.EC = d.str("ec", maxJobName)
		c.Results, c.Log = d.strs("results", MaxJobResults, MaxReasonLen), d.strs("log", maxJobLines, MaxJobLineBytes)
		c.LogAfter, c.Tail = d.strs("logAfter", maxJobLines, MaxJobLineBytes), d.strs("tail", maxJobLines, MaxJobLineBytes)
		c.Task = d.task()
		c.TaskEnded, c.TaskLines = d.str("taskEnded", MaxAskIDLen), int(d.i())
		c.Cleaned = d.bool()
		c.Release = d.strs("release", MaxJobReleases, MaxAskIDLen)
		return c
	case CmdKillJob:
		return KillJob{Time: t, TaskID: d.i(), By: d.str("by", maxJobName)}
	case CmdConfigureJobs:
		return ConfigureJobs{Time: t, Config: d.jobConfig()}
	case CmdImportJob:
		return ImportJob{Time: t, Job: d.jobView()}
	}
	return nil
}

func (e *enc) f64(v float64) { e.u(math.Float64bits(v)) }

func (d *dec) f64() float64 { return math.Float64frombits(d.u()) }

func (e *enc) strs(ss []string) {
	e.u(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (d *dec) strs(what string, limit, each int) []string {
	n := d.count(what, limit, 1)
	if n == 0 || d.err != nil {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str(what, each)
	}
	return out
}

func (e *enc) task(t JobTask) {
	e.str(t.Key)
	e.str(t.AskID)
	e.str(t.EC)
	e.str(t.ECM)
	e.str(t.Addr)
	e.str(t.TaskID)
}

func (d *dec) task() JobTask {
	return JobTask{
		Key: d.str("task.key", MaxAskIDLen), AskID: d.str("task.askID", MaxAskIDLen), EC: d.str("task.ec", maxJobName),
		ECM: d.str("task.ecm", maxJobName), Addr: d.str("task.addr", linkis.MaxAddressLen), TaskID: d.str("task.id", MaxAskIDLen),
	}
}

func (e *enc) caps(m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.u(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.i(int64(m[k]))
	}
}

func (d *dec) caps(what string) map[string]int {
	n := d.count(what, 1<<16, 2)
	if n == 0 || d.err != nil {
		return nil
	}
	m := make(map[string]int, n)
	for i := 0; i < n; i++ {
		k := d.str(what, 3*maxJobName)
		v := d.i()
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.fail(what)
		}
		m[k] = int(v)
	}
	return m
}

func (e *enc) jobConfig(c JobConfig) {
	for _, v := range [...]int{c.QueueCapacity, c.GroupMaxRunning, c.MaxRunning, c.Retain, c.LogLines, c.TailLines} {
		e.i(int64(v))
	}
	e.caps(c.CreatorMaxRunning)
	e.caps(c.GroupOverrides)
	e.dur(c.QueueTimeout)
	e.dur(c.RunTimeout)
	e.dur(c.RetainFor)
}

func (d *dec) jobConfig() JobConfig {
	var c JobConfig
	for _, p := range [...]*int{&c.QueueCapacity, &c.GroupMaxRunning, &c.MaxRunning, &c.Retain, &c.LogLines, &c.TailLines} {
		v := d.i()
		if v < math.MinInt32 || v > math.MaxInt32 {
			d.fail("jobConfig")
		}
		*p = int(v)
	}
	c.CreatorMaxRunning, c.GroupOverrides = d.caps("creatorMaxRunning"), d.caps("groupOverrides")
	c.QueueTimeout, c.RunTimeout, c.RetainFor = d.dur(), d.dur(), d.dur()
	return c
}

// jobView writes a whole record (imports and snapshots).
func (e *enc) jobView(v *JobView) {
	e.i(v.TaskID)
	e.str(v.ExecID)
	e.str(v.User)
	e.str(v.Creator)
	e.str(v.EngineType)
	e.str(string(v.Request))
	e.byte(byte(v.State))
	e.f64(v.Progress)
	e.str(v.ProgressInfo)
	e.i(int64(v.Attempts))
	e.i(int64(v.Round))
	e.str(v.EC)
	e.str(v.Reason)
	e.str(v.KilledBy)
	e.strs(v.Results)
	e.u(uint64(len(v.Tasks)))
	for _, t := range v.Tasks {
		e.task(t)
	}
	e.u(uint64(len(v.Log)))
	for _, p := range v.Log {
		e.strs(p.Lines)
		e.task(p.Task)
		e.i(int64(p.Count))
	}
	e.strs(v.Tail)
	for _, t := range [...]int64{v.Created, v.Updated, v.Started, v.Ended, v.QueueTimeout, v.RunTimeout} {
		e.i(t)
	}
	e.bool(v.Cleanup)
}

func (d *dec) jobView() JobView {
	v := JobView{TaskID: d.i(), ExecID: d.str("execID", maxJobName)}
	v.User, v.Creator, v.EngineType = d.str("user", maxJobName), d.str("creator", maxJobName), d.str("engineType", maxJobName)
	if r := d.str("request", MaxJobRequestBytes); r != "" {
		v.Request = []byte(r)
	}
	v.State = linkis.JobState(d.byte())
	v.Progress, v.ProgressInfo = d.f64(), d.str("progressInfo", MaxReasonLen)
	v.Attempts, v.Round = int(d.i()), int(d.i())
	v.EC, v.Reason, v.KilledBy = d.str("ec", maxJobName), d.str("reason", MaxReasonLen), d.str("killedBy", maxJobName)
	v.Results = d.strs("results", MaxJobResults, MaxReasonLen)
	if n := d.count("tasks", MaxJobTasks, 6); n > 0 {
		v.Tasks = make([]JobTask, n)
		for i := range v.Tasks {
			v.Tasks[i] = d.task()
		}
	}
	if n := d.count("log", maxJobParts, 8); n > 0 {
		v.Log = make([]JobLogPart, n)
		for i := range v.Log {
			v.Log[i] = JobLogPart{Lines: d.strs("log.lines", maxJobLines, MaxJobLineBytes), Task: d.task(), Count: int(d.i())}
		}
	}
	v.Tail = d.strs("tail", maxJobLines, MaxJobLineBytes)
	for _, p := range [...]*int64{&v.Created, &v.Updated, &v.Started, &v.Ended, &v.QueueTimeout, &v.RunTimeout} {
		*p = d.i()
	}
	v.Cleanup = d.bool()
	if !v.State.Valid() && d.err == nil {
		d.err = linkis.Errorf(linkis.ErrMalformed, "job.state", "%d is not a job state", v.State)
	}
	return v
}

// snapshotJobs writes the entrance's state: configuration, counters, every
// record in task id order with its place (queued, active, ended order), and
// the round-robin ring from the group served last.
func (s *State) snapshotJobs(e *enc) {
	js := &s.jobs
	e.jobConfig(js.cfg)
	e.i(js.nextID)
	e.u(js.endSeq)
	e.u(uint64(js.all.Len()))
	js.all.Ascend(func(j *job) bool {
		v := j.record()
		e.jobView(&v)
		e.u(j.key)
		e.bool(j.active)
		e.u(j.endSeq)
		return true
	})
	var ring []*jobGroup
	if g := js.ring; g != nil {
		for {
			ring = append(ring, g)
			if g = g.rnext; g == js.ring {
				break
			}
		}
	}
	e.u(uint64(len(ring)))
	for _, g := range ring {
		e.str(g.key.creator)
		e.str(g.key.user)
		e.str(g.key.engineType)
	}
}

// restoreJobs reads what snapshotJobs wrote and rebuilds the queues.
func (s *State) restoreJobs(d *dec) error {
	js := newJobs()
	js.cfg = d.jobConfig()
	js.nextID, js.endSeq = d.i(), d.u()
	n := d.count("jobs", maxJobCount, 16)
	for i := 0; i < n && d.err == nil; i++ {
		v := d.jobView()
		j := &job{
			id: v.TaskID, execID: v.ExecID, user: v.User, creator: v.Creator, engineType: v.EngineType,
			request: v.Request, state: v.State, progress: v.Progress, progressInfo: v.ProgressInfo,
			attempts: v.Attempts, round: v.Round, ecName: v.EC, reason: v.Reason, killedBy: v.KilledBy,
			results: v.Results, tasks: v.Tasks, log: v.Log, tail: v.Tail,
			created: v.Created, updated: v.Updated, started: v.Started, ended: v.Ended,
			queueTimeout: v.QueueTimeout, runTimeout: v.RunTimeout, cleanup: v.Cleanup,
		}
		j.key, j.active, j.endSeq = d.u(), d.bool(), d.u()
		if d.err != nil {
			break
		}
		for _, p := range j.log {
			j.logLines += len(p.Lines)
		}
		if prev, ok := js.all.Max(); ok && prev.id >= j.id || js.byExec[j.execID] != nil || j.id >= js.nextID {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "job %d out of order, repeated or past the next id", j.id)
		}
		js.insert(j)
		switch {
		case j.state.Final():
			if j.active || j.endSeq == 0 || j.endSeq > js.endSeq {
				return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "ended job %d has a bad place", j.id)
			}
			js.addEnded(j)
			if j.cleanup {
				js.live[j.id] = j
			}
		case j.active:
			g := js.group(jobGroupKey{j.creator, j.user, j.engineType})
			j.group = g
			g.running++
			js.running++
			js.live[j.id] = j
			js.jobDues.add(j, js.jobDue(j))
		default:
			if !j.state.Queued() {
				return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "job %d is %v but neither queued nor dispatched", j.id, j.state)
			}
			g := js.group(jobGroupKey{j.creator, j.user, j.engineType})
			j.group = g
			g.push(j)
			js.jobDues.add(j, js.jobDue(j))
		}
	}
	if d.err != nil {
		return d.err
	}
	if js.ended.Len() > 0 {
		seqs := make([]uint64, 0, js.ended.Len())
		js.ended.Ascend(func(j *job) bool { seqs = append(seqs, j.endSeq); return true })
		if len(slices.Compact(seqs)) != js.ended.Len() {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "two ended jobs share a place")
		}
	}
	rn := d.count("ring", maxJobCount, 3)
	for i := 0; i < rn && d.err == nil; i++ {
		k := jobGroupKey{d.str("ring.creator", maxJobName), d.str("ring.user", maxJobName), d.str("ring.engineType", maxJobName)}
		g := js.groups[k]
		if d.err == nil && (g == nil || g.inRing) {
			return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "the ring names a group that is not there, or twice")
		}
		if g != nil {
			// Each goes just before the first, the group served last.
			js.ringInsert(g)
		}
	}
	if d.err != nil {
		return d.err
	}
	if err := js.cfg.Validate(); err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot.jobs", "%v", err)
	}
	s.jobs = js
	return nil
}
