package raftstore

import (
	"context"
	"sync"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// recentOutcomes bounds the final ask outcomes a replica remembers after
// the state has forgotten the ask (a failed or released ask leaves the
// state at once), so that a caller waiting on it still learns how it ended.
const recentOutcomes = 1 << 14

// outcome is what applying one command gave its proposer.
type outcome struct {
	res manager.Result
	err error
}

// replica is the manager state as one node holds it: the state machine
// behind a read-write lock, the index of the last entry applied, and the
// callers waiting for asks to be decided. The Raft FSM and the in-memory
// store both wrap one.
type replica struct {
	cfg     manager.Config // as configured: what a snapshot may lack
	plugins *manager.Plugins

	mu sync.RWMutex
	st *manager.State
	// applied is the log index the state stands at: every entry up to it
	// that Raft hands to the FSM is applied (a restored snapshot counts as
	// every entry up to its index). It moves with every such entry, with
	// or without commands - a consistent read's no-op item moves it, which
	// is what a follower waits for (see readIndexAt).
	applied uint64

	wmu     sync.Mutex
	waiters map[string][]chan manager.AskResult
	recent  map[string]manager.AskResult // final outcomes the state no longer holds
	ring    []string                     // recent's keys, oldest first, for eviction
	next    int
	changed chan struct{} // closed (and replaced) after every applied entry

	obs applyObserver // may be nil

	jmu    sync.Mutex
	jobObs JobObserver // may be nil
}

// JobObserver is told, in log order, what every applied entry did to jobs
// (see manager.Result.Jobs); resync means the state was replaced (a
// snapshot was restored) and anything may have changed. It is called on
// the goroutine that applies entries, so it must return quickly and must
// not call back into the store.
type JobObserver func(notices []manager.JobNotice, resync bool)

// applyObserver is told what every applied command gave (metrics).
type applyObserver interface {
	applied(cmd manager.Command, o outcome)
}

func newReplica(cfg manager.Config, plugins *manager.Plugins, obs applyObserver) (*replica, error) {
	if plugins == nil {
		plugins = manager.DefaultPlugins()
	}
	st, err := manager.New(cfg, plugins)
	if err != nil {
		return nil, err
	}
	return &replica{
		cfg: cfg, plugins: plugins, st: st, obs: obs,
		waiters: map[string][]chan manager.AskResult{},
		recent:  map[string]manager.AskResult{},
		ring:    make([]string, recentOutcomes),
		changed: make(chan struct{}),
	}, nil
}

// apply applies cmds in order as the entry at index and tells the waiters
// of every ask whose outcome they decided. An entry without commands
// (only no-ops or member records, or one that could not be decoded) is
// applied too: the applied index moves and readers waiting for it wake.
func (r *replica) apply(index uint64, cmds []manager.Command) []outcome {
	outs := make([]outcome, len(cmds))
	r.mu.Lock()
	for i, c := range cmds {
		outs[i].res, outs[i].err = r.st.Apply(c)
	}
	if index > r.applied {
		r.applied = index
	}
	// Waiters are told while the write lock is held, so that an entry's
	// outcomes are delivered before any later entry's.
	r.wmu.Lock()
	for i, o := range outs {
		if o.err != nil {
			continue
		}
		r.decided(o.res.Ask)
		for _, n := range o.res.Notices {
			r.decided(n)
		}
		if r.obs != nil {
			r.obs.applied(cmds[i], o)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.wmu.Unlock()
	r.mu.Unlock()
	r.tellJobs(outs)
	return outs
}

// tellJobs hands the job notices of an applied entry to the observer.
// Entries are applied one at a time, so the observer hears them in order.
func (r *replica) tellJobs(outs []outcome) {
	r.jmu.Lock()
	obs := r.jobObs
	r.jmu.Unlock()
	if obs == nil {
		return
	}
	var ns []manager.JobNotice
	for _, o := range outs {
		if o.err == nil {
			ns = append(ns, o.res.Jobs...)
		}
	}
	if len(ns) > 0 {
		obs(ns, false)
	}
}

func (r *replica) setJobObserver(o JobObserver) {
	r.jmu.Lock()
	r.jobObs = o
	r.jmu.Unlock()
}

// decided records a decided outcome and hands it to the ask's waiters.
// Called with wmu held.
func (r *replica) decided(a manager.AskResult) {
	if a.AskID == "" || a.Status == manager.AskPending {
		return
	}
	if a.Status == manager.AskFailed || a.Status == manager.AskDone {
		if _, ok := r.recent[a.AskID]; !ok {
			if old := r.ring[r.next]; old != "" {
				delete(r.recent, old)
			}
			r.ring[r.next] = a.AskID
			r.next = (r.next + 1) % len(r.ring)
		}
		r.recent[a.AskID] = a
	}
	for _, ch := range r.waiters[a.AskID] {
		select {
		case ch <- a:
		default: // it holds an earlier decision and returns with it
		}
	}
}

// restore replaces the state with a snapshot's, taken at log index
// index: the state now stands at that index, whatever it stood at before.
func (r *replica) restore(data []byte, index uint64) error {
	st, err := manager.RestoreConfigured(data, r.cfg, r.plugins)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.st = st
	r.applied = index
	r.wmu.Lock()
	for id := range r.waiters {
		if a, ok := st.Ask(id); ok {
			r.decided(a)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.wmu.Unlock()
	r.mu.Unlock()
	r.jmu.Lock()
	obs := r.jobObs
	r.jmu.Unlock()
	if obs != nil {
		obs(nil, true)
	}
	return nil
}

// read runs fn on the state under the read lock.
func (r *replica) read(fn func(*manager.State)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	fn(r.st)
}

// appliedIndex returns the log index the state stands at.
func (r *replica) appliedIndex() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.applied
}

// changes returns a channel closed after the next applied entry.
func (r *replica) changes() <-chan struct{} {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	return r.changed
}

// lookup returns where an ask stands: in the state, or among the recent
// final outcomes.
func (r *replica) lookup(id string) (manager.AskResult, bool) {
	r.mu.RLock()
	a, ok := r.st.Ask(id)
	r.mu.RUnlock()
	if ok {
		return a, true
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	a, ok = r.recent[id]
	return a, ok
}

// waitAsk returns an ask's outcome once it is no longer pending, or where
// it stands when ctx ends first.
func (r *replica) waitAsk(ctx context.Context, id string) (manager.AskResult, error) {
	ch := make(chan manager.AskResult, 1)
	r.wmu.Lock()
	r.waiters[id] = append(r.waiters[id], ch)
	r.wmu.Unlock()
	defer r.unwait(id, ch)
	a, ok := r.lookup(id)
	if !ok {
		return manager.AskResult{}, linkis.ValueError(linkis.ErrUnknownAsk, "ask", id, "the manager does not know this ask")
	}
	if a.Status != manager.AskPending {
		return a, nil
	}
	select {
	case a = <-ch:
		return a, nil
	case <-ctx.Done():
		if now, ok := r.lookup(id); ok {
			return now, nil
		}
		return a, nil
	}
}

func (r *replica) unwait(id string, ch chan manager.AskResult) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	ws := r.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(r.waiters, id)
	} else {
		r.waiters[id] = ws
	}
}
