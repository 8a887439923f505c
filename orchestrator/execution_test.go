package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

func TestRunShortJobSucceeds(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "echo ${run_date}"), rec)
	if out.State != Succeed || out.Err != nil || !reflect.DeepEqual(out.Results, []string{"20240229"}) || out.EC != "ec-default" {
		t.Fatalf("outcome %+v", out)
	}
	if got := rec.Events(); !reflect.DeepEqual(got, []string{"scheduled 1", "running ec-default"}) {
		t.Fatalf("events %v", got)
	}
	lines := strings.Join(rec.Lines(), "\n")
	if !strings.Contains(lines, "line 1 of t-1\nline 2 of t-1") || !strings.Contains(lines, "INFO asking for an engine shell-1") {
		t.Fatalf("log lines:\n%s", lines)
	}
	if e := m.engines.engine("engine-default"); e.submits != 1 {
		t.Fatalf("%d submissions", e.submits)
	}
	if got := m.askIDs(); !reflect.DeepEqual(got, []string{"exec_1-1.0"}) {
		t.Fatalf("ask ids %v", got)
	}
	m.books(t)
	rec.legal(t)
}

// A job whose first two asks fail retryably succeeds on the third: three
// ask ids, two Retrying calls with the configured wait.
func TestRetryOnRetryableFailure(t *testing.T) {
	m := newFakeManager()
	var n atomic.Int32
	m.refuse = func(r api.AskRequest) error {
		if n.Add(1) <= 2 {
			return linkis.Errorf(linkis.ErrInsufficientResource, "memory", "no room")
		}
		return nil
	}
	o := testOrchestrator(t, m, func(c *Config) { c.RetryWait = 3 * time.Millisecond })
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "echo ok"), rec)
	if out.State != Succeed {
		t.Fatalf("outcome %+v", out)
	}
	if got := m.askIDs(); !reflect.DeepEqual(got, []string{"exec_1-1.0", "exec_1-2.0", "exec_1-3.0"}) {
		t.Fatalf("ask ids %v", got)
	}
	want := []string{"scheduled 1", "retrying 1", "scheduled 2", "retrying 2", "scheduled 3", "running ec-default"}
	if got := rec.Events(); !reflect.DeepEqual(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if !reflect.DeepEqual(rec.waits, []time.Duration{3 * time.Millisecond, 3 * time.Millisecond}) {
		t.Fatalf("waits %v", rec.waits)
	}
	m.books(t)
	rec.legal(t)
}

// The attempt cap holds (labels override the config), and the last
// failure comes back with its kind.
func TestRetryCapFromLabels(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(api.AskRequest) error { return linkis.Errorf(linkis.ErrNoNodeAvailable, "", "none") }
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	s := spec("shell-1", "echo ok", linkis.LabelJobRetryCount, "4", linkis.LabelJobRetryTimeout, "2")
	out := o.Run(context.Background(), s, rec)
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrNoNodeAvailable) || !strings.Contains(out.Err.Error(), "after 5 attempts") {
		t.Fatalf("outcome %+v", out)
	}
	if n := len(m.askIDs()); n != 5 {
		t.Fatalf("%d asks, want 5", n)
	}
	for _, w := range rec.waits {
		if w != 2*time.Millisecond {
			t.Fatalf("waits %v, want 2ms each", rec.waits)
		}
	}
	m.books(t)
	rec.legal(t)
}

// The engine died mid-task: retried on a fresh ask, as the job's
// jobRetryCount label allows.
func TestRetryWhenEngineDiesMidTask(t *testing.T) {
	m := newFakeManager()
	var n atomic.Int32
	// the first ask lands on an engine that crashes, the next on a good one
	m.refuse = func(r api.AskRequest) error { return nil }
	o := testOrchestrator(t, m, nil)
	s := spec("shell-1", "crash", LabelExecuteRoutes, "emInstance=a", linkis.LabelJobRetryCount, "2")
	// route to a dying engine first; the retry goes to the same route but
	// the fake engine stays dead, so make the second attempt's code work
	// by reviving the engine between attempts.
	rec := &reviver{recorder: newRecorder(), revive: func() {
		n.Add(1)
		e := m.engines.engine("engine-a")
		e.mu.Lock()
		e.dead = false
		for _, t := range e.tasks {
			if !api.TaskEnded(t.state) {
				t.state = api.TaskError // the task died with its engine
			}
		}
		e.mu.Unlock()
	}}
	out := o.Run(context.Background(), s, rec)
	// the second attempt crashes again (same code): the cap (2) ends it
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrEngineFailed) || !linkis.IsRetryable(out.Err) || n.Load() != 2 {
		t.Fatalf("outcome %+v after %d revivals", out, n.Load())
	}
	if got := len(m.askIDs()); got != 3 {
		t.Fatalf("%d asks, want 3", got)
	}
	m.books(t)
	rec.legal(t)
}

// reviver is a recorder that runs revive when the job is about to wait for
// a retry.
type reviver struct {
	*recorder
	revive func()
}

func (r *reviver) Retrying(attempt, round int, wait time.Duration, reason error) {
	r.revive()
	r.recorder.Retrying(attempt, round, wait, reason)
}

// Without a jobRetryCount label, a task whose engine died mid-task is not
// run again (its code may have run in part): the job fails, saying why.
func TestNoRerunOfARunningTaskWithoutTheLabel(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "crash", LabelExecuteRoutes, "emInstance=a"), rec)
	if out.State != Failed || !strings.Contains(out.Err.Error(), "not run again") {
		t.Fatalf("outcome %+v", out)
	}
	if got := len(m.askIDs()); got != 1 {
		t.Fatalf("%d asks, want 1: the task was not to run again", got)
	}
	m.books(t)
	rec.legal(t)
}

// A task that failed because of the user's code is not retried.
func TestNoRetryOnUserCodeError(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	out := o.Run(context.Background(), spec("python-3", "error"), rec)
	if out.State != Failed || linkis.IsRetryable(out.Err) || !strings.Contains(out.Err.Error(), "boom") {
		t.Fatalf("outcome %+v", out)
	}
	if n := len(m.askIDs()); n != 1 {
		t.Fatalf("%d asks, want 1", n)
	}
	if !strings.Contains(strings.Join(rec.Lines(), "\n"), "Traceback: boom") {
		t.Fatalf("the task's log did not reach the listener: %v", rec.Lines())
	}
	m.books(t)
	rec.legal(t)
}

// A refused ask that is not retryable ends the job at once.
func TestNoRetryOnPermanentAskFailure(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(api.AskRequest) error {
		return linkis.ValueError(linkis.ErrUnknownEngineType, "engineType", "shell-1", "no plugin")
	}
	o := testOrchestrator(t, m, nil)
	out := o.Run(context.Background(), spec("shell-1", "echo x"), newRecorder())
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrUnknownEngineType) || len(m.askIDs()) != 1 {
		t.Fatalf("outcome %+v, %d asks", out, len(m.askIDs()))
	}
	m.books(t)
}

// Cancelled while the ask waits: the ask is withdrawn (released) and the
// job ends Cancelled.
func TestCancelWhileAsking(t *testing.T) {
	m := newFakeManager()
	m.block, m.blocked = make(chan struct{}), make(chan string, 1)
	o := testOrchestrator(t, m, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { done <- o.Run(ctx, spec("shell-1", "echo x"), newRecorder()) }()
	<-m.blocked
	cancel()
	out := <-done
	if out.State != Cancelled || !errors.Is(out.Err, context.Canceled) {
		t.Fatalf("outcome %+v", out)
	}
	m.books(t)
}

// Cancelled while the task runs: the task is killed and the engine
// released before Run returns.
func TestCancelWhileRunning(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { done <- o.Run(ctx, spec("shell-1", "block"), rec) }()
	<-rec.running
	cancel()
	out := <-done
	if out.State != Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	if k := m.engines.engine("engine-default").kills(); len(k) != 1 {
		t.Fatalf("kills %v, want the task killed", k)
	}
	m.books(t)
	rec.legal(t)
}

// Cancelled while waiting to retry: no further ask.
func TestCancelWhileWaitingToRetry(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(api.AskRequest) error { return linkis.Errorf(linkis.ErrQuotaExceeded, "", "full") }
	o := testOrchestrator(t, m, func(c *Config) { c.RetryWait = 5 * time.Minute })
	waiting := make(chan struct{})
	rec := &reviver{recorder: newRecorder(), revive: func() { close(waiting) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { done <- o.Run(ctx, spec("shell-1", "echo x"), rec) }()
	<-waiting
	cancel()
	if out := <-done; out.State != Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	if n := len(m.askIDs()); n != 1 {
		t.Fatalf("%d asks, want 1", n)
	}
	m.books(t)
}

// A refused submission (the engine is unreachable) is retryable, and the
// ask is still released.
func TestSubmitToUnreachableEngineIsRetried(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, func(c *Config) { c.RetryCount = 1 })
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "refuse"), rec)
	// A submission the engine never got (the connection was refused) is
	// asked again at once, past up to maxReasks engines, within each of
	// the two attempts the retry count allows.
	if want := (1 + maxReasks) * 2; out.State != Failed || !linkis.IsRetryable(out.Err) || len(m.askIDs()) != want {
		t.Fatalf("outcome %+v after %d asks, want %d", out, len(m.askIDs()), want)
	}
	if !strings.Contains(strings.Join(rec.Lines(), "\n"), "the task never ran there: asking for another") {
		t.Fatalf("the log does not say why it asked again: %q", rec.Lines())
	}
	m.books(t)
}

// A long task is followed with status calls until it ends; its result
// comes back.
func TestLongTaskIsFollowed(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, func(c *Config) { c.SubmitWait, c.PollWait = time.Millisecond, time.Millisecond })
	rec := newRecorder()
	done := make(chan Outcome)
	go func() { done <- o.Run(context.Background(), spec("shell-1", "block"), rec) }()
	<-rec.running
	close(m.engines.engine("engine-default").gate)
	out := <-done
	if out.State != Succeed || fmt.Sprint(out.Results) != "[from ec-default]" {
		t.Fatalf("outcome %+v", out)
	}
	m.books(t)
}

func TestRunRefusesWhatCheckRefuses(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	s := spec("shell-1", "echo ${nope}")
	if err := o.Check(s); err == nil {
		t.Fatal("Check passed an unknown variable")
	}
	out := o.Run(context.Background(), s, newRecorder())
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrInvalidArgument) || len(m.askIDs()) != 0 {
		t.Fatalf("outcome %+v, asks %v", out, m.askIDs())
	}
}

// BenchmarkOrchestratorOverhead is Check+Run of a trivial job on fake
// engines: the orchestrator's own cost per job.
func BenchmarkOrchestratorOverhead(b *testing.B) {
	m := newFakeManager()
	cfg := DefaultConfig()
	o, err := New(cfg, m, m.engines.client)
	if err != nil {
		b.Fatal(err)
	}
	s := spec("shell-1", "echo hi")
	l := nopListener{}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n++; n%1024 == 0 {
			m.reset()
		}
		if err := o.Check(s); err != nil {
			b.Fatal(err)
		}
		if out := o.Run(ctx, s, l); out.State != Succeed {
			b.Fatal(out.Err)
		}
	}
}

type nopListener struct{}

func (nopListener) Scheduled(int)                           {}
func (nopListener) Running(Task)                            {}
func (nopListener) Progress(float64, string)                {}
func (nopListener) Log([]string)                            {}
func (nopListener) Output(string, []string)                 {}
func (nopListener) TaskEnded(string, int)                   {}
func (nopListener) Retrying(int, int, time.Duration, error) {}

// A job cancelled while its ask is being granted never runs its code: the
// engine is given back untouched.
func TestCancelAsTheGrantArrivesSubmitsNothing(t *testing.T) {
	m := newFakeManager()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m.refuse = func(api.AskRequest) error { cancel(); return nil }
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	out := o.Run(ctx, spec("shell-1", "echo side-effect"), rec)
	if out.State != Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	if n := m.engines.engine("engine-default").submits; n != 0 {
		t.Fatalf("%d submissions of a cancelled job's code", n)
	}
	m.books(t)
	rec.legal(t)
}

// statusFails is a TaskClient whose Status answers an error that is not
// the engine's death (an HTTP 500, a bad answer).
type statusFails struct{ TaskClient }

func (statusFails) Status(context.Context, string, time.Duration, int) (api.TaskStatus, error) {
	return api.TaskStatus{}, errors.New("orchestrator: status: HTTP 500: internal error")
}

// A task whose status cannot be read while its engine still answers is
// killed before the engine is released: the failed job leaves nothing
// running.
func TestLostTaskIsKilled(t *testing.T) {
	m := newFakeManager()
	cfg := DefaultConfig()
	cfg.RetryCount, cfg.SubmitWait, cfg.PollWait, cfg.KillWait = 0, 10*time.Millisecond, 10*time.Millisecond, time.Second
	o, err := New(cfg, m, func(addr string) TaskClient { return statusFails{m.engines.client(addr)} })
	if err != nil {
		t.Fatal(err)
	}
	out := o.Run(context.Background(), spec("shell-1", "block"), newRecorder())
	if out.State != Failed || !strings.Contains(out.Err.Error(), "HTTP 500") {
		t.Fatalf("outcome %+v", out)
	}
	if k := m.engines.engine("engine-default").kills(); len(k) != 1 {
		t.Fatalf("kills %v, want the task killed", k)
	}
	m.books(t)
}
