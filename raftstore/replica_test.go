package raftstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// A follower's consistent read waits for the index the leader answers
// (readIndexAt), so that index must cover every write acknowledged before
// the read began - also on a leader that restarted from a snapshot, whose
// state stands at the snapshot's index, and whose first entries of a new
// term carry no commands. The follower here lags: it is stalled in
// applying an entry before the acknowledged write, so a read that answered
// at once would miss the write (a stale, non-linearizable read); it must
// wait and then see it.
func TestFollowerReadAfterLeaderRestart(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken; cfg.ECMs = nil })
	lead := c.leader()
	slow := c.followers()[0]
	var other *testMember
	for _, m := range c.members {
		if m != lead && m != slow {
			other = m
		}
	}
	// slow stalls in applying the next entry with job notices: a follower
	// that lags (a GC pause, a slow disk, a long apply).
	stalled := make(chan struct{})
	var stall, unstall sync.Once
	release := func() { unstall.Do(func() { close(stalled) }) }
	slow.node.ObserveJobs(func(ns []manager.JobNotice, resync bool) {
		if len(ns) > 0 {
			stall.Do(func() { <-stalled })
		}
	})
	t.Cleanup(release) // runs before the cluster closes
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := lead.node.Apply(ctx, manager.SubmitJob{Time: time.Now().UnixNano(), User: "a", Creator: "IDE", EngineType: "shell-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := lead.node.Apply(ctx, manager.RegisterECM{Time: time.Now().UnixNano(), ID: "ecm-x", Addr: "127.0.0.1:9",
		Max: linkis.Resource{Memory: 1 << 30, MilliCores: 1000, Instances: 10}}); err != nil {
		t.Fatal(err)
	}
	ackIndex := lead.node.AppliedIndex()
	waitFor(t, func() bool { return other.node.AppliedIndex() >= ackIndex })
	// The two members that applied it snapshot (as they do every
	// SnapshotInterval) and restart.
	for _, m := range []*testMember{lead, other} {
		if err := m.node.raft.Snapshot().Error(); err != nil {
			t.Fatal(err)
		}
	}
	c.stop(lead)
	c.stop(other)
	for _, m := range []*testMember{lead, other} {
		c.start(m)
		// Open restored the snapshot: the state stands at its index.
		if got := m.node.AppliedIndex(); got < ackIndex {
			t.Fatalf("%s restored a snapshot taken at index %d or later, and reports applied index %d", m.id, ackIndex, got)
		}
	}
	now := c.leader()
	for now == slow { // the lagging member's log is complete: it may win; hand over
		_ = slow.node.raft.LeadershipTransferToServer(raft.ServerID(lead.id), raft.ServerAddress(lead.raftAddr)).Error()
		time.Sleep(100 * time.Millisecond)
		now = c.leader()
	}
	// wait until slow follows the new leader
	waitFor(t, func() bool { _, l := slow.node.Leader(); return l == now.httpAddr })
	type answer struct {
		has bool
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var a answer
		a.err = slow.node.Read(ctx, true, func(s *manager.State) { _, a.has = s.ECM("ecm-x") })
		done <- a
	}()
	// slow cannot apply the registration while it is stalled: the read
	// must not answer before.
	select {
	case a := <-done:
		t.Fatalf("a consistent read on a follower that had not applied ecm-x's registration answered: %+v (the leader's applied index is %d, the write's %d)", a, now.node.AppliedIndex(), ackIndex)
	case <-time.After(300 * time.Millisecond):
	}
	release()
	if a := <-done; a.err != nil || !a.has {
		t.Fatalf("a consistent read on a follower, once it caught up: err=%v, sees ecm-x (registered and acknowledged before the read began): %v", a.err, a.has)
	}
}

// A member that caught up by installing a snapshot serves consistent reads
// on an idle cluster: the read's own entry (a no-op item, no commands)
// moves the leader's applied index and then this member's.
func TestFollowerReadAfterInstallingSnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.Token = testToken
		cfg.ECMs = nil
		cfg.TrailingLogs = 10
	})
	lead := c.leader()
	down := c.followers()[0]
	c.stop(down)
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		if _, err := lead.node.Apply(ctx, manager.RegisterECM{Time: time.Now().UnixNano(), ID: fmt.Sprintf("ecm-%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 1000+i),
			Max: linkis.Resource{Memory: 1 << 30, MilliCores: 1000, Instances: 10}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := lead.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.start(down)
	c.converge() // down now holds the leader's state byte for byte
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int
	err := down.node.Read(rctx, true, func(s *manager.State) { n = s.Stats().ECMs })
	t.Logf("leader applied index %d, caught-up follower's %d", lead.node.AppliedIndex(), down.node.AppliedIndex())
	if err != nil || n != 60 {
		t.Fatalf("a consistent read on a follower that holds the leader's state: %v, %d ECMs", err, n)
	}
}

// TestLeaderReadWritesNothing: once a leader has applied an entry of its
// own term, a consistent read asks the followers whether it still leads
// and writes nothing to the log (each read used to commit a no-op - an
// fsync on every member); a follower's consistent read, through the
// leader's index, writes nothing either. A write acknowledged just before
// is seen by both.
func TestLeaderReadWritesNothing(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) { cfg.Token = testToken; cfg.ECMs = nil })
	lead := c.leader()
	ctx := context.Background()
	waitFor(t, func() bool {
		return lead.node.fsm.term.Load() == lead.node.raft.CurrentTerm()
	})
	follower := c.followers()[0]
	before := lead.node.raft.LastIndex()
	for i := 0; i < 50; i++ {
		for _, m := range []*testMember{lead, follower} {
			if err := m.node.Read(ctx, true, func(*manager.State) {}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if after := lead.node.raft.LastIndex(); after != before {
		t.Fatalf("100 consistent reads appended %d entries", after-before)
	}
	if _, err := lead.node.Apply(ctx, manager.RegisterECM{Time: time.Now().UnixNano(), ID: "ecm-2", Addr: "ecm-2:1", Max: linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 1}}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*testMember{lead, follower} {
		var ok bool
		if err := m.node.Read(ctx, true, func(s *manager.State) { _, ok = s.ECM("ecm-2") }); err != nil || !ok {
			t.Fatalf("%s: a consistent read after the write: %v, saw it %v", m.id, err, ok)
		}
	}
}
