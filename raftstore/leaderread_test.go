package raftstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Review of 19bda4f/4a5343e (a leader that has applied an entry of its own
// term reads after VerifyLeader alone).

// TestLeaderReadNotBehindFollowerRead: consistent reads are
// linearizable, so once a consistent read on a follower has seen a write,
// a consistent read that starts after it on the leader must see it too
// (or fail). The leader's heartbeat-only read serves the state it has
// applied, and its read index for followers is that applied index - not
// the commit index. Entries the leader has committed but not yet applied
// (its FSM goroutine is busy: a large snapshot being encoded, a slow
// batch, GC - here a job observer that holds the FSM goroutine, which runs
// on it) are applied by the followers, which then read them, while the
// leader's own read goes back in time. The no-op read this replaced
// waited for its own entry, applied after every committed one.
//
// With MaxInflight 1 (the default) the window is the one entry in flight,
// between its commit and the leader's apply of it - real, but a race to
// hit; the test holds the leader's FSM goroutine after one entry with
// MaxInflight 2 (a setting Config.Validate accepts) so that the next is
// committed, and applied on the followers, but not on the leader.
func TestLeaderReadNotBehindFollowerRead(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken; cfg.ECMs = nil; cfg.MaxInflight = 2 })
	lead := c.leader()
	ctx := context.Background()
	if err := lead.node.Read(ctx, true, func(*manager.State) {}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return lead.node.fsm.term.Load() == lead.node.raft.CurrentTerm() })
	follower := c.followers()[0]

	// The leader's FSM goroutine stalls after applying the first entry
	// that touches a job.
	release := make(chan struct{})
	var once sync.Once
	lead.node.ObserveJobs(func([]manager.JobNotice, bool) {
		once.Do(func() { <-release })
	})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(release)
		wg.Wait()
	})
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = lead.node.Apply(ctx, manager.SubmitJob{Time: time.Now().UnixNano(), Nonce: 1, User: "alice", Creator: "IDE", EngineType: "shell-1", Request: []byte("{}")})
	}()
	time.Sleep(200 * time.Millisecond) // the submission is applied on the leader first
	go func() {
		defer wg.Done()
		_, _ = lead.node.Apply(ctx, manager.RegisterECM{Time: time.Now().UnixNano(), ID: "ecm-x", Addr: "ecm-x:1",
			Max: linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 1}})
	}()
	has := func(s *manager.State) bool { _, ok := s.ECM("ecm-x"); return ok }
	waitFor(t, func() bool {
		var ok bool
		follower.node.rep.read(func(s *manager.State) { ok = has(s) })
		return ok
	})

	var onFollower bool
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := follower.node.Read(fctx, true, func(s *manager.State) { onFollower = has(s) })
	cancel()
	if err != nil {
		// Waiting for the leader to apply, as a no-op read does, is
		// linearizable: nothing was seen, so nothing can go back.
		t.Logf("the follower's consistent read failed (the leader had not applied): %v", err)
		return
	}
	if !onFollower {
		t.Fatal("the follower's consistent read did not see a write it had applied")
	}
	var onLeader bool
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = lead.node.Read(lctx, true, func(s *manager.State) { onLeader = has(s) })
	cancel()
	if err == nil && !onLeader {
		t.Fatal("a consistent read on the leader, after one on a follower that saw ecm-x registered, does not see it: a stale read")
	}
}
