package orchestrator

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

func TestTreeShapes(t *testing.T) {
	o := testOrchestrator(t, newFakeManager(), nil)
	cases := []struct {
		name   string
		labels []string
		want   string
	}{
		{"retry (default)", nil, `
job exec_1
  stage 0
    retry max=2 wait=1ms
      exec shell-1 runType=sh
`},
		{"retry pinned to a route, no retries", []string{LabelExecuteRoutes, "emInstance=a", linkis.LabelJobRetryCount, "0"}, `
job exec_1
  stage 0
    exec shell-1 runType=sh route=emInstance=a
`},
		{"active-backup", []string{LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "yarnCluster=A;yarnCluster=B,tenant=t;emInstance=c", linkis.LabelJobRetryTimeout, "30000"}, `
job exec_1
  stage 0
    retry max=2 wait=30s
      failover (active-backup)
        exec shell-1 runType=sh route=yarnCluster=A
        exec shell-1 runType=sh route=tenant=t,yarnCluster=B
        exec shell-1 runType=sh route=emInstance=c
`},
		{"multi-active on two routes", []string{LabelExecuteStrategy, "multiActive", LabelExecuteRoutes, "emInstance=a;emInstance=b", linkis.LabelJobRetryCount, "1"}, `
job exec_1
  stage 0
    retry max=1 wait=1ms
      multi-active (first success wins)
        exec shell-1 runType=sh route=emInstance=a
        exec shell-1 runType=sh route=emInstance=b
`},
		{"multi-active on two engines alike", []string{LabelExecuteStrategy, "multiActive", linkis.LabelJobRetryCount, "0"}, `
job exec_1
  stage 0
    multi-active (first success wins)
      exec shell-1 runType=sh
      exec shell-1 runType=sh
`},
	}
	for _, c := range cases {
		root, err := o.Plan(spec("shell-1", "echo x", c.labels...))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := Describe(root); got != strings.TrimPrefix(c.want, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", c.name, got, c.want)
		}
	}
}

// The primary route's ECM is gone: its ask fails (no node available) and
// the backup route runs the job.
func TestFailoverWhenPrimaryHasNoEngine(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(r api.AskRequest) error {
		if r.Labels[linkis.LabelEMInstance] == "a" {
			return linkis.ValueError(linkis.ErrNoNodeAvailable, "emInstance", "a", "no such ECM")
		}
		return nil
	}
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "echo done", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a;emInstance=b"), rec)
	if out.State != Succeed || out.EC != "ec-b" || !reflect.DeepEqual(out.Results, []string{"done"}) {
		t.Fatalf("outcome %+v", out)
	}
	if got := m.askIDs(); !reflect.DeepEqual(got, []string{"exec_1-1.1", "exec_1-1.2"}) {
		t.Fatalf("asks %v", got)
	}
	if want := []string{"scheduled 1", "retrying 1", "scheduled 2", "running ec-b"}; !reflect.DeepEqual(rec.Events(), want) {
		t.Fatalf("events %v, want %v", rec.Events(), want)
	}
	if !strings.Contains(strings.Join(rec.Lines(), "\n"), "failing over to emInstance=b") {
		t.Fatalf("no failover line in %v", rec.Lines())
	}
	m.books(t)
	rec.legal(t)
}

// The primary route pins an ECM the manager does not know (it stopped and
// deregistered): not retryable, yet the backup runs the job.
func TestFailoverWhenPrimaryECMIsUnknown(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(r api.AskRequest) error {
		if r.Labels[linkis.LabelEMInstance] == "a" {
			return linkis.ValueError(linkis.ErrUnknownNode, "emInstance", "a", "no such ECM")
		}
		return nil
	}
	o := testOrchestrator(t, m, nil)
	out := o.Run(context.Background(), spec("shell-1", "echo done", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a;emInstance=b"), newRecorder())
	if out.State != Succeed || out.EC != "ec-b" {
		t.Fatalf("outcome %+v", out)
	}
	// The retry strategy does not retry it: the ECM will not come back by
	// waiting.
	out = o.Run(context.Background(), spec("shell-1", "echo done", LabelExecuteRoutes, "emInstance=a"), newRecorder())
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrUnknownNode) || len(m.askIDs()) != 3 {
		t.Fatalf("outcome %+v, asks %v", out, m.askIDs())
	}
	m.books(t)
}

// The primary engine dies mid-task: the backup runs it.
func TestFailoverWhenPrimaryEngineDies(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	e := m.engines.engine("engine-a")
	e.dead = true
	out := o.Run(context.Background(), spec("shell-1", "echo done", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a;emInstance=b"), newRecorder())
	if out.State != Succeed || out.EC != "ec-b" {
		t.Fatalf("outcome %+v", out)
	}
	m.books(t)
}

// A user-code error on the primary is not failed over: the backup would
// fail alike.
func TestNoFailoverOnUserCodeError(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	out := o.Run(context.Background(), spec("shell-1", "error", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a;emInstance=b"), newRecorder())
	if out.State != Failed || out.EC != "ec-a" || len(m.askIDs()) != 1 {
		t.Fatalf("outcome %+v, asks %v", out, m.askIDs())
	}
	m.books(t)
}

// Every route fails retryably: the retry node runs the failover again,
// and the job fails naming both routes.
func TestFailoverEveryRouteFails(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(r api.AskRequest) error {
		return linkis.ValueError(linkis.ErrNoNodeAvailable, "emInstance", r.Labels[linkis.LabelEMInstance], "no such ECM")
	}
	o := testOrchestrator(t, m, func(c *Config) { c.RetryCount = 1 })
	rec := newRecorder()
	out := o.Run(context.Background(), spec("shell-1", "echo x", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a;emInstance=b"), rec)
	if out.State != Failed || !errors.Is(out.Err, linkis.ErrNoNodeAvailable) {
		t.Fatalf("outcome %+v", out)
	}
	msg := out.Err.Error()
	if !strings.Contains(msg, "route emInstance=a") || !strings.Contains(msg, "route emInstance=b") || !strings.Contains(msg, "after 2 attempts") {
		t.Fatalf("error %q", msg)
	}
	if got := m.askIDs(); !reflect.DeepEqual(got, []string{"exec_1-1.1", "exec_1-1.2", "exec_1-2.1", "exec_1-2.2"}) {
		t.Fatalf("asks %v", got)
	}
	m.books(t)
	rec.legal(t)
}

// One engine is slow: the fast one's answer wins, the slow task is killed
// and both engines are released before Run returns.
func TestMultiActiveFirstSuccessWins(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	slow := m.engines.engine("engine-slow")
	// The fast route may only answer once the slow one's task runs, so
	// that there is something to kill.
	m.refuse = func(r api.AskRequest) error {
		if r.Labels[linkis.LabelEMInstance] == "fast" {
			<-slow.started
		}
		return nil
	}
	s := spec("shell-1", "block", LabelExecuteStrategy, "multiActive", LabelExecuteRoutes, "emInstance=slow;emInstance=fast")
	fast := m.engines.engine("engine-fast")
	close(fast.gate) // blocking tasks succeed at once there
	rec := newRecorder()
	out := o.Run(context.Background(), s, rec)
	if out.State != Succeed || out.EC != "ec-fast" || !reflect.DeepEqual(out.Results, []string{"from ec-fast"}) {
		t.Fatalf("outcome %+v", out)
	}
	if k := slow.kills(); len(k) != 1 {
		t.Fatalf("slow engine kills %v, want its task killed", k)
	}
	if k := fast.kills(); len(k) != 0 {
		t.Fatalf("fast engine kills %v", k)
	}
	m.books(t) // both asks released, nothing runs
	rec.legal(t)
}

// Both branches fail: the job fails with both reasons.
func TestMultiActiveBothFail(t *testing.T) {
	m := newFakeManager()
	m.refuse = func(r api.AskRequest) error {
		if r.Labels[linkis.LabelEMInstance] == "a" {
			return linkis.ValueError(linkis.ErrNoNodeAvailable, "emInstance", "a", "ECM a is gone")
		}
		return nil
	}
	o := testOrchestrator(t, m, func(c *Config) { c.RetryCount = 0 })
	out := o.Run(context.Background(), spec("shell-1", "error", LabelExecuteStrategy, "multiActive", LabelExecuteRoutes, "emInstance=a;emInstance=b"), newRecorder())
	if out.State != Failed || linkis.IsRetryable(out.Err) {
		t.Fatalf("outcome %+v", out)
	}
	msg := out.Err.Error()
	if !strings.Contains(msg, "ECM a is gone") || !strings.Contains(msg, "boom") || !strings.Contains(msg, "every branch failed") {
		t.Fatalf("error %q", msg)
	}
	m.books(t)
}

// Multi-active without routes runs two engines alike; cancel stops both.
func TestMultiActiveCancel(t *testing.T) {
	m := newFakeManager()
	o := testOrchestrator(t, m, nil)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Outcome)
	go func() { done <- o.Run(ctx, spec("shell-1", "block", LabelExecuteStrategy, "multiActive"), rec) }()
	e := m.engines.engine("engine-default")
	<-e.started
	<-e.started
	cancel()
	if out := <-done; out.State != Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	if k := e.kills(); len(k) != 2 {
		t.Fatalf("kills %v, want both tasks", k)
	}
	if got := m.askIDs(); len(got) != 2 || got[0] == got[1] {
		t.Fatalf("asks %v", got)
	}
	m.books(t)
	rec.legal(t)
}

// panicky is a TaskClient that panics on Submit (a faulty embedder's
// client, a bug).
type panicky struct{ TaskClient }

func (panicky) Submit(context.Context, api.TaskRequest, time.Duration) (api.TaskSubmitted, error) {
	panic("task client bug")
}

// runPanicking runs s with engine-a's task client panicking and returns
// what Run panicked with.
func runPanicking(t *testing.T, m *fakeManager, s Spec) (p any) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RetryCount, cfg.SubmitWait, cfg.PollWait = 0, 50*time.Millisecond, 50*time.Millisecond
	o, err := New(cfg, m, func(addr string) TaskClient {
		if addr == "engine-a" {
			return panicky{m.engines.client(addr)}
		}
		return m.engines.client(addr)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p = recover() }()
	o.Run(context.Background(), s, newRecorder())
	return nil
}

// A panic while a task is submitted goes on to Run's caller (the entrance
// recovers it), but the engine is released first.
func TestPanicReleasesTheEngine(t *testing.T) {
	m := newFakeManager()
	if p := runPanicking(t, m, spec("shell-1", "echo x", LabelExecuteRoutes, "emInstance=a")); p == nil {
		t.Fatal("Run did not panic")
	}
	m.books(t)
}

// A panic in a multi-active branch does not kill the process from a
// goroutine nobody can recover: it reaches Run's caller after the other
// branches were cancelled and every engine released.
func TestPanicInAMultiActiveBranch(t *testing.T) {
	m := newFakeManager()
	s := spec("shell-1", "block", LabelExecuteStrategy, "multiActive", LabelExecuteRoutes, "emInstance=a;emInstance=b")
	if p := runPanicking(t, m, s); p == nil {
		t.Fatal("Run did not panic")
	}
	m.books(t)
}
