package entrance

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/orchestrator"
)

// gatedGet is a History whose Get can be made to block once.
type gatedGet struct {
	History
	mu      sync.Mutex
	armed   int // Gets to let through before blocking
	blocked chan struct{}
	release chan struct{}
}

func (g *gatedGet) Get(id int64) (orchestrator.Job, error) {
	g.mu.Lock()
	block := false
	if g.armed > 0 {
		g.armed--
		block = g.armed == 0
	}
	g.mu.Unlock()
	if block {
		close(g.blocked)
		<-g.release
	}
	return g.History.Get(id)
}

// A Kill of a queued job that races Close is recorded before the history
// closes: the job does not come back queued after a restart.
func TestKillQueuedRacingClose(t *testing.T) {
	dir := t.TempDir()
	bh, err := OpenBolt(filepath.Join(dir, "jobs.db"), BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedGet{History: bh, blocked: make(chan struct{}), release: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.MaxRunningPerGroup = 0
	cfg.History = g
	e, err := Open(cfg, &fakeRunner{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	g.mu.Lock()
	g.armed = 2 // Kill's own read passes; endQueued's blocks
	g.mu.Unlock()
	killed := make(chan orchestrator.Job, 1)
	go func() {
		k, _ := e.Kill("alice", j.ExecID)
		killed <- k
	}()
	<-g.blocked
	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	time.Sleep(50 * time.Millisecond)
	close(g.release)
	<-closed
	k := <-killed
	if k.State != orchestrator.Cancelled {
		t.Errorf("Kill returned %v, want Cancelled", k.State)
	}

	cfg.History = nil
	cfg.MaxRunningPerGroup = 5
	e2, err := Open(cfg, &fakeRunner{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	got, err := e2.JobByExecID("alice", j.ExecID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != orchestrator.Cancelled {
		t.Fatalf("a job killed while the entrance closed is %v after a restart (Kill returned %v)", got.State, k.State)
	}
}
