package manager

import (
	"strconv"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// The job commands. Values are part of the log format: never renumber.
const (
	CmdSubmitJob     CommandType = 32
	CmdUpdateJob     CommandType = 33
	CmdKillJob       CommandType = 34
	CmdConfigureJobs CommandType = 35
	CmdImportJob     CommandType = 36
)

func init() {
	commandNames[CmdSubmitJob] = "SubmitJob"
	commandNames[CmdUpdateJob] = "UpdateJob"
	commandNames[CmdKillJob] = "KillJob"
	commandNames[CmdConfigureJobs] = "ConfigureJobs"
	commandNames[CmdImportJob] = "ImportJob"
}

// SubmitJob accepts a job into its consumer group's queue (Creator_User_
// EngineType): refused with ErrQueueFull when the queue is at its
// capacity. The job may be dispatched (Scheduled) by the same command.
type SubmitJob struct {
	Time int64
	// Key makes the submission idempotent: a second SubmitJob with the
	// same non-zero Key returns the first one's job (while the history
	// holds it). The proposer draws it at random per submission.
	Key uint64
	// Nonce makes the exec id unguessable (see ExecIDOf).
	Nonce                     uint32
	User, Creator, EngineType string
	// Request is the job as the orchestrator encoded it; opaque here.
	Request []byte
	// QueueTimeout and RunTimeout are the job's own (its labels); 0: the
	// configured default.
	QueueTimeout, RunTimeout time.Duration
	// Ask, when set, is the engine ask of the job's first attempt: the
	// command that dispatches the job makes it, under JobAskID(execID, 1,
	// 0) (see jobask.go).
	Ask *JobAsk
}

// UpdateJob records what the dispatcher saw of a dispatched job. Zero
// fields change nothing.
type UpdateJob struct {
	Time   int64
	TaskID int64
	// State is Running, WaitForRetry or a final state (only the
	// entrance's queues dispatch a job: Scheduled is never set here).
	State  linkis.JobState
	Reason string
	// Progress (0..1) and ProgressInfo, when Progress ≥ 0.
	Progress     float64
	ProgressInfo string
	Attempts     int    // engine attempts started so far
	Round        int    // the retry round the next attempt runs in
	EC           string // the engine whose answer counts
	Results      []string
	// Log appends the orchestrator's own lines (before Task's part of the
	// log, when both are set), LogAfter more of them after Task and
	// TaskEnded; Tail appends engine output to the kept tail.
	Log      []string
	LogAfter []string
	Tail     []string
	// Task attaches a task (or updates the one with its Key): the job's
	// log continues with the task's.
	Task JobTask
	// TaskEnded is the Key of a task that ended, with TaskLines lines.
	TaskEnded string
	TaskLines int
	// Cleaned says the tasks of a job that ended while they ran (killed,
	// timed out) have been stopped and their engines released.
	Cleaned bool
	// Release gives back the engines of these asks (as ReleaseEngine
	// does; one the manager no longer knows is skipped), in the same
	// command as the rest: an engine whose task ended is released
	// together with the record of its end, never before it.
	Release []string
}

// KillJob cancels a job at any stage: a queued job leaves its queue, a
// dispatched one ends Cancelled at once and its tasks are stopped by the
// dispatcher (JobNotice.Cleanup). Killing an ended job changes nothing.
// Who may kill whose job is the caller's check.
type KillJob struct {
	Time   int64
	TaskID int64
	By     string
}

// ConfigureJobs replaces the entrance's configuration.
type ConfigureJobs struct {
	Time   int64
	Config JobConfig
}

// ImportJob adds a job with its own task and exec ids (migration from an
// older history). Only ended or queued jobs are imported, in increasing
// task id order above every job the state has seen.
type ImportJob struct {
	Time int64
	Job  JobView
}

func (SubmitJob) Type() CommandType     { return CmdSubmitJob }
func (UpdateJob) Type() CommandType     { return CmdUpdateJob }
func (KillJob) Type() CommandType       { return CmdKillJob }
func (ConfigureJobs) Type() CommandType { return CmdConfigureJobs }
func (ImportJob) Type() CommandType     { return CmdImportJob }

func (c SubmitJob) At() int64     { return c.Time }
func (c UpdateJob) At() int64     { return c.Time }
func (c KillJob) At() int64       { return c.Time }
func (c ConfigureJobs) At() int64 { return c.Time }
func (c ImportJob) At() int64     { return c.Time }

func checkName(field, v string) error {
	if v == "" || len(v) > maxJobName {
		return linkis.ValueError(linkis.ErrInvalidArgument, field, v, "must be 1 to 128 bytes")
	}
	return nil
}

func (s *State) submitJob(t int64, c SubmitJob) (Result, error) {
	js := &s.jobs
	if c.Key != 0 {
		if j := js.byKey[c.Key]; j != nil {
			return Result{Job: j.view()}, nil
		}
	}
	for _, f := range [...]struct{ n, v string }{{"user", c.User}, {"creator", c.Creator}, {"engineType", c.EngineType}} {
		if err := checkName(f.n, f.v); err != nil {
			return Result{}, err
		}
	}
	if len(c.Request) > MaxJobRequestBytes {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "request", "%d bytes, at most %d allowed", len(c.Request), MaxJobRequestBytes)
	}
	if c.QueueTimeout < 0 || c.RunTimeout < 0 {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "timeout", "must not be negative")
	}
	if a := c.Ask; a != nil {
		// Checked as its AskEngine will be at dispatch: an ask the state
		// cannot make, it could not write to a snapshot and read back.
		if _, err := s.newAsk(t, AskEngine{ID: "job", Nonce: a.Nonce, Labels: a.Labels, Params: a.Params, LockTimeout: a.LockTimeout, WaitTimeout: a.WaitTimeout}); err != nil {
			return Result{}, err
		}
	}
	if g := js.groups[jobGroupKey{c.Creator, c.User, c.EngineType}]; g != nil && g.queued >= js.cfg.QueueCapacity {
		return Result{}, linkis.ValueError(linkis.ErrQueueFull, "group", g.name(),
			"its queue holds its capacity of "+strconv.Itoa(js.cfg.QueueCapacity)+" jobs; try again later")
	}
	j := &job{
		id: js.nextID, key: c.Key, user: c.User, creator: c.Creator, engineType: c.EngineType,
		request: c.Request, state: linkis.JobInited, created: t, updated: t,
		queueTimeout: int64(c.QueueTimeout), runTimeout: int64(c.RunTimeout), ask: c.Ask,
	}
	j.execID = ExecIDOf(j.id, c.Nonce)
	js.insert(j)
	js.enqueue(j)
	var r Result
	r.Jobs = append(r.Jobs, JobNotice{TaskID: j.id, State: j.state})
	s.dispatch(t, &r)
	r.Job = j.view()
	return r, nil
}

func (s *State) updateJob(t int64, c UpdateJob) (Result, error) {
	j := s.jobs.byID[c.TaskID]
	if j == nil {
		return Result{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", strconv.FormatInt(c.TaskID, 10), "no such job")
	}
	ended := j.state.Final()
	if err := s.checkUpdate(j, c); err != nil {
		return Result{}, err
	}
	// Checked: from here nothing fails.
	var r Result
	js := &s.jobs
	if c.Progress >= 0 {
		j.progress, j.progressInfo = c.Progress, c.ProgressInfo
	}
	if c.Attempts > j.attempts {
		j.attempts = c.Attempts
	}
	if c.Round > j.round {
		j.round = c.Round
	}
	if c.EC != "" {
		j.ecName = c.EC
	}
	for _, l := range c.Log {
		j.addLine(js.cfg.LogLines, l)
	}
	if c.Task.Key != "" {
		s.attachTask(j, c.Task)
		if ended {
			j.cleanup = true // a task attached after the job ended: stop it too
			js.live[j.id] = j
		}
	}
	if c.TaskEnded != "" {
		j.tasks = deleteTask(j.tasks, c.TaskEnded)
		if i := j.logPart(c.TaskEnded); i >= 0 && j.log[i].Count < 0 {
			j.log[i].Count = c.TaskLines
		}
	}
	for _, l := range c.LogAfter {
		j.addLine(js.cfg.LogLines, l)
	}
	if len(c.Tail) > 0 && js.cfg.TailLines > 0 {
		tail := append(j.tail, c.Tail...)
		if len(tail) > js.cfg.TailLines {
			tail = tail[len(tail)-js.cfg.TailLines:]
		}
		for i := len(j.tail); i < len(tail); i++ {
			tail[i] = clip(tail[i])
		}
		j.tail = append([]string(nil), tail...)
	}
	// The engines go back before the job's end dispatches the next job:
	// its first ask may find them free.
	for _, id := range c.Release {
		// Each applies whole or not at all; an ask already gone is done.
		if rr, err := s.releaseEngine(t, ReleaseEngine{Time: t, AskID: id}); err == nil {
			r.Notices = append(append(r.Notices, rr.Ask), rr.Notices...)
		}
	}
	if c.Cleaned && j.cleanup {
		j.cleanup = false
		j.tasks = nil
		delete(js.live, j.id)
		r.Jobs = append(r.Jobs, JobNotice{TaskID: j.id, State: j.state})
		s.releaseFirst(t, j, &r)
	}
	j.updated = t
	switch {
	case c.State == 0:
	case c.State.Final():
		if len(c.Results) > 0 {
			j.results = append([]string(nil), c.Results...)
		}
		s.endJob(t, j, c.State, c.Reason, false, &r)
	default:
		j.state = c.State
		if c.Reason != "" {
			j.reason = c.Reason
		}
		r.Jobs = append(r.Jobs, JobNotice{TaskID: j.id, State: j.state})
	}
	r.Job = j.view()
	return r, nil
}

// checkUpdate refuses an UpdateJob that would not apply whole.
func (s *State) checkUpdate(j *job, c UpdateJob) error {
	id := strconv.FormatInt(j.id, 10)
	if c.State != 0 {
		switch {
		case j.state.Final():
			return linkis.ValueError(linkis.ErrIllegalTransition, "taskID", id, "the job already ended "+j.state.String())
		case !j.active:
			return linkis.ValueError(linkis.ErrIllegalTransition, "taskID", id, "the job is queued: only its dispatch moves it")
		case c.State == linkis.JobScheduled || !c.State.Valid():
			return linkis.ValueError(linkis.ErrIllegalTransition, "state", c.State.String(), "an update may move a job to Running, WaitForRetry or a final state")
		case c.State != j.state:
			from := j.state
			if from == linkis.JobWaitForRetry && (c.State == linkis.JobRunning || c.State.Final()) {
				from = linkis.JobScheduled // the next attempt started (and maybe ended): through Scheduled
			}
			if err := linkis.CheckJobMove(from, c.State); err != nil {
				return err
			}
		}
	}
	if c.Progress > 1 || c.Progress != c.Progress {
		return linkis.ValueError(linkis.ErrInvalidArgument, "progress", strconv.FormatFloat(c.Progress, 'g', -1, 64), "must be from 0 to 1 (negative: unchanged)")
	}
	if c.Attempts < 0 || c.Round < 0 || c.TaskLines < 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "attempts", "counts must not be negative")
	}
	if len(c.Results) > MaxJobResults {
		return linkis.Errorf(linkis.ErrInvalidArgument, "results", "%d result sets, at most %d allowed", len(c.Results), MaxJobResults)
	}
	if len(c.Release) > MaxJobReleases {
		return linkis.Errorf(linkis.ErrInvalidArgument, "release", "%d asks, at most %d allowed", len(c.Release), MaxJobReleases)
	}
	if c.Task.Key != "" {
		if len(j.tasks) >= MaxJobTasks && taskIndex(j.tasks, c.Task.Key) < 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, "task", "a job runs at most %d tasks at once", MaxJobTasks)
		}
		if len(c.Task.Key) > MaxAskIDLen || len(c.Task.AskID) > MaxAskIDLen || len(c.Task.TaskID) > MaxAskIDLen ||
			len(c.Task.EC) > maxJobName || len(c.Task.ECM) > maxJobName || len(c.Task.Addr) > linkis.MaxAddressLen {
			return linkis.Errorf(linkis.ErrInvalidArgument, "task", "a field is longer than allowed")
		}
	}
	return nil
}

func taskIndex(ts []JobTask, key string) int {
	for i := range ts {
		if ts[i].Key == key {
			return i
		}
	}
	return -1
}

func deleteTask(ts []JobTask, key string) []JobTask {
	i := taskIndex(ts, key)
	if i < 0 {
		return ts
	}
	out := make([]JobTask, 0, len(ts)-1)
	return append(append(out, ts[:i]...), ts[i+1:]...)
}

// attachTask records a task (or updates it) and its part of the log.
func (s *State) attachTask(j *job, t JobTask) {
	if i := taskIndex(j.tasks, t.Key); i >= 0 {
		ts := append([]JobTask(nil), j.tasks...)
		ts[i] = t
		j.tasks = ts
	} else {
		j.tasks = append(append(make([]JobTask, 0, len(j.tasks)+1), j.tasks...), t)
	}
	if i := j.logPart(t.Key); i >= 0 {
		j.log[i].Task = t
	} else {
		j.log = append(j.log, JobLogPart{Task: t, Count: -1})
	}
}

// JobLogTruncated is the last of a job's own log lines once they reached
// JobConfig.LogLines; later ones are dropped.
const JobLogTruncated = "WARN log truncated: the job's own log lines reached their cap; later ones are dropped"

// addLine appends one of the orchestrator's own lines to the job's log,
// while it holds fewer than max (the last one kept says the rest is
// dropped).
func (j *job) addLine(max int, l string) {
	switch {
	case j.logLines >= max:
		return
	case j.logLines == max-1:
		l = JobLogTruncated
	}
	if n := len(j.log); n == 0 || j.log[n-1].Task.Key != "" {
		j.log = append(j.log, JobLogPart{})
	}
	p := &j.log[len(j.log)-1]
	p.Lines = append(p.Lines, clip(l))
	j.logLines++
}

// logLine is a line the state itself writes to a job's log, stamped with
// the command's time (UTC: the same on every replica).
func logLine(t int64, level, msg string) string {
	return time.Unix(0, t).UTC().Format("2006-01-02 15:04:05.000") + " " + level + " " + msg
}

// logPart is the index of task key's part of the log, -1 when it has none.
func (j *job) logPart(key string) int {
	for i := range j.log {
		if j.log[i].Task.Key == key {
			return i
		}
	}
	return -1
}

func (s *State) killJob(t int64, c KillJob) (Result, error) {
	j := s.jobs.byID[c.TaskID]
	if j == nil {
		return Result{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", strconv.FormatInt(c.TaskID, 10), "no such job")
	}
	if len(c.By) > maxJobName {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "by", "at most %d bytes", maxJobName)
	}
	var r Result
	if !j.state.Final() {
		where := "while queued"
		if j.active {
			where = "while " + j.state.String()
		}
		j.killedBy = c.By
		reason := "killed by " + c.By + " " + where
		j.addLine(s.jobs.cfg.LogLines, logLine(t, "INFO", "job "+j.execID+" ended Cancelled: "+reason))
		s.endJob(t, j, linkis.JobCancelled, reason, j.active, &r)
	}
	r.Job = j.view()
	return r, nil
}

func (s *State) configureJobs(t int64, c ConfigureJobs) (Result, error) {
	if err := c.Config.Validate(); err != nil {
		return Result{}, err
	}
	js := &s.jobs
	js.cfg = cloneJobConfig(c.Config)
	// Caps may have risen or fallen: every group's eligibility is
	// recomputed, in key order.
	for _, g := range sortedJobGroups(js.groups) {
		js.fixRing(g)
	}
	js.jobDues.refresh(js.jobDue)
	var r Result
	s.dispatch(t, &r)
	s.evictJobs(t)
	return r, nil
}

// maxTaskID bounds imported task ids, so that the next id never wraps.
const maxTaskID = 1 << 62

func (s *State) importJob(t int64, c ImportJob) (Result, error) {
	v := &c.Job
	js := &s.jobs
	id := strconv.FormatInt(v.TaskID, 10)
	switch {
	case v.TaskID < js.nextID:
		return Result{}, linkis.ValueError(linkis.ErrDuplicate, "taskID", id, "imports need task ids above every job this state has seen ("+strconv.FormatInt(js.nextID-1, 10)+")")
	case !v.State.Final() && v.State != linkis.JobInited && v.State != linkis.JobWaitForRetry:
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "state", v.State.String(), "only ended or queued jobs are imported")
	case v.ExecID == "" || len(v.ExecID) > maxJobName || js.byExec[v.ExecID] != nil:
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "execID", v.ExecID, "must be 1 to 128 bytes and unique")
	case v.TaskID >= maxTaskID:
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "taskID", id, "must be below "+strconv.FormatInt(maxTaskID, 10))
	case len(v.Request) > MaxJobRequestBytes || len(v.Results) > MaxJobResults:
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "taskID", id, "request or results too large")
	case !(v.Progress >= 0 && v.Progress <= 1):
		return Result{}, linkis.ValueError(linkis.ErrInvalidArgument, "progress", strconv.FormatFloat(v.Progress, 'g', -1, 64), "must be from 0 to 1")
	}
	for _, f := range [...]struct{ n, v string }{{"user", v.User}, {"creator", v.Creator}, {"engineType", v.EngineType}} {
		if err := checkName(f.n, f.v); err != nil {
			return Result{}, err
		}
	}
	j := &job{
		id: v.TaskID, execID: v.ExecID, user: v.User, creator: v.Creator, engineType: v.EngineType,
		request: v.Request, state: v.State, progress: v.Progress, progressInfo: v.ProgressInfo,
		attempts: v.Attempts, ecName: v.EC, reason: v.Reason, results: v.Results,
		created: v.Created, updated: t, started: v.Started,
	}
	for _, l := range v.Tail {
		j.tail = append(j.tail, clip(l))
	}
	if n := len(j.tail); n > js.cfg.TailLines {
		j.tail = j.tail[n-js.cfg.TailLines:]
	}
	for _, p := range v.Log {
		if p.Task.Key != "" {
			continue // an import brings no task logs
		}
		for _, l := range p.Lines {
			j.addLine(js.cfg.LogLines, l)
		}
	}
	js.insert(j)
	var r Result
	if j.state.Final() {
		j.ended = v.Ended
		js.endSeq++
		j.endSeq = js.endSeq
		js.addEnded(j)
		s.evictJobs(t)
	} else {
		js.enqueue(j)
		s.dispatch(t, &r)
	}
	r.Job = j.view()
	return r, nil
}

// tickJobs ends jobs whose queuing or running deadline passed (in task id
// order) and trims the history.
func (s *State) tickJobs(t int64, r *Result) {
	js := &s.jobs
	due := js.jobDues.dueBy(t, js.jobDue)
	sortJobs(due)
	for _, j := range due {
		var reason string
		switch {
		case j.queued:
			reason = "waited in its queue longer than its queuing timeout of " + time.Duration(js.timeout(j.queueTimeout, js.cfg.QueueTimeout)).String()
		case j.active:
			reason = "ran longer than its running timeout of " + time.Duration(js.timeout(j.runTimeout, js.cfg.RunTimeout)).String()
		default:
			continue
		}
		j.addLine(js.cfg.LogLines, logLine(t, "INFO", "job "+j.execID+" ended Timeout: "+reason))
		s.endJob(t, j, linkis.JobTimeout, reason, j.active, r)
	}
	s.evictJobs(t)
}

func cloneJobConfig(c JobConfig) JobConfig {
	c.CreatorMaxRunning = cloneCaps(c.CreatorMaxRunning)
	c.GroupOverrides = cloneCaps(c.GroupOverrides)
	return c
}

func cloneCaps(m map[string]int) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
