package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

// Member makes a System one member of a cluster of servers: the manager
// and the job queues are replicated with Raft over TCP among the members,
// every member serves every API on one address - the manager's (/v1/...,
// for ECMs, engines and peers), Linkis's REST API (/api/rest_j/v1/...)
// and /metrics - and, unless NoECM, runs an ECM for its own host. ECMs on
// other hosts join with `linkis ecm --manager URL,...`.
type Member struct {
	// ID names the member in the cluster; it must stay the same across
	// restarts.
	ID string
	// RaftAddr is the host:port Raft listens on and peers dial.
	RaftAddr string
	// HTTPAddr is the host:port this member's APIs listen on, as peers,
	// ECMs, engines and clients reach it.
	HTTPAddr string
	// Bootstrap starts a new cluster with this member; Join lists API URLs
	// of members of a cluster to join. A member with state on disk does
	// neither: it rejoins by itself.
	Bootstrap bool
	Join      []string
	// Token is the cluster token every member, ECM and engine shares.
	Token string
	// NoECM runs no ECM on this member; ECMAddr is where its ECM listens
	// (default: HTTPAddr's host, a port kept in the data directory).
	NoECM   bool
	ECMAddr string
	// Raft tunes the member (nil: raftstore.DefaultConfig's timing).
	Raft func(*raftstore.Config)
	// JoinTimeout bounds how long Start waits to enter the cluster and see
	// a leader (default 2 min).
	JoinTimeout time.Duration
}

func (m *Member) validate() error {
	switch {
	case m.ID == "":
		return linkis.Errorf(linkis.ErrInvalidArgument, "id", "a cluster member needs an id (--id), unique in the cluster")
	case m.RaftAddr == "" || m.HTTPAddr == "":
		return linkis.Errorf(linkis.ErrInvalidArgument, "raft-addr", "a cluster member needs --raft-addr and --http-addr (host:port each)")
	case len(m.Token) < 16:
		return linkis.Errorf(linkis.ErrInvalidArgument, "token", "a cluster member needs the cluster token (at least 16 bytes; $LINKIS_TOKEN)")
	case m.Bootstrap && len(m.Join) > 0:
		return linkis.Errorf(linkis.ErrInvalidArgument, "join", "a member either bootstraps a cluster or joins one, not both")
	}
	for _, a := range []string{m.RaftAddr, m.HTTPAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return linkis.ValueError(linkis.ErrInvalidArgument, "addr", a, "must be host:port")
		}
	}
	return nil
}

// memberAPI is what a member serves: the manager's API at once, the
// REST API and the console once Handler installs them.
type memberAPI struct {
	mgr     http.Handler
	rest    atomic.Pointer[http.Handler]
	console atomic.Pointer[http.Handler]
	metrics atomic.Pointer[http.Handler]
}

func (h *memberAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var next http.Handler
	switch {
	case r.URL.Path == api.PathMetrics:
		if p := h.metrics.Load(); p != nil {
			next = *p
		} else {
			next = h.mgr
		}
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		next = h.mgr
	case isAPIPath(r.URL.Path):
		if p := h.rest.Load(); p != nil {
			next = *p
		}
	default:
		if p := h.console.Load(); p != nil {
			next = *p
		}
	}
	if next == nil {
		if strings.HasPrefix(r.URL.Path, restapi.Prefix) {
			// A Linkis envelope, and a kind that says nothing was done
			// (ErrUnavailable would tell a client its job may have been
			// accepted): the multi-host tests saw clients give up on jobs a
			// restarted member refused while it started.
			restapi.WriteError(w, r, linkis.Errorf(linkis.ErrNotLeader, "server", "this member is starting and took nothing; ask another member, or again in a moment"))
			return
		}
		if !isAPIPath(r.URL.Path) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "this member is starting: the console is served in a moment", http.StatusServiceUnavailable)
			return
		}
		api.WriteError(w, linkis.Errorf(linkis.ErrUnavailable, "server", "starting: the REST API is not served yet"))
		return
	}
	next.ServeHTTP(w, r)
}

// startMember opens the member's Raft node, serves its APIs and enters
// the cluster.
func (s *System) startMember(mc manager.Config) error {
	m := s.cfg.Member
	rc := raftstore.DefaultConfig()
	rc.ID, rc.DataDir, rc.RaftAddr, rc.HTTPAddr, rc.Token = m.ID, filepath.Join(s.dir, "manager"), m.RaftAddr, m.HTTPAddr, m.Token
	rc.Manager, rc.Plugins, rc.ECMs = mc, s.cfg.Plugins, api.NewECMClient(m.Token, nil)
	if s.cfg.LogStore != "" {
		rc.LogStore = s.cfg.LogStore
	}
	if s.cfg.Reconciler != nil {
		rc.Reconciler = *s.cfg.Reconciler
	}
	rc.Logger = s.log.With("part", "manager")
	if m.Raft != nil {
		m.Raft(&rc)
	}
	ln, err := net.Listen("tcp", m.HTTPAddr)
	if err != nil {
		return fmt.Errorf("embedded: the member's API: %w", err)
	}
	n, err := raftstore.Open(rc)
	if err != nil {
		ln.Close()
		return err
	}
	s.mgr, s.node = n, n
	mh, err := raftstore.NewHandler(n, raftstore.HandlerConfig{Token: m.Token, Metrics: n.Gatherer(), Logger: s.log})
	if err != nil {
		ln.Close()
		return err
	}
	s.api = &memberAPI{mgr: mh}
	s.mgrURL = "http://" + m.HTTPAddr
	s.stopMgr = serve(ln, s.api, s.log)
	if s.client, err = api.NewClient([]string{s.mgrURL}, m.Token, nil); err != nil {
		return err
	}
	timeout := m.JoinTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	mcfg := raftstore.MemberConfig{Node: rc, Token: m.Token, Bootstrap: m.Bootstrap, Join: m.Join}
	restarted := n.HasState()
	if err := raftstore.Enter(ctx, n, mcfg); err != nil {
		return fmt.Errorf("embedded: entering the cluster: %w", err)
	}
	if restarted {
		rctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			raftstore.RefreshRecord(rctx, n, mcfg)
		}()
		s.stopRefresh = func() { stop(); <-done }
	}
	for {
		if _, leader := n.Leader(); leader != "" {
			return nil
		}
		if !linkis.Sleep(ctx, 20*time.Millisecond) {
			return errors.New("embedded: no leader of the cluster is known: is a quorum of members up?")
		}
	}
}

// memberECMAddr is where a member's ECM listens: Member.ECMAddr, else the
// member's API host on a port kept in the data directory.
func (s *System) memberECMAddr() (string, error) {
	m := s.cfg.Member
	if m.ECMAddr != "" {
		return m.ECMAddr, nil
	}
	host, _, _ := net.SplitHostPort(m.HTTPAddr)
	ln, err := listenKept(s.dir, "ecm", host)
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}
