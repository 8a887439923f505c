package raftstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/golinkis/golinkis/manager"
)

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
