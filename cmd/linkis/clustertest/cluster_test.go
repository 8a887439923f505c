//go:build linux

package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/internal/hosts"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// The cluster's fixed identities: each host has its own address, so every
// process listens on the same ports of its own. The jobs' user is one no
// host knows: the ECMs (root, --allow-root-engines) run its engines as
// themselves, with their own $HOME - the host's directory where the jobs
// record their runs.
const (
	clusterToken = "clustertest-cluster-token-0123456789"
	jobUser      = "lkchaos"
	jobUserCode  = "lkchaos-code"
	raftPort     = 7000
	apiPort      = 8080
	ecmPort      = 9090
)

// clusterConfig shapes a cluster.
type clusterConfig struct {
	Members   int           // `linkis server` members, on hosts m1..mN
	ECMHosts  int           // `linkis ecm` hosts, e1..eN
	MemberECM bool          // members run an ECM of their own too (else --no-ecm)
	Heartbeat time.Duration // the members' Raft heartbeat and election timeout (default 500ms)
	Instances int           // engines each ECM offers (default 20)
}

// node is a host of the cluster and the linkis process it runs.
type node struct {
	Name   string // m1.., e1..
	Member bool   // a server member (else an ECM host)
	Host   *hosts.Host
	dir    string // its data directory
	home   string // $HOME of its processes: jobs record their runs there
	logf   string // its processes' output, every run appended

	mu   sync.Mutex
	proc *hosts.Proc
	runs int
}

// URL is the member's API (or the ECM's) base URL.
func (n *node) URL() string {
	if n.Member {
		return n.Host.URL(apiPort)
	}
	return n.Host.URL(ecmPort)
}

func (n *node) process() *hosts.Proc {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

// cluster is a running cluster on its hosts, and the host its clients
// run on.
type cluster struct {
	t       testing.TB
	cfg     clusterConfig
	net     *hosts.Net
	dir     string
	Members []*node
	ECMs    []*node
	Client  *hosts.Host  // where the test's clients run
	hc      *http.Client // from Client, 10 s per call
	report  *report
}

// newCluster builds the hosts, starts the members (the first bootstraps,
// the others join it) and the ECM hosts, and waits until every member and
// ECM is in. Everything is stopped and removed when the test ends.
func newCluster(t testing.TB, cfg clusterConfig) *cluster {
	t.Helper()
	if cfg.Heartbeat == 0 {
		// Not the 200 ms of the failover figure: on a shared 2-core
		// machine under load, 200 ms let leadership flap for a minute at a
		// time; the tests check what happens, not how fast.
		cfg.Heartbeat = 500 * time.Millisecond
	}
	if cfg.Instances == 0 {
		cfg.Instances = 20
	}
	c := &cluster{t: t, cfg: cfg, dir: t.TempDir()}
	// Cleanups run last first: the network (every process) goes before
	// the report is written, and that before the directory is removed.
	c.report = newReport(t, c.dir)
	c.net = hosts.New(t)
	for i := 1; i <= cfg.Members; i++ {
		c.Members = append(c.Members, c.addNode(fmt.Sprintf("m%d", i), true))
	}
	for i := 1; i <= cfg.ECMHosts; i++ {
		c.ECMs = append(c.ECMs, c.addNode(fmt.Sprintf("e%d", i), false))
	}
	c.Client = c.net.AddHost("client")
	c.hc = c.Client.HTTPClient(10 * time.Second)

	first := c.Members[0]
	c.start(first, "--bootstrap")
	c.waitFor("the first member to lead", time.Minute, func() bool {
		st, err := c.status(first)
		return err == nil && st.State == "Leader"
	})
	for _, m := range c.Members[1:] {
		c.start(m, "--join", first.URL())
	}
	c.waitFor("every member to join", time.Minute, func() bool {
		st, err := c.status(first)
		return err == nil && len(st.Members) == len(c.Members)
	})
	for _, e := range c.ECMs {
		c.start(e)
	}
	want := len(c.ECMs)
	if cfg.MemberECM {
		want += len(c.Members)
	}
	c.waitFor("every ECM to register", time.Minute, func() bool {
		st, err := c.status(first)
		return err == nil && st.ECMs == want
	})
	return c
}

func (c *cluster) addNode(name string, member bool) *node {
	n := &node{Name: name, Member: member, Host: c.net.AddHost(name),
		dir: filepath.Join(c.dir, name, "data"), home: filepath.Join(c.dir, name, "home"),
		logf: filepath.Join(c.dir, name+".log")}
	for _, d := range []string{n.dir, n.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			c.t.Fatal(err)
		}
	}
	c.report.addLog(n.logf)
	c.report.addTree(name, n.dir)
	return n
}

// args returns the command line of a node's process.
func (c *cluster) args(n *node) []string {
	if !n.Member {
		var managers []string
		for _, m := range c.Members {
			managers = append(managers, m.URL())
		}
		return []string{"ecm", "--id", "ecm-" + n.Name, "--manager", strings.Join(managers, ","),
			"--data-dir", n.dir, "--http-addr", n.Host.Addr(ecmPort), "--allow-root-engines",
			"--instances", strconv.Itoa(c.cfg.Instances), "--memory", "64g", "--cores", "64",
			"--heartbeat", "1s", "--kill-grace", "1s"}
	}
	a := []string{"server", "--id", n.Name, "--data-dir", n.dir, "--raft-addr", n.Host.Addr(raftPort),
		"--http-addr", n.Host.Addr(apiPort), "--heartbeat-timeout", c.cfg.Heartbeat.String()}
	if c.cfg.MemberECM {
		a = append(a, "--ecm-addr", n.Host.Addr(ecmPort))
	} else {
		a = append(a, "--no-ecm")
	}
	return a
}

// start starts a node's process with extra arguments (--bootstrap, --join:
// a restart from disk needs neither).
func (c *cluster) start(n *node, extra ...string) {
	c.t.Helper()
	cmd := n.Host.Command(linkisBin, append(c.args(n), extra...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINKIS_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+n.home, "LINKIS_TOKEN="+clusterToken, "LINKIS_USERS="+jobUser+":"+jobUserCode)
	f, err := os.OpenFile(n.logf, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	n.mu.Lock()
	n.runs++
	fmt.Fprintf(f, "==== %s run %d: linkis %s\n", time.Now().Format(time.RFC3339Nano), n.runs, strings.Join(cmd.Args[4:], " "))
	n.mu.Unlock()
	cmd.Stdout, cmd.Stderr = f, f
	p, err := n.Host.Start(cmd)
	if err != nil {
		c.t.Fatalf("starting %s: %v", n.Name, err)
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
}

// kill is kill -9 of the node's linkis process (its engines, if any, live
// on).
func (c *cluster) kill(n *node) {
	c.t.Helper()
	if p := n.process(); p != nil {
		if err := p.Kill(); err != nil {
			c.t.Fatalf("kill -9 %s: %v", n.Name, err)
		}
	}
}

// crash is kill -9 of everything on the node's host.
func (c *cluster) crash(n *node) {
	c.t.Helper()
	if err := n.Host.Crash(); err != nil {
		c.t.Fatalf("crashing %s: %v", n.Name, err)
	}
}

// A fault on a node.
type fault int

const (
	killFault  fault = iota // kill -9 of its linkis process (an ECM's engines live on)
	crashFault              // kill -9 of everything on its host
	cutFault                // its host off the network
)

// inject strikes node n (role says what it is: leader, follower, ECM)
// with f, recorded in h.
func (c *cluster) inject(h *history, f fault, n *node, role string) {
	c.t.Helper()
	switch f {
	case killFault:
		h.fault("kill -9 %s (%s)", n.Name, role)
		c.kill(n)
	case crashFault:
		h.fault("crash of %s (%s)", n.Name, role)
		c.crash(n)
	case cutFault:
		h.fault("partition: %s (%s) cut off", n.Name, role)
		c.cut(n)
	}
}

// recover undoes fault f on node n - restarts it from its data directory
// or puts it back on the network - and waits until a member has rejoined.
func (c *cluster) recover(h *history, f fault, n *node) {
	c.t.Helper()
	if f == cutFault {
		h.fault("partition of %s healed", n.Name)
		c.heal(n)
	} else {
		h.fault("%s restarted", n.Name)
		c.restart(n)
	}
	if n.Member {
		c.waitRejoined(n)
	}
}

// cut takes the node's host off the network (its link down).
func (c *cluster) cut(n *node) {
	c.t.Helper()
	if err := n.Host.Disconnect(); err != nil {
		c.t.Fatal(err)
	}
}

// heal puts the node's host back on the network.
func (c *cluster) heal(n *node) {
	c.t.Helper()
	if err := n.Host.Reconnect(); err != nil {
		c.t.Fatal(err)
	}
}

// restart starts a node that was killed again, from its data directory.
func (c *cluster) restart(n *node) {
	c.t.Helper()
	if p := n.process(); p != nil {
		select {
		case <-p.Done():
		default:
			c.t.Fatalf("restart of %s, which runs", n.Name)
		}
	}
	c.start(n)
}

// running reports whether the node's process runs.
func (n *node) running() bool {
	p := n.process()
	if p == nil {
		return false
	}
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// manager returns a client of one member's manager API (no failover).
func (c *cluster) manager(n *node) *api.Client {
	cl, err := api.NewClient([]string{n.URL()}, clusterToken, c.hc)
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// status is a member's /v1/status, within 2 s.
func (c *cluster) status(n *node) (api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.manager(n).Status(ctx)
}

// leader returns the member that leads, as the members that run agree
// (waiting for one, up to a minute).
func (c *cluster) leader() *node {
	c.t.Helper()
	var l *node
	c.waitFor("a leader", time.Minute, func() bool {
		l = c.leaderNow()
		return l != nil
	})
	return l
}

// leaderNow returns the member that says it leads and that the other
// running members name as leader, or nil.
func (c *cluster) leaderNow() *node { return c.leaderOf(c.Members) }

// leaderOf returns the member of ms that says it leads and that the other
// running members of ms name as leader, or nil.
func (c *cluster) leaderOf(ms []*node) *node {
	var l *node
	var id string
	for _, m := range ms {
		if !m.running() {
			continue
		}
		st, err := c.status(m)
		if err != nil {
			return nil
		}
		if st.State == "Leader" {
			if l != nil {
				return nil
			}
			l = m
		}
		if id == "" {
			id = st.Leader
		} else if st.Leader != id {
			return nil
		}
	}
	if l == nil || id == "" {
		return nil
	}
	return l
}

// follower returns a running member that does not lead.
func (c *cluster) follower() *node {
	c.t.Helper()
	l := c.leader()
	for _, m := range c.Members {
		if m != l && m.running() {
			return m
		}
	}
	c.t.Fatal("no follower runs")
	return nil
}

// waitRejoined waits until member n follows the leader the others follow,
// in its term, and has applied everything the leader had committed when
// the wait began.
func (c *cluster) waitRejoined(n *node) {
	c.t.Helper()
	var lst api.Status
	c.waitFor(n.Name+" to rejoin", time.Minute, func() bool {
		l := c.leaderNow()
		if l == nil {
			return false
		}
		if lst.ID != l.Name {
			var err error
			if lst, err = c.status(l); err != nil || lst.State != "Leader" {
				lst = api.Status{}
				return false
			}
		}
		st, err := c.status(n)
		return err == nil && st.Leader == lst.ID && st.Term == lst.Term && st.AppliedIndex >= lst.CommitIndex
	})
}

// rest returns a client of one member's REST API as the jobs' user.
func (c *cluster) rest(n *node) *restapi.Client {
	cl, err := restapi.NewClient(n.URL(), jobUser, jobUserCode, c.hc)
	if err != nil {
		c.t.Fatal(err)
	}
	cl.PollMin, cl.PollMax = 50*time.Millisecond, 500*time.Millisecond
	return cl
}

// waitFor polls cond every 50 ms until it holds, failing the test after
// timeout (a bound on liveness, generous on a busy machine; never a
// measurement).
func (c *cluster) waitFor(what string, timeout time.Duration, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
