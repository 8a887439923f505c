package ecm_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// linkisBin is the real linkis binary, built once for this test binary:
// the ECM launches it as `linkis engineconn ...`.
var linkisBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "linkis-ecm-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	linkisBin = filepath.Join(dir, "linkis")
	build := exec.Command("go", "build", "-o", linkisBin, "../cmd/linkis")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the linkis binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const clusterToken = "test-cluster-token"

// quiet logs warnings and errors only.
var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// cluster is a manager (raftstore's in-memory store behind its real HTTP
// API, with the reconciler calling ECMs over HTTP) and one real ECM that
// launches real EngineConn processes.
type cluster struct {
	t      testing.TB
	mem    *raftstore.Memory
	srv    *httptest.Server
	client *api.Client
	ecm    *ecm.ECM
	stop   context.CancelFunc
	done   chan error
	once   sync.Once
}

type clusterOpts struct {
	manager func(*manager.Config)
	ecm     func(*ecm.Config)
	plugins func(*manager.Plugins)
}

// testPlugins are the built-in engines plus echo (the runtime's own
// overhead), ghost (a type the manager knows and the EngineConn does not)
// and missing (a launch of a binary that is not there).
func testPlugins(extra func(*manager.Plugins)) *manager.Plugins {
	p := manager.DefaultPlugins()
	res := manager.StandardResources{Memory: 64 * linkis.MiB, MilliCores: 100}
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(p.Register(manager.Plugin{Type: "echo", Version: "*", Concurrency: 1, Resources: res, Launcher: manager.StandardLauncher{}}))
	must(p.Register(manager.Plugin{Type: "ghost", Version: "*", Concurrency: 1, Resources: res, Launcher: manager.StandardLauncher{}}))
	must(p.Register(manager.Plugin{Type: "missing", Version: "*", Concurrency: 1, Resources: res,
		Launcher: manager.LaunchFunc(func(c manager.LaunchContext) (manager.LaunchRequest, error) {
			lr, err := manager.StandardLauncher{}.Build(c)
			lr.Command = "linkis-no-such-binary"
			return lr, err
		})}))
	if extra != nil {
		extra(p)
	}
	return p
}

func newCluster(t testing.TB, o clusterOpts) *cluster {
	t.Helper()
	mcfg := raftstore.DefaultMemoryConfig()
	mcfg.Manager.TickInterval = 100 * time.Millisecond
	mcfg.Manager.NewECMStandby = 0
	if o.manager != nil {
		o.manager(&mcfg.Manager)
	}
	mcfg.Plugins = testPlugins(o.plugins)
	mcfg.ECMs = api.NewECMClient(clusterToken, nil)
	mcfg.Reconciler.Interval = 50 * time.Millisecond
	mcfg.Reconciler.MinGap = 0
	mcfg.Reconciler.KillGrace = time.Second
	mem, err := raftstore.OpenMemory(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := raftstore.NewHandler(mem, raftstore.HandlerConfig{Token: clusterToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	client, err := api.NewClient([]string{srv.URL}, clusterToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ecm.DefaultConfig()
	cfg.ID = "ecm-test"
	cfg.Managers = []string{srv.URL}
	cfg.Token = clusterToken
	cfg.DataDir = t.TempDir()
	cfg.Binary = linkisBin
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.KillGrace = time.Second
	cfg.AllowRootEngines = true // the test users (alice) do not exist on the host
	cfg.Commands = []string{"linkis-no-such-binary"}
	capacity := linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 64_000, Instances: 50}
	cfg.Capacity = &capacity
	if o.ecm != nil {
		o.ecm(&cfg)
	}
	m, err := ecm.New(cfg, client, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{t: t, mem: mem, srv: srv, client: client, ecm: m, stop: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { c.done <- m.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-c.done:
		t.Fatalf("ECM stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the ECM did not register")
	}
	t.Cleanup(c.close)
	return c
}

func (c *cluster) close() {
	c.once.Do(func() {
		c.stop()
		select {
		case err := <-c.done:
			if err != nil {
				c.t.Errorf("ECM: %v", err)
			}
		case <-time.After(30 * time.Second):
			c.t.Error("the ECM did not stop")
		}
		c.srv.Close()
		c.mem.Close()
	})
}

var askSeq struct {
	sync.Mutex
	n int
}

func nextAskID() string {
	askSeq.Lock()
	defer askSeq.Unlock()
	askSeq.n++
	return fmt.Sprintf("ask-%d-%d", time.Now().UnixNano(), askSeq.n)
}

// ask asks for an engine and waits for the outcome.
func (c *cluster) ask(labels map[string]string, params map[string]string) (api.AskResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.client.Ask(ctx, api.AskRequest{ID: nextAskID(), Labels: labels, Params: params, WaitMs: 30_000})
	if err != nil {
		return res, err
	}
	for res.Status == "Pending" {
		if res, err = c.client.GetAsk(ctx, res.AskID, 10*time.Second); err != nil {
			return res, err
		}
	}
	if res.Status == "Failed" {
		return res, res.Err()
	}
	return res, nil
}

func (c *cluster) mustAsk(labels, params map[string]string) api.AskResult {
	c.t.Helper()
	res, err := c.ask(labels, params)
	if err != nil {
		c.t.Fatalf("ask %v: %v", labels, err)
	}
	if res.Status != "Granted" || res.Addr == "" || res.Token == "" {
		c.t.Fatalf("ask %v: %+v", labels, res)
	}
	return res
}

func labels(engine string, kv ...string) map[string]string {
	m := map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: engine}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// run submits code under a grant and waits for the task to end.
func run(t testing.TB, g api.AskResult, code string) api.TaskStatus {
	t.Helper()
	cli := api.NewEngineClient(g.Addr, clusterToken, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := cli.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: code})
	if err != nil {
		t.Fatalf("submit to %s: %v", g.EC, err)
	}
	st, err := cli.Wait(ctx, sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// state reads the manager's state and checks every invariant on it.
func (c *cluster) state(fn func(*manager.State)) {
	c.t.Helper()
	err := c.mem.Read(context.Background(), true, func(s *manager.State) {
		if err := manager.CheckInvariants(s); err != nil {
			c.t.Errorf("manager invariants: %v", err)
		}
		if fn != nil {
			fn(s)
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) waitState(what string, cond func(*manager.State) bool) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := false
		c.state(func(s *manager.State) { ok = cond(s) })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readResultRows(t testing.TB, path string) [][]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := api.ReadResultSet(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rs.Rows
}

// gate returns shell code that waits until release is called, so a test
// decides when a task ends instead of guessing with sleeps.
func gate(t testing.TB) (code string, release func()) {
	f := filepath.Join(t.TempDir(), "release")
	return "while [ ! -e " + f + " ]; do sleep 0.005; done", func() {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func processAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
