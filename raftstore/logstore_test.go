package raftstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/manager"
)

// previousVersionDir is a member's data directory as the previous version
// wrote it (commit 67d483d: log and stable store in raft.db, snapshots in
// files). One member, m1: an ECM, asks a0-a14 of users u0-u14, a5-a9
// released, a snapshot at index 32, then a10-a14 asked and a10 released;
// the log runs to index 44. Its manager ran with onPreviousVersionDir's
// timeouts of a century, so that nothing in it expires while it waits in
// the repository.
const previousVersionDir = "testdata/bolt-67d483d"

// onPreviousVersionDir configures a member for a copy of
// previousVersionDir; kind "" leaves the default store.
func onPreviousVersionDir(dir string, kind LogStore) func(*Config) {
	return func(cfg *Config) {
		cfg.DataDir = dir
		if kind != "" {
			cfg.LogStore = kind
		}
		const century = 100 * 365 * 24 * time.Hour
		m := &cfg.Manager
		m.LockTimeout, m.ResourceLockTimeout, m.AskWaitTimeout, m.IdleTimeout, m.ECLostAfter, m.ECMLostAfter = century, century, century, century, century, century
	}
}

// copyDir copies a test data directory to a fresh temp dir.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readApplied runs fn on a single member's state once every entry in its
// log is applied: a restarted member applies the entries after its
// snapshot only when an entry of its new term commits them.
func readApplied(t *testing.T, m *testMember, fn func(*manager.State)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := m.node.Read(t.Context(), true, fn)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no consistent read in 10 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantPreviousVersionState checks what previousVersionDir holds.
func wantPreviousVersionState(t *testing.T, m *testMember) {
	t.Helper()
	readApplied(t, m, func(s *manager.State) {
		if err := manager.CheckInvariants(s); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 15; i++ {
			a, ok := s.Ask(fmt.Sprintf("a%d", i))
			held := i < 5 || i > 10
			if held && (!ok || a.Status != manager.AskGranted) {
				t.Errorf("a%d: %+v, %v; want granted", i, a, ok)
			}
			if !held && ok {
				t.Errorf("a%d: %+v; want released", i, a)
			}
		}
	})
}

// readLog returns every entry of a data directory's log, opened as kind
// (which moves it there first when another store holds it).
func readLog(t *testing.T, dir string, kind LogStore) []raft.Log {
	t.Helper()
	lf, err := openLogFiles(dir, kind, false, hclog.NewNullLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.close()
	first, err := lf.log.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := lf.log.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	var out []raft.Log
	for i := first; i <= last && last > 0; i++ {
		var l raft.Log
		if err := lf.log.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d of [%d, %d]: %v", i, first, last, err)
		}
		l.AppendedAt = l.AppendedAt.UTC() // raft.db keeps it as UTC
		out = append(out, l)
	}
	return out
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// A data directory written by the previous version (log in raft.db)
// opens with either store, keeps its state, and keeps it across a
// restart; with the WAL its log has moved to DataDir/wal.
func TestPreviousVersionDataDirOpens(t *testing.T) {
	want := readLog(t, copyDir(t, previousVersionDir), LogStoreBolt)
	if len(want) != 44 || want[0].Index != 1 {
		t.Fatalf("the fixture's log: %d entries; want 1 to 44", len(want))
	}
	for _, kind := range []LogStore{LogStoreWAL, LogStoreBolt} {
		t.Run(string(kind), func(t *testing.T) {
			dir := copyDir(t, previousVersionDir)
			c := newTestCluster(t, 1, onPreviousVersionDir(dir, kind))
			m := c.members[0]
			if !m.node.HasState() {
				t.Fatal("no state found")
			}
			wantPreviousVersionState(t, m)
			// The entries the previous version wrote are all there, in
			// the store asked for.
			if exists(t, filepath.Join(dir, walDir)) != (kind == LogStoreWAL) {
				t.Errorf("%s exists: %v with the %s store", walDir, !(kind == LogStoreWAL), kind)
			}
			for _, w := range want {
				var l raft.Log
				if err := m.node.files.log.GetLog(w.Index, &l); err != nil || l.Term != w.Term || string(l.Data) != string(w.Data) {
					t.Fatalf("entry %d: %v; want the previous version's", w.Index, err)
				}
			}
			if kind == LogStoreWAL {
				if last, err := m.node.files.stable.LastIndex(); err != nil || last != 0 {
					t.Errorf("raft.db still holds a log to %d (%v) beside the WAL", last, err)
				}
			}
			c.stop(m)
			c.start(m)
			wantPreviousVersionState(t, m)
		})
	}
}

// Switching the store back and forth moves the log entry for entry.
func TestLogStoreSwitchKeepsTheLog(t *testing.T) {
	dir := copyDir(t, previousVersionDir)
	c := newTestCluster(t, 1, onPreviousVersionDir(dir, ""))
	m := c.members[0]
	cl := c.client()
	for i := 15; i < 20; i++ {
		if a, err := askRetrying(t.Context(), cl, askReq(fmt.Sprintf("a%d", i), fmt.Sprintf("u%d", i))); err != nil || a.Status != "Granted" {
			t.Fatalf("ask %d: %+v, %v", i, a, err)
		}
	}
	c.stop(m)
	written := readLog(t, dir, LogStoreWAL)
	if len(written) <= 44 {
		t.Fatalf("%d entries after more asks; want more than the fixture's 44", len(written))
	}
	for _, kind := range []LogStore{LogStoreBolt, LogStoreWAL, LogStoreBolt} {
		if got := readLog(t, dir, kind); !reflect.DeepEqual(got, written) {
			t.Fatalf("moved to %s: %d entries, not the %d written", kind, len(got), len(written))
		}
		if exists(t, filepath.Join(dir, walDir)) != (kind == LogStoreWAL) {
			t.Fatalf("moved to %s, %s exists: %v", kind, walDir, kind != LogStoreWAL)
		}
	}
	c.start(m) // the default store again: the log moves back to the WAL
	readApplied(t, m, func(s *manager.State) {
		for i := 15; i < 20; i++ {
			if a, ok := s.Ask(fmt.Sprintf("a%d", i)); !ok || a.Status != manager.AskGranted {
				t.Errorf("a%d after moving the log back and forth: %+v, %v", i, a, ok)
			}
		}
	})
}

// A move that a crash cut short is redone or finished at the next open:
// a half-built WAL (wal.new) is dropped and built again, a WAL whose
// entries were already copied back (wal.gone) is removed, and entries
// raft.db kept after the WAL took over are deleted, not read.
func TestLogStoreMoveCutShort(t *testing.T) {
	want := readLog(t, copyDir(t, previousVersionDir), LogStoreBolt)

	dir := copyDir(t, previousVersionDir)
	for _, d := range []string{walDirNew, walDirGone} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "00000000000000000001-0000000000000001.wal"), []byte("cut short"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLog(t, dir, LogStoreWAL); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a cut-short move: %d entries; want the fixture's %d", len(got), len(want))
	}
	for _, d := range []string{walDirNew, walDirGone} {
		if exists(t, filepath.Join(dir, d)) {
			t.Errorf("%s left behind", d)
		}
	}

	// raft.db still holds entries (a crash after the rename, before they
	// were deleted) that disagree with the WAL: the WAL wins.
	stable, err := openBolt(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	err = stable.StoreLogs([]*raft.Log{{Index: 1, Term: 9, Data: []byte("stale")}, {Index: 2, Term: 9, Data: []byte("stale")}})
	if err = errors.Join(err, stable.Close()); err != nil {
		t.Fatal(err)
	}
	if got := readLog(t, dir, LogStoreWAL); !reflect.DeepEqual(got, want) {
		t.Fatalf("with stale entries in raft.db: %d entries; want the WAL's %d", len(got), len(want))
	}
	if got := readLog(t, dir, LogStoreBolt); !reflect.DeepEqual(got, want) {
		t.Fatalf("moved back to raft.db: %d entries; want %d", len(got), len(want))
	}
	c := newTestCluster(t, 1, onPreviousVersionDir(dir, ""))
	wantPreviousVersionState(t, c.members[0])
}

// Entries a head truncation removed are gone from the WAL as from
// raft.db: Raft must send a follower that fell that far behind the
// snapshot (TestClusterFollowerCatchesUpBySnapshot is the cluster's side).
func TestWALForgetsTruncatedEntries(t *testing.T) {
	for _, kind := range []LogStore{LogStoreWAL, LogStoreBolt} {
		lf, err := openLogFiles(t.TempDir(), kind, true, hclog.NewNullLogger(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var logs []*raft.Log
		for i := uint64(1); i <= 100; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: 1, Data: []byte("x")})
		}
		if err := lf.log.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		if err := lf.log.DeleteRange(1, 50); err != nil {
			t.Fatal(err)
		}
		var l raft.Log
		if err := lf.log.GetLog(10, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Errorf("%s: entry 10 after truncating to 51: %v; want ErrLogNotFound", kind, err)
		}
		if err := lf.log.GetLog(51, &l); err != nil || l.Index != 51 {
			t.Errorf("%s: entry 51: %+v, %v", kind, l, err)
		}
		if err := lf.close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLogStoreValidate(t *testing.T) {
	cfg := testConfig()
	cfg.ID, cfg.DataDir, cfg.RaftAddr, cfg.HTTPAddr = "m1", t.TempDir(), "127.0.0.1:1", "127.0.0.1:2"
	for _, s := range []LogStore{"", "boltdb", "WAL"} {
		cfg.LogStore = s
		if err := cfg.Validate(); err == nil {
			t.Errorf("LogStore %q accepted", s)
		}
	}
}

// A raft.db log may have a gap: a follower that caught up by installing a
// snapshot keeps its older entries (Raft's compaction on a store that is
// not monotonic keeps TrailingLogs of them) and appends after the
// snapshot's index. Moving it to the WAL (the default store, so every
// upgraded member does it) copies the entries after the gap - those
// before it are below the snapshot - and the member rejoins its cluster.
func TestBoltLogWithGapMovesToWAL(t *testing.T) {
	// Snapshots only when the test takes one: a member's own later
	// snapshot would compact the gap away.
	bolt := func(cfg *Config) {
		cfg.LogStore = LogStoreBolt
		cfg.SnapshotThreshold = 1 << 30
		cfg.TrailingLogs = 10
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
	var lastMissing uint64
	for i := first; i <= last; i++ {
		var l raft.Log
		if stable.GetLog(i, &l) != nil {
			lastMissing = i
		}
	}
	if err := stable.Close(); err != nil {
		t.Fatal(err)
	}
	if lastMissing == 0 {
		t.Fatalf("the follower's raft.db log runs from %d to %d without a gap: nothing to test", first, last)
	}
	// The member is upgraded: the default store, the WAL.
	c.mutate = func(cfg *Config) { bolt(cfg); cfg.LogStore = LogStoreWAL }
	c.start(down)
	walFirst, err := down.node.files.log.FirstIndex()
	if err != nil || walFirst != lastMissing+1 {
		t.Fatalf("the WAL starts at %d (%v); want %d, after raft.db's gap (its log ran from %d to %d)", walFirst, err, lastMissing+1, first, last)
	}
	c.converge()
	var l raft.Log
	if err := down.node.files.log.GetLog(last, &l); err != nil {
		t.Fatalf("raft.db's last entry %d is not in the WAL: %v", last, err)
	}
}

// A gap the newest snapshot does not reach means entries the state needs
// are lost: the move refuses, and the log stays in raft.db as it was.
// With a snapshot that reaches it, the entries after the gap move.
func TestLogMoveWithGapNeedsTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	stable, err := openBolt(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	var logs []*raft.Log
	for _, run := range [][2]uint64{{3, 8}, {21, 30}} { // a gap from 9 to 20
		for i := run[0]; i <= run[1]; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: 2, Type: raft.LogCommand, Data: []byte(fmt.Sprint(i))})
		}
	}
	if err := errors.Join(stable.StoreLogs(logs), stable.Close()); err != nil {
		t.Fatal(err)
	}
	snapshotAt := func(index uint64) {
		snaps, err := raft.NewFileSnapshotStore(dir, 2, testLogWriter{})
		if err != nil {
			t.Fatal(err)
		}
		sink, err := snaps.Create(raft.SnapshotVersionMax, index, 2, raft.Configuration{}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sink.Write([]byte("state")); err != nil {
			t.Fatal(err)
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, snap := range []uint64{0, 19} { // none; one that stops short of 20
		if snap > 0 {
			snapshotAt(snap)
		}
		lf, err := openLogFiles(dir, LogStoreWAL, false, hclog.NewNullLogger(), nil)
		if err == nil {
			_ = lf.close()
			t.Fatalf("snapshot at %d: entries 9 to 20 are lost, and the log moved to the WAL", snap)
		}
		t.Logf("snapshot at %d: %v", snap, err)
		if exists(t, filepath.Join(dir, walDir)) {
			t.Fatalf("a refused move left %s behind", walDir)
		}
		stable, err := openBolt(dir, false)
		if err != nil {
			t.Fatal(err)
		}
		first, _ := stable.FirstIndex()
		last, _ := stable.LastIndex()
		var l raft.Log
		err = stable.GetLog(30, &l)
		if err = errors.Join(err, stable.Close()); err != nil || first != 3 || last != 30 {
			t.Fatalf("raft.db's log after a refused move: %d to %d (%v); want 3 to 30", first, last, err)
		}
	}
	snapshotAt(20)
	got := readLog(t, dir, LogStoreWAL)
	if len(got) != 10 || got[0].Index != 21 || got[9].Index != 30 || string(got[0].Data) != "21" {
		t.Fatalf("moved with a snapshot at 20: %d entries from %d; want 21 to 30", len(got), got[0].Index)
	}
}

// previousVersionDir's snapshot is of version 1, written before the
// configuration's extension (ReclaimIdle) existed: restoring it takes the
// extension from the member's configured Manager, as replaying the same
// log from index 1 does (the state starts from manager.New with it) - not
// from manager.DefaultConfig. Otherwise two members with the same log and
// configuration would hold different states.
func TestPreviousVersionSnapshotTakesConfiguredExtension(t *testing.T) {
	reclaimOf := func(dropSnapshots, configured bool) bool {
		dir := copyDir(t, previousVersionDir)
		if dropSnapshots {
			if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
				t.Fatal(err)
			}
		}
		c := newTestCluster(t, 1, func(cfg *Config) {
			onPreviousVersionDir(dir, LogStoreBolt)(cfg)
			cfg.Manager.ReclaimIdle = configured
		})
		var got bool
		readApplied(t, c.members[0], func(s *manager.State) { got = s.Config().ReclaimIdle })
		c.close()
		return got
	}
	for _, configured := range []bool{false, true} {
		fromSnapshot, fromLog := reclaimOf(false, configured), reclaimOf(true, configured)
		if fromSnapshot != configured || fromLog != configured {
			t.Fatalf("configured with ReclaimIdle %v: %v after restoring the version-1 snapshot, %v after replaying the log", configured, fromSnapshot, fromLog)
		}
	}
}
