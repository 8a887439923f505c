package manager

import (
	"cmp"
	"slices"

	"github.com/golinkis/golinkis/linkis"
)

// JobView is a job's record as a reader sees it: a copy that later
// commands do not change.
type JobView struct {
	TaskID                    int64
	ExecID                    string
	User, Creator, EngineType string
	Request                   []byte // shared with the state: never change it
	State                     linkis.JobState
	Progress                  float64
	ProgressInfo              string
	Attempts                  int
	Round                     int
	EC                        string
	Reason                    string
	KilledBy                  string
	Results                   []string
	Tasks                     []JobTask    // tasks running now
	Log                       []JobLogPart // the whole log, piece by piece
	Tail                      []string     // the last lines of engine output
	Created, Updated          int64
	Started, Ended            int64
	// Group is the consumer group's name, Creator_User_EngineType.
	Group string
	// Position is the job's place in its group's queue (1: next), 0 when
	// it is not queued.
	Position int
	// Cleanup: the job ended while its tasks ran; the dispatcher stops
	// them.
	Cleanup bool
	// QueueTimeout and RunTimeout are the job's own (0: the default).
	QueueTimeout, RunTimeout int64
}

// view copies a record, with its place in its queue.
func (j *job) view() JobView {
	v := j.record()
	if j.queued {
		for q := j.group.head; q != nil; q = q.next {
			v.Position++
			if q == j {
				break
			}
		}
	}
	return v
}

// record copies a record.
func (j *job) record() JobView {
	v := JobView{
		TaskID: j.id, ExecID: j.execID, User: j.user, Creator: j.creator, EngineType: j.engineType,
		Request: j.request, State: j.state, Progress: j.progress, ProgressInfo: j.progressInfo,
		Attempts: j.attempts, Round: j.round, EC: j.ecName, Reason: j.reason, KilledBy: j.killedBy,
		Results: slices.Clone(j.results), Tasks: slices.Clone(j.tasks), Tail: slices.Clone(j.tail),
		Created: j.created, Updated: j.updated, Started: j.started, Ended: j.ended,
		Group:   j.creator + "_" + j.user + "_" + j.engineType,
		Cleanup: j.cleanup, QueueTimeout: j.queueTimeout, RunTimeout: j.runTimeout,
	}
	if len(j.log) > 0 {
		v.Log = make([]JobLogPart, len(j.log))
		for i, p := range j.log {
			v.Log[i] = JobLogPart{Lines: slices.Clone(p.Lines), Task: p.Task, Count: p.Count}
		}
	}
	return v
}

// Job returns a job's record by task id.
func (s *State) Job(taskID int64) (JobView, bool) {
	j := s.jobs.byID[taskID]
	if j == nil {
		return JobView{}, false
	}
	return j.view(), true
}

// JobByExecID returns a job's record by exec id.
func (s *State) JobByExecID(execID string) (JobView, bool) {
	j := s.jobs.byExec[execID]
	if j == nil {
		return JobView{}, false
	}
	return j.view(), true
}

// JobOwner returns a job's user without copying its record (ok false when
// the job is unknown).
func (s *State) JobOwner(taskID int64) (user string, ok bool) {
	if j := s.jobs.byID[taskID]; j != nil {
		return j.user, true
	}
	return "", false
}

// JobQuery selects jobs for the history, newest first.
type JobQuery struct {
	User       string            // "": every user's
	States     []linkis.JobState // empty: any
	Creator    string            // "": any
	EngineType string            // "": any; the type part or the whole label
	Since      int64             // created at or after (Unix ns); 0: no bound
	Until      int64             // created before; 0: no bound
	TaskID     int64             // 0: any
	Offset     int               // matching jobs skipped
	Limit      int               // at most this many returned (≤ 0: none, only the count)
}

// ListJobs returns the jobs q selects, newest first, and how many match in
// all. It costs the user's jobs (or all jobs) walked once.
func (s *State) ListJobs(q JobQuery) ([]JobView, int) {
	t := s.jobs.all
	if q.User != "" {
		t = s.jobs.byUser[q.User]
		if t == nil {
			return nil, 0
		}
	}
	var out []JobView
	total := 0
	t.Descend(func(j *job) bool {
		if !q.matches(j) {
			return true
		}
		if total >= q.Offset && len(out) < q.Limit {
			out = append(out, j.view())
		}
		total++
		return true
	})
	return out, total
}

func (q *JobQuery) matches(j *job) bool {
	if q.TaskID != 0 && j.id != q.TaskID || q.Creator != "" && j.creator != q.Creator {
		return false
	}
	if q.Since != 0 && j.created < q.Since || q.Until != 0 && j.created >= q.Until {
		return false
	}
	if q.EngineType != "" && j.engineType != q.EngineType {
		et, err := linkis.ParseEngineType(j.engineType)
		if err != nil || et.Type != q.EngineType {
			return false
		}
	}
	return len(q.States) == 0 || slices.Contains(q.States, j.state)
}

// LiveJobs returns, in task id order, the jobs the dispatcher must drive:
// dispatched and not ended, or ended while their tasks ran.
func (s *State) LiveJobs() []JobView {
	out := make([]JobView, 0, len(s.jobs.live))
	for _, j := range s.jobs.live {
		out = append(out, j.view())
	}
	slices.SortFunc(out, func(a, b JobView) int { return cmp.Compare(a.TaskID, b.TaskID) })
	return out
}

// JobGroupInfo is a consumer group as a reader sees it.
type JobGroupInfo struct {
	Name, Creator, User, EngineType string
	Queued, Running, MaxRunning     int
}

// JobGroups returns the consumer groups that have queued or running jobs,
// by name.
func (s *State) JobGroups() []JobGroupInfo {
	out := make([]JobGroupInfo, 0, len(s.jobs.groups))
	for _, g := range sortedJobGroups(s.jobs.groups) {
		out = append(out, JobGroupInfo{
			Name: g.name(), Creator: g.key.creator, User: g.key.user, EngineType: g.key.engineType,
			Queued: g.queued, Running: g.running, MaxRunning: s.jobs.groupCap(g),
		})
	}
	return out
}

// LiveJobStates counts the dispatched jobs by state (queued jobs are
// counted by JobGroups).
func (s *State) LiveJobStates() (byState [linkis.JobTimeout + 1]int) {
	for _, j := range s.jobs.live {
		if !j.state.Final() {
			byState[j.state]++
		}
	}
	return byState
}

// JobConfig returns the entrance's configuration.
func (s *State) JobConfig() JobConfig { return cloneJobConfig(s.jobs.cfg) }

func sortJobs(js []*job) {
	slices.SortFunc(js, func(a, b *job) int { return cmp.Compare(a.id, b.id) })
}

func sortedJobGroups(m map[jobGroupKey]*jobGroup) []*jobGroup {
	out := make([]*jobGroup, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *jobGroup) int {
		return cmp.Or(cmp.Compare(a.key.creator, b.key.creator), cmp.Compare(a.key.user, b.key.user), cmp.Compare(a.key.engineType, b.key.engineType))
	})
	return out
}
