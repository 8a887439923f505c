package entrance

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golinkis/golinkis/orchestrator"
)

// heldLogs is a History whose log lines wait in memory until Flush (a
// write-behind history with a slow writer): Log reports them pending.
type heldLogs struct {
	History
	mu    sync.Mutex
	held  map[int64][]string
	final map[int64]bool // a final state was recorded
	late  []int64        // jobs whose log grew after their final state
}

func (h *heldLogs) AppendLog(id int64, lines []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.final[id] {
		h.late = append(h.late, id)
	}
	h.held[id] = append(h.held[id], lines...)
}

func (h *heldLogs) Update(j orchestrator.Job) {
	h.mu.Lock()
	if j.State.Final() {
		h.final[j.TaskID] = true
	}
	h.mu.Unlock()
	h.History.Update(j)
}

func (h *heldLogs) Log(id int64, from, size int) ([]string, int, bool, error) {
	lines, total, pending, err := h.History.Log(id, from, size)
	h.mu.Lock()
	pending = pending || len(h.held[id]) > 0
	h.mu.Unlock()
	return lines, total, pending, err
}

func (h *heldLogs) Flush() error {
	h.mu.Lock()
	held := h.held
	h.held = map[int64][]string{}
	h.mu.Unlock()
	for id, lines := range held {
		h.History.AppendLog(id, lines)
	}
	return h.History.Flush()
}

func (h *heldLogs) Close() error {
	h.Flush()
	return h.History.Close()
}

// Once Wait has returned a job's final state, its log read at once is
// complete: every line, the last one included, and Complete set.
func TestLogCompleteAfterWait(t *testing.T) {
	dir := t.TempDir()
	bh, err := OpenBolt(filepath.Join(dir, "jobs.db"), BoltOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &heldLogs{History: bh, held: map[int64][]string{}, final: map[int64]bool{}}
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Scheduled(1)
		l.Running("ec-1")
		l.Log([]string{"one", "two"})
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.History = h
	e, err := Open(cfg, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 5 {
		j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
		p, err := e.Log("alice", j.ExecID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Complete || len(p.Lines) != 3 || p.Lines[0] != "one" || !strings.Contains(p.Lines[2], "ended Succeed") {
			t.Fatalf("log right after Wait: complete %v, lines %q", p.Complete, p.Lines)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.late) > 0 {
		t.Fatalf("log lines appended after the final state of jobs %v", h.late)
	}
}
