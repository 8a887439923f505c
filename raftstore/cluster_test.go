package raftstore

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/manager"
)

// cutLayer is plain TCP that a test can cut: dials to blocked peers fail
// and connections already dialed to them are closed, which cuts both
// directions once both sides block each other.
type cutLayer struct {
	net.Listener
	mu      sync.Mutex
	blocked map[raft.ServerAddress]bool
	conns   map[raft.ServerAddress][]net.Conn
}

func (l *cutLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.blocked[addr] {
		return nil, fmt.Errorf("cut from %s", addr)
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err == nil {
		l.conns[addr] = append(l.conns[addr], c)
	}
	return c, err
}

func (l *cutLayer) cut(addrs ...raft.ServerAddress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range addrs {
		l.blocked[a] = true
		for _, c := range l.conns[a] {
			c.Close()
		}
		delete(l.conns, a)
	}
}

func (l *cutLayer) heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocked = map[raft.ServerAddress]bool{}
}

// testMember is one member of a test cluster and its HTTP API.
type testMember struct {
	id, raftAddr, httpAddr, dir string
	node                        *Node
	layer                       *cutLayer
	srv                         *http.Server
	srvDone                     chan struct{}
}

type testCluster struct {
	t       testing.TB
	members []*testMember
	ecms    *FakeECMs
	mutate  func(*Config)
}

// freeAddr returns a loopback address nobody listens on right now.
// freeAddr is a loopback address free now, for a member to bind later -
// and again after a restart. Its port is below the kernel's ephemeral
// range (32768-60999), from which a port :0 gives would also go to the
// outgoing connections of every test running meanwhile: one took a
// member's port between freeAddr and the bind under make test's load.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000)))
		if err == nil {
			defer l.Close()
			return l.Addr().String()
		}
	}
	t.Fatal("no free loopback port in 20000-31999")
	return ""
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.HeartbeatTimeout = 150 * time.Millisecond
	cfg.ElectionTimeout = 150 * time.Millisecond
	cfg.LeaderLeaseTimeout = 100 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
	cfg.ApplyTimeout = 2 * time.Second
	cfg.Reconciler.Interval = 20 * time.Millisecond
	cfg.Reconciler.Resend = 200 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(testLogWriter{}, &slog.HandlerOptions{Level: slog.LevelError}))
	return cfg
}

type testLogWriter struct{}

func (testLogWriter) Write(p []byte) (int, error) { return len(p), nil }

// newTestCluster starts n members on loopback: the first bootstraps, the
// others join through its HTTP API.
func newTestCluster(t testing.TB, n int, mutate func(*Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, ecms: &FakeECMs{}, mutate: mutate}
	for i := 0; i < n; i++ {
		m := &testMember{id: fmt.Sprintf("m%d", i+1), raftAddr: freeAddr(t), httpAddr: freeAddr(t), dir: t.TempDir()}
		c.members = append(c.members, m)
		c.start(m)
		if i == 0 {
			if err := m.node.Bootstrap(); err != nil {
				t.Fatal(err)
			}
			c.leader()
			continue
		}
		// A join that meets a change of leader (a loaded machine) is asked
		// again, as its answer says.
		cl := c.client(c.members[0])
		join := api.JoinRequest{ID: m.id, RaftAddr: m.raftAddr, HTTPAddr: m.httpAddr}
		if _, err := retrying(func() (api.AskResult, error) {
			return api.AskResult{}, cl.Do(context.Background(), http.MethodPost, api.PathMembers, join, nil)
		}); err != nil {
			t.Fatalf("join %s: %v", m.id, err)
		}
	}
	t.Cleanup(c.close)
	c.converge()
	return c
}

func (c *testCluster) start(m *testMember) {
	c.t.Helper()
	ln, err := net.Listen("tcp", m.raftAddr)
	if err != nil {
		c.t.Fatal(err)
	}
	m.layer = &cutLayer{Listener: ln, blocked: map[raft.ServerAddress]bool{}, conns: map[raft.ServerAddress][]net.Conn{}}
	cfg := testConfig()
	cfg.ID, cfg.DataDir, cfg.RaftAddr, cfg.HTTPAddr, cfg.Stream, cfg.ECMs = m.id, m.dir, m.raftAddr, m.httpAddr, m.layer, c.ecms
	if c.mutate != nil {
		c.mutate(&cfg)
	}
	if m.node, err = Open(cfg); err != nil {
		c.t.Fatal(err)
	}
	h, err := NewHandler(m.node, HandlerConfig{Token: testToken, Metrics: m.node.Gatherer(), Logger: cfg.Logger})
	if err != nil {
		c.t.Fatal(err)
	}
	hl, err := net.Listen("tcp", m.httpAddr)
	if err != nil {
		c.t.Fatal(err)
	}
	m.srv = &http.Server{Handler: h}
	m.srvDone = make(chan struct{})
	go func() {
		defer close(m.srvDone)
		_ = m.srv.Serve(hl)
	}()
}

// stop closes a member as a crash would leave it: its API and Raft stop,
// its disk stays.
func (c *testCluster) stop(m *testMember) {
	if m.node == nil {
		return
	}
	_ = m.srv.Close()
	<-m.srvDone
	if err := m.node.Close(); err != nil {
		c.t.Logf("closing %s: %v", m.id, err)
	}
	m.node = nil
}

func (c *testCluster) close() {
	for _, m := range c.members {
		c.stop(m)
	}
}

func (c *testCluster) live() []*testMember {
	var out []*testMember
	for _, m := range c.members {
		if m.node != nil {
			out = append(out, m)
		}
	}
	return out
}

// leader waits until one live member leads and the others agree.
func (c *testCluster) leader() *testMember {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var lead *testMember
		agree := true
		for _, m := range c.live() {
			if m.node.raft.State() == raft.Leader {
				if lead != nil {
					agree = false
				}
				lead = m
			}
		}
		if lead != nil && agree {
			if self, _ := lead.node.Leader(); self {
				return lead
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader elected within 10 s")
	return nil
}

func (c *testCluster) followers() []*testMember {
	lead := c.leader()
	var out []*testMember
	for _, m := range c.live() {
		if m != lead {
			out = append(out, m)
		}
	}
	return out
}

// client talks to the given members only (all live members when none).
func (c *testCluster) client(ms ...*testMember) *api.Client {
	c.t.Helper()
	if len(ms) == 0 {
		ms = c.members
	}
	var urls []string
	for _, m := range ms {
		urls = append(urls, "http://"+m.httpAddr)
	}
	cl, err := api.NewClient(urls, testToken, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// snapshotOf returns a member's manager state, encoded.
func snapshotOf(m *testMember) []byte {
	var b []byte
	m.node.rep.read(func(s *manager.State) { b = s.Snapshot() })
	return b
}

// converge waits until every live member holds the leader's state byte
// for byte, and checks the invariants on each.
func (c *testCluster) converge() {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		lead := c.leader()
		// A barrier makes every earlier entry committed and applied on the
		// leader; followers then catch up to its last index.
		if err := lead.node.Read(context.Background(), true, func(*manager.State) {}); err != nil {
			c.t.Logf("barrier: %v", err)
		}
		want := snapshotOf(lead)
		same := true
		for _, m := range c.live() {
			if !bytes.Equal(snapshotOf(m), want) {
				same = false
			}
		}
		if same {
			for _, m := range c.live() {
				var err error
				m.node.rep.read(func(s *manager.State) { err = manager.CheckInvariants(s) })
				if err != nil {
					c.t.Fatalf("%s: %v", m.id, err)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatal("members did not converge to the leader's state within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *testCluster) registerECM(id string) {
	c.t.Helper()
	err := c.client().RegisterECM(context.Background(), api.RegisterECMRequest{ID: id, Addr: "127.0.0.1:1" + id[len(id)-1:],
		Max: &api.Resource{Memory: 1 << 40, MilliCores: 1 << 30, Instances: 10000}})
	if err != nil {
		c.t.Fatal(err)
	}
}

func TestClusterElectsReplicatesAndForwards(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.registerECM("ecm-1")
	ctx := context.Background()
	// Writes through a follower only: forwarded to the leader.
	f := c.followers()[0]
	cl := c.client(f)
	a, err := cl.Ask(ctx, askReq("a1", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "Granted" || !a.Created {
		t.Fatalf("ask through a follower: %+v, want Granted after the leader's reconciler started the engine", a)
	}
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lead := c.leader()
	if st.ID != f.id || st.Leader != lead.id || st.LeaderHTTP != lead.httpAddr || len(st.Members) != 3 || st.Term == 0 {
		t.Errorf("follower's status %+v: want itself, leader %s at %s, 3 members", st, lead.id, lead.httpAddr)
	}
	// A consistent read through a follower sees the write.
	got, err := cl.GetAsk(ctx, "a1", 0)
	if err != nil || got.Status != "Granted" || got.EC != a.EC {
		t.Fatalf("read through a follower: %+v, %v", got, err)
	}
	c.converge()
	for _, m := range c.live() {
		var ok bool
		m.node.rep.read(func(s *manager.State) { _, ok = s.Ask("a1") })
		if !ok {
			t.Errorf("%s does not hold the ask", m.id)
		}
	}
	// The leader's metrics say it leads and show its batches.
	wantMetrics(t, "http://"+lead.httpAddr, "linkis_raft_state 2", "linkis_raft_term ", "linkis_batch_commands_count ",
		"linkis_apply_seconds_count ", "linkis_commit_seconds_count ", `linkis_ecm_resource{dim="instances",ecm="ecm-1",kind="used"} 1`)
}

func TestClusterMembership(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	ctx := context.Background()
	// Remove a dead member: the cluster of two still commits.
	dead := c.followers()[0]
	c.stop(dead)
	cl := c.client(c.leader())
	if err := cl.Do(ctx, http.MethodDelete, api.PathMembers+"/"+dead.id, nil, nil); err != nil {
		t.Fatal(err)
	}
	var ms []api.Member
	if err := cl.Do(ctx, http.MethodGet, api.PathMembers, nil, &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("members after removal: %+v", ms)
	}
	c.registerECM("ecm-1")
	// Bad membership requests change nothing.
	for _, bad := range []api.JoinRequest{
		{ID: "", RaftAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2"},
		{ID: "x", RaftAddr: "not an address", HTTPAddr: "127.0.0.1:2"},
		{ID: "x", RaftAddr: c.leader().raftAddr, HTTPAddr: "127.0.0.1:2"},
	} {
		if err := cl.Do(ctx, http.MethodPost, api.PathMembers, bad, nil); err == nil {
			t.Errorf("join %+v accepted", bad)
		}
	}
	if err := cl.Do(ctx, http.MethodDelete, api.PathMembers+"/nobody", nil, nil); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("removing an unknown member: %v", err)
	}
	if err := cl.Do(ctx, http.MethodGet, api.PathMembers, nil, &ms); err != nil || len(ms) != 2 {
		t.Fatalf("members after bad requests: %+v, %v", ms, err)
	}
}
