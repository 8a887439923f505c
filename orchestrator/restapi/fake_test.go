package restapi

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// fakeJobs is an in-memory Entrance: it enforces ownership, validates
// like the real one would (labels, engine types, variables) and lets a
// test move jobs along.
type fakeJobs struct {
	mu      sync.Mutex
	next    int64
	jobs    map[string]*orchestrator.Job // by exec id
	logs    map[string][]string
	results map[string]string // result path -> owner
	now     time.Time
	// failWith, when set, is returned by every call (to test internal
	// errors).
	failWith error
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{jobs: map[string]*orchestrator.Job{}, logs: map[string][]string{}, results: map[string]string{},
		now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

var _ Jobs = (*fakeJobs)(nil)

var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

func (f *fakeJobs) Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return orchestrator.Job{}, f.failWith
	}
	et, ok := req.Labels[linkis.LabelEngineType]
	if !ok {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrMissingLabel, linkis.LabelEngineType, "required")
	}
	ucs, ok := req.Labels[linkis.LabelUserCreator]
	if !ok {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrMissingLabel, linkis.LabelUserCreator, "required")
	}
	typ, err := linkis.ParseEngineType(et)
	if err != nil {
		return orchestrator.Job{}, err
	}
	if typ.Type != "shell" && typ.Type != "python" && typ.Type != "sql" {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownEngineType, linkis.LabelEngineType, et, "no engine of this type")
	}
	uc, err := linkis.ParseUserCreator(ucs)
	if err != nil {
		return orchestrator.Job{}, err
	}
	if uc.User != user {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrPermission, linkis.LabelUserCreator, ucs, "names another user")
	}
	for _, m := range varRef.FindAllStringSubmatch(req.ExecutionContent.Code, -1) {
		if _, ok := req.Params.Variable[m[1]]; !ok && m[1] != "run_date" {
			return orchestrator.Job{}, linkis.ValueError(linkis.ErrInvalidArgument, "variable", m[1], "unknown variable")
		}
	}
	f.next++
	j := &orchestrator.Job{TaskID: f.next, ExecID: fmt.Sprintf("exec_%d", f.next), User: user, Creator: uc.Creator,
		EngineType: et, Request: req, State: orchestrator.Inited, Created: f.now, Updated: f.now}
	f.jobs[j.ExecID] = j
	return *j, nil
}

func (f *fakeJobs) get(user, execID string) (*orchestrator.Job, error) {
	if f.failWith != nil {
		return nil, f.failWith
	}
	j, ok := f.jobs[execID]
	if !ok {
		return nil, linkis.ValueError(linkis.ErrUnknownJob, "execID", execID, "no such job")
	}
	if j.User != user {
		return nil, linkis.ValueError(linkis.ErrPermission, "execID", execID, "the job of another user")
	}
	return j, nil
}

func (f *fakeJobs) Job(user string, taskID int64) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if j.TaskID == taskID {
			jj, err := f.get(user, j.ExecID)
			if err != nil {
				return orchestrator.Job{}, err
			}
			return *jj, nil
		}
	}
	return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", fmt.Sprint(taskID), "no such job")
}

func (f *fakeJobs) JobByExecID(user, execID string) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return *j, nil
}

func (f *fakeJobs) Log(user, execID string, from, size int) (orchestrator.LogPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(user, execID)
	if err != nil {
		return orchestrator.LogPage{}, err
	}
	lines := f.logs[execID]
	lo := min(from, len(lines))
	hi := min(len(lines), lo+size)
	return orchestrator.LogPage{From: lo, Lines: append([]string(nil), lines[lo:hi]...), Next: hi,
		Complete: j.State.Final() && hi == len(lines)}, nil
}

func (f *fakeJobs) Kill(user, execID string) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	if !j.State.Final() {
		j.State = orchestrator.Cancelled
		j.Reason = "killed by " + user
		j.Ended = f.now
	}
	return *j, nil
}

func (f *fakeJobs) List(user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, 0, f.failWith
	}
	var all []orchestrator.Job
	for _, j := range f.jobs {
		if j.User != user || (q.State != 0 && j.State != q.State) || (q.Creator != "" && j.Creator != q.Creator) ||
			(q.EngineType != "" && !strings.HasPrefix(j.EngineType, q.EngineType)) {
			continue
		}
		all = append(all, *j)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].TaskID > all[b].TaskID })
	lo := min(len(all), (q.Page-1)*q.PageSize)
	hi := min(len(all), lo+q.PageSize)
	return all[lo:hi], len(all), nil
}

func (f *fakeJobs) OpenResult(user, path string) (*os.File, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, "", f.failWith
	}
	if owner, ok := f.results[path]; !ok || owner != user {
		return nil, "", linkis.ValueError(linkis.ErrPermission, "path", path, "not a result of "+user)
	}
	fh, err := os.Open(path)
	return fh, path, err
}

// set changes a job the way the entrance would while it runs.
func (f *fakeJobs) set(execID string, fn func(j *orchestrator.Job)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.jobs[execID])
}

func (f *fakeJobs) addLog(execID string, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[execID] = append(f.logs[execID], lines...)
}

// addResult writes a result-set file of user's job and records it.
func (f *fakeJobs) addResult(execID, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		panic(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[execID]
	j.Results = append(j.Results, path)
	f.results[path] = j.User
}

func (f *fakeJobs) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}
