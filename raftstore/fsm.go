package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// fsm is the manager state as a raft.FSM: command items go through the
// replica (which wakes waiters), member items keep every member's API
// address, and the member that proposed an entry is handed its outcomes.
type fsm struct {
	rep     *replica
	met     *metrics
	deliver func(epoch, seq uint64, outs []outcome, err error) // to the proposer

	mu      sync.RWMutex
	members map[string]api.Member // by id: where each member's API is

	// term is the term of the last entry applied: a leader whose own term
	// it is has applied every write acknowledged before now (see Node.Read).
	term atomic.Uint64
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	epoch, seq, items, err := decodeEntry(l.Data)
	if err != nil {
		// Every replica of this version refuses it alike, so the states
		// stay equal; the proposer's callers are told (the leader refuses
		// what it cannot encode, so this is a newer member's entry).
		f.rep.apply(l.Index, nil)
		f.term.Store(l.Term)
		f.deliver(epoch, seq, nil, err)
		return err
	}
	start := time.Now()
	outs := make([]outcome, len(items))
	cmds := make([]manager.Command, 0, len(items))
	for _, it := range items {
		if it.kind == itemCommand {
			cmds = append(cmds, it.cmd)
		}
	}
	// Applied even without commands: the entry of a consistent read (a
	// no-op item) must move the applied index, which is what the leader
	// answers a follower's read with and what the follower waits for.
	applied := f.rep.apply(l.Index, cmds)
	if len(cmds) > 0 {
		f.met.apply.Observe(time.Since(start).Seconds())
		f.met.batch.Observe(float64(len(cmds)))
	}
	for i, it := range items {
		switch it.kind {
		case itemCommand:
			outs[i], applied = applied[0], applied[1:]
		case itemMember:
			var m api.Member
			if err := json.Unmarshal(it.body, &m); err != nil {
				outs[i].err = linkis.Errorf(linkis.ErrMalformed, "member", "%v", err)
				continue
			}
			f.mu.Lock()
			f.members[m.ID] = m
			f.mu.Unlock()
		case itemMemberRemove:
			f.mu.Lock()
			delete(f.members, string(it.body))
			f.mu.Unlock()
		}
	}
	f.term.Store(l.Term)
	f.deliver(epoch, seq, outs, nil)
	return nil
}

func (f *fsm) member(id string) (api.Member, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.members[id]
	return m, ok
}

// snapshotMagic starts every snapshot file; the byte after it is the
// format version.
var snapshotMagic = []byte("LKRS\x01")

// Snapshot implements raft.FSM. Raft calls it on the goroutine that
// applies entries, so the state cannot change while it is encoded; the
// bytes are written out later, concurrently with new entries.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	ms := make([]api.Member, 0, len(f.members))
	for _, m := range f.members {
		ms = append(ms, m)
	}
	f.mu.RUnlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	meta, _ := json.Marshal(ms)
	var state []byte
	f.rep.read(func(s *manager.State) { state = s.Snapshot() })
	b := make([]byte, 0, len(snapshotMagic)+binary.MaxVarintLen64+len(meta)+len(state))
	b = append(b, snapshotMagic...)
	b = binary.AppendUvarint(b, uint64(len(meta)))
	b = append(b, meta...)
	return snapshot(append(b, state...)), nil
}

// Restore implements raft.FSM: the state is replaced by the snapshot's,
// every invariant checked (manager.Restore refuses a state that breaks
// one), and it stands at the snapshot's log index (see snapshotIndex).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	index := snapshotIndex(rc)
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("raftstore: reading the snapshot: %w", err)
	}
	if !bytes.HasPrefix(data, snapshotMagic) {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot", "not a manager snapshot of a version this member knows")
	}
	data = data[len(snapshotMagic):]
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot", "members cut short")
	}
	var ms []api.Member
	if err := json.Unmarshal(data[k:k+int(n)], &ms); err != nil {
		return linkis.Errorf(linkis.ErrMalformed, "snapshot", "bad members: %v", err)
	}
	if err := f.rep.restore(data[k+int(n):], index); err != nil {
		return fmt.Errorf("raftstore: restoring the manager state: %w", err)
	}
	f.mu.Lock()
	f.members = make(map[string]api.Member, len(ms))
	for _, m := range ms {
		f.members[m.ID] = m
	}
	f.mu.Unlock()
	return nil
}

// snapshot is an encoded state waiting to be written.
type snapshot []byte

// Persist implements raft.FSMSnapshot.
func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s snapshot) Release() {}

// indexedSnapshots is the snapshot store handed to Raft: it tells the FSM
// the log index of the snapshot it restores. Raft restores only snapshots
// it opened from its store (at start, after installing one sent by the
// leader, on a user's Restore), but raft.FSM.Restore is given the bytes
// alone; the reader Open returns carries the index, and Raft wraps it in
// readers that implement raft.ReadCloserWrapper.
type indexedSnapshots struct{ raft.SnapshotStore }

// Open implements raft.SnapshotStore.
func (s indexedSnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	if err != nil {
		return nil, nil, err
	}
	return meta, indexedReader{ReadCloser: rc, index: meta.Index}, nil
}

// indexedReader is a snapshot's bytes and its log index.
type indexedReader struct {
	io.ReadCloser
	index uint64
}

// snapshotIndex returns the log index of the snapshot rc reads: 0 (the
// state claims no entry) for a reader that did not come from
// indexedSnapshots, so that a follower's read waits for a later entry
// rather than serve a state older than the index it claims.
func snapshotIndex(rc io.ReadCloser) uint64 {
	for {
		switch r := rc.(type) {
		case indexedReader:
			return r.index
		case raft.ReadCloserWrapper:
			rc = r.WrappedReadCloser()
		default:
			return 0
		}
	}
}
