package raftstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/manager"
)

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
