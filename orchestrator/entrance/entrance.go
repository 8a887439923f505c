package entrance

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// errClosing is the cause with which Close cancels running jobs.
var errClosing = errors.New("the entrance is closing")

// killedError is the cause with which Kill cancels a running job.
type killedError struct{ by string }

func (k *killedError) Error() string { return "killed by " + k.by }

// runTimeoutError is the cause with which a running timeout cancels a job.
type runTimeoutError struct{ d time.Duration }

func (t *runTimeoutError) Error() string {
	return "ran longer than its running timeout of " + t.d.String()
}

// Entrance accepts jobs, persists them, queues them per consumer group,
// runs them through a Runner and records what happens. It is safe for
// concurrent use.
type Entrance struct {
	cfg        Config
	runner     orchestrator.Runner
	log        *slog.Logger
	hist       History
	resultsDir string
	dataDir    string // DataDir with its links resolved
	m          *metrics

	ctx    context.Context // cancelled by Close (cause errClosing)
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	closed   bool
	closedCh chan struct{}
	groups   map[groupKey]*group
	ring     ring
	live     map[int64]*qjob // every job accepted and not yet final
	dl       deadlines
	waiters  map[int64]chan struct{}
	running  int
	hot      *orchestrator.Job // the job Submit is queueing, if any

	wake    chan struct{} // the earliest queuing deadline changed
	wg      sync.WaitGroup
	submits sync.WaitGroup // Submits persisting and Kills ending a queued job

	states [orchestrator.Timeout + 1]atomic.Int64 // live jobs by state
}

// Open opens the history in cfg.DataDir (or cfg.History), settles the jobs
// a previous run left unfinished (see Config.RequeueScheduled and
// Config.RequeueRunning; queued ones are queued again in TaskID order) and
// starts scheduling. log may be nil.
func Open(cfg Config, runner orchestrator.Runner, log *slog.Logger) (*Entrance, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if runner == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "runner", "required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Entrance{
		cfg: cfg, runner: runner, log: log, hist: cfg.History,
		closedCh: make(chan struct{}),
		groups:   map[groupKey]*group{},
		live:     map[int64]*qjob{},
		waiters:  map[int64]chan struct{}{},
		wake:     make(chan struct{}, 1),
	}
	e.resultsDir = filepath.Join(cfg.DataDir, "results")
	if err := os.MkdirAll(e.resultsDir, 0o700); err != nil {
		return nil, fmt.Errorf("entrance: results dir: %w", err)
	}
	dd, err := filepath.EvalSymlinks(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("entrance: data dir: %w", err)
	}
	e.dataDir = dd
	if e.hist == nil {
		h, err := OpenBolt(filepath.Join(cfg.DataDir, "jobs.db"), BoltOptions{
			NoSync: cfg.NoSync, LogMaxLines: cfg.LogMaxLines, LogMaxBytes: cfg.LogMaxBytes, Log: log,
		})
		if err != nil {
			return nil, err
		}
		e.hist = h
	}
	e.m = newMetrics(e)
	e.ctx, e.cancel = context.WithCancelCause(context.Background())
	if err := e.settle(); err != nil {
		e.cancel(errClosing)
		e.hist.Close()
		return nil, err
	}
	e.wg.Add(1)
	go e.timeouts()
	e.mu.Lock()
	e.dispatchLocked()
	e.mu.Unlock()
	return e, nil
}

// settle queues again the jobs a previous run left queued, and settles
// those it left Scheduled or Running.
func (e *Entrance) settle() error {
	now := time.Now()
	var requeued, failed int
	err := e.hist.Unfinished(func(j orchestrator.Job) error {
		queuedAt := now
		switch j.State {
		case orchestrator.Inited:
			queuedAt = j.Created
		case orchestrator.WaitForRetry:
		case orchestrator.Scheduled, orchestrator.Running:
			again := e.cfg.RequeueRunning
			what := "while the job ran"
			if j.State == orchestrator.Scheduled {
				again = e.cfg.RequeueScheduled
				what = "before the job reached an engine"
			}
			j.Updated = now
			if again {
				j.State = orchestrator.WaitForRetry
				j.Reason = "the entrance restarted " + what + "; it was queued again"
			} else {
				j.State = orchestrator.Failed
				j.Ended = now
				j.Reason = "the entrance restarted " + what + "; its outcome is unknown"
			}
			e.hist.AppendLog(j.TaskID, []string{"WARN " + j.Reason})
			e.hist.Update(j)
			if !again {
				failed++
				e.m.ended.WithLabelValues(j.State.String()).Inc()
				e.log.Warn("entrance: settled a job left unfinished", "taskID", j.TaskID, "execID", j.ExecID, "state", j.State, "reason", j.Reason)
				return nil
			}
			e.log.Warn("entrance: settled a job left unfinished", "taskID", j.TaskID, "execID", j.ExecID, "state", j.State, "reason", j.Reason)
		default:
			e.log.Error("entrance: history lists a final job as unfinished", "taskID", j.TaskID, "state", j.State)
			return nil
		}
		requeued++
		g := e.groupLocked(j.Creator, j.User, j.EngineType)
		q := &qjob{taskID: j.TaskID, state: j.State, queuedAt: queuedAt.UnixNano(), heapIdx: -1}
		q.deadline = e.deadline(&j.Request, queuedAt)
		e.enqueueLocked(g, q)
		return nil
	})
	if err != nil {
		return err
	}
	if requeued+failed > 0 {
		e.log.Info("entrance: jobs of the previous run settled", "queued", requeued, "failed", failed)
	}
	return e.hist.Flush()
}

// Close stops accepting jobs, cancels the running ones (their runners see
// ctx done with cause "the entrance is closing") and waits for every
// goroutine of the entrance, then flushes and closes the history. A job
// cancelled this way keeps the state it had (Scheduled, Running or
// WaitForRetry; Succeed if its runner still succeeded); the next Open
// settles it as after a crash (Config.RequeueScheduled,
// Config.RequeueRunning). Queued jobs stay queued for the next Open.
func (e *Entrance) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.closedCh)
	e.mu.Unlock()
	e.submits.Wait()
	e.cancel(errClosing)
	e.wg.Wait()
	return e.hist.Close()
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
func (e *Entrance) validate(user string, req *orchestrator.JobRequest) (linkis.UserCreator, error) {
	if !validUser(user) {
		return linkis.UserCreator{}, linkis.ValueError(linkis.ErrInvalidArgument, "user", user, "must be 1-64 letters, digits, '_', '.' or '@', not dots only")
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
	for _, l := range []string{linkis.LabelJobQueuingTimeout, linkis.LabelJobRunningTimeout} {
		if v, ok := req.Labels[l]; ok {
			if _, err := ParseTimeout(l, v); err != nil {
				return uc, err
			}
		}
	}
	return uc, nil
}

// deadline is a queued job's queuing deadline (unix nanoseconds; 0: none).
func (e *Entrance) deadline(req *orchestrator.JobRequest, queuedAt time.Time) int64 {
	d := e.cfg.QueueTimeout
	if v, ok := req.Labels[linkis.LabelJobQueuingTimeout]; ok {
		if t, err := ParseTimeout(linkis.LabelJobQueuingTimeout, v); err == nil {
			d = t
		}
	}
	if d <= 0 {
		return 0
	}
	return queuedAt.Add(d).UnixNano()
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, linkis.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, linkis.ErrPermission):
		return "permission"
	case errors.Is(err, linkis.ErrMissingLabel), errors.Is(err, linkis.ErrInvalidLabel):
		return "labels"
	case errors.Is(err, linkis.ErrUnavailable):
		return "unavailable"
	}
	return "invalid"
}

// Submit validates req, persists it as a job in state Inited (durably:
// Submit returns after the commit) and queues it in its consumer group. The
// user must be the one named by the userCreator label
// (linkis.ErrPermission otherwise); userCreator and engineType are
// required; the runner's Check judges the rest. A full queue is
// linkis.ErrQueueFull. On any error nothing is persisted or queued. Once
// the commit has begun, ctx is no longer consulted: the job is accepted.
func (e *Entrance) Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	job, err := e.submit(ctx, user, req)
	if err != nil {
		e.m.rejected.WithLabelValues(rejectReason(err)).Inc()
	}
	return job, err
}

func (e *Entrance) submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error) {
	if err := ctx.Err(); err != nil {
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrUnavailable, "ctx", "%v", err)
	}
	uc, err := e.validate(user, &req)
	if err != nil {
		return orchestrator.Job{}, err
	}
	now := time.Now()
	if err := e.runner.Check(orchestrator.Spec{User: user, Request: req, Submitted: now}); err != nil {
		return orchestrator.Job{}, err
	}
	engineType := req.Labels[linkis.LabelEngineType]
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed")
	}
	g := e.groupLocked(uc.Creator, user, engineType)
	if g.queued+g.reserved >= g.capacity {
		e.forgetIfIdleLocked(g)
		e.mu.Unlock()
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrQueueFull, "group", g.name,
			fmt.Sprintf("its queue holds its capacity of %d jobs; try again later", g.capacity))
	}
	g.reserved++
	e.submits.Add(1)
	e.mu.Unlock()
	defer e.submits.Done()

	job := orchestrator.Job{
		User: user, Creator: uc.Creator, EngineType: engineType, Request: req,
		State: orchestrator.Inited, Created: now, Updated: now,
	}
	err = e.hist.Insert(&job)

	e.mu.Lock()
	defer e.mu.Unlock()
	g.reserved--
	if err != nil {
		e.forgetIfIdleLocked(g)
		return orchestrator.Job{}, err
	}
	e.m.submitted.Inc()
	q := &qjob{taskID: job.TaskID, state: orchestrator.Inited, queuedAt: now.UnixNano(), heapIdx: -1}
	q.deadline = e.deadline(&req, now)
	e.enqueueLocked(g, q)
	e.hot = &job
	e.dispatchLocked()
	e.hot = nil
	if q.run == nil && !q.ending {
		q.rec = copyQueued(&job)
	}
	return job, nil
}

// cloneRequest copies a request's maps.
func cloneRequest(r orchestrator.JobRequest) orchestrator.JobRequest {
	r.Source = maps.Clone(r.Source)
	r.Labels = maps.Clone(r.Labels)
	r.Params.Variable = maps.Clone(r.Params.Variable)
	r.Params.Configuration.Startup = maps.Clone(r.Params.Configuration.Startup)
	r.Params.Configuration.Runtime = maps.Clone(r.Params.Configuration.Runtime)
	return r
}

// groupLocked finds or makes a consumer group.
func (e *Entrance) groupLocked(creator, user, engineType string) *group {
	k := groupKey{creator, user, engineType}
	g := e.groups[k]
	if g == nil {
		name := orchestrator.GroupName(creator, user, engineType)
		g = &group{
			key: k, name: name,
			maxRunning: e.cfg.maxRunning(name, creator), capacity: e.cfg.QueueCapacity,
		}
		e.groups[k] = g
	}
	return g
}

func (e *Entrance) forgetIfIdleLocked(g *group) {
	if g.idle() {
		e.ring.del(g)
		if e.groups[g.key] == g {
			delete(e.groups, g.key)
		}
	}
}

func (e *Entrance) fixRingLocked(g *group) {
	if g.eligible() {
		e.ring.add(g)
	} else {
		e.ring.del(g)
	}
}

func (e *Entrance) enqueueLocked(g *group, q *qjob) {
	g.push(q)
	e.live[q.taskID] = q
	e.states[q.state].Add(1)
	if q.deadline != 0 {
		heap.Push(&e.dl, q)
		if e.dl[0] == q {
			select {
			case e.wake <- struct{}{}:
			default:
			}
		}
	}
	e.fixRingLocked(g)
}

// unqueueLocked takes a queued job out of its group (to end it).
func (e *Entrance) unqueueLocked(q *qjob) {
	g := q.g
	g.remove(q)
	e.dl.drop(q)
	q.ending = true
	q.rec = nil
	e.fixRingLocked(g)
}

// dispatchLocked starts queued jobs while the entrance and their groups
// have room: one job per group in turn, so a group with a long queue
// takes no more turns than one with a single job.
func (e *Entrance) dispatchLocked() {
	for !e.closed && e.running < e.cfg.MaxRunning && e.ring.head != nil {
		g := e.ring.head
		q := g.head
		g.remove(q)
		e.dl.drop(q)
		g.running++
		e.running++
		if g.eligible() {
			e.ring.advance()
		} else {
			e.ring.del(g)
		}
		r := &run{e: e, q: q, dispatched: time.Now()}
		if e.hot != nil && e.hot.TaskID == q.taskID {
			// Dispatched by its own Submit: spare the run reading back
			// what is at hand (a copy: the caller may change the maps).
			hot := *e.hot
			hot.Request = cloneRequest(hot.Request)
			r.preload = &hot
		} else if q.rec != nil {
			job := q.rec.job(q.taskID, g.key.user, g.key.engineType)
			r.preload = &job
		}
		q.rec = nil
		r.ctx, r.cancel = context.WithCancelCause(e.ctx)
		q.run = r
		e.m.queueWait.Observe(float64(r.dispatched.UnixNano()-q.queuedAt) / 1e9)
		e.wg.Add(1)
		go e.runJob(r)
	}
}

// releaseLocked returns a finished job's running slot.
func (e *Entrance) releaseLocked(q *qjob) {
	g := q.g
	g.running--
	e.running--
	e.fixRingLocked(g)
	e.forgetIfIdleLocked(g)
	e.dispatchLocked()
}

// endedLocked forgets an ended job and wakes its waiters. Its final
// snapshot must already be in the history.
func (e *Entrance) endedLocked(q *qjob) {
	delete(e.live, q.taskID)
	if ch, ok := e.waiters[q.taskID]; ok {
		close(ch)
		delete(e.waiters, q.taskID)
	}
}

// moved counts a job's move between states for the gauges.
func (e *Entrance) moved(from, to orchestrator.State) {
	if from != 0 {
		e.states[from].Add(-1)
	}
	if to.Final() {
		e.m.ended.WithLabelValues(to.String()).Inc()
	} else {
		e.states[to].Add(1)
	}
}

// endQueued ends a job taken out of its queue (killed or timed out).
func (e *Entrance) endQueued(q *qjob, to orchestrator.State, reason string) {
	job, err := e.hist.Get(q.taskID)
	if err == nil {
		if err = orchestrator.CheckMove(job.State, to); err != nil {
			e.log.Error("entrance: bug: refused move", "taskID", q.taskID, "err", err)
		} else {
			now := time.Now()
			job.State, job.Reason, job.Updated, job.Ended = to, reason, now, now
			e.hist.AppendLog(q.taskID, []string{"INFO job " + job.ExecID + " ended " + to.String() + ": " + reason})
			e.hist.Update(job)
			e.moved(q.state, to)
			e.m.total.Observe(now.Sub(job.Created).Seconds())
		}
	} else {
		e.log.Error("entrance: cannot read a queued job to end it", "taskID", q.taskID, "err", err)
	}
	e.mu.Lock()
	e.endedLocked(q)
	e.forgetIfIdleLocked(q.g)
	e.mu.Unlock()
}

// timeouts ends queued jobs whose queuing deadline passed.
func (e *Entrance) timeouts() {
	defer e.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now().UnixNano()
		var expired []*qjob
		var next int64
		e.mu.Lock()
		for len(e.dl) > 0 && e.dl[0].deadline <= now {
			q := heap.Pop(&e.dl).(*qjob)
			e.unqueueLocked(q)
			expired = append(expired, q)
		}
		if len(e.dl) > 0 {
			next = e.dl[0].deadline
		}
		e.mu.Unlock()
		for _, q := range expired {
			d := time.Duration(q.deadline - q.queuedAt)
			e.endQueued(q, orchestrator.Timeout, "waited in its queue longer than its queuing timeout of "+d.String())
		}
		if next != 0 {
			t.Reset(time.Duration(next - now))
		} else {
			t.Stop()
		}
		select {
		case <-t.C:
		case <-e.wake:
		case <-e.ctx.Done():
			return
		}
	}
}

// resolve finds a job's task id by exec id and checks it belongs to user.
func (e *Entrance) resolve(user, execID string) (int64, error) {
	if err := e.closedErr(); err != nil {
		return 0, err
	}
	id, owner, err := e.hist.Resolve(execID)
	if err != nil {
		return 0, err
	}
	if owner != user {
		return 0, linkis.ValueError(linkis.ErrPermission, "execID", execID, fmt.Sprintf("the job is not %q's", user))
	}
	return id, nil
}

// closedErr is ErrUnavailable once Close has begun.
func (e *Entrance) closedErr() error {
	select {
	case <-e.closedCh:
		return linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed")
	default:
		return nil
	}
}

// lookup reads a job by exec id and checks it belongs to user.
func (e *Entrance) lookup(user, execID string) (orchestrator.Job, error) {
	id, err := e.resolve(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	return e.Job(user, id)
}

// Job returns a job of user's by task id: linkis.ErrUnknownJob if there is
// none, linkis.ErrPermission if it is another user's.
func (e *Entrance) Job(user string, taskID int64) (orchestrator.Job, error) {
	if err := e.closedErr(); err != nil {
		return orchestrator.Job{}, err
	}
	j, err := e.hist.Get(taskID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	if j.User != user {
		return orchestrator.Job{}, linkis.ValueError(linkis.ErrPermission, "taskID", strconv.FormatInt(taskID, 10),
			fmt.Sprintf("the job is not %q's", user))
	}
	return j, nil
}

// JobByExecID returns a job of user's by exec id (errors as Job).
func (e *Entrance) JobByExecID(user, execID string) (orchestrator.Job, error) {
	return e.lookup(user, execID)
}

// Log returns lines from, from+1, ... (at most size; 0: 1000; at most
// 10,000) of a job's log. Complete is set when the job has ended and the
// page reaches its last line; once the job has ended, the log is read
// whole (lines still being written are waited for).
func (e *Entrance) Log(user, execID string, from, size int) (orchestrator.LogPage, error) {
	if from < 0 {
		return orchestrator.LogPage{}, linkis.ValueError(linkis.ErrInvalidArgument, "fromLine", strconv.Itoa(from), "must be ≥ 0")
	}
	if size == 0 {
		size = 1000
	}
	if size < 0 || size > 10000 {
		return orchestrator.LogPage{}, linkis.ValueError(linkis.ErrInvalidArgument, "size", strconv.Itoa(size), "must be 1 to 10000")
	}
	j, err := e.lookup(user, execID)
	if err != nil {
		return orchestrator.LogPage{}, err
	}
	lines, total, pending, err := e.hist.Log(j.TaskID, from, size)
	if err == nil && pending && j.State.Final() {
		// The job has ended but its last lines are still being written
		// behind: wait for them, so that a log read once Wait has
		// returned is complete.
		if err = e.hist.Flush(); err == nil {
			lines, total, pending, err = e.hist.Log(j.TaskID, from, size)
		}
	}
	if err != nil {
		return orchestrator.LogPage{}, err
	}
	if lines == nil {
		lines = []string{}
	}
	next := from + len(lines)
	return orchestrator.LogPage{
		From: from, Lines: lines, Next: next,
		Complete: j.State.Final() && !pending && next >= total,
	}, nil
}

// Kill cancels a job of user's at any stage. A queued job leaves its queue
// and is Cancelled at once; a running job's context is cancelled and it is
// Cancelled when its runner returns (Kill does not wait: the job it returns
// may still show Running; Wait for the end). Killing an ended job returns
// it unchanged, without error.
func (e *Entrance) Kill(user, execID string) (orchestrator.Job, error) {
	j, err := e.lookup(user, execID)
	if err != nil {
		return j, err
	}
	e.mu.Lock()
	q := e.live[j.TaskID]
	switch {
	case q == nil || q.ending:
		e.mu.Unlock()
	case e.closed:
		// Close may be closing the history: the job stays queued.
		e.mu.Unlock()
		return orchestrator.Job{}, linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed")
	case q.run == nil:
		e.unqueueLocked(q)
		e.submits.Add(1) // Close waits for the end to be recorded
		e.mu.Unlock()
		e.endQueued(q, orchestrator.Cancelled, "killed by "+user+" while queued")
		e.submits.Done()
	default:
		r := q.run
		e.mu.Unlock()
		r.cancel(&killedError{by: user})
	}
	return e.hist.Get(j.TaskID)
}

// Wait returns a job of user's once it has ended, or when ctx is done
// (with the job as it stands and ctx's error), or when the entrance closes
// (linkis.ErrUnavailable). It is woken by the job's end, not by polling.
func (e *Entrance) Wait(ctx context.Context, user, execID string) (orchestrator.Job, error) {
	id, err := e.resolve(user, execID)
	if err != nil {
		return orchestrator.Job{}, err
	}
	e.mu.Lock()
	if _, live := e.live[id]; !live {
		e.mu.Unlock()
		return e.hist.Get(id)
	}
	ch := e.waiters[id]
	if ch == nil {
		ch = make(chan struct{})
		e.waiters[id] = ch
	}
	e.mu.Unlock()
	select {
	case <-ch:
		j, err := e.hist.Get(id)
		if err == nil && !j.State.Final() {
			// The job left the entrance unfinished (it is closing, or the
			// job could not be read at dispatch).
			err = linkis.Errorf(linkis.ErrUnavailable, "entrance", "job %s left the entrance unfinished (%v)", execID, j.State)
		}
		return j, err
	case <-ctx.Done():
		j, _ := e.hist.Get(id)
		return j, ctx.Err()
	case <-e.closedCh:
		j, _ := e.hist.Get(id)
		return j, linkis.Errorf(linkis.ErrUnavailable, "entrance", "closed while waiting for job %s", execID)
	}
}

// List returns a page of user's jobs selected by q, newest first, and the
// number of all that match. Page 0 means 1; PageSize 0 means 20 and must
// not exceed 500.
func (e *Entrance) List(user string, q orchestrator.ListQuery) ([]orchestrator.Job, int, error) {
	if q.Page == 0 {
		q.Page = 1
	}
	if q.PageSize == 0 {
		q.PageSize = 20
	}
	switch {
	case q.Page < 0:
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "page", strconv.Itoa(q.Page), "must be ≥ 1")
	case q.PageSize < 0 || q.PageSize > 500:
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "pageSize", strconv.Itoa(q.PageSize), "must be 1 to 500")
	case q.State > orchestrator.Timeout:
		return nil, 0, linkis.ValueError(linkis.ErrInvalidArgument, "state", q.State.String(), "not a job state")
	}
	if err := e.closedErr(); err != nil {
		return nil, 0, err
	}
	if !validUser(user) {
		return []orchestrator.Job{}, 0, nil
	}
	return e.hist.List(user, q)
}

// Stats is a snapshot of the entrance's queues.
type Stats struct {
	Groups  int // consumer groups with queued, persisting or running jobs
	Queued  int // jobs in queues
	Running int // jobs holding a running slot
}

// Stats returns a snapshot of the queues.
func (e *Entrance) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Groups: len(e.groups), Running: e.running}
	for _, g := range e.groups {
		s.Queued += g.queued
	}
	return s
}
