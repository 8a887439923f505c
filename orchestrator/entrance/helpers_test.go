package entrance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/orchestrator"
)

// fakeRunner is the test's Runner: Check returns checkErr; Run calls fn
// (default: succeed at once) and records the order of the calls.
type fakeRunner struct {
	checkErr error
	fn       func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome

	mu      sync.Mutex
	started []int64
	calls   chan int64 // if set, receives each started task id
}

func (f *fakeRunner) Check(orchestrator.Spec) error { return f.checkErr }

func (f *fakeRunner) Run(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	f.mu.Lock()
	f.started = append(f.started, spec.TaskID)
	f.mu.Unlock()
	if f.calls != nil {
		f.calls <- spec.TaskID
	}
	if f.fn != nil {
		return f.fn(ctx, spec, l)
	}
	l.Scheduled(1)
	l.Running("ec-1")
	return orchestrator.Outcome{State: orchestrator.Succeed, EC: "ec-1"}
}

func (f *fakeRunner) startedIDs() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.started...)
}

// blockUntilDone is a Run that reports Running then waits for ctx.
func blockUntilDone(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	l.Scheduled(1)
	l.Running("ec-1")
	<-ctx.Done()
	return orchestrator.Outcome{State: orchestrator.Cancelled, Err: context.Cause(ctx)}
}

// checkedHistory wraps a History and records every state a job is given,
// noting any illegal move.
type checkedHistory struct {
	History
	mu      sync.Mutex
	last    map[int64]orchestrator.State
	seq     map[int64][]orchestrator.State
	illegal []string
}

func newChecked(h History) *checkedHistory {
	return &checkedHistory{History: h, last: map[int64]orchestrator.State{}, seq: map[int64][]orchestrator.State{}}
}

func (c *checkedHistory) Insert(j *orchestrator.Job) error {
	err := c.History.Insert(j)
	if err == nil {
		c.mu.Lock()
		c.last[j.TaskID] = j.State
		c.seq[j.TaskID] = append(c.seq[j.TaskID], j.State)
		c.mu.Unlock()
	}
	return err
}

func (c *checkedHistory) Update(j orchestrator.Job) {
	c.mu.Lock()
	prev, ok := c.last[j.TaskID]
	if !ok {
		if old, err := c.History.Get(j.TaskID); err == nil {
			prev, ok = old.State, true
		}
	}
	if ok && prev != j.State && !orchestrator.CanMove(prev, j.State) {
		c.illegal = append(c.illegal, fmt.Sprintf("job %d: %v → %v", j.TaskID, prev, j.State))
	}
	if prev != j.State || !ok {
		c.seq[j.TaskID] = append(c.seq[j.TaskID], j.State)
	}
	c.last[j.TaskID] = j.State
	c.mu.Unlock()
	c.History.Update(j)
}

func (c *checkedHistory) states(id int64) []orchestrator.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]orchestrator.State(nil), c.seq[id]...)
}

// open opens an entrance on dir with cfg adjusted by mod, closing it at
// the end of the test. Its history is checked for illegal moves.
func open(t testing.TB, dir string, r orchestrator.Runner, mod func(*Config)) (*Entrance, *checkedHistory) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.NoSync = true
	if mod != nil {
		mod(&cfg)
	}
	h, err := OpenBolt(dir+"/jobs.db", BoltOptions{NoSync: cfg.NoSync, LogMaxLines: cfg.LogMaxLines, LogMaxBytes: cfg.LogMaxBytes})
	if err != nil {
		t.Fatal(err)
	}
	ch := newChecked(h)
	cfg.History = ch
	e, err := Open(cfg, r, nil)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		ch.mu.Lock()
		defer ch.mu.Unlock()
		for _, s := range ch.illegal {
			t.Errorf("illegal move recorded: %s", s)
		}
	})
	return e, ch
}

func request(userCreator, engineType, code string, extra ...string) orchestrator.JobRequest {
	labels := map[string]string{}
	if userCreator != "" {
		labels["userCreator"] = userCreator
	}
	if engineType != "" {
		labels["engineType"] = engineType
	}
	for i := 0; i+1 < len(extra); i += 2 {
		labels[extra[i]] = extra[i+1]
	}
	return orchestrator.JobRequest{
		ExecutionContent: orchestrator.ExecutionContent{Code: code, RunType: "sh"},
		Labels:           labels,
	}
}

func submit(t testing.TB, e *Entrance, user string, req orchestrator.JobRequest) orchestrator.Job {
	t.Helper()
	j, err := e.Submit(context.Background(), user, req)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return j
}

func wait(t testing.TB, e *Entrance, j orchestrator.Job) orchestrator.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := e.Wait(ctx, j.User, j.ExecID)
	if err != nil {
		t.Fatalf("wait %s: %v (state %v)", j.ExecID, err, got.State)
	}
	return got
}

// eventually waits up to 5 s for cond.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func wantKind(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v, want kind %v", err, kind)
	}
}

func count(t testing.TB, e *Entrance) int {
	t.Helper()
	if err := e.hist.Flush(); err != nil {
		t.Fatal(err)
	}
	n, err := e.hist.Count()
	if err != nil {
		t.Fatal(err)
	}
	return n
}
