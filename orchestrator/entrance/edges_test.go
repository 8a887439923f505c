package entrance_test

// Edge cases of the dispatcher and of waiting, each found in review of the
// replicated job path (the tests failed on the code as it was).

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/entrance/entrancetest"
	"github.com/golinkis/golinkis/raftstore"
)

// What a run heard since its last checkpoint rides in one UpdateJob, and
// the job's end is merged into the last of them: the update is cut to
// what the log's decoder takes (MaxCommandSize 1 MiB, MaxJobLineBytes 4
// KiB per line, MaxReasonLen 4 KiB), so that the job ends - it was
// refused whole, and the job stayed Scheduled for ever. Real engines keep lines up
// to 64 KiB (engineconn/task.go maxLineBytes) and print far more than
// 1 MiB per checkpoint (`seq 1 200000`); a multiActive job whose branches
// both fail with a 2000-byte engine error gets a joined reason over 4 KiB.
func TestBigUpdatesEndTheJob(t *testing.T) {
	for _, c := range []struct {
		name, code string
		checkpoint time.Duration
		runner     func(*entrancetest.Engine) orchestrator.Runner
		want       orchestrator.State
	}{
		// The test engine prints a job's code as its one output line.
		{"one 4097-byte line", strings.Repeat("x", manager.MaxJobLineBytes+1), time.Hour, nil, orchestrator.Succeed},
		// 200000 short lines within the default 500 ms checkpoint.
		{"200000 lines", "lines 200000", entrance.DefaultConfig().Checkpoint, nil, orchestrator.Succeed},
		{"a 4500-byte failure", "x", time.Hour, func(e *entrancetest.Engine) orchestrator.Runner {
			return longFailure{e}
		}, orchestrator.Failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := entrancetest.NewStore(t)
			eng := entrancetest.NewEngine(t.TempDir())
			var runner orchestrator.Runner = eng
			if c.runner != nil {
				runner = c.runner(eng)
			}
			cfg := entrance.DefaultConfig()
			cfg.Checkpoint = c.checkpoint
			e, err := entrance.Open(cfg, store, runner, eng, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			j, err := e.Submit(ctx(t), "alice", request(t, "alice", c.code))
			if err != nil {
				t.Fatal(err)
			}
			wc, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done, err := e.Wait(wc, "alice", j.ExecID)
			if err != nil || done.State != c.want {
				var live int
				store.Read(context.Background(), true, func(s *manager.State) { live = len(s.LiveJobs()) })
				t.Fatalf("want %v, got %v %v (live jobs in the state: %d)", c.want, done.State, err, live)
			}
		})
	}
}

// longFailure is a Runner whose jobs start a task and fail with a 4500-byte
// reason, as the orchestrator's joinErrs makes of two multiActive branches
// whose code failed with a 2000-byte error each.
type longFailure struct{ *entrancetest.Engine }

func (r longFailure) Run(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	l.Scheduled(1)
	l.Log([]string{"INFO running " + spec.ExecID})
	return orchestrator.Outcome{State: orchestrator.Failed, Err: errors.New("every branch failed: " + strings.Repeat("e", 4500))}
}

// A Wait that gives up (its context ends) takes its job's waiter away when
// no one else waits: jobs that never end (queued behind a cap, running for
// days) would otherwise fill MaxWaiters, and every user's Wait on this
// member be refused as if that many callers waited.
func TestAbandonedWaitsDoNotFillTheWaiters(t *testing.T) {
	f := newFixture(t, func(c *entrance.Config) {
		c.MaxWaiters = 3
		jc := manager.DefaultJobConfig()
		jc.GroupMaxRunning = 0 // everything stays queued
		c.Jobs = &jc
	})
	for i := 0; i < 3; i++ {
		j := f.submit("bob", "sleep")
		c, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err := f.e.Wait(c, "bob", j.ExecID)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("bob's wait: %v", err)
		}
	}
	// Nobody waits now. Alice waits for her own job, 20 ms.
	j := f.submit("alice", "sleep")
	c, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.e.Wait(c, "alice", j.ExecID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("alice's wait, with no caller waiting on the member: %v (want her own deadline)", err)
	}
}

// holdStore is a Store whose next consistent read, once armed, holds its
// answer (already read) until released; it keeps the observer the entrance
// registers, so that the test can tell it the state was replaced.
type holdStore struct {
	entrance.Store
	mu      sync.Mutex
	obs     raftstore.JobObserver
	armed   bool
	held    chan struct{}
	release chan struct{}
}

func (s *holdStore) ObserveJobs(o raftstore.JobObserver) {
	s.mu.Lock()
	s.obs = o
	s.mu.Unlock()
	s.Store.ObserveJobs(o)
}

func (s *holdStore) Read(ctx context.Context, consistent bool, fn func(*manager.State)) error {
	err := s.Store.Read(ctx, consistent, fn)
	s.mu.Lock()
	hold := consistent && s.armed
	s.armed = s.armed && !hold
	s.mu.Unlock()
	if hold {
		close(s.held)
		<-s.release
	}
	return err
}

// countingRunner runs each job once until told to finish; later runs of
// the same job are counted and end at once.
type countingRunner struct {
	*entrancetest.Engine
	mu      sync.Mutex
	runs    map[int64]int
	started chan int64
	finish  chan struct{}
}

func (r *countingRunner) Run(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	r.mu.Lock()
	r.runs[spec.TaskID]++
	n := r.runs[spec.TaskID]
	r.mu.Unlock()
	l.Scheduled(1)
	if n == 1 {
		r.started <- spec.TaskID
		select {
		case <-r.finish:
		case <-ctx.Done():
			return orchestrator.Outcome{State: orchestrator.Cancelled, Err: context.Cause(ctx)}
		}
	}
	return orchestrator.Outcome{State: orchestrator.Succeed}
}

func (r *countingRunner) count(id int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[id]
}

// The dispatcher's rescan (after the state is replaced, or when more than
// 65536 notices piled up) reads the live jobs, then takes each one that
// has no run at that moment: a run that ended between the read and the
// take is not started again from the stale view.
func TestRescanDoesNotRestartAJobThatJustEnded(t *testing.T) {
	inner := entrancetest.NewStore(t)
	store := &holdStore{Store: inner, held: make(chan struct{}), release: make(chan struct{})}
	eng := entrancetest.NewEngine(t.TempDir())
	runner := &countingRunner{Engine: eng, runs: map[int64]int{}, started: make(chan int64, 1), finish: make(chan struct{})}
	e, err := entrance.Open(entrance.DefaultConfig(), store, runner, eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	j, err := e.Submit(ctx(t), "alice", request(t, "alice", "x"))
	if err != nil {
		t.Fatal(err)
	}
	<-runner.started
	store.mu.Lock()
	store.armed = true
	obs := store.obs
	store.mu.Unlock()
	obs(nil, true) // the state was replaced: the dispatcher rescans
	<-store.held   // it has read the live jobs: j among them
	close(runner.finish)
	done, err := e.Wait(ctx(t), "alice", j.ExecID)
	if err != nil || done.State != orchestrator.Succeed {
		t.Fatalf("%v %v", done.State, err)
	}
	time.Sleep(100 * time.Millisecond) // the run returns and is forgotten
	close(store.release)
	time.Sleep(300 * time.Millisecond)
	if n := runner.count(j.TaskID); n != 1 {
		t.Fatalf("the job, ended %v, was run %d times", done.State, n)
	}
}

// The update that records a task is not refused for its size either: the
// next dispatcher (a new leader, a restart) would find the job Scheduled
// with no task in its record and start its code a second time.
func TestBigUpdateDoesNotRunTheJobAgain(t *testing.T) {
	f := newFixture(t, func(c *entrance.Config) { c.Checkpoint = time.Hour })
	j := f.submit("alice", strings.Repeat("x", manager.MaxJobLineBytes+1))
	task := <-f.eng.Running
	waitUntil(t, "the job's record names its task", func() bool {
		r := f.record(j.TaskID)
		return len(r.Tasks) > 0 || r.State.Final()
	})
	time.Sleep(200 * time.Millisecond)
	f.e.Close()
	f.open()
	time.Sleep(500 * time.Millisecond)
	if n := f.eng.Starts(task.Key); n != 1 {
		t.Fatalf("job %s's code was started %d times (record: %v, %d tasks)", j.ExecID, n, f.record(j.TaskID).State, len(f.record(j.TaskID).Tasks))
	}
}
