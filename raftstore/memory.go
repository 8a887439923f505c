package raftstore

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
)

// MemoryConfig configures a Memory store.
type MemoryConfig struct {
	// ID names the store in its status.
	ID string
	// HTTPAddr is the address its API serves at, for its status.
	HTTPAddr string
	// Manager is the state machine's initial configuration.
	Manager manager.Config
	// Plugins are the engine plugins (nil: manager.DefaultPlugins()).
	Plugins *manager.Plugins
	// ECMs, when set, runs the reconciler: launches, kills and ticks are
	// carried out through it. Nil leaves them to the caller (tests that
	// play the ECMs themselves).
	ECMs       ECMClient
	Reconciler ReconcilerConfig
	Logger     *slog.Logger
}

// DefaultMemoryConfig returns a store with the Linkis defaults and no
// reconciler.
func DefaultMemoryConfig() MemoryConfig {
	return MemoryConfig{ID: "memory", Manager: manager.DefaultConfig(), Reconciler: DefaultReconcilerConfig()}
}

// Validate rejects a configuration the store cannot run with.
func (c MemoryConfig) Validate() error {
	if err := c.Manager.Validate(); err != nil {
		return err
	}
	if c.ECMs != nil {
		return c.Reconciler.Validate()
	}
	return nil
}

// Memory is the manager state in one process, without replication: for
// tests, the simulator's peers and the embedded system. It is always the
// leader; commands are applied in the order they arrive.
type Memory struct {
	cfg MemoryConfig
	rep *replica
	met *metrics

	mu    sync.Mutex // orders applies
	index uint64

	stop     context.CancelFunc
	done     chan struct{}
	services services // always leading: they run from Open to Close
}

// OpenMemory starts a Memory store (and its reconciler when cfg.ECMs is
// set). Close stops it.
func OpenMemory(cfg MemoryConfig) (*Memory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Memory{cfg: cfg, done: make(chan struct{})}
	var err error
	if m.rep, err = newReplica(cfg.Manager, cfg.Plugins, nil); err != nil {
		return nil, err
	}
	m.met = newMetrics(m.rep)
	m.rep.obs = m.met
	ctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.services.startTerm(ctx)
	if cfg.ECMs == nil {
		close(m.done)
		return m, nil
	}
	rec := newReconciler(cfg.Reconciler, m, cfg.ECMs, cfg.Logger.With("store", cfg.ID))
	go func() {
		defer close(m.done)
		rec.run(ctx)
	}()
	return m, nil
}

// Close stops the reconciler and the functions run by Lead, and waits
// for them.
func (m *Memory) Close() error {
	m.stop()
	<-m.done
	m.services.stopTerm()
	return nil
}

// Lead implements Store: a Memory store leads from Open to Close.
func (m *Memory) Lead(fn func(context.Context)) (stop func()) { return m.services.register(fn) }

// ObserveJobs implements Store.
func (m *Memory) ObserveJobs(o JobObserver) { m.rep.setJobObserver(o) }

// AppliedIndex implements Store.
func (m *Memory) AppliedIndex() uint64 { return m.rep.appliedIndex() }

// Apply implements Store.
func (m *Memory) Apply(ctx context.Context, cmd manager.Command) (manager.Result, error) {
	if err := ctx.Err(); err != nil {
		return manager.Result{}, err
	}
	if err := checkEncodable(cmd); err != nil { // refused as a replicated store would
		return manager.Result{}, err
	}
	start := time.Now()
	m.mu.Lock()
	m.index++
	o := m.rep.apply(m.index, []manager.Command{cmd})[0]
	m.mu.Unlock()
	m.met.commit.Observe(time.Since(start).Seconds())
	return o.res, o.err
}

// Read implements Store; every read is current.
func (m *Memory) Read(ctx context.Context, _ bool, fn func(*manager.State)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.rep.read(fn)
	return nil
}

// ReadIndex implements Store: the one replica has applied everything.
func (m *Memory) ReadIndex(ctx context.Context) (uint64, error) {
	return m.rep.appliedIndex(), ctx.Err()
}

// WaitAsk implements Store.
func (m *Memory) WaitAsk(ctx context.Context, id string) (manager.AskResult, error) {
	return m.rep.waitAsk(ctx, id)
}

// Leader implements Store: a Memory store always leads.
func (m *Memory) Leader() (bool, string) { return true, m.cfg.HTTPAddr }

// Status implements Store.
func (m *Memory) Status(context.Context) api.Status {
	st := api.Status{ID: m.cfg.ID, State: "Leader", Leader: m.cfg.ID, LeaderHTTP: m.cfg.HTTPAddr,
		Members: []api.Member{{ID: m.cfg.ID, HTTPAddr: m.cfg.HTTPAddr, Voter: true, Leader: true}}}
	m.rep.read(func(s *manager.State) {
		stats := s.Stats()
		st.ECMs, st.Engines, st.Asks = stats.ECMs, stats.Engines, stats.Asks
	})
	st.AppliedIndex = m.rep.appliedIndex()
	st.CommitIndex = st.AppliedIndex
	return st
}

// Gatherer returns the store's metrics.
func (m *Memory) Gatherer() prometheus.Gatherer { return m.met.reg }

func (m *Memory) effectsDue(now int64) []manager.Effect {
	var out []manager.Effect
	m.rep.read(func(s *manager.State) { out = s.EffectsDue(now) })
	return out
}

func (m *Memory) changes() <-chan struct{} { return m.rep.changes() }
