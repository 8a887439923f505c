package ecm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
)

// recorder stands in for the manager API in the tests that drive an ECM
// directly; the processes are real.
type recorder struct {
	mu     sync.Mutex
	ended  []api.ECEndedRequest
	beats  int
	regs   int
	deregs int
}

func (r *recorder) RegisterECM(context.Context, api.RegisterECMRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.regs++
	return nil
}

func (r *recorder) ECMHeartbeat(context.Context, api.ECMHeartbeatRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beats++
	return nil
}

func (r *recorder) DeregisterECM(context.Context, api.DeregisterECMRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deregs++
	return nil
}

func (r *recorder) ECEnded(_ context.Context, e api.ECEndedRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, e)
	return nil
}

func (r *recorder) endedOf(ec string) (api.ECEndedRequest, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.ended {
		if e.EC == ec {
			return e, true
		}
	}
	return api.ECEndedRequest{}, false
}

func directECM(t *testing.T, edit func(*ecm.Config)) (*ecm.ECM, *recorder, string) {
	t.Helper()
	cfg := ecm.DefaultConfig()
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = clusterToken
	cfg.DataDir = t.TempDir()
	cfg.Binary = linkisBin
	cfg.KillGrace = 300 * time.Millisecond
	cfg.HeartbeatInterval = 50 * time.Millisecond
	cfg.AllowRootEngines = true
	cfg.Commands = []string{"bash", "/nonexistent/engine"}
	if edit != nil {
		edit(&cfg)
	}
	rec := &recorder{}
	m, err := ecm.New(cfg, rec, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- m.Run(ctx, ready) }()
	<-ready
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return m, rec, cfg.DataDir
}

func bashLaunch(ticket, script string) api.LaunchRequest {
	return api.LaunchRequest{Ticket: ticket, EngineType: "shell-1", User: "alice", Command: "bash", Args: []string{"-c", script},
		Resource: api.Resource{Memory: 1 << 20, MilliCores: 100, Instances: 1}}
}

func waitExited(t *testing.T, m *ecm.ECM, ticket string) api.LaunchResponse {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, ok := m.Engine(ticket)
		if ok && r.State == api.ECExited {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not exit: %+v", ticket, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLaunchIsIdempotentPerTicket(t *testing.T) {
	m, rec, dir := directECM(t, nil)
	req := bashLaunch("ec-1", "echo started >> runs; sleep 30")
	a, err := m.Launch(req)
	if err != nil || a.State != api.ECStarting || a.PID == 0 {
		t.Fatalf("first launch %+v %v", a, err)
	}
	runsFile := filepath.Join(dir, "ec-1", "work", "runs")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(runsFile); len(b) > 0 { // written, not only created by the redirection
			break
		}
	}
	b, err := m.Launch(req)
	if err != nil || b.PID != a.PID || b.State != api.ECStarting {
		t.Fatalf("second launch %+v %v, want the first one's process %d", b, err, a.PID)
	}
	k, err := m.Kill(context.Background(), api.KillRequest{EC: "ec-1"})
	if err != nil || k.State != api.ECExited || k.Failed || !strings.Contains(k.Reason, "killed on request") {
		t.Fatalf("kill %+v %v", k, err)
	}
	c, _ := m.Launch(req) // after its end: still that engine, nothing new starts
	if c.State != api.ECExited || c.PID != a.PID {
		t.Fatalf("launch after exit %+v", c)
	}
	runs, _ := os.ReadFile(runsFile)
	if string(runs) != "started\n" {
		t.Fatalf("the script ran %q, want once", runs)
	}
	waitReported(t, rec, "ec-1")
	if u, _ := m.Kill(context.Background(), api.KillRequest{EC: "ec-99"}); u.State != api.ECUnknown {
		t.Fatalf("kill of an unknown ticket %+v", u)
	}
}

func waitReported(t *testing.T, rec *recorder, ec string) api.ECEndedRequest {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e, ok := rec.endedOf(ec); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's end was not reported", ec)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKillStopsTheWholeGroupAfterGrace(t *testing.T) {
	m, _, dir := directECM(t, nil)
	// The leader ignores SIGTERM; its child would live on unless the group
	// is killed.
	_, err := m.Launch(bashLaunch("ec-2", `sleep 60 & echo $! > child.pid; trap "" TERM; while true; do sleep 0.05; done`))
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(dir, "ec-2", "work", "child.pid")
	var child int
	deadline := time.Now().Add(5 * time.Second)
	for child == 0 && time.Now().Before(deadline) {
		b, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	k, err := m.Kill(context.Background(), api.KillRequest{EC: "ec-2", GraceMs: 200})
	if err != nil || k.State != api.ECExited {
		t.Fatalf("kill %+v %v", k, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("killed after %v: the grace was not given", d)
	}
	if child == 0 || processAlive(child) {
		t.Fatalf("the engine's child %d outlived the kill", child)
	}
}

func TestExitReportsFailureWithLogTailAndCapsTheLog(t *testing.T) {
	m, rec, dir := directECM(t, func(c *ecm.Config) { c.LogCap = 4096 })
	// 200 KB of output, then a last word and a failing exit.
	_, err := m.Launch(bashLaunch("ec-3", `for i in $(seq 1 20000); do echo "line $i of noise"; done; echo "the last word" >&2; exit 3`))
	if err != nil {
		t.Fatal(err)
	}
	r := waitExited(t, m, "ec-3")
	if !r.Failed || r.Retryable || !strings.Contains(r.Reason, "exit status 3") || !strings.Contains(r.Reason, "the last word") {
		t.Fatalf("exit %+v: want failed, not retryable (it never served), quoting its last output", r)
	}
	e := waitReported(t, rec, "ec-3")
	if !e.Failed || e.Reason != r.Reason {
		t.Fatalf("reported %+v", e)
	}
	log, err := os.ReadFile(filepath.Join(dir, "ec-3", "logs", ecm.LogFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(log) > 4096+300 || !bytes.Contains(log, []byte("log truncated")) || !bytes.HasPrefix(log, []byte("line 1 of noise\n")) {
		t.Fatalf("log of %d bytes, truncated note present: %v", len(log), bytes.Contains(log, []byte("log truncated")))
	}
	// A clean exit is no failure.
	if _, err := m.Launch(bashLaunch("ec-4", "exit 0")); err != nil {
		t.Fatal(err)
	}
	if r := waitExited(t, m, "ec-4"); r.Failed {
		t.Fatalf("clean exit %+v", r)
	}
}

func TestLaunchRefusesBadInputAndChangesNothing(t *testing.T) {
	m, _, dir := directECM(t, func(c *ecm.Config) { c.MaxStarting = 1 })
	for name, mut := range map[string]func(*api.LaunchRequest){
		"absolute material": func(r *api.LaunchRequest) { r.Materials = []api.Material{{Name: "/etc/cron.d/x", Data: []byte("x")}} },
		"dot-dot material":  func(r *api.LaunchRequest) { r.Materials = []api.Material{{Name: "a/../../x", Data: []byte("x")}} },
		"setuid material":   func(r *api.LaunchRequest) { r.Materials = []api.Material{{Name: "x", Mode: 0o4755}} },
		"reserved material": func(r *api.LaunchRequest) { r.Materials = []api.Material{{Name: "engineconn.exit"}} },
		"bad ticket":        func(r *api.LaunchRequest) { r.Ticket = "ticket-5" },
		"no command":        func(r *api.LaunchRequest) { r.Command = "" },
		"bad env":           func(r *api.LaunchRequest) { r.Env = map[string]string{"A=B": "c"} },
	} {
		req := bashLaunch("ec-5", "sleep 30")
		mut(&req)
		if _, err := m.Launch(req); !errors.Is(err, linkis.ErrInvalidArgument) && !errors.Is(err, linkis.ErrInvalidLabel) {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "ec-5")); !os.IsNotExist(err) {
			t.Fatalf("%s: the engine directory exists after a refused launch", name)
		}
		if _, ok := m.Engine("ec-5"); ok {
			t.Fatalf("%s: the ECM remembers a refused launch", name)
		}
	}
	// Materials are placed with their modes.
	req := bashLaunch("ec-6", "sleep 30")
	req.Materials = []api.Material{{Name: "conf/app.conf", Data: []byte("k=v"), Mode: 0o600}, {Name: "run.sh", Data: []byte("#!/bin/sh"), Mode: 0o755}}
	if _, err := m.Launch(req); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "ec-6", "work", "conf", "app.conf")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("material: %v %v", fi, err)
	}
	// ec-6 never reports in, so it is still starting: the cap of one holds.
	_, err := m.Launch(bashLaunch("ec-7", "true"))
	if !errors.Is(err, linkis.ErrUnavailable) || !linkis.IsRetryable(err) {
		t.Fatalf("launch over the cap: %v, want a retryable unavailable", err)
	}
	// A missing binary: Exited, failed, not worth a retry.
	m.Kill(context.Background(), api.KillRequest{EC: "ec-6"})
	r, err := m.Launch(api.LaunchRequest{Ticket: "ec-8", EngineType: "shell-1", Command: "/nonexistent/engine", Resource: api.Resource{Instances: 1}})
	if err != nil || r.State != api.ECExited || !r.Failed || r.Retryable || !strings.Contains(r.Reason, "/nonexistent/engine") {
		t.Fatalf("missing binary %+v %v", r, err)
	}
	// A program the ECM was not configured to run.
	r, err = m.Launch(api.LaunchRequest{Ticket: "ec-9", EngineType: "shell-1", Command: "sh", Args: []string{"-c", "touch pwned"}, Resource: api.Resource{Instances: 1}})
	if err != nil || r.State != api.ECExited || !r.Failed || r.Retryable || !strings.Contains(r.Reason, "allow-command") {
		t.Fatalf("a command not allowed %+v %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ec-9", "work", "pwned")); !os.IsNotExist(err) {
		t.Fatal("a command not allowed ran")
	}
	// The linkis binary runs engines only.
	r, err = m.Launch(api.LaunchRequest{Ticket: "ec-10", EngineType: "shell-1", Command: "linkis", Args: []string{"ecm", "--manager", "http://x"}, Resource: api.Resource{Instances: 1}})
	if err != nil || r.State != api.ECExited || !r.Failed || !strings.Contains(r.Reason, "linkis engineconn") {
		t.Fatalf("linkis as something else than an engine %+v %v", r, err)
	}
}

func TestAPIRequiresTokenAndValidBodies(t *testing.T) {
	m, _, _ := directECM(t, nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+api.PathLaunch, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d", resp.StatusCode)
	}
	cli := api.NewECMClient(clusterToken, nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	if _, err := cli.Launch(context.Background(), addr, api.LaunchRequest{Ticket: "ec-1"}); !errors.Is(err, linkis.ErrInvalidLabel) && !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("empty launch: %v", err)
	}
	r, err := cli.Launch(context.Background(), addr, bashLaunch("ec-2", "sleep 5"))
	if err != nil || r.State != api.ECStarting {
		t.Fatalf("launch over HTTP %+v %v", r, err)
	}
	k, err := cli.Kill(context.Background(), addr, api.KillRequest{EC: "ec-2", GraceMs: 100})
	if err != nil || k.State != api.ECExited {
		t.Fatalf("kill over HTTP %+v %v", k, err)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+api.PathMetrics, nil)
	api.SetToken(req, clusterToken)
	mresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"linkis_ecm_launches_total 1", `linkis_ecm_launches_refused_total{reason="invalid"} 1`,
		`linkis_ecm_engine_exits_total{outcome="killed"} 1`, `linkis_ecm_engines{state="running"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestRunsAsTheSubmittingUserWhenRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the ECM switches users only when it runs as root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody on this host")
	}
	m, _, dir := directECM(t, nil)
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if d == os.TempDir() {
			break
		}
	}
	req := bashLaunch("ec-1", "id -u > uid; touch mine")
	req.User = "nobody"
	if _, err := m.Launch(req); err != nil {
		t.Fatal(err)
	}
	if r := waitExited(t, m, "ec-1"); r.Failed {
		t.Fatalf("%+v", r)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "ec-1", "work", "uid"))
	if strings.TrimSpace(string(b)) != u.Uid {
		t.Fatalf("ran as uid %q, want nobody's %s", b, u.Uid)
	}
	// A user the host does not know: allowed, root runs it.
	req = bashLaunch("ec-2", "id -u > uid")
	req.User = "no-such-user-here"
	if _, err := m.Launch(req); err != nil {
		t.Fatal(err)
	}
	waitExited(t, m, "ec-2")
	if b, _ := os.ReadFile(filepath.Join(dir, "ec-2", "work", "uid")); strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("unknown user ran as %q", b)
	}
	// Not allowed (the default): the launch fails, not retryable, and
	// nothing runs.
	strict, _, sdir := directECM(t, func(c *ecm.Config) { c.AllowRootEngines = false })
	req = bashLaunch("ec-3", "touch ran")
	req.User = "no-such-user-here"
	r, err := strict.Launch(req)
	if err != nil || r.State != api.ECExited || !r.Failed || r.Retryable || !strings.Contains(r.Reason, "no such user") {
		t.Fatalf("unknown user on a strict root ECM: %+v %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(sdir, "ec-3")); !os.IsNotExist(err) {
		t.Fatal("a directory was made for the engine of an unknown user")
	}
}

func TestOldDirectoriesAreCleaned(t *testing.T) {
	m, _, dir := directECM(t, func(c *ecm.Config) {
		c.Retention = 100 * time.Millisecond
		c.CleanInterval = 50 * time.Millisecond
	})
	if _, err := m.Launch(bashLaunch("ec-1", "true")); err != nil {
		t.Fatal(err)
	}
	waitExited(t, m, "ec-1")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ec-1")); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old engine directory was not removed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, ok := m.Engine("ec-1"); ok {
		t.Fatal("the ECM still remembers an engine past its retention")
	}
}

// Every goroutine the ECM starts ends with Run: after it returns (having
// stopped its engines), the count is back where it was.
func TestECMRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	cfg := ecm.DefaultConfig()
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = clusterToken
	cfg.DataDir = t.TempDir()
	cfg.Binary = linkisBin
	cfg.KillGrace = 200 * time.Millisecond
	cfg.AllowRootEngines = true
	cfg.Commands = []string{"bash"}
	m, err := ecm.New(cfg, &recorder{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- m.Run(ctx, ready) }()
	<-ready
	for i := 1; i <= 3; i++ {
		if _, err := m.Launch(bashLaunch(fmt.Sprintf("ec-%d", i), `trap "" TERM; sleep 30`)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if r, _ := m.Engine(fmt.Sprintf("ec-%d", i)); r.State != api.ECExited || processAlive(r.PID) {
			t.Fatalf("ec-%d after the ECM stopped: %+v", i, r)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEngineThatNeverStartsIsStopped(t *testing.T) {
	m, rec, _ := directECM(t, func(c *ecm.Config) { c.StartTimeout = 300 * time.Millisecond; c.MaxStarting = 1 })
	if _, err := m.Launch(bashLaunch("ec-1", `echo "stuck opening its session" >&2; trap "" TERM; sleep 60`)); err != nil {
		t.Fatal(err)
	}
	r := waitExited(t, m, "ec-1")
	if !r.Failed || !r.Retryable || !strings.Contains(r.Reason, "did not start within 300ms") || !strings.Contains(r.Reason, "stuck opening") {
		t.Fatalf("%+v", r)
	}
	if e := waitReported(t, rec, "ec-1"); !e.Failed {
		t.Fatalf("reported %+v", e)
	}
	// Its starting slot is free again.
	if _, err := m.Launch(bashLaunch("ec-2", "sleep 1")); err != nil {
		t.Fatalf("the slot of the stopped engine is still taken: %v", err)
	}
}

// A failure reason quoting binary or multi-byte output is valid UTF-8 and
// stays under the manager's limit once in JSON (where each invalid byte
// would become U+FFFD, three bytes), or the manager refuses the report.
func TestReasonIsValidUTF8UnderTheLimit(t *testing.T) {
	m, rec, _ := directECM(t, nil)
	for i, script := range []string{
		`printf '\xff%.0s' $(seq 1 3000); exit 3`,
		`printf '\xc3\xa9%.0s' $(seq 1 3000); echo x; exit 3`,
	} {
		ticket := fmt.Sprintf("ec-%d", 20+i)
		if _, err := m.Launch(bashLaunch(ticket, script)); err != nil {
			t.Fatal(err)
		}
		waitExited(t, m, ticket)
		e := waitReported(t, rec, ticket)
		b, _ := json.Marshal(e.Reason)
		var wire string
		_ = json.Unmarshal(b, &wire)
		if !utf8.ValidString(e.Reason) || len(wire) > 4096 {
			t.Fatalf("%s: reason of %d bytes (%d through JSON), valid UTF-8 %v", ticket, len(e.Reason), len(wire), utf8.ValidString(e.Reason))
		}
	}
}

// An engine's address comes only from the socket the ECM gave it (fd 4),
// never from a file in a directory of the engine's user: the engine is
// not the only process of that user, and any other (a shell job of theirs
// on the host) could write such a file first, naming a port it listens on;
// the ECM would report that address to the manager (EngineStarted) and
// send the cluster token there when asked for a live task log. Here the
// engine is a slow starter (bash sleeping) and the planting process runs
// as the engine's user, nobody. (Found by the data review.)
func TestPlantedEngineAddressIsIgnored(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(api.HeaderToken))
		mu.Unlock()
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()

	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		// A data directory as a server has it: others may traverse it.
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for d := data; d != "/"; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
				os.Chmod(d, fi.Mode().Perm()|0o005)
			}
		}
		c.DataDir = data
	})
	req := bashLaunch("ec-1", "sleep 30")
	req.User = "nobody"
	if r, err := m.Launch(req); err != nil || r.State == api.ECExited {
		t.Fatalf("launch: %+v %v", r, err)
	}
	// Another process of nobody's plants the address.
	addr := srv.Listener.Addr().String()
	plant := exec.Command("runuser", "-u", "nobody", "--", "sh", "-c",
		`printf '%s\n' "$1" > "$2.tmp" && mv "$2.tmp" "$2"`, "sh", addr, filepath.Join(data, "ec-1", "work", "engineconn.addr"))
	if out, err := plant.CombinedOutput(); err != nil {
		t.Fatalf("planting as nobody: %v %s", err, out)
	}
	var r api.LaunchResponse
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, _ = m.Engine("ec-1"); r.State == api.ECRunning {
			break
		}
	}
	if r.Addr == addr {
		t.Errorf("the ECM reports the engine running at the planted address %s (the manager records it: EngineStarted)", addr)
	}
	m.TaskLog(context.Background(), "ec-1", "t-1", 0, 10)
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		if h == "Bearer "+clusterToken {
			t.Errorf("the ECM sent the cluster token to the address a process of the engine's user planted")
		}
	}
}

// The same against a real `linkis engineconn` python engine, whose session
// (python3) starts before it listens: a process of the engine's user that
// polls for the new work directory and plants an address there first
// (which won the race against the file the engine used to write) changes
// nothing; the engine reports its own, which the ECM records in its own
// directory for a restart.
func TestPlantedAddressDoesNotRaceARealEngine(t *testing.T) {
	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{data, filepath.Dir(linkisBin)} {
			for ; d != "/"; d = filepath.Dir(d) {
				if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
					os.Chmod(d, fi.Mode().Perm()|0o005)
				}
			}
		}
		c.DataDir = data
	})
	const planted = "127.0.0.1:9"
	attacker := `
import os, sys, time
work = sys.argv[1]
deadline = time.time() + 20
while time.time() < deadline:
    try:
        fd = os.open(work + "/.x", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        continue
    os.write(fd, (sys.argv[2] + "\n").encode()); os.close(fd)
    os.rename(work + "/.x", work + "/engineconn.addr")
    break
`
	work := filepath.Join(data, "ec-1", "work")
	py := exec.Command("/usr/bin/python3", "-c", attacker, work, planted)
	py.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { py.Process.Kill(); py.Wait() }()
	r, err := m.Launch(api.LaunchRequest{Ticket: "ec-1", EngineType: "python-3", User: "nobody", Command: "linkis",
		Args: []string{"engineconn", "--ticket", "ec-1", "--engine", "python-3"}, Resource: api.Resource{Memory: 1 << 20, MilliCores: 100, Instances: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); r.State == api.ECStarting && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r, _ = m.Engine("ec-1")
	}
	if r.State != api.ECRunning || r.Addr == planted {
		t.Fatalf("the ECM says %+v; the engine must run at its own address, not the one a process of its user planted (%s)", r, planted)
	}
	if b, err := os.ReadFile(filepath.Join(data, "ec-1", ecm.AddrRecord)); err != nil || strings.TrimSpace(string(b)) != r.Addr {
		t.Errorf("the ECM's record of the address: %q %v, want %s", b, err, r.Addr)
	}
	if c, err := net.Dial("tcp", r.Addr); err != nil {
		t.Errorf("nothing listens at the reported address: %v", err)
	} else {
		c.Close()
	}
}

// An engine reports its address by writing it to descriptor 4 and reading
// the ECM's acknowledgement; the ECM records it in its own directory, and
// an ECM restarted on the same data directory adopts the engine as
// running there (and so may ask it for live task logs). An engine that
// writes a malformed address stays Starting.
func TestEngineReportsItsAddressOnItsSocket(t *testing.T) {
	m1, _, dir := directECM(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	req := bashLaunch("ec-1", `printf '%s\n' "$ADDR" >&4; head -c 3 <&4 > ack; exec sleep 60`)
	req.Env = map[string]string{"ADDR": addr}
	if _, err := m1.Launch(req); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.Launch(bashLaunch("ec-2", `printf 'not an address\n' >&4; exec sleep 60`)); err != nil {
		t.Fatal(err)
	}
	var r api.LaunchResponse
	for deadline := time.Now().Add(5 * time.Second); r.State != api.ECRunning && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r, _ = m1.Engine("ec-1")
	}
	if r.State != api.ECRunning || r.Addr != addr {
		t.Fatalf("ec-1: %+v, want running at %s", r, addr)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, _ := os.ReadFile(filepath.Join(dir, "ec-1", "work", "ack")); string(b) == "ok\n" {
			break
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ec-1", "work", "ack")); string(b) != "ok\n" {
		t.Errorf("the engine read %q as the ECM's acknowledgement", b)
	}
	if r, _ := m1.Engine("ec-2"); r.State != api.ECStarting {
		t.Errorf("ec-2 reported a malformed address: %+v, want still starting", r)
	}
	m2, _, _ := directECM(t, func(c *ecm.Config) { c.DataDir = dir })
	if r, _ := m2.Engine("ec-1"); r.State != api.ECRunning || r.Addr != addr {
		t.Errorf("the restarted ECM adopted ec-1 as %+v, want running at %s", r, addr)
	}
}

// The cluster token reaches the engine through an inherited socket, never
// its environment: a process of the engine's user can read
// /proc/PID/environ before the engine could hide it. Nor a pipe: that
// process could open the engine's /proc/PID/fd/3 and read the token
// before the engine does; open(2) cannot open a socket.
func TestTokenIsNotInTheEngineEnvironment(t *testing.T) {
	m, _, dir := directECM(t, nil)
	r, err := m.Launch(bashLaunch("ec-1", `tr '\0' '\n' < /proc/$$/environ > env; until [ -e go ]; do sleep 0.01; done; cat <&"$LINKIS_TOKEN_FD" > tok`))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(fmt.Sprintf("/proc/%d/fd/3", r.PID)); err == nil {
		b, _ := io.ReadAll(f)
		f.Close()
		t.Errorf("the engine's token descriptor opens through /proc (read %d bytes)", len(b))
	}
	if err := os.WriteFile(filepath.Join(dir, "ec-1", "work", "go"), []byte("go\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := waitExited(t, m, "ec-1"); r.Failed {
		t.Fatalf("%+v", r)
	}
	env, err := os.ReadFile(filepath.Join(dir, "ec-1", "work", "env"))
	if err != nil || len(env) == 0 {
		t.Fatalf("no environment recorded: %v", err)
	}
	if strings.Contains(string(env), clusterToken) || strings.Contains(string(env), "LINKIS_TOKEN=") {
		t.Fatalf("the token is in the engine's environment:\n%s", env)
	}
	if tok, _ := os.ReadFile(filepath.Join(dir, "ec-1", "work", "tok")); string(tok) != clusterToken {
		t.Fatalf("the engine read %q from its token descriptor", tok)
	}
}

// A token that would not fit the socket engines receive it through is
// refused when the ECM is configured, not by a launch that hangs.
func TestConfigRefusesAnOversizedToken(t *testing.T) {
	cfg := ecm.DefaultConfig()
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.DataDir = t.TempDir()
	cfg.Token = strings.Repeat("t", 1025)
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("a 1025-byte token: %v, want refused naming the token", err)
	}
	cfg.Token = strings.Repeat("t", 1024)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a 1024-byte token: %v", err)
	}
}
