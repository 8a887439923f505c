package raftstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Any member serves every command and every current read: a member that
// does not lead passes commands to the leader (PathCommands) and serves
// current reads itself once it has applied what the leader had when asked
// (PathReadIndex). Both need the cluster token (Config.Token); without it
// a follower answers NotLeader as before.

// commandAnswer is the leader's answer to a passed command: what the
// member's caller needs of its manager.Result. Asks are not passed (their
// outcome is waited for at the leader's API, see api.Client.Ask).
type commandAnswer struct {
	EC   manager.ECID        `json:"ec,omitempty"`
	Job  *manager.JobView    `json:"job,omitempty"`
	Jobs []manager.JobNotice `json:"jobs,omitempty"`
	ECs  []manager.ECID      `json:"ecs,omitempty"` // a KillEngines' engines
	// Index is the leader's applied index once the command was applied:
	// the member that passed it waits to have applied as much before it
	// answers, so that its caller's next read there sees the command.
	Index uint64 `json:"index"`
}

// readIndex is the leader's answer to PathReadIndex.
type readIndex struct {
	Index uint64 `json:"index"`
}

// passable reports whether a command may be passed to the leader.
func passable(cmd manager.Command) bool {
	switch cmd.(type) {
	case manager.AskEngine, manager.ReleaseEngine, manager.RenewLock:
		return false
	}
	return true
}

// forwardApply passes a command to the leader.
func (n *Node) forwardApply(ctx context.Context, cmd manager.Command) (manager.Result, error) {
	var a commandAnswer
	if err := n.callLeader(ctx, http.MethodPost, api.PathCommands, manager.EncodeCommand(cmd), &a); err != nil {
		return manager.Result{}, err
	}
	r := manager.Result{EC: a.EC, Jobs: a.Jobs, ECs: a.ECs}
	if a.Job != nil {
		r.Job = *a.Job
	}
	return r, n.waitApplied(ctx, a.Index)
}

// readIndexAt asks the leader for its applied index after a consistent
// read, then waits until this member has applied it.
func (n *Node) readIndexAt(ctx context.Context) error {
	var ri readIndex
	if err := n.callLeader(ctx, http.MethodGet, api.PathReadIndex, nil, &ri); err != nil {
		return err
	}
	return n.waitApplied(ctx, ri.Index)
}

// waitApplied returns once this member has applied index.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	for {
		ch := n.rep.changes()
		if n.rep.appliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return linkis.Errorf(linkis.ErrUnavailable, "read", "this member had not caught up with the leader's index %d when the time ran out (it is at %d)", index, n.rep.appliedIndex())
		case <-n.ctx.Done():
			return errClosed
		}
	}
}

// callLeader calls the leader's API once. A leader that cannot be reached
// (nothing was sent) is NotLeader; a call cut short after sending is
// Unavailable (it may or may not have been applied).
func (n *Node) callLeader(ctx context.Context, method, path string, body []byte, out any) error {
	_, leader := n.Leader()
	if leader == "" || n.cfg.Token == "" {
		return &api.NotLeaderError{Leader: leader, Reason: "this member does not lead and knows no leader to pass the request to"}
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+leader+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	api.SetToken(req, n.cfg.Token)
	req.Header.Set(headerForwarded, "1")
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := n.fwd.Do(req)
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		return &api.NotLeaderError{Reason: "the last known leader at " + leader + " cannot be reached"}
	case err != nil:
		return linkis.Errorf(linkis.ErrUnavailable, "leader", "passing the request to %s: %v; it may or may not have been applied", leader, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, manager.MaxCommandSize+1<<20))
	if err != nil {
		return linkis.Errorf(linkis.ErrUnavailable, "leader", "reading the answer of %s: %v; the request may or may not have been applied", leader, err)
	}
	if resp.StatusCode >= 300 {
		var env struct {
			Error api.ErrorBody `json:"error"`
		}
		if json.Unmarshal(data, &env) != nil || env.Error.Kind == "" {
			return linkis.Errorf(linkis.ErrUnavailable, "leader", "%s answered HTTP %d", leader, resp.StatusCode)
		}
		return api.ErrorFromBody(resp.StatusCode, env.Error)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("raftstore: the leader's answer to %s: %w", path, err)
	}
	return nil
}

// newForwardClient is the client members pass requests to the leader
// with: its timeout covers the longest wait a request may carry.
func newForwardClient() *http.Client {
	return &http.Client{Timeout: api.MaxWait + 30*time.Second}
}

// commands serves PathCommands: the leader applies a member's command.
func (h *handler) commands(w http.ResponseWriter, r *http.Request) {
	body, err := api.ReadBody(w, r, manager.MaxCommandSize)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	cmd, err := manager.DecodeCommand(body)
	if err == nil && !passable(cmd) {
		err = linkis.Errorf(linkis.ErrInvalidArgument, "command", "%v is not passed between members; use the asks API", cmd.Type())
	}
	if err != nil {
		api.WriteError(w, err)
		return
	}
	if self, leader := h.s.Leader(); !self {
		// Never passed on twice: the member that sent it picks another.
		api.WriteError(w, &api.NotLeaderError{Leader: leader})
		return
	}
	res, err := h.s.Apply(r.Context(), cmd)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	a := commandAnswer{EC: res.EC, Jobs: res.Jobs, ECs: res.ECs, Index: h.s.AppliedIndex()}
	if res.Job.TaskID != 0 {
		a.Job = &res.Job
	}
	api.WriteJSON(w, http.StatusOK, a)
}

// readIndex serves PathReadIndex: the leader's read index.
func (h *handler) readIndex(w http.ResponseWriter, r *http.Request) {
	if self, leader := h.s.Leader(); !self {
		api.WriteError(w, &api.NotLeaderError{Leader: leader})
		return
	}
	index, err := h.s.ReadIndex(r.Context())
	if err != nil {
		api.WriteError(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, readIndex{Index: index})
}
