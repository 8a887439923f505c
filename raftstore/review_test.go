package raftstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Reviewer's reproducer: a leader that restored its state from a snapshot
// (a restart) reports an applied index of 0 until it applies a command
// (replica.restore never sets replica.applied, and entries without commands -
// the no-op of a new term, member items - never advance it). A follower's
// current read (readIndexAt) waits for the leader's applied index, so a
// follower that lags in applying serves a state without a write the cluster
// acknowledged before: a stale, non-linearizable read.
func TestReviewFollowerReadAfterLeaderRestart(t *testing.T) {
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
	release := make(chan struct{})
	var once sync.Once
	slow.node.ObserveJobs(func(ns []manager.JobNotice, resync bool) {
		if len(ns) > 0 {
			once.Do(func() { <-release })
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the cluster closes
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
	c.start(lead)
	c.start(other)
	now := c.leader()
	for now == slow { // the lagging member's log is complete: it may win; hand over
		_ = slow.node.raft.LeadershipTransferToServer(raft.ServerID(lead.id), raft.ServerAddress(lead.raftAddr)).Error()
		time.Sleep(100 * time.Millisecond)
		now = c.leader()
	}
	// wait until slow follows the new leader
	waitFor(t, func() bool { _, l := slow.node.Leader(); return l == now.httpAddr })
	t.Logf("acknowledged RegisterECM at applied index %d; the restarted leader reports applied index %d", ackIndex, now.node.AppliedIndex())
	var has bool
	err := slow.node.Read(ctx, true, func(s *manager.State) { _, has = s.ECM("ecm-x") })
	t.Logf("read: err=%v has=%v", err, has)
	if err == nil && !has {
		t.Fatalf("a consistent read on a follower did not see ecm-x, registered and acknowledged before the read began (leader's applied index %d < %d)", now.node.AppliedIndex(), ackIndex)
	}
}

// Reviewer's reproducer: a raft.db log may have a gap - a follower that
// caught up by snapshot keeps its old entries (compactLogs deletes at most
// up to lastLog-TrailingLogs on a non-monotonic store) and appends after
// the snapshot's index. Moving such a log to the WAL (the default store
// now, so every upgraded member does it) copies every index from first to
// last with migrate.CopyLogs, which fails on the first missing one: the
// member cannot open at all.
func TestReviewBoltLogWithGapMovesToWAL(t *testing.T) {
	bolt := func(cfg *Config) {
		cfg.LogStore = LogStoreBolt
		cfg.SnapshotThreshold = 50
		cfg.TrailingLogs = 10
		cfg.SnapshotInterval = 50 * time.Millisecond
	}
	c := newTestCluster(t, 3, bolt)
	c.registerECM("ecm-1")
	down := c.followers()[0]
	c.stop(down)
	cl := c.client(c.leader())
	ctx := context.Background()
	for i := 0; i < 120; i++ {
		id := fmt.Sprintf("a%d", i)
		if a, err := askRetrying(ctx, cl, askReq(id, fmt.Sprintf("u%d", i%7))); err != nil || a.Status != "Granted" {
			t.Fatalf("ask %d: %+v, %v", i, a, err)
		}
		if _, err := releaseRetrying(ctx, cl, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.leader().node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	c.start(down)
	c.converge()
	// a few more entries after the installed snapshot
	for i := 200; i < 203; i++ {
		if _, err := askRetrying(ctx, cl, askReq(fmt.Sprintf("a%d", i), "v")); err != nil {
			t.Fatal(err)
		}
	}
	c.converge()
	c.stop(down)
	stable, err := openBolt(down.dir, false)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := stable.FirstIndex()
	last, _ := stable.LastIndex()
	var missing []uint64
	for i := first; i <= last; i++ {
		var l raft.Log
		if stable.GetLog(i, &l) != nil {
			missing = append(missing, i)
		}
	}
	_ = stable.Close()
	t.Logf("the follower's raft.db log runs from %d to %d with %d indexes missing", first, last, len(missing))
	// The member is upgraded: the default store, the WAL.
	c.mutate = func(cfg *Config) { bolt(cfg); cfg.LogStore = LogStoreWAL }
	cfg := testConfig()
	cfg.ID, cfg.DataDir, cfg.RaftAddr, cfg.HTTPAddr, cfg.Stream = down.id, down.dir, down.raftAddr, down.httpAddr, nil
	c.mutate(&cfg)
	n, err := Open(cfg)
	if err != nil {
		t.Fatalf("the upgraded member cannot open its data directory: %v", err)
	}
	_ = n.Close()
}

// Reviewer's reproducer: a snapshot of version 1 or 2 restores the
// configuration's extension (ReclaimIdle) from manager.DefaultConfig, not
// from the member's configured Manager - the configuration a member that
// replays the same log from index 1 runs with. Two members with the same
// log and the same configuration then hold different states.
func TestReviewOldSnapshotConfigExtension(t *testing.T) {
	reclaimOf := func(dropSnapshots bool) bool {
		dir := copyDir(t, previousVersionDir)
		if dropSnapshots {
			if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
				t.Fatal(err)
			}
		}
		c := newTestCluster(t, 1, func(cfg *Config) {
			onPreviousVersionDir(dir, LogStoreBolt)(cfg)
			cfg.Manager.ReclaimIdle = false
		})
		var got bool
		readApplied(t, c.members[0], func(s *manager.State) { got = s.Config().ReclaimIdle })
		c.close()
		return got
	}
	fromSnapshot, fromLog := reclaimOf(false), reclaimOf(true)
	if fromSnapshot != fromLog {
		t.Fatalf("the same log and configuration: ReclaimIdle %v after restoring the version-1 snapshot, %v after replaying the log", fromSnapshot, fromLog)
	}
}

// Reviewer's reproducer, the same root cause seen from the follower: a
// member that caught up by installing a snapshot keeps the applied index it
// had (0 after a restart), so its consistent reads wait for an index it
// has long passed and time out until some later command is applied.
func TestReviewFollowerReadAfterInstallingSnapshot(t *testing.T) {
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
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := down.node.Read(rctx, true, func(*manager.State) {})
	t.Logf("leader applied index %d, caught-up follower's %d", lead.node.AppliedIndex(), down.node.AppliedIndex())
	if err != nil {
		t.Fatalf("a consistent read on a follower that holds the leader's state: %v", err)
	}
}
