package engineconn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Submit admits a task and starts it; it returns the task's id at once.
// The request must carry a grant this engine serves (verified with the
// manager the first time it is seen); a serial engine that is running a
// task, or a concurrent one running its limit, refuses with a retryable
// ErrEngineBusy. Nothing changes when it refuses. A request whose Key
// names a task the engine already has answers with that task (Existing)
// and starts nothing, whatever grant it carries (see keys.go).
func (e *EngineConn) Submit(ctx context.Context, req api.TaskRequest) (api.TaskSubmitted, error) {
	if err := req.Validate(); err != nil {
		return api.TaskSubmitted{}, err
	}
	if e.cfg.Mode == linkis.ModeOnce {
		return api.TaskSubmitted{}, linkis.Errorf(linkis.ErrIllegalTransition, e.cfg.Ticket, "a once engine runs only the job it was started with")
	}
	var sum [sha256.Size]byte
	if req.Key != "" {
		sum = sha256.Sum256([]byte(req.Code))
		if out, found, err := e.byKey(req, sum); found {
			return out, err
		}
	}
	out, err := e.submit(ctx, req, sum)
	if err != nil && req.Key != "" {
		// A submission of the same key admitted meanwhile made this one
		// busy (or raced its lock check): its task is the answer.
		if out, found, kerr := e.byKey(req, sum); found {
			return out, kerr
		}
	}
	return out, err
}

// submit checks the engine can take the task and its grant, and admits it.
func (e *EngineConn) submit(ctx context.Context, req api.TaskRequest, sum [sha256.Size]byte) (api.TaskSubmitted, error) {
	if err := e.admissible(); err != nil {
		return api.TaskSubmitted{}, err
	}
	changed, err := e.locks.check(ctx, req.AskID, req.Token)
	if err != nil {
		return api.TaskSubmitted{}, err
	}
	if changed {
		e.touch()
	}
	return e.admit(req, sum)
}

// admissible says why no task can be admitted now, if so.
func (e *EngineConn) admissible() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.admissibleLocked()
}

func (e *EngineConn) admissibleLocked() error {
	switch {
	case e.closing:
		return linkis.Errorf(linkis.ErrUnavailable, e.cfg.Ticket, "the engine is shutting down")
	case !e.started:
		return linkis.Errorf(linkis.ErrUnavailable, e.cfg.Ticket, "the engine is still starting")
	case e.served >= e.cfg.MaxTasks:
		return linkis.Errorf(linkis.ErrUnavailable, e.cfg.Ticket, "the engine served its maximum of %d tasks and is exiting", e.cfg.MaxTasks)
	case e.running >= e.cfg.Concurrency:
		err := linkis.Errorf(linkis.ErrEngineBusy, e.cfg.Ticket, "running %d of %d tasks; try again when one ends", e.running, e.cfg.Concurrency)
		return err
	}
	return nil
}

// admit registers and starts a task; a task submitted meanwhile with the
// same key wins, and is the answer.
func (e *EngineConn) admit(req api.TaskRequest, sum [sha256.Size]byte) (api.TaskSubmitted, error) {
	e.mu.Lock()
	if req.Key != "" {
		if out, found, err := e.byKeyLocked(req, sum); found {
			e.mu.Unlock()
			return out, err
		}
	}
	if err := e.admissibleLocked(); err != nil {
		e.mu.Unlock()
		return api.TaskSubmitted{}, err
	}
	e.seq++
	id := "t-" + strconv.Itoa(e.seq)
	t := newTask(id, req, e.cfg.ResultDir, e.cfg.TaskLogCap, e.cfg.MaxResultBytes, e.now())
	ctx, cancel := context.WithCancel(e.taskCtx)
	t.cancel = cancel
	e.tasks[id] = t
	if req.Key != "" {
		e.keys[req.Key] = keyed{id: id, sum: sum}
	}
	e.running++
	e.served++
	e.lastActive = e.now()
	e.refreshLocked()
	e.wg.Add(1)
	e.mu.Unlock()
	go e.run(ctx, t)
	return api.TaskSubmitted{ID: id, State: api.TaskPending}, nil
}

// run executes a task on the session and records how it ended.
func (e *EngineConn) run(ctx context.Context, t *Task) {
	defer e.wg.Done()
	defer t.cancel()
	t.mu.Lock()
	t.state, t.started = api.TaskRunning, e.now()
	t.mu.Unlock()
	err := e.runSession(ctx, t)
	t.flushWriters()
	t.mu.Lock()
	switch {
	case t.killed:
		t.state, t.errText = api.TaskCancel, "killed on request"
	case ctx.Err() != nil:
		t.state, t.errText = api.TaskCancel, "the engine is shutting down"
	case err != nil:
		t.state, t.errText = api.TaskError, t.log.scrubbed(err.Error())
	default:
		t.state, t.progress = api.TaskSuccess, 1
	}
	t.ended = e.now()
	ok := t.state == api.TaskSuccess
	t.mu.Unlock()
	if err != nil && !ok {
		t.Logf("[%s] %v", t.state, err)
	}

	e.mu.Lock()
	e.running--
	if ok {
		e.succeeded++
	} else {
		e.failed++
	}
	e.ended = append(e.ended, t.ID)
	var forgotten []*Task // kept until their logs are saved: a log is always in one place or the other
	for len(e.ended) > e.cfg.KeepTasks {
		forgotten = append(forgotten, e.tasks[e.ended[0]])
		e.ended = e.ended[1:]
	}
	e.lastActive = e.now()
	e.refreshLocked()
	full := e.served >= e.cfg.MaxTasks && e.running == 0
	e.mu.Unlock()
	close(t.done) // after the accounting: whoever waited sees the engine as the task left it
	if len(forgotten) > 0 {
		for _, old := range forgotten {
			e.saveLog(old)
		}
		e.forget(forgotten)
	}
	if full {
		e.exit(fmt.Sprintf("served its maximum of %d tasks", e.cfg.MaxTasks), true)
	}
}

func (e *EngineConn) runSession(ctx context.Context, t *Task) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("engine panicked", "task", t.ID, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("the engine failed: %v", p)
		}
	}()
	return e.session.Run(ctx, t)
}

// Kill stops a task that has not ended and waits (up to the kill grace)
// for it to end.
func (e *EngineConn) Kill(ctx context.Context, id string) (api.TaskStatus, error) {
	t, err := e.task(id)
	if err != nil {
		if st, ok := e.goneStatus(id); ok {
			return st, nil
		}
		return api.TaskStatus{}, err
	}
	t.mu.Lock()
	if !api.TaskEnded(t.state) {
		t.killed = true
	}
	t.mu.Unlock()
	t.cancel()
	timer := time.NewTimer(e.cfg.KillGrace + time.Second)
	defer timer.Stop()
	select {
	case <-t.done:
	case <-timer.C:
	case <-ctx.Done():
	}
	return t.status(), nil
}

func (e *EngineConn) task(id string) (*Task, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.tasks[id]; t != nil {
		return t, nil
	}
	return nil, linkis.ValueError(linkis.ErrUnknownNode, "task", id, "no such task on "+e.cfg.Ticket+" (never submitted, or forgotten)")
}

// Status returns where a task stands, waiting up to wait while it runs
// and, unless logLines is negative, while its log has at most logLines
// lines: a caller that has read that many learns of the next line when it
// is printed, not when the wait runs out. After a new line it waits up
// to logLinger more for the task's end, so that a short task that prints
// still costs one call and a chatty one is read in batches. A forgotten
// keyed task answers its final status.
func (e *EngineConn) Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error) {
	t, err := e.task(id)
	if err != nil {
		if st, ok := e.goneStatus(id); ok {
			return st, nil
		}
		return api.TaskStatus{}, err
	}
	if wait > 0 {
		var grew <-chan struct{}
		if logLines >= 0 {
			if grew = t.log.beyond(logLines); grew == nil {
				return t.status(), nil
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-t.done:
		case <-grew:
			linger := time.NewTimer(logLinger)
			select {
			case <-t.done:
			case <-linger.C:
			case <-timer.C:
			case <-ctx.Done():
			}
			linger.Stop()
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
	return t.status(), nil
}

// logLinger is how long a status wait that a new log line ended goes on
// waiting for the task's end.
const logLinger = 10 * time.Millisecond

// Log returns a page of a task's log.
// A task the engine no longer keeps in memory is read from its log file.
func (e *EngineConn) Log(id string, from, size int) (api.TaskLog, error) {
	if err := api.CheckPage(from, size, api.MaxLogPageSize); err != nil {
		return api.TaskLog{}, err
	}
	t, err := e.task(id)
	if err != nil {
		if lg, ok, serr := SavedLogPage(e.cfg.LogDir, id, from, size); ok {
			return lg, nil
		} else if serr != nil {
			e.log.Warn("reading a saved task log", "task", id, "err", serr)
		}
		return api.TaskLog{}, err
	}
	ended := t.isEnded()
	lines, next, trunc := t.log.page(from, size)
	return api.TaskLog{ID: id, From: from, Lines: lines, Next: next, Complete: ended && next == t.log.len(), Truncated: trunc}, nil
}

// saveLog appends an ended task's log to the engine's saved logs (see
// logSegments), so that it outlives the task's record (and the engine). It
// runs when the record is forgotten and, for the tasks still kept, when the
// engine exits: never on a task's own path.
func (e *EngineConn) saveLog(t *Task) {
	lines, _ := t.log.all()
	if err := e.saved.save(t.ID, lines); err != nil {
		e.log.Warn("saving a task's log", "task", t.ID, "err", err)
	}
}
