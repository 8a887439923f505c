package orchestrator

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
)

// poolRig is an Orchestrator whose asker is an EnginePool over the fake
// manager.
func poolRig(t *testing.T, idle time.Duration) (*Orchestrator, *EnginePool, *fakeManager) {
	t.Helper()
	m := newFakeManager()
	p := NewEnginePool(m, idle)
	cfg := DefaultConfig()
	cfg.RetryWait = time.Millisecond
	o, err := New(cfg, p, m.engines.client)
	if err != nil {
		t.Fatal(err)
	}
	return o, p, m
}

func runJob(t *testing.T, o *Orchestrator, n int, code string) Outcome {
	t.Helper()
	s := spec("shell-1", code)
	s.ExecID = fmt.Sprintf("exec_%d", n)
	return o.Run(context.Background(), s, newRecorder())
}

func TestPoolKeepsCleanEnginesForTheNextJob(t *testing.T) {
	o, p, m := poolRig(t, time.Hour)
	for i := range 5 {
		if out := runJob(t, o, i, "echo hi"); out.State != Succeed {
			t.Fatalf("job %d: %+v", i, out)
		}
	}
	// A job whose code failed leaves a healthy engine: kept too.
	if out := runJob(t, o, 5, "error"); out.State != Failed {
		t.Fatalf("error job: %+v", out)
	}
	if out := runJob(t, o, 6, "echo again"); out.State != Succeed {
		t.Fatalf("job after the error: %+v", out)
	}
	if asked := m.askIDs(); len(asked) != 1 || asked[0] != askID("exec_0", 1, 0) {
		t.Errorf("the manager was asked %v, want once for the first job", asked)
	}
	if p.Kept() != 1 {
		t.Errorf("kept %d engines, want 1", p.Kept())
	}
	p.Close()
	if p.Kept() != 0 {
		t.Errorf("kept %d engines after Close", p.Kept())
	}
	m.books(t) // the one ask was released exactly once, at Close
	// After Close an engine given back is released at once.
	if out := runJob(t, o, 7, "echo late"); out.State != Succeed {
		t.Fatalf("job after Close: %+v", out)
	}
	m.books(t)
}

func TestPoolReleasesIdleAndExpiringEngines(t *testing.T) {
	o, p, m := poolRig(t, 20*time.Millisecond)
	defer p.Close()
	if out := runJob(t, o, 0, "echo hi"); out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Kept() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if p.Kept() != 0 {
		t.Fatal("an idle engine was kept past its idle time")
	}
	m.books(t)

	// A grant whose lock expires within the margin is released, not handed out.
	m2 := newFakeManager()
	p2 := NewEnginePool(expiring{m2}, time.Hour)
	defer p2.Close()
	o2, err := New(DefaultConfig(), p2, m2.engines.client)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if out := runJob(t, o2, i, "echo hi"); out.State != Succeed {
			t.Fatalf("%+v", out)
		}
	}
	if asked := m2.askIDs(); len(asked) != 2 {
		t.Errorf("asked %v: a grant about to expire was handed out again", asked)
	}
	if p2.Kept() != 1 {
		t.Errorf("kept %d, want the second job's engine", p2.Kept())
	}
}

// expiring grants locks that expire in a second.
type expiring struct{ *fakeManager }

func (e expiring) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	g, err := e.fakeManager.Ask(ctx, r)
	g.Expires = time.Now().Add(time.Second).UnixNano()
	return g, err
}

func TestPoolDropsAKeptEngineThatNoLongerServes(t *testing.T) {
	o, p, m := poolRig(t, time.Hour)
	defer p.Close()
	if out := runJob(t, o, 0, "echo hi"); out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	e := m.engines.engine("engine-default")
	e.mu.Lock()
	e.dead = true // the kept engine died
	e.mu.Unlock()
	runJob(t, o, 1, "echo hi") // fails: the fake manager has only this engine
	asked := m.askIDs()
	if len(asked) < 2 || asked[1] != askID("exec_1", 1, 0) {
		t.Errorf("asks %v: the dead kept engine must send the job's first try to the manager, not to a retry", asked)
	}
	if p.Kept() != 0 {
		t.Errorf("a dead engine is kept")
	}
}

// renewing grants locks that expire in lock and counts renewals.
type renewing struct {
	*fakeManager
	lock   time.Duration
	renews atomic.Int32
}

func (r *renewing) Ask(ctx context.Context, req api.AskRequest) (api.AskResult, error) {
	g, err := r.fakeManager.Ask(ctx, req)
	g.Expires = time.Now().Add(r.lock).UnixNano()
	return g, err
}

func (r *renewing) Renew(_ context.Context, askID string) (api.AskResult, error) {
	r.renews.Add(1)
	return api.AskResult{AskID: askID, Status: "Granted", Expires: time.Now().Add(r.lock).UnixNano()}, nil
}

// A task that runs past half of its engine lock renews it, through the
// pool too.
func TestLongTaskRenewsItsLock(t *testing.T) {
	m := &renewing{fakeManager: newFakeManager(), lock: 200 * time.Millisecond}
	p := NewEnginePool(m, time.Hour)
	defer p.Close()
	cfg := DefaultConfig()
	cfg.SubmitWait, cfg.PollWait = time.Millisecond, 10*time.Millisecond
	o, err := New(cfg, p, m.engines.client)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	done := make(chan Outcome)
	go func() { done <- o.Run(context.Background(), spec("shell-1", "block"), rec) }()
	<-rec.running
	time.Sleep(500 * time.Millisecond) // 2.5 locks
	close(m.engines.engine("engine-default").gate)
	if out := <-done; out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	if n := m.renews.Load(); n < 2 {
		t.Errorf("a task that ran 2.5 times its lock renewed it %d times", n)
	}
	p.Close()
	m.books(t)
}
