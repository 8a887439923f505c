package raftstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Every member serves job commands and current reads: a follower passes
// commands to the leader and reads once it has applied what the leader
// had (forward.go).
func TestJobsThroughAnyMember(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken })
	f := c.followers()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := f.node.Apply(ctx, manager.SubmitJob{Time: time.Now().UnixNano(), Key: 7, User: "alice", Creator: "IDE", EngineType: "shell-1", Request: []byte(`{"x":1}`)})
	if err != nil {
		t.Fatalf("submit through a follower: %v", err)
	}
	if res.Job.TaskID != 1 || res.Job.State != linkis.JobScheduled || string(res.Job.Request) != `{"x":1}` {
		t.Fatalf("answer: %+v", res.Job)
	}
	// A current read on another follower sees it at once.
	other := c.followers()[1]
	var got manager.JobView
	var ok bool
	if err := other.node.Read(ctx, true, func(s *manager.State) { got, ok = s.Job(res.Job.TaskID) }); err != nil {
		t.Fatal(err)
	}
	if !ok || got.ExecID != res.Job.ExecID {
		t.Fatalf("a linearizable read on another follower missed the job: %+v", got)
	}
	// Refusals come back typed.
	_, err = f.node.Apply(ctx, manager.UpdateJob{Time: time.Now().UnixNano(), TaskID: 99, Progress: -1})
	if !errors.Is(err, linkis.ErrUnknownJob) {
		t.Fatalf("update of an unknown job through a follower: %v", err)
	}
}

// A follower without the cluster token keeps refusing with NotLeader.
func TestFollowerWithoutTokenRefuses(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	f := c.followers()[0]
	_, err := f.node.Apply(context.Background(), manager.SubmitJob{Time: time.Now().UnixNano(), User: "a", Creator: "IDE", EngineType: "shell-1"})
	if !errors.Is(err, linkis.ErrNotLeader) {
		t.Fatalf("want NotLeader, got %v", err)
	}
}

// Lead runs a function only on the leader, one term at a time: after the
// leader dies the function runs on the new leader, never on two members
// at once.
func TestLeadRunsOnTheLeaderOnly(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken })
	var running, maxRunning atomic.Int32
	var mu sync.Mutex
	ran := map[string]int{}
	for _, m := range c.members {
		id := m.id
		stop := m.node.Lead(func(ctx context.Context) {
			n := running.Add(1)
			for {
				if old := maxRunning.Load(); n <= old || maxRunning.CompareAndSwap(old, n) {
					break
				}
			}
			mu.Lock()
			ran[id]++
			mu.Unlock()
			<-ctx.Done()
			running.Add(-1)
		})
		t.Cleanup(stop)
	}
	lead := c.leader()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return ran[lead.id] == 1 })
	c.stop(lead)
	next := c.leader()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return ran[next.id] == 1 })
	if maxRunning.Load() != 1 {
		t.Fatalf("the function ran on %d members at once", maxRunning.Load())
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The job observer hears every member's applied entries: a follower's
// observer sees the dispatch the leader decided.
func TestJobObserverOnFollower(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken })
	f := c.followers()[0]
	var mu sync.Mutex
	var seen []manager.JobNotice
	f.node.ObserveJobs(func(ns []manager.JobNotice, resync bool) {
		mu.Lock()
		seen = append(seen, ns...)
		mu.Unlock()
	})
	lead := c.leader()
	if _, err := lead.node.Apply(context.Background(), manager.SubmitJob{Time: time.Now().UnixNano(), User: "a", Creator: "IDE", EngineType: "shell-1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 2 && seen[0].State == linkis.JobInited && seen[1].State == linkis.JobScheduled
	})
}
