package entrance

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/raftstore"
)

// Store is what the entrance needs of the replicated state (raftstore.Node
// and raftstore.Memory are ones).
type Store interface {
	Apply(ctx context.Context, cmd manager.Command) (manager.Result, error)
	Read(ctx context.Context, consistent bool, fn func(*manager.State)) error
	Lead(fn func(ctx context.Context)) (stop func())
	ObserveJobs(o raftstore.JobObserver)
	Leader() (self bool, httpAddr string)
}

var _ Store = raftstore.Store(nil)

// Entrance accepts jobs into the replicated state and serves them from it;
// while its member leads, its dispatcher runs the jobs the state
// dispatches. It is safe for concurrent use.
type Entrance struct {
	cfg    Config
	store  Store
	runner orchestrator.Runner
	host   HostData
	log    *slog.Logger
	m      *metrics

	mu       sync.Mutex
	closed   bool
	closedCh chan struct{}
	waiters  map[int64]*waiter // of jobs callers wait for
	disp     *dispatcher       // while this member leads

	stopLead func()
}

// Open starts an entrance over store: jobs submitted to any member are
// dispatched by the leader's entrance. A DataDir of the previous version is
// imported first (Migrate). host reads task logs and result files where
// the tasks ran; log may be nil.
func Open(cfg Config, store Store, runner orchestrator.Runner, host HostData, log *slog.Logger) (*Entrance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || runner == nil || host == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "entrance", "a store, a runner and host data are required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Entrance{cfg: cfg, store: store, runner: runner, host: host, log: log,
		closedCh: make(chan struct{}), waiters: map[int64]*waiter{}}
	e.m = newMetrics(e)
	if cfg.DataDir != "" {
		if err := Migrate(context.Background(), store, cfg.DataDir, log); err != nil {
			return nil, err
		}
	}
	if cfg.Jobs != nil {
		// At once, so that the first submissions meet it; the dispatcher
		// proposes it again at each term if this one does not make it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := ensureJobConfig(ctx, store, *cfg.Jobs); err != nil {
			log.Warn("entrance: configuring the job queues (the leader will try again)", "err", err)
		}
		cancel()
	}
	store.ObserveJobs(e.observe)
	e.stopLead = store.Lead(e.lead)
	return e, nil
}

// ensureJobConfig proposes want unless the state holds it already.
func ensureJobConfig(ctx context.Context, store Store, want manager.JobConfig) error {
	var have manager.JobConfig
	if err := store.Read(ctx, true, func(s *manager.State) { have = s.JobConfig() }); err != nil {
		return err
	}
	if reflect.DeepEqual(normalJobConfig(have), normalJobConfig(want)) {
		return nil
	}
	_, err := store.Apply(ctx, manager.ConfigureJobs{Time: time.Now().UnixNano(), Config: want})
	return err
}

// normalJobConfig maps empty override maps to nil, as the state keeps them.
func normalJobConfig(c manager.JobConfig) manager.JobConfig {
	if len(c.CreatorMaxRunning) == 0 {
		c.CreatorMaxRunning = nil
	}
	if len(c.GroupOverrides) == 0 {
		c.GroupOverrides = nil
	}
	return c
}

// Close stops the dispatcher of this member - its runs are detached, not
// ended: their tasks go on and the next leader (or this member, restarted)
// takes them up - and makes waiting callers return ErrUnavailable. The
// store stays open: it is the caller's.
func (e *Entrance) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closedCh)
	e.mu.Unlock()
	e.stopLead()
	e.store.ObserveJobs(nil)
	return nil
}

// observe hears what every applied entry did to jobs: it wakes the callers
// waiting for jobs that ended and hands the rest to the dispatcher.
func (e *Entrance) observe(ns []manager.JobNotice, resync bool) {
	e.mu.Lock()
	for _, n := range ns {
		if n.State.Final() {
			if w, ok := e.waiters[n.TaskID]; ok {
				close(w.ch)
				delete(e.waiters, n.TaskID)
			}
		}
	}
	if resync {
		// The state was replaced: wake everyone to look again.
		for id, w := range e.waiters {
			close(w.ch)
			delete(e.waiters, id)
		}
	}
	d := e.disp
	e.mu.Unlock()
	if d != nil {
		d.notify(ns, resync)
	}
}

func (e *Entrance) closedErr() error {
	select {
	case <-e.closedCh:
		return linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed")
	default:
		return nil
	}
}

// read runs fn on the state: current (linearizable) unless the entrance or
// ctx allows stale reads.
func (e *Entrance) read(ctx context.Context, fn func(*manager.State)) error {
	if err := e.closedErr(); err != nil {
		return err
	}
	return e.store.Read(ctx, !e.cfg.StaleReads && !orchestrator.StaleAllowed(ctx), fn)
}

// validUser reports whether user can name a user: what userCreator
// accepts, except names made of dots only (they would be path elements).
func validUser(user string) bool {
	if _, err := linkis.ParseUserCreator(user + "-x"); err != nil {
		return false
	}
	for i := 0; i < len(user); i++ {
		if user[i] != '.' {
			return true
		}
	}
	return false
}

// validate checks what the entrance itself needs of a request.
func validate(user string, req *orchestrator.JobRequest) (linkis.UserCreator, error) {
	if !validUser(user) {
		return linkis.UserCreator{}, linkis.ValueError(linkis.ErrInvalidArgument, "user", user, "must be 1-64 letters, digits, '_', '.' or '@', not dots only")
	}
	if req.SubmitUser == user {
		req.SubmitUser = ""
	}
	if req.SubmitUser != "" && !validUser(req.SubmitUser) {
		return linkis.UserCreator{}, linkis.ValueError(linkis.ErrInvalidArgument, "submitUser", req.SubmitUser, "must be 1-64 letters, digits, '_', '.' or '@', not dots only")
	}
	ucs, ok := req.Labels[linkis.LabelUserCreator]
	if !ok {
		return linkis.UserCreator{}, linkis.Errorf(linkis.ErrMissingLabel, linkis.LabelUserCreator, "required, e.g. %s-IDE", user)
	}
	if _, ok := req.Labels[linkis.LabelEngineType]; !ok {
		return linkis.UserCreator{}, linkis.Errorf(linkis.ErrMissingLabel, linkis.LabelEngineType, "required, e.g. shell-1")
	}
	if _, err := linkis.ParseLabels(req.Labels); err != nil {
		return linkis.UserCreator{}, err
	}
	uc, _ := linkis.ParseUserCreator(ucs)
	if uc.User != user {
		return uc, linkis.ValueError(linkis.ErrPermission, linkis.LabelUserCreator, ucs,
			fmt.Sprintf("names user %q but the job is submitted by %q", uc.User, user))
	}
	return uc, nil
}

// Redactor is what a Runner may offer to take the secrets out of a request
// before it is committed (the Orchestrator seals them: see
// orchestrator.RedactRequest).
type Redactor interface {
	Redact(user string, req *orchestrator.JobRequest) int
}

// FirstAsker is what a Runner may offer to have the state make a job's
// first engine ask as it dispatches the job (manager.SubmitJob.Ask), so
// that no commit stands between the dispatch and the engine. The
// Orchestrator is one.
type FirstAsker interface {
	FirstAsk(spec orchestrator.Spec) (manager.JobAsk, bool)
}

// labelTimeout reads a timeout label (0 when absent).
func labelTimeout(req *orchestrator.JobRequest, label string) (time.Duration, error) {
	v, ok := req.Labels[label]
	if !ok {
		return 0, nil
	}
	return ParseTimeout(label, v)
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, linkis.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, linkis.ErrPermission):
		return "permission"
	case errors.Is(err, linkis.ErrMissingLabel), errors.Is(err, linkis.ErrInvalidLabel):
		return "labels"
	case errors.Is(err, linkis.ErrUnavailable), errors.Is(err, linkis.ErrNotLeader):
		return "unavailable"
	}
	return "invalid"
}

// Submit validates req and accepts it as a job of user's: it returns once
// the job is committed in the replicated state (on a quorum). The user
// must be the one named by the userCreator label (linkis.ErrPermission
// otherwise); userCreator and engineType are required; the runner's Check
// judges the rest. A full queue is linkis.ErrQueueFull; a member without
// a quorum answers a retryable linkis.ErrUnavailable. On any error nothing
// is accepted - or, for ErrUnavailable only, the job may have been: a
// submission is retried with the same key, so it is accepted once.
func (e *Entrance) Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	job, err := e.submit(ctx, user, req)
	if err != nil {
		e.m.rejected.WithLabelValues(rejectReason(err)).Inc()
	} else {
		e.m.submitted.Inc()
	}
	return job, err
}

// submitTries bounds the retries of a submission whose outcome is unknown.
const submitTries = 5

func (e *Entrance) submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	if err := e.closedErr(); err != nil {
		return orchestrator.Job{}, err
	}
	uc, err := validate(user, &req)
	if err != nil {
		return orchestrator.Job{}, err
	}
	qt, err := labelTimeout(&req, linkis.LabelJobQueuingTimeout)
	if err != nil {
		return orchestrator.Job{}, err
	}
	rt, err := labelTimeout(&req, linkis.LabelJobRunningTimeout)
	if err != nil {
		return orchestrator.Job{}, err
	}
	globals, err := e.globals(ctx, user, &req)
	if err != nil {
		return orchestrator.Job{}, err
	}
	now := time.Now()
	if err := e.runner.Check(orchestrator.Spec{User: user, Request: req, Submitted: now, Globals: globals}); err != nil {
		return orchestrator.Job{}, err
	}
	if r, ok := e.runner.(Redactor); ok {
		r.Redact(user, &req) // the record is replicated and kept: no secret in it
	}
	body, err := json.Marshal(&storedRequest{JobRequest: req, Globals: globals})
	if err != nil {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrInvalidArgument, "request", "cannot be stored: %v", err)
	}
	if len(body) > manager.MaxJobRequestBytes {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrInvalidArgument, "request", "its record would take %d bytes, at most %d are allowed", len(body), manager.MaxJobRequestBytes)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	cmd := manager.SubmitJob{
		Time: now.UnixNano(), Key: binary.LittleEndian.Uint64(rnd[:8]) | 1, Nonce: binary.LittleEndian.Uint32(rnd[8:]),
		User: user, Creator: uc.Creator, EngineType: req.Labels[linkis.LabelEngineType], Request: body,
		QueueTimeout: qt, RunTimeout: rt,
	}
	if fa, ok := e.runner.(FirstAsker); ok {
		// From the request as stored: what the run will plan from.
		if a, ok := fa.FirstAsk(orchestrator.Spec{User: user, Request: req, Submitted: now, Globals: globals}); ok {
			cmd.Ask = &a
		}
	}
	var res manager.Result
	unknown := false // an attempt may have been accepted
	for try := 1; ; try++ {
		res, err = e.store.Apply(ctx, cmd)
		unknown = unknown || errors.Is(err, linkis.ErrUnavailable)
		// It may have been accepted: the same key finds it if it was. Once
		// an attempt's outcome is unknown, a member without a leader
		// (ErrNotLeader) says nothing of it: asked again too.
		again := errors.Is(err, linkis.ErrUnavailable) || unknown && errors.Is(err, linkis.ErrNotLeader)
		if err == nil || !again || try == submitTries || ctx.Err() != nil {
			break
		}
		if !linkis.Sleep(ctx, time.Duration(try)*50*time.Millisecond) {
			break
		}
	}
	if err != nil && unknown && errors.Is(err, linkis.ErrNotLeader) {
		// Not "certainly not accepted", as ErrNotLeader alone says: a
		// client that takes it so submits the job a second time.
		err = linkis.Errorf(linkis.ErrUnavailable, "submit", "the job may or may not have been accepted (no answer from the leader, then %v)", err)
	}
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.toJob(res.Job)
}

// storedRequest is a job's request as the state keeps it: Linkis's
// request, and the user's global variables its code uses as they were at
// submission, so that every run of it - after a restart, under another
// leader - substitutes the same values.
type storedRequest struct {
	orchestrator.JobRequest
	Globals orchestrator.Values `json:"globalVariables,omitempty"`
}

// globals returns the user's global variables that req's code refers to
// and its own variables do not set. They are read from this member's
// state when it leads (it has applied every change acknowledged to
// anyone) and through the leader otherwise.
func (e *Entrance) globals(ctx context.Context, user string, req *orchestrator.JobRequest) (orchestrator.Values, error) {
	var names []string
	for _, n := range orchestrator.References(req.ExecutionContent.Code) {
		if _, own := req.Params.Variable[n]; !own {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	leads, _ := e.store.Leader()
	var out orchestrator.Values
	err := e.store.Read(ctx, !leads && !e.cfg.StaleReads && !orchestrator.StaleAllowed(ctx), func(s *manager.State) {
		vars := s.Variables(user)
		for _, n := range names {
			if v, ok := vars[n]; ok {
				if out == nil {
					out = orchestrator.Values{}
				}
				out[n] = v
			}
		}
	})
	return out, err
}

// toJob turns a record into the orchestrator's Job.
func (e *Entrance) toJob(v manager.JobView) (orchestrator.Job, error) {
	j := orchestrator.Job{
		TaskID: v.TaskID, ExecID: v.ExecID, User: v.User, Creator: v.Creator, EngineType: v.EngineType,
		State: v.State, Progress: v.Progress, ProgressInfo: v.ProgressInfo, Attempts: v.Attempts,
		EC: v.EC, Reason: v.Reason, Position: v.Position,
		Created: unixTime(v.Created), Updated: unixTime(v.Updated), Started: unixTime(v.Started), Ended: unixTime(v.Ended),
	}
	if err := json.Unmarshal(v.Request, &j.Request); err != nil && len(v.Request) > 0 {
		return j, linkis.Errorf(linkis.ErrMalformed, "request", "job %d's request cannot be read: %v", v.TaskID, err)
	}
	for i := range v.Results {
		j.Results = append(j.Results, resultPath(v.User, v.TaskID, i))
	}
	return j, nil
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// view reads a job of user's by exec id (ErrUnknownJob, ErrPermission).
func (e *Entrance) view(ctx context.Context, user, execID string) (manager.JobView, error) {
	v, err := e.viewAny(ctx, execID)
	if err != nil {
		return v, err
	}
	if v.User != user {
		return manager.JobView{}, linkis.ValueError(linkis.ErrPermission, "execID", execID, fmt.Sprintf("the job is not %q's", user))
	}
	return v, nil
}

// viewAny reads any user's job by exec id (ErrUnknownJob).
func (e *Entrance) viewAny(ctx context.Context, execID string) (manager.JobView, error) {
	var v manager.JobView
	var ok bool
	if err := e.read(ctx, func(s *manager.State) { v, ok = s.JobByExecID(execID) }); err != nil {
		return v, err
	}
	if !ok {
		return v, linkis.ValueError(linkis.ErrUnknownJob, "execID", execID, "no such job")
	}
	return v, nil
}

// JobAny returns any user's job by task id (linkis.ErrUnknownJob if there
// is none), for a caller that may read every user's jobs (an
// administrator).
func (e *Entrance) JobAny(ctx context.Context, taskID int64) (orchestrator.Job, error) {
	var v manager.JobView
	var ok bool
	if err := e.read(ctx, func(s *manager.State) { v, ok = s.Job(taskID) }); err != nil {
		return orchestrator.Job{}, err
	}
	if !ok {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", strconv.FormatInt(taskID, 10), "no such job")
	}
	return e.toJob(v)
}

// JobByExecIDAny returns any user's job by exec id (as JobAny).
func (e *Entrance) JobByExecIDAny(ctx context.Context, execID string) (orchestrator.Job, error) {
	v, err := e.viewAny(ctx, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.toJob(v)
}

// Job returns a job of user's by task id: linkis.ErrUnknownJob if there is
// none, linkis.ErrPermission if it is another user's.
func (e *Entrance) Job(ctx context.Context, user string, taskID int64) (orchestrator.Job, error) {
	var v manager.JobView
	var ok bool
	if err := e.read(ctx, func(s *manager.State) { v, ok = s.Job(taskID) }); err != nil {
		return orchestrator.Job{}, err
	}
	id := strconv.FormatInt(taskID, 10)
	if !ok {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrUnknownJob, "taskID", id, "no such job")
	}
	if v.User != user {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrPermission, "taskID", id, fmt.Sprintf("the job is not %q's", user))
	}
	return e.toJob(v)
}

// JobByExecID returns a job of user's by exec id (errors as Job).
func (e *Entrance) JobByExecID(ctx context.Context, user, execID string) (orchestrator.Job, error) {
	v, err := e.view(ctx, user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.toJob(v)
}

// Kill cancels a job of user's at any stage: it ends Cancelled at once,
// and the tasks it was running are stopped by the leader's dispatcher.
// Killing an ended job returns it unchanged, without error.
func (e *Entrance) Kill(ctx context.Context, user, execID string) (orchestrator.Job, error) {
	v, err := e.view(ctx, user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.kill(ctx, v, user)
}

// KillBy cancels any user's job, as Kill, recording by as who killed it.
// Whether by may is the caller's to decide (an administrator may).
func (e *Entrance) KillBy(ctx context.Context, by, execID string) (orchestrator.Job, error) {
	v, err := e.viewAny(ctx, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.kill(ctx, v, by)
}

func (e *Entrance) kill(ctx context.Context, v manager.JobView, by string) (orchestrator.Job, error) {
	if v.State.Final() {
		return e.toJob(v)
	}
	res, err := e.store.Apply(ctx, manager.KillJob{Time: time.Now().UnixNano(), TaskID: v.TaskID, By: by})
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.toJob(res.Job)
}

// Wait returns a job of user's once it has ended, or when ctx is done
// (with the job as it stands and ctx's error), or when the entrance closes
// (linkis.ErrUnavailable). It is woken by the job's end as this member
// applies it, not by polling.
func (e *Entrance) Wait(ctx context.Context, user, execID string) (orchestrator.Job, error) {
	// A job's final state never changes, so this member's own state can
	// answer whenever it knows the job: ended, it is the answer; not yet,
	// the end's notice wakes the wait. Only a job it does not know (yet)
	// is looked up through the leader.
	rctx := orchestrator.AllowStale(ctx)
	for {
		v, err := e.view(rctx, user, execID)
		if errors.Is(err, linkis.ErrUnknownJob) && rctx != ctx {
			rctx = ctx
			continue
		}
		if err != nil || v.State.Final() {
			if err != nil {
				return orchestrator.Job{}, err
			}
			return e.toJob(v)
		}
		rctx = orchestrator.AllowStale(ctx)
		w, err := e.addWaiter(v.TaskID)
		if err != nil {
			return orchestrator.Job{}, err
		}
		// It may have ended between the read and the registration: read
		// this member's state again, now that any later end wakes w.
		var now manager.JobView
		_ = e.store.Read(ctx, false, func(s *manager.State) { now, _ = s.Job(v.TaskID) })
		if now.State.Final() {
			e.dropWaiter(v.TaskID, w)
			return e.toJob(now)
		}
		select {
		case <-w.ch:
		case <-ctx.Done():
			e.dropWaiter(v.TaskID, w)
			j, _ := e.toJob(v)
			return j, ctx.Err()
		case <-e.closedCh:
			j, _ := e.toJob(v)
			return j, linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed while waiting for job %s", execID)
		}
	}
}

// A waiter wakes the callers waiting for one job: ch is closed when the
// job ends (or the state is replaced); n callers wait on it.
type waiter struct {
	ch chan struct{}
	n  int
}

// addWaiter registers a caller waiting for job id; at most MaxWaiters
// jobs are waited for at once.
func (e *Entrance) addWaiter(id int64) (*waiter, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.waiters[id]
	if w == nil {
		if len(e.waiters) >= e.cfg.MaxWaiters {
			return nil, linkis.Errorf(linkis.ErrUnavailable, "wait", "callers already wait for %d jobs on this member", e.cfg.MaxWaiters)
		}
		w = &waiter{ch: make(chan struct{})}
		e.waiters[id] = w
	}
	w.n++
	return w, nil
}

// dropWaiter unregisters a caller that stops waiting before w wakes; the
// last one takes the job's waiter away.
func (e *Entrance) dropWaiter(id int64, w *waiter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if w.n--; w.n == 0 && e.waiters[id] == w {
		delete(e.waiters, id)
	}
}

// List returns a page of user's jobs selected by q, newest first, and the
// number of all that match. Page 0 means 1; PageSize 0 means 20 and must
// not exceed 500.
func (e *Entrance) List(ctx context.Context, user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	if !validUser(user) {
		return []orchestrator.Job{}, 0, e.closedErr()
	}
	return e.list(ctx, user, q)
}

// ListAll is List over every user's jobs, or one user's when user is not
// empty, for a caller that may read every user's jobs (an administrator).
func (e *Entrance) ListAll(ctx context.Context, user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	if user != "" && !validUser(user) {
		return []orchestrator.Job{}, 0, e.closedErr()
	}
	return e.list(ctx, user, q)
}

func (e *Entrance) list(ctx context.Context, user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	if q.Page == 0 {
		q.Page = 1
	}
	if q.PageSize == 0 {
		q.PageSize = 20
	}
	switch {
	case q.Page < 0 || q.Page > 1<<24:
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "page", strconv.Itoa(q.Page), "must be 1 to 16777216")
	case q.PageSize < 0 || q.PageSize > 500:
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "pageSize", strconv.Itoa(q.PageSize), "must be 1 to 500")
	case q.State != 0 && !q.State.Valid():
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "state", q.State.String(), "not a job state")
	}
	mq := manager.JobQuery{User: user, Creator: q.Creator, EngineType: q.EngineType, TaskID: q.TaskID,
		Offset: (q.Page - 1) * q.PageSize, Limit: q.PageSize}
	if q.State != 0 {
		mq.States = []linkis.JobState{q.State}
	}
	for _, st := range q.States {
		if !st.Valid() {
			return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "state", st.String(), "not a job state")
		}
		mq.States = append(mq.States, st)
	}
	if !q.Since.IsZero() {
		mq.Since = q.Since.UnixNano()
	}
	if !q.Until.IsZero() {
		mq.Until = q.Until.UnixNano()
	}
	var vs []manager.JobView
	var total int
	if err := e.read(ctx, func(s *manager.State) { vs, total = s.ListJobs(mq) }); err != nil {
		return nil, 0, err
	}
	out := make([]orchestrator.Job, 0, len(vs))
	for _, v := range vs {
		j, err := e.toJob(v)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, j)
	}
	return out, total, nil
}

// Stats is a snapshot of the queues.
type Stats struct {
	Groups  int // consumer groups with queued or running jobs
	Queued  int // jobs in queues
	Running int // jobs holding a running slot
}

// Stats returns a snapshot of the queues, as this member holds them.
func (e *Entrance) Stats() Stats {
	var s Stats
	_ = e.store.Read(context.Background(), false, func(st *manager.State) {
		gs := st.JobGroups()
		s.Groups = len(gs)
		for _, g := range gs {
			s.Queued += g.Queued
			s.Running += g.Running
		}
	})
	return s
}
