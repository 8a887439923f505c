package entrance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// run is a job that left its queue: its goroutine calls the Runner, and
// it is the Listener the Runner reports to.
type run struct {
	e          *Entrance
	q          *qjob
	ctx        context.Context
	cancel     context.CancelCauseFunc
	dispatched time.Time // left the queue
	called     time.Time // runner.Run was called
	// preload may bring the record, when Submit dispatched the job at once;
	// otherwise the run reads it from the history.
	preload *orchestrator.Job

	mu    sync.Mutex
	job   orchestrator.Job // the latest snapshot
	ended bool             // the final state is recorded: later events are ignored
}

var _ orchestrator.Listener = (*run)(nil)

// moveLocked moves the job to state to if the move is legal; a refused
// move is a bug (of the runner's events or of ours), logged and ignored.
func (r *run) moveLocked(to orchestrator.State) bool {
	from := r.job.State
	if from == to {
		return true
	}
	if err := orchestrator.CheckMove(from, to); err != nil {
		r.e.log.Error("entrance: bug: refused state move", "taskID", r.job.TaskID, "execID", r.job.ExecID, "err", err)
		return false
	}
	r.job.State = to
	r.job.Updated = time.Now()
	r.e.moved(from, to)
	return true
}

func (r *run) saveLocked() { r.e.hist.Update(r.job) }

// Scheduled implements orchestrator.Listener.
func (r *run) Scheduled(attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if attempt > r.job.Attempts {
		r.job.Attempts = attempt
	}
	r.moveLocked(orchestrator.Scheduled)
	r.job.Updated = time.Now()
	r.saveLocked()
}

// Running implements orchestrator.Listener.
func (r *run) Running(ec string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	if r.job.State == orchestrator.WaitForRetry {
		// A runner that skipped Scheduled for its next attempt.
		r.moveLocked(orchestrator.Scheduled)
	}
	r.moveLocked(orchestrator.Running)
	r.job.EC = ec
	r.job.Updated = time.Now()
	r.saveLocked()
}

// Progress implements orchestrator.Listener.
func (r *run) Progress(progress float64, info string) {
	if math.IsNaN(progress) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.job.Progress = min(max(progress, 0), 1)
	r.job.ProgressInfo = info
	r.job.Updated = time.Now()
	r.saveLocked()
}

// Log implements orchestrator.Listener.
func (r *run) Log(lines []string) {
	if len(lines) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.e.hist.AppendLog(r.job.TaskID, append([]string(nil), lines...))
}

// Retrying implements orchestrator.Listener.
func (r *run) Retrying(attempt int, wait time.Duration, reason error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended {
		return
	}
	r.moveLocked(orchestrator.WaitForRetry)
	msg := fmt.Sprintf("attempt %d failed: %v; retrying in %v", attempt, reason, wait)
	r.job.ProgressInfo = msg
	r.job.Updated = time.Now()
	r.saveLocked()
	r.e.hist.AppendLog(r.job.TaskID, []string{"WARN " + msg})
}

// runTimeout is a job's running timeout: the label's, else the default.
func (e *Entrance) runTimeout(req *orchestrator.JobRequest) time.Duration {
	if v, ok := req.Labels[linkis.LabelJobRunningTimeout]; ok {
		if d, err := ParseTimeout(linkis.LabelJobRunningTimeout, v); err == nil {
			return d
		}
	}
	return e.cfg.RunTimeout
}

// runJob is the goroutine of a dispatched job.
func (e *Entrance) runJob(r *run) {
	defer e.wg.Done()
	var job orchestrator.Job
	var err error
	if r.preload != nil {
		job, r.preload = *r.preload, nil
	} else {
		job, err = e.hist.Get(r.q.taskID)
	}
	if err != nil {
		// The record stays as it is; the next Open queues it again.
		e.log.Error("entrance: cannot read a dispatched job", "taskID", r.q.taskID, "err", err)
		r.cancel(err)
		e.mu.Lock()
		e.endedLocked(r.q)
		e.releaseLocked(r.q)
		e.mu.Unlock()
		return
	}
	r.mu.Lock()
	r.job = job
	if r.job.Started.IsZero() {
		r.job.Started = r.dispatched
	}
	r.moveLocked(orchestrator.Scheduled)
	r.saveLocked()
	r.mu.Unlock()

	ctx := r.ctx
	if d := e.runTimeout(&job.Request); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, d, &runTimeoutError{d: d})
		defer cancel()
	}
	spec := orchestrator.Spec{
		TaskID: job.TaskID, ExecID: job.ExecID, User: job.User,
		Request: job.Request, Submitted: job.Created,
	}
	var out orchestrator.Outcome
	if ctx.Err() == nil {
		r.called = time.Now()
		e.m.dispatch.Observe(r.called.Sub(r.dispatched).Seconds())
		out = e.callRunner(ctx, spec, r)
	} else {
		out = orchestrator.Outcome{State: orchestrator.Cancelled, Err: context.Cause(ctx)}
	}
	e.finish(r, ctx, out)
}

// callRunner runs the job, turning a runner's panic into a failure.
func (e *Entrance) callRunner(ctx context.Context, spec orchestrator.Spec, r *run) (out orchestrator.Outcome) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("entrance: the runner panicked", "taskID", spec.TaskID, "panic", p)
			out = orchestrator.Outcome{State: orchestrator.Failed, Err: fmt.Errorf("the runner panicked: %v", p)}
		}
	}()
	return e.runner.Run(ctx, spec, r)
}

// finish records how a run ended and frees its slot.
func (e *Entrance) finish(r *run, ctx context.Context, out orchestrator.Outcome) {
	cause := context.Cause(ctx)
	var killed *killedError
	var timedOut *runTimeoutError
	var to orchestrator.State
	var reason string
	switch {
	case out.State == orchestrator.Succeed:
		to = orchestrator.Succeed
	case errors.As(cause, &killed):
		to, reason = orchestrator.Cancelled, killed.Error()
	case errors.As(cause, &timedOut):
		to, reason = orchestrator.Timeout, timedOut.Error()
	case errors.Is(cause, errClosing):
		// Left as it stands for the next Open to settle.
		e.log.Info("entrance: a running job was cancelled by Close", "taskID", r.q.taskID)
		r.mu.Lock()
		r.ended = true
		r.mu.Unlock()
		e.mu.Lock()
		e.endedLocked(r.q)
		e.releaseLocked(r.q)
		e.mu.Unlock()
		return
	case out.State.Final():
		to = out.State
	default:
		to = orchestrator.Failed
		reason = fmt.Sprintf("the runner ended the job in state %v, not a final one", out.State)
	}
	if reason == "" && out.Err != nil {
		reason = out.Err.Error()
	}
	var results []string
	if to == orchestrator.Succeed && len(out.Results) > 0 {
		var err error
		if results, err = e.keepResults(r.job.User, r.q.taskID, out.Results); err != nil {
			to, reason, results = orchestrator.Failed, err.Error(), nil
		}
	}
	if to != orchestrator.Succeed && reason == "" {
		reason = "the job ended " + to.String()
	}

	now := time.Now()
	r.mu.Lock()
	r.ended = true
	if to == orchestrator.Succeed && r.job.State == orchestrator.WaitForRetry {
		r.moveLocked(orchestrator.Scheduled)
	}
	if !r.moveLocked(to) {
		to, reason = orchestrator.Failed, fmt.Sprintf("the runner's outcome %v could not be recorded from state %v", to, r.job.State)
		r.moveLocked(to)
	}
	r.job.Ended, r.job.Updated = now, now
	r.job.Reason = reason
	r.job.Results = results
	if out.EC != "" {
		r.job.EC = out.EC
	}
	if to == orchestrator.Succeed {
		r.job.Progress = 1
	}
	// The log's last line goes first: a reader that sees the final state
	// finds it in the log.
	line := "INFO job " + r.job.ExecID + " ended " + to.String()
	if reason != "" {
		line += ": " + reason
	}
	e.hist.AppendLog(r.q.taskID, []string{line})
	r.saveLocked()
	created := r.job.Created
	r.mu.Unlock()

	e.m.runTime.Observe(now.Sub(r.dispatched).Seconds())
	e.m.total.Observe(now.Sub(created).Seconds())
	e.mu.Lock()
	e.endedLocked(r.q)
	e.releaseLocked(r.q)
	e.mu.Unlock()
}

// keepResults moves a job's result files into
// DataDir/results/<user>/<taskID>/<n><ext> and returns their new paths.
// The paths come from an engine, so each must name a regular file of its
// own (no symbolic link, no other hard link) outside the entrance's data
// directory once its directories' links are resolved; the result
// directory is made without following links planted in it.
func (e *Entrance) keepResults(user string, taskID int64, paths []string) ([]string, error) {
	dir, err := mkdirNoLinks(e.resultsDir, user, strconv.FormatInt(taskID, 10))
	if err != nil {
		return nil, fmt.Errorf("keep results: %w", err)
	}
	out := make([]string, 0, len(paths))
	for i, p := range paths {
		src, err := e.resultSource(p)
		if err != nil {
			return nil, fmt.Errorf("keep result %d: %w", i, err)
		}
		ext := filepath.Ext(src)
		if len(ext) > 16 {
			ext = ""
		}
		dst := filepath.Join(dir, strconv.Itoa(i)+ext)
		if err := moveFile(src, dst); err != nil {
			return nil, fmt.Errorf("keep result %d: %w", i, err)
		}
		out = append(out, dst)
	}
	return out, nil
}

// resultSource checks a result path an engine gave and returns it with
// the links of its directories resolved.
func (e *Entrance) resultSource(p string) (string, error) {
	p = filepath.Clean(strings.TrimPrefix(p, "file://"))
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%q is not an absolute path", p)
	}
	d, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	src := filepath.Join(d, filepath.Base(p))
	if rel, err := filepath.Rel(e.dataDir, src); err == nil && (rel == "." || filepath.IsLocal(rel)) {
		return "", fmt.Errorf("%s lies in the entrance's data directory", p)
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", p)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		return "", fmt.Errorf("%s has other hard links", p)
	}
	return src, nil
}

// mkdirNoLinks makes base/elems... one directory at a time, refusing any
// that exists as something other than a directory (a symbolic link).
func mkdirNoLinks(base string, elems ...string) (string, error) {
	dir := base
	for _, el := range elems {
		dir = filepath.Join(dir, el)
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", err
		}
		if fi, err := os.Lstat(dir); err != nil {
			return "", err
		} else if !fi.IsDir() {
			return "", fmt.Errorf("%s is not a directory", dir)
		}
	}
	return dir, nil
}

// moveFile renames src to dst, or copies it (another file system) and
// removes src. Neither end is followed if it is a symbolic link.
func moveFile(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	o, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(o, in); err != nil {
		o.Close()
		os.Remove(dst)
		return err
	}
	if err := o.Close(); err != nil {
		os.Remove(dst)
		return err
	}
	os.Remove(src)
	return nil
}
