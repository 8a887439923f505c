package orchestrator

// Resuming a job's run from its record (a new leader takes it up).

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
)

// firstAskDead grants the first ask of id dead on an engine whose host is
// gone (the submission's connection is refused); every other ask goes to
// the fake manager.
type firstAskDead struct {
	*fakeManager
	dead string
	mu   sync.Mutex
	done bool
}

func (a *firstAskDead) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	a.mu.Lock()
	first := r.ID == a.dead && !a.done
	a.done = a.done || first
	a.mu.Unlock()
	if !first {
		return a.fakeManager.Ask(ctx, r)
	}
	e := a.engines.engine("engine-gone")
	e.mu.Lock()
	e.dead = true
	e.mu.Unlock()
	a.fakeManager.mu.Lock()
	a.asked = append(a.asked, r.ID)
	a.held[r.ID] = true
	a.fakeManager.mu.Unlock()
	return api.AskResult{AskID: r.ID, Status: "Granted", EC: e.name, Addr: "engine-gone", Token: "0123456789abcdef"}, nil
}

// taskCatcher is a recorder that keeps the tasks it is told of, as the
// entrance's dispatcher writes them into the job's record.
type taskCatcher struct {
	*recorder
	mu    sync.Mutex
	tasks []Task
}

func (c *taskCatcher) Running(t Task) {
	c.mu.Lock()
	c.tasks = append(c.tasks, t)
	c.mu.Unlock()
	c.recorder.Running(t)
}

// A task submitted after asking past an unreachable engine runs under the
// re-ask's key ("exec_1-1.0r1") and is recorded so; the next leader
// resuming the job from that record follows that task rather than asking
// again and running the code a second time (found in review: only the
// plain key was looked for).
func TestResumeFindsATaskRunAfterAReask(t *testing.T) {
	fm := newFakeManager()
	a := &firstAskDead{fakeManager: fm, dead: "exec_1-1.0"}
	o, err := New(func() Config {
		c := DefaultConfig()
		c.RetryWait, c.SubmitWait, c.PollWait, c.KillWait = time.Millisecond, 20*time.Millisecond, 20*time.Millisecond, time.Second
		return c
	}(), a, fm.engines.client)
	if err != nil {
		t.Fatal(err)
	}
	s := spec("shell-1", "block")
	s.HoldEngines = true

	// The first leader's run: past the dead engine to engine-default.
	rec, out := detachedRun(o, s) // the leader died: the task runs on
	if out.Err != ErrDetached {
		t.Fatalf("first run: %+v", out)
	}
	rec.mu.Lock()
	recorded := append([]Task(nil), rec.tasks...)
	rec.mu.Unlock()
	if len(recorded) != 1 || recorded[0].Key != "exec_1-1.0r1" {
		t.Fatalf("recorded tasks %+v", recorded)
	}

	// The next leader resumes the job from its record.
	s.Resume = &Resume{Attempts: 1, Tasks: recorded}
	rec2 := &taskCatcher{recorder: newRecorder()}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan Outcome, 1)
	go func() { done2 <- o.Run(ctx2, s, rec2) }()
	<-rec2.running
	submits := 0
	fm.engines.mu.Lock()
	for name, e := range fm.engines.byID {
		if name != "engine-gone" {
			e.mu.Lock()
			submits += e.submits
			e.mu.Unlock()
		}
	}
	fm.engines.mu.Unlock()
	close(fm.engines.engine("engine-default").gate)
	<-done2
	rec2.mu.Lock()
	defer rec2.mu.Unlock()
	if submits != 1 || len(rec2.tasks) != 1 || rec2.tasks[0].ID != recorded[0].ID {
		t.Fatalf("the resumed run submitted the job's code %d times in all (want 1) and ran %+v, want to follow %+v; asks %v",
			submits, rec2.tasks, recorded[0], fm.askIDs())
	}
}

// flakyStatus answers the first n status calls with err, then as the
// engine does.
type flakyStatus struct {
	*fakeEngine
	mu  sync.Mutex
	n   int
	err error
}

func (s *flakyStatus) Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error) {
	s.mu.Lock()
	fail := s.n > 0
	s.n--
	s.mu.Unlock()
	if fail {
		return api.TaskStatus{}, s.err
	}
	return s.fakeEngine.Status(ctx, id, wait, logLines)
}

// Re-attaching to a running task (a new leader resumes the job) on an
// engine whose status call answers an error that is not "the engine is
// gone" (an HTTP 500, as TestLostTaskIsKilled) kills the task before the
// engine is released, as follow does - never leaves it running on an
// engine the manager may hand to the next ask (found in review).
func TestAttachErrorKillsTheTask(t *testing.T) {
	fm := newFakeManager()
	eng := fm.engines.engine("engine-default")
	flaky := &flakyStatus{fakeEngine: eng}
	o, err := New(func() Config {
		c := DefaultConfig()
		c.RetryWait, c.SubmitWait, c.PollWait, c.KillWait = time.Millisecond, 20*time.Millisecond, 20*time.Millisecond, time.Second
		return c
	}(), fm, func(addr string) TaskClient {
		if addr == "engine-default" {
			return flaky
		}
		return fm.engines.client(addr)
	})
	if err != nil {
		t.Fatal(err)
	}
	s := spec("shell-1", "block")
	s.HoldEngines = true
	rec, _ := detachedRun(o, s)
	rec.mu.Lock()
	s.Resume = &Resume{Attempts: 1, Tasks: append([]Task(nil), rec.tasks...)}
	rec.mu.Unlock()

	flaky.mu.Lock()
	flaky.n, flaky.err = 1, errors.New("orchestrator: status: HTTP 500: internal error") // as TestLostTaskIsKilled
	flaky.mu.Unlock()
	out := o.Run(context.Background(), s, newRecorder())
	fm.mu.Lock()
	released := fm.released["exec_1-1.0"]
	fm.mu.Unlock()
	running := fm.engines.running()
	if released == 0 || len(running) > 0 {
		t.Fatalf("the resumed run ended %v (%v), released its engine %d times, and left task(s) %v running on it", out.State, out.Err, released, running)
	}
	close(eng.gate)
}

// detachedRun runs s until its task runs, then detaches it, as a leader's
// death does, and returns what the run saw and its outcome.
func detachedRun(o *Orchestrator, s Spec) (*taskCatcher, Outcome) {
	rec := &taskCatcher{recorder: newRecorder()}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- o.Run(ctx, s, rec) }()
	<-rec.running
	cancel(ErrDetached)
	return rec, <-done
}
