package raftstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	walfs "github.com/hashicorp/raft-wal/fs"
	"github.com/hashicorp/raft-wal/metadb"
	"github.com/hashicorp/raft-wal/migrate"
	"github.com/hashicorp/raft-wal/segment"
	"github.com/hashicorp/raft-wal/types"
	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/golinkis/golinkis/linkis"
)

// LogStore names where a member keeps its Raft log. The stable store
// (term, vote) is raft.db in the data directory either way.
type LogStore string

const (
	// LogStoreWAL keeps the log in hashicorp/raft-wal segment files in
	// DataDir/wal: an append is one write and one fsync.
	LogStoreWAL LogStore = "wal"
	// LogStoreBolt keeps the log in raft.db beside the stable store
	// (raft-boltdb): an append is a bbolt commit, two fdatasyncs.
	LogStoreBolt LogStore = "bolt"
)

// Validate rejects an unknown store name.
func (s LogStore) Validate() error {
	if s != LogStoreWAL && s != LogStoreBolt {
		return linkis.ValueError(linkis.ErrInvalidArgument, "LogStore", string(s), `must be "wal" or "bolt"`)
	}
	return nil
}

// The files a data directory holds for the log.
const (
	boltFile   = "raft.db"  // the stable store; the log too with LogStoreBolt
	walDir     = "wal"      // the log with LogStoreWAL; it holds the log whenever it exists
	walDirNew  = "wal.new"  // a copy of raft.db's log being made (removed when cut short)
	walDirGone = "wal.gone" // a WAL whose log was copied back to raft.db, being removed
)

// logFiles are a member's stable store and log store.
type logFiles struct {
	stable *raftboltdb.BoltStore
	log    *logStore // over stable, or over wal
	wal    *wal.WAL
}

// openLogFiles opens the stable store and the log in the given store.
// Which store holds a data directory's log is told by the directory
// itself: DataDir/wal when it exists, raft.db otherwise. When that is not
// the store asked for, the log is copied over first (entries, indexes and
// terms as they are), so an existing directory keeps its state whichever
// store it was written with; a copy cut short by a crash is redone at the
// next open.
// appends, when set, observes how long each append takes.
func openLogFiles(dir string, kind LogStore, noSync bool, log hclog.Logger, appends prometheus.Observer) (_ *logFiles, err error) {
	stable, err := openBolt(dir, noSync)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", boltFile, err)
	}
	lf := &logFiles{stable: stable, log: &logStore{LogStore: stable, appends: appends}}
	defer func() {
		if err != nil {
			lf.close()
		}
	}()
	// Leftovers of a copy that a crash cut short.
	for _, d := range []string{walDirNew, walDirGone} {
		if err := os.RemoveAll(filepath.Join(dir, d)); err != nil {
			return nil, err
		}
	}
	_, err = os.Stat(filepath.Join(dir, walDir))
	hasWAL := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	switch {
	case kind == LogStoreBolt && hasWAL:
		if err := walToBolt(dir, stable, noSync, log); err != nil {
			return nil, fmt.Errorf("moving the log from %s to %s: %w", walDir, boltFile, err)
		}
	case kind == LogStoreWAL && !hasWAL:
		if err := boltToWAL(dir, stable, noSync, log); err != nil {
			return nil, fmt.Errorf("moving the log from %s to %s: %w", boltFile, walDir, err)
		}
	}
	if kind == LogStoreBolt {
		return lf, nil
	}
	// raft.db's own log is stale once the WAL exists (a crash can leave
	// it behind between the WAL's rename and its deletion).
	if err := clearLog(stable); err != nil {
		return nil, err
	}
	if lf.wal, err = openWAL(filepath.Join(dir, walDir), noSync, log); err != nil {
		return nil, fmt.Errorf("opening %s: %w", walDir, err)
	}
	lf.log = &logStore{LogStore: lf.wal, wal: lf.wal, appends: appends}
	return lf, nil
}

// logStore is the log as Raft sees it: raft.db or the WAL, with its
// appends timed. Over the WAL, GetLog refuses the entries a head
// truncation removed: raft-wal (v0.4.1) still serves them while they sit
// in the open segment, and Raft would then send a follower that fell
// behind the last snapshot those entries instead of the snapshot, where
// raft.db answers ErrLogNotFound and the snapshot goes.
type logStore struct {
	raft.LogStore
	wal     *wal.WAL // when the log is the WAL
	appends prometheus.Observer
}

var _ raft.MonotonicLogStore = (*logStore)(nil)

func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	if s.wal != nil {
		first, err := s.wal.FirstIndex()
		if err != nil {
			return err
		}
		if index < first {
			return raft.ErrLogNotFound
		}
	}
	return s.LogStore.GetLog(index, l)
}

func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *logStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := s.LogStore.StoreLogs(logs)
	if s.appends != nil {
		s.appends.Observe(time.Since(start).Seconds())
	}
	return err
}

// IsMonotonic implements raft.MonotonicLogStore: the WAL takes no gaps,
// so after installing a snapshot Raft deletes the whole log rather than
// leave one.
func (s *logStore) IsMonotonic() bool { return s.wal != nil }

// close closes what is open.
func (lf *logFiles) close() error {
	var err error
	if lf.wal != nil {
		err = lf.wal.Close() // its meta database too
	}
	return errors.Join(err, lf.stable.Close())
}

// openBolt opens raft.db. The freelist is not written on every commit
// (bbolt rebuilds it when it opens the file), so a commit writes and syncs
// only the changed pages and the meta page; Consul and Nomad run
// raft-boltdb the same way.
func openBolt(dir string, noSync bool) (*raftboltdb.BoltStore, error) {
	return raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, boltFile), NoSync: noSync,
		BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
}

// openWAL opens (or creates) the WAL in dir, which must exist.
func openWAL(dir string, noSync bool, log hclog.Logger) (*wal.WAL, error) {
	meta := &metadb.BoltMetaDB{} // closed by the WAL's Close, or here when it fails to open
	w, err := wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(log.Named("wal")),
		wal.WithSegmentFiler(segment.NewFiler(dir, &syncFS{FS: walfs.New(), noSync: noSync})))
	if err != nil {
		return nil, errors.Join(err, meta.Close())
	}
	return w, nil
}

// copyBatchBytes is how many bytes of entries a copy appends at a time.
const copyBatchBytes = 4 << 20

// boltToWAL copies raft.db's log into a new WAL: it is built in
// DataDir/wal.new and renamed to DataDir/wal once complete, the moment it
// becomes the log; raft.db's copy is deleted after.
func boltToWAL(dir string, stable *raftboltdb.BoltStore, noSync bool, log hclog.Logger) error {
	tmp := filepath.Join(dir, walDirNew)
	if err := os.Mkdir(tmp, 0o750); err != nil {
		return err
	}
	w, err := openWAL(tmp, noSync, log)
	if err != nil {
		return err
	}
	if err := errors.Join(copyLog(w, stable, newestSnapshot(dir, log), log), w.Close()); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, walDir)); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return clearLog(stable)
}

// walToBolt copies the WAL's log into raft.db (after deleting whatever
// log raft.db still holds), then removes the WAL: raft.db holds the log
// from the moment DataDir/wal is renamed away.
func walToBolt(dir string, stable *raftboltdb.BoltStore, noSync bool, log hclog.Logger) error {
	if err := clearLog(stable); err != nil {
		return err
	}
	w, err := openWAL(filepath.Join(dir, walDir), noSync, log)
	if err != nil {
		return err
	}
	if err := errors.Join(copyLog(stable, w, newestSnapshot(dir, log), log), w.Close()); err != nil {
		return err
	}
	gone := filepath.Join(dir, walDirGone)
	if err := os.Rename(filepath.Join(dir, walDir), gone); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(gone)
}

// copyLog appends to dst, which is empty, the entries of src that run
// without a gap to its last one. A log in raft.db can have a gap: a member
// that installed a snapshot keeps the entries it had up to TrailingLogs
// (Raft's compaction on a store that is not monotonic) and appends after
// the snapshot's index. The entries before the gap are then below the
// snapshot, never read again; the WAL takes no gap, so they are left
// behind. newest (called only when there is a gap) gives the index of the
// newest snapshot: when it does not reach the gap, entries the state needs
// are missing and the log is refused rather than cut.
func copyLog(dst, src raft.LogStore, newest func() (uint64, error), log hclog.Logger) error {
	last, err := src.LastIndex()
	if err != nil || last == 0 {
		return err
	}
	first, err := src.FirstIndex()
	if err != nil {
		return err
	}
	start, err := unbrokenFrom(src, first, last)
	if err != nil {
		return err
	}
	if start > first {
		snap, err := newest()
		if err != nil {
			return err
		}
		if snap+1 < start {
			return fmt.Errorf("the log has a gap before entry %d that the newest snapshot (at index %d) does not reach: entries the state needs are lost", start, snap)
		}
		log.Info("the log has a gap below the snapshot: leaving the entries before it behind", "first", first, "from", start, "last", last, "snapshot", snap)
	}
	return migrate.CopyLogs(context.Background(), dst, logFrom{src, start}, copyBatchBytes, nil)
}

// unbrokenFrom returns the first index of the run of entries in src that
// ends at last without a gap (first when there is none).
func unbrokenFrom(src raft.LogStore, first, last uint64) (uint64, error) {
	start := last
	for start > first {
		var l raft.Log
		err := src.GetLog(start-1, &l)
		if errors.Is(err, raft.ErrLogNotFound) {
			break
		}
		if err != nil {
			return 0, err
		}
		start--
	}
	return start, nil
}

// logFrom is a log store read from index first on.
type logFrom struct {
	raft.LogStore
	first uint64
}

func (l logFrom) FirstIndex() (uint64, error) { return l.first, nil }

// newestSnapshot returns the index of the newest snapshot in a data
// directory (0 when there is none): the one Raft restores at start.
func newestSnapshot(dir string, log hclog.Logger) func() (uint64, error) {
	return func() (uint64, error) {
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 1, log)
		if err != nil {
			return 0, err
		}
		list, err := snaps.List()
		if err != nil || len(list) == 0 {
			return 0, err
		}
		return list[0].Index, nil
	}
}

// clearLog deletes every entry of a log store.
func clearLog(s raft.LogStore) error {
	first, err := s.FirstIndex()
	if err != nil {
		return err
	}
	last, err := s.LastIndex()
	if err != nil || last == 0 {
		return err
	}
	return s.DeleteRange(first, last)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	return errors.Join(err, f.Close())
}

// syncFS is raft-wal's file system, whose files skip their syncs when
// noSync is set (tests and benchmarks only; see Config.NoSync).
type syncFS struct {
	*walfs.FS
	noSync bool
}

func (s *syncFS) Create(dir, name string, size uint64) (types.WritableFile, error) {
	f, err := s.FS.Create(dir, name, size)
	if err != nil || !s.noSync {
		return f, err
	}
	return noSyncFile{f}, nil
}

func (s *syncFS) OpenWriter(dir, name string) (types.WritableFile, error) {
	f, err := s.FS.OpenWriter(dir, name)
	if err != nil || !s.noSync {
		return f, err
	}
	return noSyncFile{f}, nil
}

// noSyncFile is a segment file that is never synced.
type noSyncFile struct{ types.WritableFile }

func (noSyncFile) Sync() error { return nil }
