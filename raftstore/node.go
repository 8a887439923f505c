package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Node is one member of a manager cluster: the manager state machine
// replicated with Raft over TCP, its log in a WAL (or bbolt), its stable
// store in bbolt, its snapshots in files. It implements Store and
// Membership.
type Node struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	fsm   *fsm
	rep   *replica
	met   *metrics
	trans *raft.NetworkTransport
	files *logFiles

	queue chan *proposal // items waiting to ride in the next entry

	epoch    uint64 // names this incarnation's proposals in the log
	slots    chan struct{}
	pmu      sync.Mutex
	inflight map[uint64]*batch // proposed entries by sequence number

	ctx    context.Context // ends when the node closes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	services services     // run while this member leads (Lead)
	fwd      *http.Client // carries commands and reads to the leader
}

// proposal is one item waiting for its entry to be applied.
type proposal struct {
	kind byte
	cmd  manager.Command // itemCommand
	body []byte          // the other kinds
	done chan outcome
}

// batch is a proposed entry: its items' proposals and the term it was
// proposed in.
type batch struct {
	term  uint64
	props []*proposal
}

// Open starts a member from its data directory: a new member waits to be
// bootstrapped or joined; one with state on disk recovers it and rejoins
// its cluster by itself. Close stops it.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("raftstore: %w", err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("member", cfg.ID), queue: make(chan *proposal, 4*cfg.MaxBatch),
		epoch: Nonce(), slots: make(chan struct{}, cfg.MaxInflight), inflight: map[uint64]*batch{}, fwd: newForwardClient()}
	var err error
	if n.rep, err = newReplica(cfg.Manager, cfg.Plugins, nil); err != nil {
		return nil, err
	}
	n.met = newMetrics(n.rep)
	n.rep.obs = n.met
	n.fsm = &fsm{rep: n.rep, met: n.met, members: map[string]api.Member{}, deliver: n.deliver}

	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: slogWriter{n.log}})
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()
	if n.files, err = openLogFiles(cfg.DataDir, cfg.LogStore, cfg.NoSync, hlog, n.met.appends); err != nil {
		return nil, fmt.Errorf("raftstore: opening the log: %w", err)
	}
	logs, err := raft.NewLogCache(1024, n.files.log)
	if err != nil {
		return nil, fmt.Errorf("raftstore: %w", err)
	}
	snapFiles, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.RetainSnapshots, hlog)
	if err != nil {
		return nil, fmt.Errorf("raftstore: opening the snapshots: %w", err)
	}
	snaps := indexedSnapshots{snapFiles}
	if cfg.Stream != nil {
		n.trans = raft.NewNetworkTransportWithLogger(cfg.Stream, 3, 10*time.Second, hlog)
	} else {
		addr, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
		if err != nil {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, "RaftAddr", cfg.RaftAddr, err.Error())
		}
		if n.trans, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, addr, 3, 10*time.Second, hlog); err != nil {
			return nil, fmt.Errorf("raftstore: listening for raft on %s: %w", cfg.RaftAddr, err)
		}
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	// BatchApplyCh stays off: with a buffered apply channel, an Apply or
	// Barrier that races Shutdown can land in the buffer after the leader
	// loop is gone and its future never completes. Group commit happens in
	// front of Raft (batch) and in Raft's own leader loop anyway.
	rc.BatchApplyCh = false
	rc.Logger = hlog
	if n.raft, err = raft.NewRaft(rc, n.fsm, logs, n.files.stable, snaps, n.trans); err != nil {
		return nil, fmt.Errorf("raftstore: starting raft: %w", err)
	}
	n.registerRaftMetrics()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(2)
	go n.batch()
	go n.lead()
	ok = true
	return n, nil
}

// closeStores closes what Open opened before raft took them over.
func (n *Node) closeStores() {
	if n.trans != nil {
		_ = n.trans.Close()
	}
	if n.files != nil {
		if err := n.files.close(); err != nil {
			n.log.Warn("closing the log", "err", err)
		}
	}
}

// Close stops the member: Raft first (which unblocks a proposal being
// handed to it), then its loops, then its stores. Callers still waiting
// for an entry are told the member shut down.
func (n *Node) Close() error {
	n.cancel()
	err := n.raft.Shutdown().Error()
	n.wg.Wait()
	n.failInflight(func(*batch) bool { return true }, errClosed)
	n.closeStores()
	return err
}

// HasState reports whether the member found a cluster's state on disk (it
// needs neither bootstrap nor join).
func (n *Node) HasState() bool {
	return n.raft.LastIndex() > 0
}

// Bootstrap makes this member the first of a new cluster. A member with
// state on disk is left as it is.
func (n *Node) Bootstrap() error {
	if n.HasState() {
		return nil
	}
	cfg := raft.Configuration{Servers: []raft.Server{{ID: raft.ServerID(n.cfg.ID), Address: raft.ServerAddress(n.cfg.RaftAddr)}}}
	if err := n.raft.BootstrapCluster(cfg).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("raftstore: bootstrap: %w", err)
	}
	return nil
}

// Apply implements Store: the command rides in the next log entry with
// whatever else is waiting (group commit).
func (n *Node) Apply(ctx context.Context, cmd manager.Command) (manager.Result, error) {
	if err := checkEncodable(cmd); err != nil {
		return manager.Result{}, err
	}
	if n.raft.State() != raft.Leader && n.cfg.Token != "" && passable(cmd) {
		return n.forwardApply(ctx, cmd)
	}
	start := time.Now()
	o := n.propose(ctx, &proposal{kind: itemCommand, cmd: cmd})
	if o.err == nil {
		n.met.commit.Observe(time.Since(start).Seconds())
	}
	return o.res, o.err
}

// propose queues an item for the next entry and waits for its outcome.
// When ctx ends first the item may still be applied; asks are idempotent
// by id, so asking again with the same id is how a caller finds out.
func (n *Node) propose(ctx context.Context, p *proposal) outcome {
	if n.raft.State() != raft.Leader {
		return outcome{err: n.notLeader()}
	}
	p.done = make(chan outcome, 1)
	select {
	case n.queue <- p:
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	case <-n.ctx.Done():
		return outcome{err: errClosed}
	}
	select {
	case o := <-p.done:
		return o
	case <-ctx.Done():
		return outcome{err: ctx.Err()}
	case <-n.ctx.Done():
		// Closing: an item queued after batch's last drain is never
		// answered otherwise.
		return outcome{err: errClosed}
	}
}

var errClosed = linkis.Errorf(linkis.ErrUnavailable, "member", "shutting down")

// errLeadershipChanged is what callers whose entry was proposed in a term
// that ended are told: the entry may yet be committed by the next leader,
// or dropped.
var errLeadershipChanged = linkis.Errorf(linkis.ErrUnavailable, "leader",
	"leadership changed before the command was known to be committed: it may or may not be applied")

// batch is the group commit: it proposes an entry as soon as a slot is
// free (at most MaxInflight entries on their way through Raft) and an item
// is queued, with every item queued by then (up to MaxBatch). A lone
// caller on an idle member is proposed at once; under load, what arrived
// while the previous entry was in flight rides in the next, cut the moment
// that one is applied. No timer: Go's timers under a millisecond fire
// about 1 ms late on Linux, which a lone caller would pay on every
// command. Instead, when others are queued with the first item, gather
// yields the processor while the queue keeps growing, so that callers
// about to send their next command can still ride in the entry. Outcomes
// come back through deliver, when this member applies the entry, or
// through failInflight, when the entry's term ends first - never by
// waiting on Raft's futures, which Raft leaves unanswered when it shuts
// down with committed entries not yet applied.
func (n *Node) batch() {
	defer n.wg.Done()
	defer func() { // fail what never made it into an entry
		for {
			select {
			case p := <-n.queue:
				p.done <- outcome{err: errClosed}
			default:
				return
			}
		}
	}()
	var buf, scratch []byte
	var seq uint64
	for {
		select {
		case n.slots <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		var props []*proposal
		select {
		case p := <-n.queue:
			props = append(props, p)
		case <-n.ctx.Done():
			<-n.slots
			return
		}
		props = n.gather(props)
		// Tag the entry with a term this member leads: an entry handed to
		// a candidate is never appended, and if the candidate then won
		// that very term nothing would ever answer or fail it.
		term := n.raft.CurrentTerm()
		if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
			err := n.notLeader()
			for _, p := range props {
				p.done <- outcome{err: err}
			}
			<-n.slots
			continue
		}
		seq++
		n.pmu.Lock()
		n.inflight[seq] = &batch{term: term, props: props}
		n.pmu.Unlock()
		buf, scratch = appendEntry(buf[:0], scratch, n.epoch, seq, props)
		// No timeout: Apply returns once Raft holds the entry, or at
		// shutdown. Its future is not waited on (see above).
		n.raft.Apply(append([]byte(nil), buf...), 0)
	}
}

// gather adds what is queued to props, up to MaxBatch. When others are
// queued too, it then yields the processor and looks again for as long as
// the queue keeps growing: the callers the last entry answered are about
// to send their next command, and one entry for all of them costs about
// as much as one for a few. A lone caller never waits for anything.
func (n *Node) gather(props []*proposal) []*proposal {
	for len(props) < n.cfg.MaxBatch {
		select {
		case p := <-n.queue:
			props = append(props, p)
			continue
		default:
		}
		if len(props) == 1 {
			return props
		}
		runtime.Gosched()
		if len(n.queue) == 0 {
			return props
		}
	}
	return props
}

// deliver hands an applied entry's outcomes to the callers that proposed
// it, when this member did; err, when set, is every caller's outcome (the
// entry could not be decoded).
func (n *Node) deliver(epoch, seq uint64, outs []outcome, err error) {
	if epoch != n.epoch {
		return
	}
	n.pmu.Lock()
	b := n.inflight[seq]
	delete(n.inflight, seq)
	n.pmu.Unlock()
	if b == nil {
		return // already failed when its term ended
	}
	for i, p := range b.props {
		o := outcome{err: err}
		if err == nil && i < len(outs) {
			o = outs[i]
		} else if err == nil {
			o.err = linkis.Errorf(linkis.ErrMalformed, "entry", "%d outcomes for %d items", len(outs), len(b.props))
		}
		p.done <- o
	}
	<-n.slots
}

// checkEncodable refuses a command the log's decoder would refuse (a
// field over its size limit, say): in an entry it would make every
// replica refuse the whole entry.
func checkEncodable(cmd manager.Command) error {
	_, err := manager.DecodeCommand(manager.AppendCommand(nil, cmd))
	return err
}

// failInflight fails the entries in flight that stale reports, telling
// their callers err.
func (n *Node) failInflight(stale func(*batch) bool, err error) {
	n.pmu.Lock()
	var failed []*batch
	for seq, b := range n.inflight {
		if stale(b) {
			failed = append(failed, b)
			delete(n.inflight, seq)
		}
	}
	n.pmu.Unlock()
	for _, b := range failed {
		for _, p := range b.props {
			p.done <- outcome{err: err}
		}
		<-n.slots
	}
}

// failStale fails the entries proposed in a term this member no longer
// leads.
func (n *Node) failStale() {
	term, leads := n.raft.CurrentTerm(), n.raft.State() == raft.Leader
	n.failInflight(func(b *batch) bool { return !leads || b.term != term }, errLeadershipChanged)
}

// mapRaftError turns Raft's errors into the project's at the edge.
func (n *Node) mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return n.notLeader()
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return linkis.Errorf(linkis.ErrUnavailable, "leader", "leadership lost before the command was known to be committed: it may or may not be applied (%v)", err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return errClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return linkis.Errorf(linkis.ErrUnavailable, "log", "the log did not accept the command in time")
	}
	var le *linkis.Error
	if errors.As(err, &le) {
		return err
	}
	return linkis.Errorf(linkis.ErrUnavailable, "raft", "%v", err)
}

func (n *Node) notLeader() error {
	_, http := n.Leader()
	return &api.NotLeaderError{Leader: http}
}

// Leader implements Store.
func (n *Node) Leader() (bool, string) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return false, ""
	}
	m, _ := n.fsm.member(string(id))
	return n.raft.State() == raft.Leader && string(id) == n.cfg.ID, m.HTTPAddr
}

// Read implements Store. A consistent read is linearizable: the leader
// reads once it has applied its ReadIndex, a follower once it has applied
// the leader's (readIndexAt).
func (n *Node) Read(ctx context.Context, consistent bool, fn func(*manager.State)) error {
	switch {
	case !consistent:
	case n.raft.State() != raft.Leader && n.cfg.Token != "":
		if err := n.readIndexAt(ctx); err != nil {
			return err
		}
	default:
		index, err := n.ReadIndex(ctx)
		if err == nil {
			err = n.waitApplied(ctx, index)
		}
		if err != nil {
			return err
		}
	}
	n.rep.read(fn)
	return nil
}

// ReadIndex implements Store (Raft's read index). A leader that has
// applied an entry of its own term (any command, or the no-op of an
// earlier read) knows the commit index covers every write acknowledged so
// far - the earlier terms' precede that entry - so it notes the commit
// index, asks a quorum whether it still leads (raft's VerifyLeader:
// heartbeats, nothing written) and answers it. Otherwise a no-op item
// rides in the next entry, which a quorum commits in this term, and the
// answer is its index. The commit index, not the applied one: a follower
// may have applied a write that the leader has not yet, and a read after
// the follower's must see it too.
func (n *Node) ReadIndex(ctx context.Context) (uint64, error) {
	if n.raft.State() != raft.Leader && n.cfg.Token != "" {
		_, leader := n.Leader()
		return 0, &api.NotLeaderError{Leader: leader}
	}
	if term := n.raft.CurrentTerm(); n.fsm.term.Load() == term {
		commit := n.raft.CommitIndex()
		err := n.wait(ctx, n.raft.VerifyLeader())
		if err == nil && n.raft.CurrentTerm() == term {
			return commit, nil
		}
		if err != nil && ctx.Err() != nil {
			return 0, err
		}
	}
	if o := n.propose(ctx, &proposal{kind: itemNoop}); o.err != nil {
		return 0, o.err
	}
	return n.rep.appliedIndex(), nil // the no-op's entry at least: propose returns once it is applied here
}

// wait waits for a Raft future or ctx.
func (n *Node) wait(ctx context.Context, f raft.Future) error {
	ch := make(chan error, 1)
	go func() { ch <- f.Error() }() // Raft completes every future, at the latest when it shuts down
	select {
	case err := <-ch:
		if err != nil {
			return n.mapRaftError(err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitAsk implements Store (on this member's state; callers that need the
// leader's read through it first).
func (n *Node) WaitAsk(ctx context.Context, id string) (manager.AskResult, error) {
	return n.rep.waitAsk(ctx, id)
}

// Status implements Store.
func (n *Node) Status(ctx context.Context) api.Status {
	st := api.Status{ID: n.cfg.ID, State: n.raft.State().String()}
	addr, id := n.raft.LeaderWithID()
	st.Leader = string(id)
	if m, ok := n.fsm.member(string(id)); ok {
		st.LeaderHTTP = m.HTTPAddr
	}
	stats := n.raft.Stats()
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.CommitIndex = n.raft.CommitIndex()
	st.AppliedIndex = n.raft.AppliedIndex()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			m, _ := n.fsm.member(string(s.ID))
			st.Members = append(st.Members, api.Member{ID: string(s.ID), RaftAddr: string(s.Address), HTTPAddr: m.HTTPAddr,
				Voter: s.Suffrage == raft.Voter, Leader: s.Address == addr})
		}
	}
	n.rep.read(func(s *manager.State) {
		stats := s.Stats()
		st.ECMs, st.Engines, st.Asks = stats.ECMs, stats.Engines, stats.Asks
	})
	return st
}

// Join implements Membership: the member becomes a voter, and its API
// address is recorded for forwarding. Joining again with the same
// addresses is harmless.
func (n *Node) Join(ctx context.Context, r api.JoinRequest) error {
	if r.ID == "" || len(r.ID) > 128 {
		return linkis.ValueError(linkis.ErrInvalidArgument, "id", r.ID, "must be 1 to 128 bytes")
	}
	if err := linkis.ValidateAddress("raftAddr", r.RaftAddr); err != nil {
		return err
	}
	if err := linkis.ValidateAddress("httpAddr", r.HTTPAddr); err != nil {
		return err
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.ID != raft.ServerID(r.ID) && s.Address == raft.ServerAddress(r.RaftAddr) {
				return linkis.ValueError(linkis.ErrDuplicate, "raftAddr", r.RaftAddr, "member "+string(s.ID)+" already uses it")
			}
		}
	}
	if err := n.wait(ctx, n.raft.AddVoter(raft.ServerID(r.ID), raft.ServerAddress(r.RaftAddr), 0, n.cfg.ApplyTimeout)); err != nil {
		return err
	}
	return halfDone(n.propose(ctx, &proposal{kind: itemMember, body: memberItem(api.Member{ID: r.ID, RaftAddr: r.RaftAddr, HTTPAddr: r.HTTPAddr, Voter: true})}).err)
}

// Remove implements Membership: a dead member's vote no longer counts.
func (n *Node) Remove(ctx context.Context, id string) error {
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return n.mapRaftError(err)
	}
	found := false
	for _, s := range f.Configuration().Servers {
		found = found || s.ID == raft.ServerID(id)
	}
	if !found {
		return linkis.ValueError(linkis.ErrUnknownNode, "member", id, "not a member of this cluster")
	}
	if err := n.propose(ctx, &proposal{kind: itemMemberRemove, body: []byte(id)}).err; err != nil {
		return err
	}
	return halfDone(n.wait(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout)))
}

// halfDone reports the failure of a membership change's second step: the
// first took effect, so it is never "certainly not applied"; asking again
// is harmless.
func halfDone(err error) error {
	if err == nil {
		return nil
	}
	return linkis.Errorf(linkis.ErrUnavailable, "members", "the change is half done (%v); ask again", err)
}

// lead watches leadership: on gaining it, it waits until every earlier
// entry is applied, records this member's API address if the state lacks
// it, and runs the reconciler until leadership is lost.
func (n *Node) lead() {
	defer n.wg.Done()
	tick := time.NewTicker(n.cfg.HeartbeatTimeout / 4)
	defer tick.Stop()
	var stop context.CancelFunc
	var running sync.WaitGroup
	defer func() {
		if stop != nil {
			stop()
			running.Wait()
		}
	}()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.raft.LeaderCh():
		case <-tick.C:
		}
		n.failStale()
		leads := n.raft.State() == raft.Leader
		switch {
		case leads && stop == nil:
			ctx, cancel := context.WithCancel(n.ctx)
			stop = cancel
			running.Add(1)
			go func() {
				defer running.Done()
				n.leadTerm(ctx)
			}()
		case !leads && stop != nil:
			stop()
			running.Wait()
			stop = nil
		}
	}
}

// leadTerm is what a leader does for as long as it leads.
func (n *Node) leadTerm(ctx context.Context) {
	for {
		err := n.Read(ctx, true, func(*manager.State) {})
		if err == nil {
			break
		}
		n.log.Warn("new leader could not catch up", "err", err)
		if !linkis.Sleep(ctx, n.cfg.HeartbeatTimeout/4) {
			return
		}
	}
	// Followers forward to the address recorded here: keep trying until
	// it is recorded (or leadership ends).
	for {
		m, ok := n.fsm.member(n.cfg.ID)
		if ok && m.HTTPAddr == n.cfg.HTTPAddr && m.RaftAddr == n.cfg.RaftAddr {
			break
		}
		me := api.Member{ID: n.cfg.ID, RaftAddr: n.cfg.RaftAddr, HTTPAddr: n.cfg.HTTPAddr, Voter: true}
		if err := n.propose(ctx, &proposal{kind: itemMember, body: memberItem(me)}).err; err != nil {
			n.log.Warn("recording this member's address", "err", err)
			if !linkis.Sleep(ctx, n.cfg.HeartbeatTimeout/4) {
				return
			}
		}
	}
	n.log.Info("leading")
	n.services.startTerm(ctx)
	defer n.services.stopTerm()
	if n.cfg.ECMs != nil {
		newReconciler(n.cfg.Reconciler, n, n.cfg.ECMs, n.log).run(ctx)
	}
	<-ctx.Done()
}

// Lead implements Store.
func (n *Node) Lead(fn func(context.Context)) (stop func()) { return n.services.register(fn) }

// ObserveJobs implements Store.
func (n *Node) ObserveJobs(o JobObserver) { n.rep.setJobObserver(o) }

// AppliedIndex implements Store.
func (n *Node) AppliedIndex() uint64 { return n.rep.appliedIndex() }

func (n *Node) effectsDue(now int64) []manager.Effect {
	var out []manager.Effect
	n.rep.read(func(s *manager.State) { out = s.EffectsDue(now) })
	return out
}

func (n *Node) changes() <-chan struct{} { return n.rep.changes() }

// Gatherer returns the member's metrics.
func (n *Node) Gatherer() prometheus.Gatherer { return n.met.reg }

func (n *Node) registerRaftMetrics() {
	gauge := func(name, help string, f func() float64) {
		n.met.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	stat := func(key string) func() float64 {
		return func() float64 {
			v, _ := strconv.ParseFloat(n.raft.Stats()[key], 64)
			return v
		}
	}
	gauge("linkis_raft_state", "Raft state of this member: 0 follower, 1 candidate, 2 leader, 3 shutdown.", func() float64 { return float64(n.raft.State()) })
	gauge("linkis_raft_term", "Current Raft term.", stat("term"))
	gauge("linkis_raft_commit_index", "Highest log index known committed.", func() float64 { return float64(n.raft.CommitIndex()) })
	gauge("linkis_raft_applied_index", "Highest log index applied.", func() float64 { return float64(n.raft.AppliedIndex()) })
	gauge("linkis_raft_last_contact_seconds", "Seconds since this member last heard from the leader (0 on the leader).", func() float64 {
		if n.raft.State() == raft.Leader {
			return 0
		}
		return time.Since(n.raft.LastContact()).Seconds()
	})
}

// slogWriter passes Raft's log lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("raft", "line", string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
