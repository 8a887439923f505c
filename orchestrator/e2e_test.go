package orchestrator_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/raftstore"
)

// The real linkis binary, built once, on first use, for the tests that
// need real EngineConn processes (the ECM launches `linkis engineconn`).
var bin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin.dir != "" {
		os.RemoveAll(bin.dir)
	}
	os.Exit(code)
}

func linkisBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real EngineConn processes: not in -short")
	}
	bin.once.Do(func() {
		if bin.dir, bin.err = os.MkdirTemp("", "linkis-orchestrator-test-"); bin.err != nil {
			return
		}
		bin.path = filepath.Join(bin.dir, "linkis")
		out, err := exec.Command("go", "build", "-o", bin.path, "../cmd/linkis").CombinedOutput()
		if err != nil {
			bin.err = fmt.Errorf("building the linkis binary: %v\n%s", err, out)
		}
	})
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	return bin.path
}

const clusterToken = "test-cluster-token"

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// cluster is a manager (the in-memory store behind its real HTTP API, the
// reconciler calling ECMs over HTTP) and real ECMs launching real
// EngineConn processes.
type cluster struct {
	t      testing.TB
	mem    *raftstore.Memory
	srv    *httptest.Server
	client *api.Client
	ecms   map[string]*ecmProc
}

type ecmProc struct {
	ecm  *ecm.ECM
	stop context.CancelFunc
	done chan error
	once sync.Once
}

func newCluster(t testing.TB, ecmIDs ...string) *cluster {
	t.Helper()
	path := linkisBinary(t)
	mcfg := raftstore.DefaultMemoryConfig()
	mcfg.Manager.TickInterval = 100 * time.Millisecond
	mcfg.Manager.NewECMStandby = 0
	mcfg.ECMs = api.NewECMClient(clusterToken, nil)
	mcfg.Reconciler.Interval = 50 * time.Millisecond
	mcfg.Reconciler.MinGap = 0
	mcfg.Reconciler.KillGrace = time.Second
	mcfg.Logger = quiet
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
	c := &cluster{t: t, mem: mem, srv: srv, client: client, ecms: map[string]*ecmProc{}}
	t.Cleanup(c.close)
	for _, id := range ecmIDs {
		c.startECM(id, path)
	}
	return c
}

func (c *cluster) startECM(id, path string) {
	t := c.t
	cfg := ecm.DefaultConfig()
	cfg.ID = id
	cfg.Managers = []string{c.srv.URL}
	cfg.Token = clusterToken
	cfg.DataDir = t.TempDir()
	cfg.Binary = path
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.KillGrace = time.Second
	cfg.AllowRootEngines = true // the test user (alice) does not exist on the host
	capacity := linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 64_000, Instances: 50}
	cfg.Capacity = &capacity
	m, err := ecm.New(cfg, c.client, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &ecmProc{ecm: m, stop: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { p.done <- m.Run(ctx, ready) }()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("ECM %s stopped: %v", id, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("ECM %s did not register", id)
	}
	c.ecms[id] = p
	// Stopped before its data directory is removed (cleanups run last
	// first): its engines may still be writing there.
	t.Cleanup(func() { c.stopECM(id) })
}

// stopECM stops an ECM (its engines are stopped, it deregisters) and waits.
func (c *cluster) stopECM(id string) {
	p := c.ecms[id]
	p.once.Do(func() {
		p.stop()
		select {
		case err := <-p.done:
			if err != nil {
				c.t.Errorf("ECM %s: %v", id, err)
			}
		case <-time.After(30 * time.Second):
			c.t.Errorf("ECM %s did not stop", id)
		}
	})
}

func (c *cluster) close() {
	for id := range c.ecms {
		c.stopECM(id)
	}
	c.srv.Close()
	c.mem.Close()
}

// noAsksHeld checks the manager holds none of the given asks and that its
// invariants hold.
func (c *cluster) noAsksHeld(ids ...string) {
	c.t.Helper()
	err := c.mem.Read(context.Background(), true, func(s *manager.State) {
		if err := manager.CheckInvariants(s); err != nil {
			c.t.Errorf("manager invariants: %v", err)
		}
		for _, id := range ids {
			if a, ok := s.Ask(id); ok {
				c.t.Errorf("ask %s still held: %+v", id, a)
			}
		}
		for _, e := range s.ECs() {
			if len(e.Holders) > 0 {
				c.t.Errorf("engine %s still held by %v", e.ID, e.Holders)
			}
		}
	})
	if err != nil {
		c.t.Fatal(err)
	}
}

// listener records a job's log and moves for a test.
type listener struct {
	mu      sync.Mutex
	lines   []string
	moves   []string
	running chan string
}

func newListener() *listener { return &listener{running: make(chan string, 8)} }

func (l *listener) move(s string) {
	l.mu.Lock()
	l.moves = append(l.moves, s)
	l.mu.Unlock()
}
func (l *listener) Scheduled(attempt int) { l.move(fmt.Sprint("scheduled ", attempt)) }
func (l *listener) Running(t orchestrator.Task) {
	l.move("running")
	select {
	case l.running <- t.EC:
	default: // nobody waits for it (a benchmark's many jobs)
	}
}
func (l *listener) Progress(float64, string) {}
func (l *listener) Log(lines []string) {
	l.mu.Lock()
	l.lines = append(l.lines, lines...)
	l.mu.Unlock()
}
func (l *listener) Output(key string, lines []string) { l.Log(lines) }
func (l *listener) TaskEnded(string, int)             {}
func (l *listener) Retrying(attempt, round int, wait time.Duration, reason error) {
	l.move(fmt.Sprint("retrying ", attempt))
}
func (l *listener) log() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newOrchestrator(t testing.TB, asker orchestrator.EngineAsker) *orchestrator.Orchestrator {
	t.Helper()
	cfg := orchestrator.DefaultConfig()
	cfg.RetryWait = 10 * time.Millisecond
	cfg.Logger = quiet
	o, err := orchestrator.New(cfg, asker, orchestrator.NewHTTPTaskClients(clusterToken, nil).Client)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var jobSeq struct {
	sync.Mutex
	n int
}

func job(engineType, code string, kv ...string) orchestrator.Spec {
	jobSeq.Lock()
	jobSeq.n++
	n := jobSeq.n
	jobSeq.Unlock()
	ls := map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: engineType}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[kv[i]] = kv[i+1]
	}
	return orchestrator.Spec{TaskID: int64(n), ExecID: fmt.Sprintf("exec_%d_%d", time.Now().UnixNano(), n), User: "alice",
		Submitted: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC),
		Request:   orchestrator.JobRequest{ExecutionContent: orchestrator.ExecutionContent{Code: code}, Labels: ls}}
}

func run(t testing.TB, o *orchestrator.Orchestrator, s orchestrator.Spec) orchestrator.Outcome {
	t.Helper()
	if err := o.Check(s); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return o.Run(ctx, s, newListener())
}

func rows(t testing.TB, out orchestrator.Outcome) string {
	t.Helper()
	if out.State != orchestrator.Succeed || len(out.Results) == 0 {
		t.Fatalf("outcome %+v", out)
	}
	f, err := os.Open(out.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rs, err := api.ReadResultSet(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(rs.Rows)
}

// Shell, python and sql jobs through the manager's HTTP API and real
// EngineConn processes; every ask is released after.
func TestE2EShellPythonSQL(t *testing.T) {
	c := newCluster(t, "ecm-1")
	o := newOrchestrator(t, orchestrator.NewClientAsker(c.client, 0))
	var asks []string
	sh := job("shell-1", "echo hello ${run_date} ${who}")
	sh.Request.Params.Variable = orchestrator.Values{"who": "alice"}
	if got := rows(t, run(t, o, sh)); got != "[[hello 20240229 alice]]" {
		t.Fatalf("shell rows %s", got)
	}
	py := job("python-3", "x = 6 * 7\nprint(x)")
	if got := rows(t, run(t, o, py)); got != "[[42]]" {
		t.Fatalf("python rows %s", got)
	}
	db := job("sql-3", "SELECT 1 AS a, '${run_month_end_std}' AS b UNION ALL SELECT 2, 'y' ORDER BY a")
	if got := rows(t, run(t, o, db)); got != "[[1 2024-02-29] [2 y]]" {
		t.Fatalf("sql rows %s", got)
	}
	// A second shell job reuses the first one's engine: it was released -
	// once the engine's own report of its end has landed too (a task
	// that outlasts 250 ms, as the first one may on a loaded machine, is
	// reported Busy and then Idle).
	deadline := time.Now().Add(10 * time.Second)
	for idle := false; !idle && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_ = c.mem.Read(context.Background(), true, func(s *manager.State) {
			idle = true
			for _, e := range s.ECs() {
				idle = idle && e.Status == linkis.StatusUnlock
			}
		})
	}
	sh2 := job("shell-1", "echo again")
	out := run(t, o, sh2)
	if rows(t, out) != "[[again]]" {
		t.Fatal(out)
	}
	for _, s := range []orchestrator.Spec{sh, py, db, sh2} {
		asks = append(asks, s.ExecID+"-1.0")
	}
	c.noAsksHeld(asks...)
	var engines int
	_ = c.mem.Read(context.Background(), true, func(s *manager.State) { engines = len(s.ECs()) })
	if engines != 3 {
		t.Fatalf("%d engines, want 3 (the shell engine reused)", engines)
	}
}

// Through the in-process store: a user's error is not retried; a job
// cancelled while it runs has its task killed and its engine freed for the
// next job.
func TestE2EStoreAskerErrorAndCancel(t *testing.T) {
	c := newCluster(t, "ecm-1")
	o := newOrchestrator(t, orchestrator.NewStoreAsker(c.mem, nil))
	bad := job("python-3", "raise ValueError('no good')")
	out := run(t, o, bad)
	if out.State != orchestrator.Failed || linkis.IsRetryable(out.Err) || !strings.Contains(out.Err.Error(), "no good") {
		t.Fatalf("outcome %+v", out)
	}
	long := job("shell-1", "sleep 30")
	l := newListener()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan orchestrator.Outcome)
	go func() { done <- o.Run(ctx, long, l) }()
	ec := <-l.running
	start := time.Now()
	cancel()
	out = <-done
	if out.State != orchestrator.Cancelled || out.EC != ec || time.Since(start) > 10*time.Second {
		t.Fatalf("outcome %+v after %v", out, time.Since(start))
	}
	if !strings.Contains(l.log(), "was killed") {
		t.Fatalf("log:\n%s", l.log())
	}
	next := job("shell-1", "echo free")
	out = run(t, o, next)
	if rows(t, out) != "[[free]]" || out.EC != ec {
		t.Fatalf("the next job %+v, want it on the freed engine %s", out, ec)
	}
	c.noAsksHeld(bad.ExecID+"-1.0", long.ExecID+"-1.0", next.ExecID+"-1.0")
}

// The engine is killed (kill -9) while the job's task runs: the failure is
// retryable, and the retry runs the job on a fresh engine.
func TestE2ERetryWhenEngineIsKilled(t *testing.T) {
	c := newCluster(t, "ecm-1")
	cfg := orchestrator.DefaultConfig()
	cfg.RetryWait = 300 * time.Millisecond // time for the ECM to report the death
	cfg.RetryCount = 5
	cfg.Logger = quiet
	o, err := orchestrator.New(cfg, orchestrator.NewStoreAsker(c.mem, nil), orchestrator.NewHTTPTaskClients(clusterToken, nil).Client)
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "first")
	s := job("shell-1", "if [ -e "+marker+" ]; then echo second try; else touch "+marker+"; sleep 60; fi", linkis.LabelJobRetryCount, "5")
	l := newListener()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan orchestrator.Outcome)
	go func() { done <- o.Run(ctx, s, l) }()
	ec := <-l.running
	resp, ok := c.ecms["ecm-1"].ecm.Engine(ec)
	if !ok || resp.PID == 0 {
		t.Fatalf("the ECM does not know %s: %+v", ec, resp)
	}
	if err := syscall.Kill(resp.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out := <-done
	if got := rows(t, out); got != "[[second try]]" || out.EC == ec {
		t.Fatalf("rows %s on %s (the killed engine was %s)", got, out.EC, ec)
	}
	l.mu.Lock()
	moves := fmt.Sprint(l.moves)
	l.mu.Unlock()
	if !strings.Contains(moves, "retrying 1") {
		t.Fatalf("moves %s", moves)
	}
	c.noAsksHeld()
}

// Active-backup over two ECMs: the primary ECM is stopped, so its route has
// no engine; the job runs on the backup's.
func TestE2EFailoverPrimaryECMStopped(t *testing.T) {
	c := newCluster(t, "ecm-a", "ecm-b")
	o := newOrchestrator(t, orchestrator.NewClientAsker(c.client, 0))
	warm := job("shell-1", "echo warm", orchestrator.LabelExecuteRoutes, "emInstance=ecm-a")
	if out := run(t, o, warm); out.State != orchestrator.Succeed {
		t.Fatalf("on ecm-a before it stops: %+v", out)
	}
	c.stopECM("ecm-a")
	s := job("shell-1", "echo from backup", orchestrator.LabelExecuteStrategy, "activeBackup",
		orchestrator.LabelExecuteRoutes, "emInstance=ecm-a;emInstance=ecm-b", linkis.LabelJobRetryCount, "0")
	l := newListener()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := o.Run(ctx, s, l)
	if got := rows(t, out); got != "[[from backup]]" {
		t.Fatalf("rows %s", got)
	}
	var ecmOf string
	_ = c.mem.Read(context.Background(), true, func(st *manager.State) {
		id, _ := manager.ParseECID(out.EC)
		e, _ := st.EC(id)
		ecmOf = e.ECM
	})
	if ecmOf != "ecm-b" || !strings.Contains(l.log(), "failing over to emInstance=ecm-b") {
		t.Fatalf("ran on %s (%s); log:\n%s", out.EC, ecmOf, l.log())
	}
	c.noAsksHeld(s.ExecID+"-1.1", s.ExecID+"-1.2")
}

// Multi-active over two ECMs with real engines: the engine on ecm-slow
// sleeps, the one on ecm-fast answers; its answer wins, the slow task is
// killed and both engines are released (the slow one serves the next job).
func TestE2EMultiActiveSlowEngineLoses(t *testing.T) {
	c := newCluster(t, "ecm-slow", "ecm-fast")
	o := newOrchestrator(t, orchestrator.NewStoreAsker(c.mem, nil))
	s := job("shell-1", `if [ "$LINKIS_ECM" = ecm-slow ]; then sleep 60; fi; echo "$LINKIS_ECM"`,
		orchestrator.LabelExecuteStrategy, "multiActive", orchestrator.LabelExecuteRoutes, "emInstance=ecm-slow;emInstance=ecm-fast")
	l := newListener()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := o.Run(ctx, s, l)
	if got := rows(t, out); got != "[[ecm-fast]]" {
		t.Fatalf("rows %s", got)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the job took %v: the slow branch was waited for", d)
	}
	if !strings.Contains(l.log(), "answered first") {
		t.Fatalf("log:\n%s", l.log())
	}
	c.noAsksHeld(s.ExecID+"-1.1", s.ExecID+"-1.2")
	next := job("shell-1", `echo "$LINKIS_ECM"`, orchestrator.LabelExecuteRoutes, "emInstance=ecm-slow")
	if got := rows(t, run(t, o, next)); got != "[[ecm-slow]]" {
		t.Fatalf("the next job on ecm-slow: %s", got)
	}
	c.noAsksHeld(next.ExecID + "-1.0")
}

// BenchmarkE2ETrivialShellJob runs trivial shell jobs one after another
// through the in-process store and a warm real shell engine: what one job
// costs end to end when nothing runs in parallel (ask, one HTTP round trip
// to the engine, its grant check with the manager, release).
func BenchmarkE2ETrivialShellJob(b *testing.B) {
	c := newCluster(b, "ecm-1")
	o := newOrchestrator(b, orchestrator.NewStoreAsker(c.mem, nil))
	if out := run(b, o, job("shell-1", "true")); out.State != orchestrator.Succeed {
		b.Fatal(out)
	}
	l := newListener()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s := job("shell-1", "true")
		if out := o.Run(ctx, s, l); out.State != orchestrator.Succeed {
			b.Fatal(out)
		}
		if i%256 == 0 {
			l.mu.Lock()
			l.lines, l.moves = l.lines[:0], l.moves[:0]
			l.mu.Unlock()
		}
	}
}

// askCounter is a Store that counts the AskEngine commands applied
// through it.
type askCounter struct {
	raftstore.Store
	mu   sync.Mutex
	asks int
}

func (s *askCounter) Apply(ctx context.Context, c manager.Command) (manager.Result, error) {
	if _, ok := c.(manager.AskEngine); ok {
		s.mu.Lock()
		s.asks++
		s.mu.Unlock()
	}
	return s.Store.Apply(ctx, c)
}

// TestE2EFirstAskMadeByTheState: a job submitted with its first ask
// (Orchestrator.FirstAsk into manager.SubmitJob.Ask) is asked for by the
// command that dispatches it, and its run uses that grant - applying no
// ask of its own, on a real engine; a job submitted without one asks
// once.
func TestE2EFirstAskMadeByTheState(t *testing.T) {
	c := newCluster(t, "ecm-1")
	store := &askCounter{Store: c.mem}
	o := newOrchestrator(t, orchestrator.NewStoreAsker(store, nil))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, withAsk := range []bool{true, false} {
		s := job("shell-1", "echo hi")
		cmd := manager.SubmitJob{Time: time.Now().UnixNano(), Nonce: uint32(i + 1), User: "alice", Creator: "IDE", EngineType: "shell-1", Request: []byte("{}")}
		if withAsk {
			a, ok := o.FirstAsk(s)
			if !ok {
				t.Fatal("a plain job has no first ask")
			}
			cmd.Ask = &a
		}
		res, err := c.mem.Apply(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		s.TaskID, s.ExecID = res.Job.TaskID, res.Job.ExecID
		var made bool
		c.mem.Read(ctx, false, func(st *manager.State) { _, made = st.Ask(manager.JobAskID(s.ExecID, 1, 0)) })
		if made != withAsk {
			t.Fatalf("submitted with its ask %v: the state made it %v", withAsk, made)
		}
		store.mu.Lock()
		store.asks = 0
		store.mu.Unlock()
		if got := rows(t, o.Run(ctx, s, newListener())); got != "[[hi]]" {
			t.Fatalf("rows %s", got)
		}
		store.mu.Lock()
		n := store.asks
		store.mu.Unlock()
		if want := map[bool]int{true: 0, false: 1}[withAsk]; n != want {
			t.Fatalf("submitted with its ask %v: the run applied %d asks, want %d", withAsk, n, want)
		}
	}
}
