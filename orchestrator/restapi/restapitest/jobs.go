package restapitest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
)

// Jobs is an in-memory Entrance; it satisfies restapi.Jobs. The zero
// value is not usable: call NewJobs. It is safe for concurrent use. Logs
// and result directories are named as the Entrance names them.
type Jobs struct {
	locations
	mu      sync.Mutex
	next    int64
	jobs    map[string]*orchestrator.Job // by exec id
	logs    map[string][]string
	results map[string]string // result path -> owner
	// Now is the time jobs are created at.
	Now time.Time
	// FailWith, when set, is returned by every call but Set, AddLog and
	// AddResult (to test how errors are answered). Set it before the
	// calls it should fail.
	FailWith error
}

// NewJobs returns an empty Jobs whose jobs are created at 2026-11-21
// 12:00 UTC; exec ids are exec_1, exec_2, ... and task ids 1, 2, ...
func NewJobs() *Jobs {
	return &Jobs{jobs: map[string]*orchestrator.Job{}, logs: map[string][]string{}, results: map[string]string{},
		Now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// Submit accepts a job in state Inited, or refuses it: a missing
// engineType or userCreator label, an engine type other than shell,
// python and sql, a userCreator naming another user, a ${name} without
// its variable (run_date is known).
func (f *Jobs) Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailWith != nil {
		return orchestrator.Job{}, f.FailWith
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
		EngineType: et, Request: req, State: orchestrator.Inited, Created: f.Now, Updated: f.Now}
	f.jobs[j.ExecID] = j
	return *j, nil
}

func (f *Jobs) get(user, execID string) (*orchestrator.Job, error) {
	if f.FailWith != nil {
		return nil, f.FailWith
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

// Job returns the record of a task id.
func (f *Jobs) Job(_ context.Context, user string, taskID int64) (orchestrator.Job, error) {
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

// JobByExecID returns the record of an exec id.
func (f *Jobs) JobByExecID(_ context.Context, user, execID string) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return *j, nil
}

// Log returns a page of the lines AddLog added.
func (f *Jobs) Log(_ context.Context, user, execID string, from, size int) (orchestrator.LogPage, error) {
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

// Kill moves a job that has not ended to Cancelled.
func (f *Jobs) Kill(_ context.Context, user, execID string) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.get(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	if !j.State.Final() {
		j.State = orchestrator.Cancelled
		j.Reason = "killed by " + user
		j.Ended = f.Now
	}
	return *j, nil
}

// List filters by state, creator and engine-type prefix, newest first.
func (f *Jobs) List(_ context.Context, user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailWith != nil {
		return nil, 0, f.FailWith
	}
	var all []orchestrator.Job
	for _, j := range f.jobs {
		states := q.States
		if q.State != 0 {
			states = append(states, q.State)
		}
		if j.User != user || (len(states) > 0 && !slices.Contains(states, j.State)) || (q.Creator != "" && j.Creator != q.Creator) ||
			(q.EngineType != "" && !strings.HasPrefix(j.EngineType, q.EngineType)) || (q.TaskID != 0 && j.TaskID != q.TaskID) {
			continue
		}
		all = append(all, *j)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].TaskID > all[b].TaskID })
	lo := min(len(all), (q.Page-1)*q.PageSize)
	hi := min(len(all), lo+q.PageSize)
	return all[lo:hi], len(all), nil
}

// OpenResult opens a file AddResult recorded for user.
func (f *Jobs) OpenResult(_ context.Context, user, path string) (io.ReadCloser, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailWith != nil {
		return nil, "", f.FailWith
	}
	if owner, ok := f.results[path]; !ok || owner != user {
		return nil, "", linkis.ValueError(linkis.ErrPermission, "path", path, "not a result of "+user)
	}
	fh, err := os.Open(path)
	return fh, path, err
}

// Set changes a job the way the Entrance would while it runs.
func (f *Jobs) Set(execID string, fn func(j *orchestrator.Job)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.jobs[execID])
}

// AddLog appends lines to a job's log.
func (f *Jobs) AddLog(execID string, lines ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[execID] = append(f.logs[execID], lines...)
}

// AddResult writes a result-set file with content at path and records
// it as a result of the job.
func (f *Jobs) AddResult(execID, path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.jobs[execID]
	j.Results = append(j.Results, path)
	f.results[path] = j.User
	return nil
}

// Count returns how many jobs were accepted.
func (f *Jobs) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

// JobAny returns any user's job by task id.
func (f *Jobs) JobAny(_ context.Context, taskID int64) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailWith != nil {
		return orchestrator.Job{}, f.FailWith
	}
	for _, j := range f.jobs {
		if j.TaskID == taskID {
			return *j, nil
		}
	}
	return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", fmt.Sprint(taskID), "no such job")
}

// JobByExecIDAny returns any user's job by exec id.
func (f *Jobs) JobByExecIDAny(_ context.Context, execID string) (orchestrator.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailWith != nil {
		return orchestrator.Job{}, f.FailWith
	}
	j, ok := f.jobs[execID]
	if !ok {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownJob, "execID", execID, "no such job")
	}
	return *j, nil
}

// KillBy kills any user's job.
func (f *Jobs) KillBy(ctx context.Context, by, execID string) (orchestrator.Job, error) {
	j, err := f.JobByExecIDAny(ctx, execID)
	if err != nil {
		return j, err
	}
	return f.Kill(ctx, j.User, execID)
}

// ListAll lists every user's jobs (user ""), or one user's.
func (f *Jobs) ListAll(ctx context.Context, user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	if user != "" {
		return f.List(ctx, user, q)
	}
	f.mu.Lock()
	users := map[string]bool{}
	for _, j := range f.jobs {
		users[j.User] = true
	}
	f.mu.Unlock()
	var all []orchestrator.Job
	for u := range users {
		js, _, err := f.List(ctx, u, orchestrator.ListQuery{State: q.State, States: q.States, Creator: q.Creator, EngineType: q.EngineType, Page: 1, PageSize: 1 << 30})
		if err != nil {
			return nil, 0, err
		}
		all = append(all, js...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].TaskID > all[b].TaskID })
	lo := min(len(all), (q.Page-1)*q.PageSize)
	hi := min(len(all), lo+q.PageSize)
	return all[lo:hi], len(all), nil
}

// ResultPage reads rows of a result file AddResult recorded for user.
func (f *Jobs) ResultPage(ctx context.Context, user, path string, from, size, _ int) (api.ResultPage, error) {
	rc, _, err := f.OpenResult(ctx, user, path)
	if err != nil {
		return api.ResultPage{}, err
	}
	defer rc.Close()
	rs, err := api.ReadResultSet(rc, 0)
	if err != nil {
		return api.ResultPage{}, err
	}
	p := api.ResultPage{Header: rs.ResultSetHeader, From: from, Total: len(rs.Rows), Rows: []json.RawMessage{}}
	for i := from; i < len(rs.Rows) && i < from+size; i++ {
		b, _ := json.Marshal(rs.Rows[i])
		p.Rows = append(p.Rows, b)
	}
	p.Next = from + len(p.Rows)
	return p, nil
}

// locations names logs and result directories as the Entrance does.
type locations struct{}

func (locations) LogLocation(user string, taskID int64) string {
	return entrance.LogLocation(user, taskID)
}
func (locations) ParseLogLocation(p string) (string, int64, error) {
	return entrance.ParseLogLocation(p)
}
func (locations) ResultLocation(user string, taskID int64) string {
	return entrance.ResultLocation(user, taskID)
}
func (locations) ResultRoot(user string) string { return entrance.ResultRoot(user) }
func (locations) ParseResultLocation(p string) (string, int64, error) {
	return entrance.ParseResultLocation(p)
}
