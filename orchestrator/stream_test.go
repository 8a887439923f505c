package orchestrator

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
)

// printer is one engine running one task that prints when the test says
// and prints a last line when it is killed (a trap on SIGTERM, say). Its
// Status wait ends when the log grows past what the caller has read, as
// the engine's does (engineconn.EngineConn.Status).
type printer struct {
	mu    sync.Mutex
	lines []string
	state string
	grew  chan struct{}
}

func newPrinter() *printer { return &printer{state: api.TaskRunning, grew: make(chan struct{})} }

func (p *printer) print(l string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, l)
	close(p.grew)
	p.grew = make(chan struct{})
}

func (p *printer) status() api.TaskStatus {
	return api.TaskStatus{ID: "t-1", State: p.state, LogLines: len(p.lines)}
}

func (p *printer) Submit(ctx context.Context, r api.TaskRequest, wait time.Duration) (api.TaskSubmitted, error) {
	return api.TaskSubmitted{ID: "t-1", State: api.TaskRunning}, nil
}

func (p *printer) Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error) {
	p.mu.Lock()
	st, grew := p.status(), p.grew
	p.mu.Unlock()
	if api.TaskEnded(st.State) || logLines >= 0 && st.LogLines > logLines {
		return st, nil
	}
	if logLines < 0 {
		grew = nil
	}
	select {
	case <-grew:
	case <-time.After(wait):
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status(), nil
}

func (p *printer) Log(ctx context.Context, id string, from, size int) (api.TaskLog, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	from = min(from, len(p.lines))
	end := min(from+size, len(p.lines))
	return api.TaskLog{ID: id, From: from, Lines: slices.Clone(p.lines[from:end]), Next: end,
		Complete: api.TaskEnded(p.state) && end == len(p.lines)}, nil
}

func (p *printer) Kill(ctx context.Context, id string) (api.TaskStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, "terminated")
	p.state = api.TaskCancel
	return p.status(), nil
}

func (r *recorder) hasLine(l string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.lines, l)
}

// A line the task prints reaches the job's log while the task runs, long
// before the status call's wait (a minute here) runs out; and the lines a
// killed task printed up to its end - its last one included - reach it
// too, though the job is already cancelled.
func TestLogLinesStreamAndSurviveAKill(t *testing.T) {
	m := newFakeManager()
	cfg := DefaultConfig()
	cfg.PollWait, cfg.KillWait = time.Minute, time.Second
	p := newPrinter()
	o, err := New(cfg, m, func(string) TaskClient { return p })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder()
	done := make(chan Outcome, 1)
	go func() { done <- o.Run(ctx, spec("shell-1", "echo start; sleep 60"), rec) }()
	<-rec.running
	for _, l := range []string{"start", "second"} {
		time.Sleep(50 * time.Millisecond) // the orchestrator waits in its status call
		p.print(l)
		for deadline := time.Now().Add(10 * time.Second); !rec.hasLine(l); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%q printed 10 s ago is not in the job's log", l)
			}
		}
	}
	cancel()
	out := <-done
	if out.State != Cancelled {
		t.Fatalf("outcome %+v", out)
	}
	for _, l := range []string{"start", "second", "terminated"} {
		if !rec.hasLine(l) {
			t.Errorf("%q is missing from the log of the killed job: %q", l, rec.lines)
		}
	}
}
