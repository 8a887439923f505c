package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// fsm is the manager state as a raft.FSM: command entries go through the
// replica (which wakes waiters), member entries keep every member's API
// address.
type fsm struct {
	rep *replica
	met *metrics

	mu      sync.RWMutex
	members map[string]api.Member // by id: where each member's API is
}

// Apply implements raft.FSM. It returns []outcome for a commands entry
// (one per command, in order) and an error for an entry it cannot
// decode; the proposer gets either through the apply future.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || len(l.Data) == 0 {
		return nil
	}
	body := l.Data[1:]
	switch l.Data[0] {
	case entryCommands:
		cmds, err := decodeCommands(body)
		if err != nil {
			return err
		}
		start := time.Now()
		outs := f.rep.apply(l.Index, cmds)
		f.met.apply.Observe(time.Since(start).Seconds())
		f.met.batch.Observe(float64(len(cmds)))
		return outs
	case entryMember:
		var m api.Member
		if err := json.Unmarshal(body, &m); err != nil {
			return linkis.Errorf(linkis.ErrMalformed, "entry", "bad member: %v", err)
		}
		f.mu.Lock()
		f.members[m.ID] = m
		f.mu.Unlock()
	case entryMemberRemove:
		f.mu.Lock()
		delete(f.members, string(body))
		f.mu.Unlock()
	default:
		// An entry kind from a newer version: skip it rather than stop
		// applying (the same rule as the commands' ignore bit).
	}
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
// one).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
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
	if err := f.rep.restore(data[k+int(n):]); err != nil {
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
