package raftstore

import (
	"github.com/hashicorp/raft"

	"log/slog"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Config configures one member of a manager cluster.
type Config struct {
	// ID names the member; it must be unique in the cluster and stay the
	// same across restarts.
	ID string
	// DataDir holds the log, the stable store (raft.db) and the snapshots.
	DataDir string
	// LogStore is where the Raft log is kept: LogStoreWAL (the default;
	// segment files in DataDir/wal, one fsync per append) or
	// LogStoreBolt (raft.db, as before; two). A data directory written
	// with the other store has its log copied over when the member opens.
	LogStore LogStore
	// RaftAddr is the host:port Raft listens on and peers dial.
	RaftAddr string
	// HTTPAddr is the host:port of this member's API, which peers forward
	// requests to when it leads.
	HTTPAddr string
	// Token is the cluster token. With it, a member that does not lead
	// passes the commands it is given to the leader and serves current
	// reads itself (Apply and Read work on every member); without it,
	// they answer NotLeader.
	Token string

	// Stream, when set, carries Raft's traffic instead of plain TCP on
	// RaftAddr (TLS, or a network a test can cut).
	Stream raft.StreamLayer

	// Manager is the state machine's initial configuration; every member
	// must be given the same (it changes only through Configure commands).
	Manager manager.Config
	// Plugins are the engine plugins (nil: manager.DefaultPlugins()); the
	// same on every member.
	Plugins *manager.Plugins

	// ECMs, when set, runs the reconciler while this member leads: it
	// launches and kills engines through it and proposes the ticks.
	ECMs       ECMClient
	Reconciler ReconcilerConfig

	// Raft timing. The production defaults suit a LAN; tests use 50-200 ms.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is how many entries since the last snapshot make
	// Raft take another; SnapshotInterval is how often it checks.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot, to
	// catch up slow followers without sending them the snapshot.
	TrailingLogs uint64
	// RetainSnapshots is how many snapshot files are kept.
	RetainSnapshots int
	// NoSync skips fsync on the log. Unsafe: an acknowledged command can be
	// lost when the machine (not just the process) dies. For tests only.
	NoSync bool

	// MaxBatch is the most commands one log entry carries (group commit).
	MaxBatch int
	// MaxInflight is the most log entries proposed and not yet applied;
	// while they are in flight new commands queue up and ride together in
	// the next entry, proposed the moment one is applied.
	MaxInflight int
	// ApplyTimeout bounds how long a membership change waits to enter the
	// log.
	ApplyTimeout time.Duration

	Logger *slog.Logger
}

// DefaultConfig returns production values for a member; ID, DataDir,
// RaftAddr and HTTPAddr must still be set.
func DefaultConfig() Config {
	return Config{
		LogStore:           LogStoreWAL,
		Manager:            manager.DefaultConfig(),
		Reconciler:         DefaultReconcilerConfig(),
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      50 * time.Millisecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		TrailingLogs:       10240,
		RetainSnapshots:    2,
		MaxBatch:           512,
		MaxInflight:        1,
		ApplyTimeout:       10 * time.Second,
	}
}

// Validate rejects a configuration a member cannot run with, naming the
// field.
func (c Config) Validate() error {
	if c.ID == "" || len(c.ID) > 128 {
		return linkis.ValueError(linkis.ErrInvalidArgument, "ID", c.ID, "must be 1 to 128 bytes")
	}
	if c.DataDir == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "DataDir", "required")
	}
	if err := c.LogStore.Validate(); err != nil {
		return err
	}
	if err := linkis.ValidateAddress("RaftAddr", c.RaftAddr); err != nil {
		return err
	}
	if err := linkis.ValidateAddress("HTTPAddr", c.HTTPAddr); err != nil {
		return err
	}
	if err := c.Manager.Validate(); err != nil {
		return err
	}
	if c.ECMs != nil {
		if err := c.Reconciler.Validate(); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"HeartbeatTimeout", c.HeartbeatTimeout}, {"ElectionTimeout", c.ElectionTimeout},
		{"LeaderLeaseTimeout", c.LeaderLeaseTimeout}, {"CommitTimeout", c.CommitTimeout},
		{"SnapshotInterval", c.SnapshotInterval}, {"ApplyTimeout", c.ApplyTimeout},
	} {
		if d.v <= 0 {
			return linkis.Errorf(linkis.ErrInvalidArgument, d.name, "must be positive, got %v", d.v)
		}
	}
	if c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return linkis.Errorf(linkis.ErrInvalidArgument, "LeaderLeaseTimeout", "%v is longer than HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return linkis.Errorf(linkis.ErrInvalidArgument, "ElectionTimeout", "%v is shorter than HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.SnapshotThreshold < 1 || c.RetainSnapshots < 1 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "SnapshotThreshold", "SnapshotThreshold and RetainSnapshots must be at least 1")
	}
	if c.MaxBatch < 1 || c.MaxBatch > 1<<16 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxBatch", "must be from 1 to 65536, got %d", c.MaxBatch)
	}
	if c.MaxInflight < 1 || c.MaxInflight > 1024 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "MaxInflight", "must be from 1 to 1024, got %d", c.MaxInflight)
	}
	return nil
}
