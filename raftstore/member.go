package raftstore

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// MemberConfig is what `linkis manager` runs: a Node, its HTTP API, and
// how it enters its cluster.
type MemberConfig struct {
	Node  Config
	Token string // the shared cluster token
	// Bootstrap starts a new cluster with this member as its first.
	Bootstrap bool
	// Join lists API URLs of members of an existing cluster to join.
	Join []string
	// Ready, when set, is called once the member serves its API.
	Ready func(*Node)
}

// Validate rejects a configuration a member cannot run with.
func (c MemberConfig) Validate() error {
	if err := c.Node.Validate(); err != nil {
		return err
	}
	if c.Token == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "token", "a cluster token is required")
	}
	if c.Bootstrap && len(c.Join) > 0 {
		return linkis.Errorf(linkis.ErrInvalidArgument, "join", "a member either bootstraps a cluster or joins one, not both")
	}
	return nil
}

// RunMember runs a member until ctx ends, then shuts it down cleanly: the
// API stops taking requests (those in flight finish), then Raft stops.
// A member with state on disk neither bootstraps nor joins: it rejoins its
// cluster by itself.
func RunMember(ctx context.Context, cfg MemberConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Node.ECMs == nil {
		cfg.Node.ECMs = api.NewECMClient(cfg.Token, nil)
	}
	if cfg.Node.Token == "" {
		cfg.Node.Token = cfg.Token
	}
	ln, err := net.Listen("tcp", cfg.Node.HTTPAddr)
	if err != nil {
		return err
	}
	n, err := Open(cfg.Node)
	if err != nil {
		ln.Close()
		return err
	}
	h, err := NewHandler(n, HandlerConfig{Token: cfg.Token, Metrics: n.Gatherer(), Logger: cfg.Node.Logger})
	if err != nil {
		ln.Close()
		n.Close()
		return err
	}
	// Requests that wait (an ask's outcome) end when the member stops,
	// rather than holding Shutdown for their whole wait.
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return base }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	restarted := n.HasState()
	err = enter(ctx, n, cfg)
	if err == nil && cfg.Ready != nil {
		cfg.Ready(n)
	}
	var refreshed sync.WaitGroup
	rctx, stopRefresh := context.WithCancel(ctx)
	if err == nil {
		if restarted {
			refreshed.Add(1)
			go func() {
				defer refreshed.Done()
				refreshRecord(rctx, n, cfg)
			}()
		}
		select {
		case <-ctx.Done():
		case err = <-served:
		}
	}
	stopRefresh()
	refreshed.Wait()
	cancelBase()
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shut); serr != nil && err == nil {
		err = serr
	}
	if cerr := n.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// enter bootstraps or joins the cluster, unless the member already has
// state on disk.
func enter(ctx context.Context, n *Node, cfg MemberConfig) error {
	switch {
	case n.HasState():
		return nil
	case cfg.Bootstrap:
		return n.Bootstrap()
	case len(cfg.Join) > 0:
		return JoinCluster(ctx, cfg.Join, cfg.Token, api.JoinRequest{ID: cfg.Node.ID, RaftAddr: cfg.Node.RaftAddr, HTTPAddr: cfg.Node.HTTPAddr})
	}
	return linkis.Errorf(linkis.ErrInvalidArgument, "join", "a new member must bootstrap a cluster or join one")
}

// refreshRecord makes the cluster's record of a restarted member match
// the API address it now serves at (a follower's record is otherwise
// written only when it joins or leads), by joining again through the
// leader, which is harmless when nothing changed. It returns once the
// record matches, or when ctx ends.
func refreshRecord(ctx context.Context, n *Node, cfg MemberConfig) {
	me := api.JoinRequest{ID: cfg.Node.ID, RaftAddr: cfg.Node.RaftAddr, HTTPAddr: cfg.Node.HTTPAddr}
	for {
		if m, ok := n.fsm.member(me.ID); ok && m.HTTPAddr == me.HTTPAddr && m.RaftAddr == me.RaftAddr {
			return
		}
		if self, leader := n.Leader(); !self && leader != "" && leader != me.HTTPAddr {
			if err := JoinCluster(ctx, []string{"http://" + leader}, cfg.Token, me); err != nil {
				cfg.Node.Logger.Warn("updating this member's record", "err", err)
			}
		}
		if !linkis.Sleep(ctx, cfg.Node.HeartbeatTimeout) {
			return
		}
	}
}

// JoinCluster asks the cluster whose members serve at urls to add a
// member, retrying while it has no leader or cannot be reached, until ctx
// ends.
func JoinCluster(ctx context.Context, urls []string, token string, r api.JoinRequest) error {
	c, err := api.NewClient(urls, token, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	for {
		err := c.Do(ctx, http.MethodPost, api.PathMembers, r, nil)
		if err == nil || !linkis.IsRetryable(err) {
			return err
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}
