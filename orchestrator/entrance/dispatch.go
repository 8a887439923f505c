package entrance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
)

// The dispatcher runs, while its member leads, every job the state has
// dispatched: like the reconciler it keeps nothing of its own that the
// state does not hold. When it starts (a new leader, a restart) it takes up
// every live job from its record - following the tasks a job had running
// instead of submitting them again (orchestrator.Resume) - and stops the
// tasks of jobs that ended while they ran (killed, timed out). When its
// term ends its runs are detached: tasks go on, engines stay held, and the
// next leader takes them up.

// maxPending bounds the notices waiting for the dispatcher; past it, it
// reads the live jobs from the state instead.
const maxPending = 1 << 16

type dispatcher struct {
	e    *Entrance
	ctx  context.Context // the term
	tail int             // engine lines a record keeps (JobConfig.TailLines)

	mu     sync.Mutex
	pend   []manager.JobNotice
	resync bool
	wake   chan struct{}

	runs     map[int64]*jobRun // under mu
	cleaning map[int64]bool    // jobs whose tasks are being stopped, under mu
	wg       sync.WaitGroup
}

// TaskStopper is what a Runner may offer to stop the tasks of a job that
// ended while they ran when no run of it is at hand (the leader that ran it
// died): kill each task and release the engine it holds. The Orchestrator
// is one.
type TaskStopper interface {
	Stop(ctx context.Context, tasks []orchestrator.Task) (logLines map[string]int)
}

// lead is the dispatcher's term: it ends when ctx does.
func (e *Entrance) lead(ctx context.Context) {
	d := &dispatcher{e: e, ctx: ctx, resync: true, wake: make(chan struct{}, 1),
		runs: map[int64]*jobRun{}, cleaning: map[int64]bool{}}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.disp = d
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.disp = nil
		e.mu.Unlock()
		d.mu.Lock()
		for _, r := range d.runs {
			r.cancel(orchestrator.ErrDetached)
		}
		d.mu.Unlock()
		d.wg.Wait()
	}()
	d.configure()
	d.tail = manager.DefaultJobConfig().TailLines
	_ = e.store.Read(ctx, false, func(s *manager.State) { d.tail = s.JobConfig().TailLines })
	for {
		d.mu.Lock()
		ns, resync := d.pend, d.resync
		d.pend, d.resync = nil, false
		d.mu.Unlock()
		if resync {
			d.rescan()
		} else {
			d.handle(ns)
		}
		select {
		case <-d.wake:
		case <-ctx.Done():
			return
		}
	}
}

// notify queues notices (from the observer; never blocks).
func (d *dispatcher) notify(ns []manager.JobNotice, resync bool) {
	d.mu.Lock()
	if resync || len(d.pend)+len(ns) > maxPending {
		d.pend, d.resync = nil, true
	} else if !d.resync {
		d.pend = append(d.pend, ns...)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// configure proposes the entrance's configuration when the state holds
// another.
func (d *dispatcher) configure() {
	if d.e.cfg.Jobs == nil {
		return
	}
	for {
		err := ensureJobConfig(d.ctx, d.e.store, *d.e.cfg.Jobs)
		if err == nil {
			return
		}
		d.e.log.Warn("entrance: configuring the job queues", "err", err)
		if !linkis.Sleep(d.ctx, time.Second) {
			return
		}
	}
}

// rescan takes up every live job from the state.
func (d *dispatcher) rescan() {
	var live []manager.JobView
	for {
		err := d.e.store.Read(d.ctx, true, func(s *manager.State) { live = s.LiveJobs() })
		if err == nil {
			break
		}
		if !linkis.Sleep(d.ctx, 100*time.Millisecond) {
			return
		}
	}
	seen := make(map[int64]bool, len(live))
	for i := range live {
		seen[live[i].TaskID] = true
		if d.run(live[i].TaskID) != nil {
			continue
		}
		// Read again: a run that ended since the read above is gone now,
		// and its end applied here before it went.
		v, ok := live[i], false
		_ = d.e.store.Read(d.ctx, false, func(s *manager.State) { v, ok = s.Job(v.TaskID) })
		if ok {
			d.take(&v)
		}
	}
	d.mu.Lock()
	for id, r := range d.runs {
		if !seen[id] {
			r.cancel(errJobEnded) // ended while this member did not hear of it
		}
	}
	d.mu.Unlock()
}

// errJobEnded is the cause with which a run is cancelled when the state
// ended its job (killed, timed out): its tasks are stopped and the run
// reports them stopped rather than the job's end.
var errJobEnded = errors.New("the job ended while it ran")

// handle acts on notices: dispatched jobs start, jobs that ended while
// they ran have their tasks stopped.
func (d *dispatcher) handle(ns []manager.JobNotice) {
	for _, n := range ns {
		r := d.run(n.TaskID)
		switch {
		case n.State == linkis.JobScheduled && r == nil:
		case n.State.Final() && n.Cleanup:
			if r != nil {
				r.cancel(errJobEnded)
				continue
			}
		default:
			continue
		}
		var v manager.JobView
		var ok bool
		_ = d.e.store.Read(d.ctx, false, func(s *manager.State) { v, ok = s.Job(n.TaskID) }) // applied here: current
		if ok {
			d.take(&v)
		}
	}
}

// take starts what a live job needs: a run, or the stopping of its tasks.
func (d *dispatcher) take(v *manager.JobView) {
	if d.run(v.TaskID) != nil || d.ctx.Err() != nil {
		return
	}
	switch {
	case !v.State.Final():
		d.start(v)
	case v.Cleanup:
		d.cleanup(v)
	}
}

// start runs a dispatched job.
func (d *dispatcher) start(v *manager.JobView) {
	var req storedRequest
	if err := json.Unmarshal(v.Request, &req); err != nil {
		// A record this version cannot read: end it rather than hold its
		// slot for ever.
		d.propose(manager.UpdateJob{TaskID: v.TaskID, State: linkis.JobFailed, Progress: -1,
			Reason: "its request cannot be read by this version: " + err.Error()})
		return
	}
	spec := orchestrator.Spec{TaskID: v.TaskID, ExecID: v.ExecID, User: v.User, Request: req.JobRequest, Submitted: unixTime(v.Created), Globals: req.Globals,
		HoldEngines: true} // released with the job's end: see main
	if v.State != linkis.JobScheduled || v.Attempts > 0 || len(v.Tasks) > 0 {
		spec.Resume = &orchestrator.Resume{Round: v.Round, Attempts: v.Attempts}
		for _, t := range v.Tasks {
			spec.Resume.Tasks = append(spec.Resume.Tasks, fromJobTask(t))
		}
		// A task that ended before the job's end was recorded (its leader
		// died in between) is no longer among the running ones, but its log
		// part still names it: it is followed too - its end is read from
		// its engine - rather than run a second time.
		for _, p := range v.Log {
			if t := p.Task; t.Key != "" && t.TaskID != "" && p.Count >= 0 && !slices.ContainsFunc(v.Tasks, func(r manager.JobTask) bool { return r.Key == t.Key }) {
				spec.Resume.Tasks = append(spec.Resume.Tasks, fromJobTask(t))
			}
		}
	}
	r := &jobRun{d: d, id: v.TaskID, execID: v.ExecID, user: v.User, done: make(chan struct{}),
		kick: make(chan struct{}, 1), soon: make(chan struct{}, 1), ecms: map[string]string{}, dispatched: unixTime(v.Started)}
	for _, t := range v.Tasks {
		r.ecms[t.EC] = t.ECM
	}
	// Not a child of the term's context: when the term ends the run is
	// cancelled with ErrDetached (see lead), which a parent's plain
	// cancellation would mask.
	r.ctx, r.cancel = context.WithCancelCause(context.WithoutCancel(d.ctx))
	d.mu.Lock()
	d.runs[v.TaskID] = r
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(r.done)
		r.main(spec, unixTime(v.Created))
		d.forget(r)
	}()
}

// run is the job's run on this member, if any.
func (d *dispatcher) run(id int64) *jobRun {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runs[id]
}

// forget drops a finished run.
func (d *dispatcher) forget(r *jobRun) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.runs[r.id] == r {
		delete(d.runs, r.id)
	}
}

// cleanup stops the tasks of a job that ended while they ran and no run of
// it is at hand, then records them stopped.
func (d *dispatcher) cleanup(v *manager.JobView) {
	tasks := make([]orchestrator.Task, 0, len(v.Tasks))
	for _, t := range v.Tasks {
		tasks = append(tasks, fromJobTask(t))
	}
	id := v.TaskID
	d.mu.Lock()
	if d.cleaning[id] {
		d.mu.Unlock()
		return
	}
	d.cleaning[id] = true
	d.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.cleaning, id)
			d.mu.Unlock()
		}()
		var lines map[string]int
		if st, ok := d.e.runner.(TaskStopper); ok && len(tasks) > 0 {
			ctx, cancel := context.WithTimeout(d.ctx, d.e.cfg.CallTimeout)
			lines = st.Stop(ctx, tasks)
			cancel()
		}
		u := manager.UpdateJob{TaskID: id, Progress: -1, Cleaned: true}
		for _, t := range tasks {
			if n, ok := lines[t.Key]; ok {
				d.propose(manager.UpdateJob{TaskID: id, Progress: -1, TaskEnded: t.Key, TaskLines: n})
			}
		}
		d.propose(u)
	}()
}

// propose applies an update, trying again while the term lasts; an update
// the state refuses (the job ended meanwhile) is dropped.
func (d *dispatcher) propose(u manager.UpdateJob) error {
	u = u.Fit(d.tail)
	for try := 0; ; try++ {
		u.Time = time.Now().UnixNano()
		ctx, cancel := context.WithTimeout(d.ctx, d.e.cfg.CallTimeout)
		_, err := d.e.store.Apply(ctx, u)
		cancel()
		switch {
		case err == nil:
			return nil
		case d.ctx.Err() != nil:
			return err
		case errors.Is(err, linkis.ErrIllegalTransition) && u.State != 0 && !u.State.Final():
			// The job ended under the run (killed, timed out): what else
			// the update says - a task to stop, lines - still counts.
			u.State, u.Reason = 0, ""
			continue
		case !linkis.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded):
			d.e.log.Debug("entrance: an update was refused", "taskID", u.TaskID, "err", err)
			return err
		}
		d.e.log.Warn("entrance: recording a job's progress", "taskID", u.TaskID, "err", err)
		if !linkis.Sleep(d.ctx, time.Duration(min(try+1, 10))*100*time.Millisecond) {
			return err
		}
	}
}

func fromJobTask(t manager.JobTask) orchestrator.Task {
	return orchestrator.Task{Key: t.Key, AskID: t.AskID, EC: t.EC, ECM: t.ECM, Addr: t.Addr, ID: t.TaskID}
}

func toJobTask(t orchestrator.Task) manager.JobTask {
	return manager.JobTask{Key: t.Key, AskID: t.AskID, EC: t.EC, ECM: t.ECM, Addr: t.Addr, TaskID: t.ID}
}

// jobRun is one job being run: its goroutine calls the Runner, and it is
// the Listener the Runner reports to. What it hears becomes UpdateJob
// commands, written by a flusher: at once for a state change or a new
// task, at the latest every Config.Checkpoint for progress and lines.
type jobRun struct {
	d          *dispatcher
	id         int64
	execID     string
	user       string
	dispatched time.Time
	ctx        context.Context
	cancel     context.CancelCauseFunc
	done       chan struct{}

	mu      sync.Mutex
	pending []manager.UpdateJob
	ecms    map[string]string // engine → its ECM, of the tasks it ran
	kick    chan struct{}     // write now
	soon    chan struct{}     // write within runningDelay
}

var _ orchestrator.Listener = (*jobRun)(nil)

func noChange(id int64) manager.UpdateJob { return manager.UpdateJob{TaskID: id, Progress: -1} }

// How soon a queued update is written.
type urgency uint8

const (
	atCheckpoint urgency = iota // progress, lines: at the next checkpoint
	soon                        // a task started: within runningDelay
	now                         // a state change the user waits to see
)

// runningDelay is how long a new task's record may wait: a task that
// ends within it is recorded with the job's end in one command. Its
// submission carried its key, so a leader that dies meanwhile loses
// nothing: the next one's resubmission finds the task.
const runningDelay = 50 * time.Millisecond

// add queues an update, merged into the last one when nothing of either
// would be lost or reordered.
func (r *jobRun) add(u manager.UpdateJob, when urgency) {
	r.mu.Lock()
	if n := len(r.pending); n == 0 || !mergeUpdate(&r.pending[n-1], u) {
		r.pending = append(r.pending, u)
	} else if p := &r.pending[n-1]; len(p.Tail) > 2*r.d.tail {
		p.Tail = append([]string(nil), p.Tail[len(p.Tail)-r.d.tail:]...) // the record keeps the last ones only
	}
	r.mu.Unlock()
	var ch chan struct{}
	switch when {
	case now:
		ch = r.kick
	case soon:
		ch = r.soon
	default:
		return
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// mergeUpdate folds b into a when the result means the same as a then b:
// within one update the manager applies Log, Task, TaskEnded, LogAfter in
// that order, so lines that follow a task go to LogAfter.
func mergeUpdate(a *manager.UpdateJob, b manager.UpdateJob) bool {
	aTask := a.Task.Key != "" || a.TaskEnded != "" || len(a.LogAfter) > 0
	if a.State != 0 && b.State != 0 && !(a.State == orchestrator.Running && b.State.Final()) || a.Task.Key != "" && b.Task.Key != "" || a.TaskEnded != "" && b.TaskEnded != "" ||
		aTask && (b.Task.Key != "" || len(b.LogAfter) > 0 && len(b.Log) > 0) || a.Cleaned || b.Cleaned {
		return false
	}
	if b.State != 0 {
		a.State, a.Reason = b.State, b.Reason
	}
	if b.Progress >= 0 {
		a.Progress, a.ProgressInfo = b.Progress, b.ProgressInfo
	}
	a.Attempts, a.Round = max(a.Attempts, b.Attempts), max(a.Round, b.Round)
	if b.EC != "" {
		a.EC = b.EC
	}
	if aTask {
		a.LogAfter = append(append(a.LogAfter, b.Log...), b.LogAfter...)
	} else {
		a.Log = append(a.Log, b.Log...)
		a.LogAfter = append(a.LogAfter, b.LogAfter...)
	}
	a.Tail = append(a.Tail, b.Tail...)
	if b.Task.Key != "" {
		a.Task = b.Task
	}
	if b.TaskEnded != "" {
		a.TaskEnded, a.TaskLines = b.TaskEnded, b.TaskLines
	}
	a.Results = append(a.Results, b.Results...)
	a.Release = append(a.Release, b.Release...)
	return true
}

// take returns what is pending.
func (r *jobRun) take() []manager.UpdateJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}

// flush writes what is pending, in order.
func (r *jobRun) flush() {
	for _, u := range r.take() {
		if err := r.d.propose(u); err != nil && r.d.ctx.Err() != nil {
			return
		}
	}
}

// flusher writes the run's updates until stop is closed (main writes
// what is left with the job's end).
func (r *jobRun) flusher(stop <-chan struct{}) {
	t := time.NewTicker(r.d.e.cfg.Checkpoint)
	defer t.Stop()
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	defer delay.Stop()
	for {
		select {
		case <-r.kick:
		case <-t.C:
		case <-r.soon:
			delay.Reset(runningDelay)
			continue
		case <-delay.C:
		case <-stop:
			return
		}
		r.flush()
	}
}

// main runs the job and records how it ended.
func (r *jobRun) main(spec orchestrator.Spec, created time.Time) {
	e := r.d.e
	stop := make(chan struct{})
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		r.flusher(stop)
	}()
	called := time.Now()
	if !r.dispatched.IsZero() {
		e.m.queueWait.Observe(max(r.dispatched.Sub(created), 0).Seconds())
	}
	out := r.call(spec)
	close(stop)
	<-flushed
	cause := context.Cause(r.ctx)
	if errors.Is(out.Err, orchestrator.ErrDetached) || errors.Is(cause, orchestrator.ErrDetached) {
		return // the next leader takes it up from its record
	}
	rest := r.take()
	var last manager.UpdateJob
	if errors.Is(cause, errJobEnded) {
		last = noChange(r.id)
		last.Cleaned = true
	} else {
		last = r.outcome(out)
		now := time.Now()
		e.m.runTime.Observe(now.Sub(called).Seconds())
		e.m.total.Observe(now.Sub(created).Seconds())
		e.m.ended.WithLabelValues(last.State.String()).Inc()
	}
	last.Release = out.Held
	for i, u := range rest {
		if i == len(rest)-1 && mergeUpdate(&u, last) {
			last = u
			break
		}
		r.d.propose(u)
	}
	err := r.d.propose(last)
	switch {
	case errors.Is(err, linkis.ErrIllegalTransition):
		// The job ended under the run (killed as it finished): its tasks
		// are stopped now.
		c := noChange(r.id)
		c.Cleaned, c.Release = true, last.Release
		err = r.d.propose(c)
	case err != nil && r.d.ctx.Err() == nil && last.State != 0:
		// Refused for good (what it carried did not pass the state's
		// checks): the job still ends, with what can be recorded.
		e.log.Error("entrance: a job's end was refused; recording it without its details", "taskID", r.id, "err", err)
		c := noChange(r.id)
		c.State, c.Reason, c.Release = last.State, last.Reason, last.Release
		if c.State == orchestrator.Succeed {
			c.State, c.Reason = orchestrator.Failed, "the job ran, but its end could not be recorded: "+err.Error()
		}
		err = r.d.propose(c)
	}
	if err != nil && r.d.ctx.Err() == nil {
		// Refused for good: the engines are given back on their own.
		for _, id := range last.Release {
			ctx, cancel := context.WithTimeout(r.d.ctx, e.cfg.CallTimeout)
			if _, err := e.store.Apply(ctx, manager.ReleaseEngine{Time: time.Now().UnixNano(), AskID: id}); err != nil && !errors.Is(err, linkis.ErrUnknownAsk) {
				e.log.Warn("entrance: releasing an engine", "taskID", r.id, "ask", id, "err", err)
			}
			cancel()
		}
	}
}

// call runs the job, turning a runner's panic into a failure.
func (r *jobRun) call(spec orchestrator.Spec) (out orchestrator.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			r.d.e.log.Error("entrance: the runner panicked", "taskID", spec.TaskID, "panic", p, "stack", string(debug.Stack()))
			out = orchestrator.Outcome{State: orchestrator.Failed, Err: fmt.Errorf("the runner panicked: %v", p)}
		}
	}()
	return r.d.e.runner.Run(r.ctx, spec, r)
}

// outcome is the update that ends the job as the runner said.
func (r *jobRun) outcome(out orchestrator.Outcome) manager.UpdateJob {
	u := noChange(r.id)
	u.State, u.EC = out.State, out.EC
	switch {
	case out.State == orchestrator.Succeed:
	case out.State.Final():
	default:
		u.State = orchestrator.Failed
		out.Err = fmt.Errorf("the runner ended the job in state %v, not a final one", out.State)
	}
	if out.Err != nil {
		u.Reason = out.Err.Error()
	}
	if u.State == orchestrator.Succeed {
		r.mu.Lock()
		ecm := r.ecms[out.EC]
		r.mu.Unlock()
		for i, p := range out.Results {
			ref, err := api.ResultRefOf(ecm, out.EC, p)
			if err != nil {
				u.State, u.Reason, u.Results = orchestrator.Failed, fmt.Sprintf("result %d: %v", i, err), nil
				break
			}
			u.Results = append(u.Results, encodeRef(ref))
		}
	}
	if u.State != orchestrator.Succeed && u.Reason == "" {
		u.Reason = "the job ended " + u.State.String()
	}
	line := "job " + r.execID + " ended " + u.State.String()
	if u.Reason != "" && u.State != orchestrator.Succeed {
		line += ": " + u.Reason
	}
	u.Log = []string{stamp("INFO", line)}
	return u
}

func stamp(level, msg string) string {
	return time.Now().Format("2006-01-02 15:04:05.000") + " " + level + " " + msg
}

// Scheduled implements orchestrator.Listener.
func (r *jobRun) Scheduled(attempt int) {
	u := noChange(r.id)
	u.Attempts = attempt
	r.add(u, atCheckpoint)
}

// Running implements orchestrator.Listener.
func (r *jobRun) Running(t orchestrator.Task) {
	r.mu.Lock()
	r.ecms[t.EC] = t.ECM
	r.mu.Unlock()
	u := noChange(r.id)
	u.State, u.Task, u.EC = orchestrator.Running, toJobTask(t), t.EC
	r.add(u, soon)
}

// Progress implements orchestrator.Listener.
func (r *jobRun) Progress(progress float64, info string) {
	if progress != progress {
		return
	}
	u := noChange(r.id)
	u.Progress, u.ProgressInfo = min(max(progress, 0), 1), info
	r.add(u, atCheckpoint)
}

// Log implements orchestrator.Listener.
func (r *jobRun) Log(lines []string) {
	u := noChange(r.id)
	u.Log = append([]string(nil), lines...)
	r.add(u, atCheckpoint)
}

// Output implements orchestrator.Listener: engine lines feed the tail kept
// in the record (the whole log stays with the engine).
func (r *jobRun) Output(key string, lines []string) {
	u := noChange(r.id)
	u.Tail = append([]string(nil), lines...)
	r.add(u, atCheckpoint)
}

// TaskEnded implements orchestrator.Listener.
func (r *jobRun) TaskEnded(key string, lines int) {
	u := noChange(r.id)
	u.TaskEnded, u.TaskLines = key, lines
	r.add(u, atCheckpoint)
}

// Retrying implements orchestrator.Listener.
func (r *jobRun) Retrying(attempt, round int, wait time.Duration, reason error) {
	msg := fmt.Sprintf("attempt %d failed: %v; retrying in %v", attempt, reason, wait)
	u := noChange(r.id)
	u.State, u.Attempts, u.Round = orchestrator.WaitForRetry, attempt, round
	u.Progress, u.ProgressInfo = 0, msg
	u.Log = []string{stamp("WARN", msg)}
	r.add(u, now)
}
