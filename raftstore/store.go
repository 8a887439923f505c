package raftstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
)

// Store is where the manager state lives, as the HTTP API and the
// reconciler use it. *Node (replicated with Raft) and *Memory (one
// in-memory replica) implement it.
type Store interface {
	// Apply applies one command through the log and returns its result, or
	// the typed error the state machine refused it with. A replica that is
	// not the leader returns an *api.NotLeaderError.
	Apply(ctx context.Context, cmd manager.Command) (manager.Result, error)
	// Read runs fn on the state. With consistent set, fn sees every command
	// acknowledged before Read was called (a linearizable read; only the
	// leader can serve it); without, it sees this replica's state, which may
	// lag the leader's.
	Read(ctx context.Context, consistent bool, fn func(*manager.State)) error
	// WaitAsk returns an ask's outcome once it is decided, or where it
	// stands when ctx ends first.
	WaitAsk(ctx context.Context, id string) (manager.AskResult, error)
	// Status returns this replica's view of the cluster.
	Status(ctx context.Context) api.Status
	// Leader reports whether this replica leads, and the leader's API
	// address when one is known.
	Leader() (self bool, httpAddr string)
	// Lead runs fn whenever this replica leads, in a goroutine of its own,
	// with a context that ends when leadership ends (fn must then return
	// promptly: the next leader starts its own run once this one has
	// given up). stop unregisters fn and waits for a run in progress.
	Lead(fn func(ctx context.Context)) (stop func())
	// ObserveJobs installs the observer of what applied entries do to
	// jobs (nil removes it).
	ObserveJobs(o JobObserver)
	// AppliedIndex is the index of the last entry this replica applied.
	AppliedIndex() uint64
	// ReadIndex is, on the leader, an index every command acknowledged
	// before the call is at or below: a replica that has applied it may
	// serve a linearizable read. A replica that does not lead returns an
	// *api.NotLeaderError.
	ReadIndex(ctx context.Context) (uint64, error)
}

// Membership is what a replicated store offers on top of Store.
type Membership interface {
	// Join adds a voter (leader only).
	Join(ctx context.Context, r api.JoinRequest) error
	// Remove removes a member, alive or dead (leader only).
	Remove(ctx context.Context, id string) error
}

// Nonce returns 64 random bits for an AskEngine proposed by a leader (lock
// tokens derive from it, so it must not be guessable).
func Nonce() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return binary.LittleEndian.Uint64(b[:])
}
