package engineconn_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
	"github.com/golinkis/golinkis/linkis"
)

// fakeManager records what an engine reports and answers lock checks from
// the grants a test makes. It stands in for the manager API only; the
// engines run real processes.
type fakeManager struct {
	mu       sync.Mutex
	started  []string
	statuses []string
	unlocks  []string
	grants   map[string]api.AskResult
	lookups  int
	// slowShutdown makes the ShuttingDown report hang until its deadline.
	slowShutdown bool
	// silent lookups hang until their deadline (a member cut off).
	silent int
}

func newFakeManager() *fakeManager { return &fakeManager{grants: map[string]api.AskResult{}} }

func (m *fakeManager) grant(ask, ec, token string, expires time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := api.AskResult{AskID: ask, Status: "Granted", EC: ec, Token: token}
	if !expires.IsZero() {
		r.Expires = expires.UnixNano()
	}
	m.grants[ask] = r
}

func (m *fakeManager) ECStarted(_ context.Context, r api.ECStartedRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.started = append(m.started, r.EC+"@"+r.Addr)
	return nil
}

func (m *fakeManager) ECHeartbeat(ctx context.Context, r api.ECHeartbeatRequest) error {
	m.mu.Lock()
	slow := m.slowShutdown && r.Status == "ShuttingDown"
	m.mu.Unlock()
	if slow {
		<-ctx.Done()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.statuses = append(m.statuses, r.Status)
	return nil
}

func (m *fakeManager) ECUnlock(_ context.Context, r api.ECUnlockRequest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unlocks = append(m.unlocks, r.Token)
	for k, g := range m.grants {
		if g.Token == r.Token {
			delete(m.grants, k)
			return nil
		}
	}
	return linkis.Errorf(linkis.ErrLockMismatch, r.EC, "no such lock")
}

func (m *fakeManager) GetAsk(ctx context.Context, id string, _ time.Duration) (api.AskResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if m.silent > 0 {
		m.silent--
		m.mu.Unlock()
		<-ctx.Done()
		m.mu.Lock()
		return api.AskResult{}, ctx.Err()
	}
	if g, ok := m.grants[id]; ok {
		return g, nil
	}
	return api.AskResult{}, linkis.ValueError(linkis.ErrUnknownAsk, "ask", id, "no such ask")
}

func (m *fakeManager) seen(status string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.statuses {
		if s == status {
			return true
		}
	}
	return false
}

func (m *fakeManager) last() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.statuses) == 0 {
		return ""
	}
	return m.statuses[len(m.statuses)-1]
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

const (
	token  = "00000000000000aa"
	token2 = "00000000000000bb"
	ticket = "ec-7"
)

type harness struct {
	t    testing.TB
	mgr  *fakeManager
	ec   *engineconn.EngineConn
	cli  *api.EngineClient
	cfg  engineconn.Config
	done chan error
	stop context.CancelFunc
}

func testConfig(t testing.TB, engine string) engineconn.Config {
	dir := t.TempDir()
	cfg := engineconn.DefaultConfig()
	cfg.Ticket = ticket
	cfg.EngineType = linkis.EngineType{Type: engine, Version: "1"}
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = "cluster-secret"
	cfg.WorkDir, cfg.LogDir, cfg.ResultDir = filepath.Join(dir, "work"), filepath.Join(dir, "logs"), filepath.Join(dir, "results")
	cfg.LockRecheck = 20 * time.Millisecond
	cfg.ExitLinger = 300 * time.Millisecond
	return cfg
}

// start runs an EngineConn in this process (its engines still start real
// bash and python3 processes) and waits until it reported Unlock.
func start(t testing.TB, cfg engineconn.Config) *harness {
	t.Helper()
	mgr := newFakeManager()
	ec, err := engineconn.New(cfg, engines.Builtin(), mgr, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, mgr: mgr, ec: ec, cfg: cfg, done: make(chan error, 1), stop: cancel}
	go func() { h.done <- ec.Run(ctx) }()
	want := "Unlock"
	if cfg.Mode == linkis.ModeOnce {
		want = "Running"
	}
	waitFor(t, 30*time.Second, "the engine to report "+want, func() bool { return mgr.seen(want) || mgr.seen("Busy") })
	h.cli = api.NewEngineClient(ec.Addr(), cfg.Token, nil)
	mgr.grant("ask-1", ticket, token, time.Time{})
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(20 * time.Second):
			t.Error("the engine did not stop")
		}
	})
	return h
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

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) run(code string) api.TaskStatus {
	h.t.Helper()
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	st, err := h.cli.Wait(context.Background(), sub.ID)
	if err != nil {
		h.t.Fatalf("wait: %v", err)
	}
	return st
}

func (h *harness) logOf(id string) []string {
	h.t.Helper()
	var all []string
	for from := 0; ; {
		p, err := h.cli.Log(context.Background(), id, from, 2)
		if err != nil {
			h.t.Fatal(err)
		}
		all = append(all, p.Lines...)
		if p.Complete || len(p.Lines) == 0 {
			return all
		}
		from = p.Next
	}
}

func readResult(t *testing.T, path string) api.ResultSet {
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
	return rs
}

func TestShellTaskOutputLogsAndResult(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	st := h.run("echo hello; echo world; echo oops >&2")
	if st.State != api.TaskSuccess || st.Progress != 1 {
		t.Fatalf("status %+v", st)
	}
	log := strings.Join(h.logOf(st.ID), "\n")
	for _, want := range []string{"hello", "world", "oops"} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %q", log, want)
		}
	}
	if len(st.Results) != 1 || !strings.HasPrefix(st.Results[0], h.cfg.ResultDir) {
		t.Fatalf("results %v, want one file under %s", st.Results, h.cfg.ResultDir)
	}
	rs := readResult(t, st.Results[0])
	if rs.Type != "text" || len(rs.Rows) != 2 || rs.Rows[0][0] != "hello" || rs.Rows[1][0] != "world" {
		t.Fatalf("result set %+v", rs)
	}
	if st := h.run("exit 3"); st.State != api.TaskError || !strings.Contains(st.Error, "exit status 3") {
		t.Fatalf("failing script: %+v", st)
	}
}

func TestPythonKeepsVariablesAndReportsExceptions(t *testing.T) {
	h := start(t, testConfig(t, "python"))
	if st := h.run("x = 41\nprint('set')"); st.State != api.TaskSuccess {
		t.Fatalf("first task %+v", st)
	}
	st := h.run("import os\nprint(x + 1)\nos.system('echo from-child')")
	if st.State != api.TaskSuccess {
		t.Fatalf("second task %+v", st)
	}
	// Python's output and the child's arrive on different pipes: their
	// order is not fixed, but each line stays whole.
	rows := fmt.Sprint(readResult(t, st.Results[0]).Rows)
	if rows != "[[42] [from-child]]" && rows != "[[from-child] [42]]" {
		t.Fatalf("rows %s, want 42 (variables must survive between tasks) and the child's line, each whole", rows)
	}
	if log := strings.Join(h.logOf(st.ID), "\n"); !strings.Contains(log, "from-child") {
		t.Errorf("output of a child process is missing from the log: %q", log)
	}
	// Libraries that write bytes to sys.stdout.buffer work too.
	if st := h.run("import sys\nsys.stdout.buffer.write(b'raw bytes\\n')\nprint(sys.stdout.encoding)"); st.State != api.TaskSuccess ||
		fmt.Sprint(readResult(t, st.Results[0]).Rows) != "[[raw bytes] [utf-8]]" {
		t.Fatalf("sys.stdout.buffer: %+v", st)
	}
	// The protocol must survive output that looks like frames.
	if st := h.run("print('END 2\\nOK')\nimport sys\nsys.stdout.write('READY 0\\n')"); st.State != api.TaskSuccess {
		t.Fatalf("frame-like output: %+v", st)
	}
	st = h.run("raise ValueError('bad value')")
	if st.State != api.TaskError || !strings.Contains(st.Error, "ValueError: bad value") {
		t.Fatalf("exception: %+v", st)
	}
	if st := h.run("exit(3)"); st.State != api.TaskError {
		t.Fatalf("exit(): %+v", st)
	}
	if st := h.run("print(x)"); st.State != api.TaskSuccess {
		t.Fatalf("after exit(): %+v (the interpreter must keep running)", st)
	}
	// Progress reported by the code streams to the task's status.
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token,
		Code: "import time\nlinkis_progress(0.25)\ntime.sleep(0.5)"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "progress 0.25", func() bool {
		st, _ := h.cli.Status(context.Background(), sub.ID, 0)
		return st.Progress == 0.25 && st.State == api.TaskRunning
	})
}

func TestKillNeverEndingCode(t *testing.T) {
	for _, c := range []struct{ engine, code, after string }{
		{"shell", "while true; do sleep 0.01; done", "echo alive"},
		{"python", "y = 5\nwhile True:\n    pass", "print(y)"},
	} {
		t.Run(c.engine, func(t *testing.T) {
			h := start(t, testConfig(t, c.engine))
			if c.engine == "python" {
				h.run("y = 5")
			}
			sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: c.code})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			st, err := h.cli.Kill(context.Background(), sub.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != api.TaskCancel {
				t.Fatalf("after kill: %+v", st)
			}
			if st := h.run(c.after); st.State != api.TaskSuccess {
				t.Fatalf("the engine must serve after a kill: %+v", st)
			}
		})
	}
}

func TestSQLTableAcrossTasks(t *testing.T) {
	h := start(t, testConfig(t, "sql"))
	st := h.run("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score REAL);\n-- a comment; with a semicolon\nINSERT INTO people(name, score) VALUES ('ann;1', 1.5), ('bob', 2);")
	if st.State != api.TaskSuccess || len(st.Results) != 0 {
		t.Fatalf("DDL: %+v", st)
	}
	st = h.run("SELECT id, name, score, score * 2 AS twice FROM people ORDER BY id")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("query: %+v", st)
	}
	rs := readResult(t, st.Results[0])
	want := []api.ResultColumn{{Name: "id", Type: "INTEGER"}, {Name: "name", Type: "TEXT"}, {Name: "score", Type: "REAL"}, {Name: "twice", Type: "REAL"}}
	if fmt.Sprint(rs.Columns) != fmt.Sprint(want) {
		t.Fatalf("columns %v, want %v", rs.Columns, want)
	}
	if len(rs.Rows) != 2 || rs.Rows[0][1] != "ann;1" || fmt.Sprint(rs.Rows[1][3]) != "4" {
		t.Fatalf("rows %v", rs.Rows)
	}
	if st := h.run("SELECT * FROM nowhere"); st.State != api.TaskError || !strings.Contains(st.Error, "no such table") {
		t.Fatalf("bad query: %+v", st)
	}
}

func TestSerialRejectsSecondTaskAndWrongLock(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	ctx := context.Background()
	// A well-formed token the manager never granted.
	_, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token2, Code: "echo x"})
	if !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("wrong token: %v, want a lock mismatch", err)
	}
	_, err = h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-9", Token: token, Code: "echo x"})
	if !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("unknown ask: %v, want a lock mismatch", err)
	}
	_, err = h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: "xyz", Code: "echo x"})
	if !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("malformed token: %v, want invalid argument", err)
	}
	code, release := gate(t)
	sub, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Busy", func() bool { return h.mgr.last() == "Busy" })
	_, err = h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: "echo x"})
	if !errors.Is(err, linkis.ErrEngineBusy) || !linkis.IsRetryable(err) {
		t.Fatalf("second task while busy: %v, want a retryable engine_busy", err)
	}
	release()
	if st, _ := h.cli.Wait(ctx, sub.ID); st.State != api.TaskSuccess {
		t.Fatalf("first task %+v", st)
	}
	waitFor(t, 5*time.Second, "Idle after the task", func() bool { return h.mgr.last() == "Idle" })
	// The lock was verified once, not per task.
	h.mgr.mu.Lock()
	lookups := h.mgr.lookups
	h.mgr.mu.Unlock()
	if lookups != 3 {
		t.Errorf("%d lock lookups, want 3 (two refusals, one grant)", lookups)
	}
	// Another caller's grant replaces the first one on a serial engine.
	h.mgr.grant("ask-2", ticket, token2, time.Time{})
	if _, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-2", Token: token2, Code: "true"}); err != nil {
		t.Fatal(err)
	}
	// Unlock through the engine: the manager is told.
	waitFor(t, 5*time.Second, "the task to end", func() bool { return h.ec.Info().Running == 0 })
	if _, err := h.cli.Unlock(ctx, api.LockRequest{AskID: "ask-2", Token: token2}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Unlock", func() bool { return h.mgr.last() == "Unlock" })
	if _, err := h.cli.Unlock(ctx, api.LockRequest{AskID: "ask-2", Token: token2}); !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("second unlock: %v", err)
	}
}

func TestConcurrentRunsNAndReportsBusy(t *testing.T) {
	cfg := testConfig(t, "shell")
	cfg.Concurrency = 3
	h := start(t, cfg)
	ctx := context.Background()
	var ids []string
	code, release := gate(t)
	for i := 0; i < 3; i++ {
		sub, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
		if err != nil {
			t.Fatalf("task %d: %v", i, err)
		}
		ids = append(ids, sub.ID)
		if i < 2 && h.ec.Info().Status != "Unlock" {
			t.Fatalf("with %d of 3 running the engine is %s, want Unlock", i+1, h.ec.Info().Status)
		}
	}
	waitFor(t, 5*time.Second, "Busy", func() bool { return h.mgr.last() == "Busy" })
	if info := h.ec.Info(); info.Running != 3 {
		t.Fatalf("running %d, want 3 at once", info.Running)
	}
	if _, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: "true"}); !errors.Is(err, linkis.ErrEngineBusy) {
		t.Fatalf("a 4th task: %v, want engine_busy", err)
	}
	release()
	for _, id := range ids {
		if st, _ := h.cli.Wait(ctx, id); st.State != api.TaskSuccess {
			t.Fatalf("%s: %+v", id, st)
		}
	}
	waitFor(t, 5*time.Second, "Unlock", func() bool { return h.mgr.last() == "Unlock" })
}

func TestTaskLogCapTruncatesAndNotes(t *testing.T) {
	cfg := testConfig(t, "shell")
	cfg.TaskLogCap = 1000
	h := start(t, cfg)
	st := h.run("for i in $(seq 1 500); do echo line-$i; done")
	if st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	p, err := h.cli.Log(context.Background(), st.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Truncated || !strings.Contains(p.Lines[len(p.Lines)-1], "log truncated") || len(p.Lines) > 200 {
		t.Fatalf("log not truncated with a note: %d lines, last %q, truncated=%v", len(p.Lines), p.Lines[len(p.Lines)-1], p.Truncated)
	}
	// The result set still has every line.
	if rs := readResult(t, st.Results[0]); len(rs.Rows) != 500 {
		t.Fatalf("result rows %d, want 500", len(rs.Rows))
	}
}

func TestIdleExitAndMaxTasks(t *testing.T) {
	cfg := testConfig(t, "shell")
	cfg.MaxFreeTime = 300 * time.Millisecond
	h := start(t, cfg)
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("an idle engine did not exit")
	}
	if h.mgr.last() != "ShuttingDown" {
		t.Fatalf("last report %q, want ShuttingDown", h.mgr.last())
	}

	cfg = testConfig(t, "shell")
	cfg.MaxTasks = 2
	h = start(t, cfg)
	h.run("true")
	h.run("true")
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("the engine did not exit after its max tasks")
	}
}

func TestSIGTERMCancelsTasksAndReports(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: "sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Busy", func() bool { return h.mgr.last() == "Busy" })
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatal(err)
		}
		h.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("the engine did not stop")
	}
	if h.mgr.last() != "ShuttingDown" {
		t.Fatalf("last report %q", h.mgr.last())
	}
	_ = sub
}

func TestLockExpiryEndsGrantAndUnlocks(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	h.mgr.grant("ask-1", ticket, token, time.Now().Add(200*time.Millisecond))
	if st := h.run("true"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	// The manager forgets the ask (its lock expired); the engine notices
	// at expiry, ends the grant and reports Unlock.
	h.mgr.mu.Lock()
	delete(h.mgr.grants, "ask-1")
	h.mgr.mu.Unlock()
	waitFor(t, 5*time.Second, "the unlock report", func() bool {
		h.mgr.mu.Lock()
		defer h.mgr.mu.Unlock()
		return len(h.mgr.unlocks) == 1
	})
	waitFor(t, 5*time.Second, "Unlock", func() bool { return h.mgr.last() == "Unlock" && h.ec.Info().Locks == 0 })
	time.Sleep(50 * time.Millisecond)
	h.mgr.mu.Lock()
	n := len(h.mgr.unlocks)
	h.mgr.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d unlock reports, want 1", n)
	}
}

func TestOnceEngineRunsItsJobAndExits(t *testing.T) {
	cfg := testConfig(t, "shell")
	cfg.Mode = linkis.ModeOnce
	cfg.OnceCode = "echo once-done"
	mgr := newFakeManager()
	ec, err := engineconn.New(cfg, engines.Builtin(), mgr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !mgr.seen("Running") && !mgr.seen("Busy") || mgr.last() != "Success" {
		t.Fatalf("reports %v", mgr.statuses)
	}
	res, _ := filepath.Glob(filepath.Join(cfg.ResultDir, "*"))
	if len(res) != 1 {
		t.Fatalf("results %v", res)
	}
	cfg = testConfig(t, "shell")
	cfg.Mode = linkis.ModeOnce
	cfg.OnceCode = "exit 1"
	mgr = newFakeManager()
	ec, _ = engineconn.New(cfg, engines.Builtin(), mgr, nil)
	if err := ec.Run(context.Background()); !errors.Is(err, engineconn.ErrOnceFailed) || mgr.last() != "Failed" {
		t.Fatalf("failing once job: %v, reports %v", err, mgr.statuses)
	}
}

func TestBadInput(t *testing.T) {
	cfg := testConfig(t, "nosuch")
	if _, err := engineconn.New(cfg, engines.Builtin(), newFakeManager(), nil); !errors.Is(err, linkis.ErrUnknownEngineType) ||
		!strings.Contains(err.Error(), "shell") {
		t.Fatalf("unknown engine: %v", err)
	}
	env := map[string]string{
		engineconn.EnvTicket: "ec-3", engineconn.EnvManager: "http://127.0.0.1:9", engineconn.EnvToken: "t",
		engineconn.EnvWorkDir: "/tmp/w", engineconn.EnvLogDir: "/tmp/l", engineconn.EnvResultDir: "/tmp/r",
		engineconn.EnvLabels: "concurrentEngineConn=4,engineType=shell-1,userCreator=alice-IDE",
	}
	get := func(k string) string { return env[k] }
	cfg, err := engineconn.ParseArgs([]string{"--ticket", "ec-3", "--engine", "shell-1", "--param", "engineconn.max.task.num=7"}, get)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Concurrency != 4 || cfg.MaxTasks != 7 || cfg.Managers[0] != "http://127.0.0.1:9" {
		t.Fatalf("parsed %+v", cfg)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--ticket", "ec-4", "--engine", "shell-1"}, "differs"},
		{[]string{"--ticket", "ec-3", "--engine", "shell"}, "type-version"},
		{[]string{"--ticket", "ec-3", "--engine", "shell-1", "--param", "engineconn.max.free.time=soon"}, "engineconn.max.free.time"},
		{[]string{"--ticket", "ec-3", "--engine", "shell-1", "--param", "novalue"}, "k=v"},
		{[]string{"--ticket", "ec-3", "--engine", "shell-1", "--param", "engineconn.once.code.file=../etc/passwd"}, "inside the work directory"},
	} {
		if _, err := engineconn.ParseArgs(c.args, get); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error about %q", c.args, err, c.want)
		}
	}
}

func TestSubmitAndWaitInOneCall(t *testing.T) {
	h := start(t, testConfig(t, "echo"))
	st, err := h.cli.Run(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: "one\ntwo"})
	if err != nil || st.State != api.TaskSuccess || len(st.Results) != 1 || st.LogLines != 2 {
		t.Fatalf("%+v %v", st, err)
	}
	// A task that outlives the wait carried by the submission is waited for.
	h2 := start(t, testConfig(t, "shell"))
	sub, err := h2.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: "true"})
	if err != nil || sub.Status != nil {
		t.Fatalf("a plain submit waits for nothing: %+v %v", sub, err)
	}
}

func TestShellLongScriptGoesThroughAFile(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	code := "x=1\n" + strings.Repeat("# padding to pass the inline limit\n", 3000) + "echo long $x $0"
	st := h.run(code)
	if st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	rs := readResult(t, st.Results[0])
	if got := fmt.Sprint(rs.Rows[0][0]); !strings.HasPrefix(got, "long 1 ") || !strings.HasSuffix(got, ".sh") {
		t.Fatalf("output %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(h.cfg.WorkDir, "tasks", "*")); len(left) != 0 {
		t.Fatalf("script files left behind: %v", left)
	}
}

func TestPeriodicHeartbeats(t *testing.T) {
	cfg := testConfig(t, "echo")
	cfg.HeartbeatInterval = 30 * time.Millisecond
	h := start(t, cfg)
	waitFor(t, 5*time.Second, "periodic heartbeats", func() bool {
		h.mgr.mu.Lock()
		defer h.mgr.mu.Unlock()
		return len(h.mgr.statuses) >= 5
	})
	h.mgr.mu.Lock()
	defer h.mgr.mu.Unlock()
	for _, s := range h.mgr.statuses {
		if s != "Unlock" {
			t.Fatalf("an idle engine reported %q: %v", s, h.mgr.statuses)
		}
	}
	if len(h.mgr.started) != 1 || !strings.HasPrefix(h.mgr.started[0], ticket+"@127.0.0.1:") {
		t.Fatalf("started reports %v", h.mgr.started)
	}
}

// Every goroutine an engine starts ends with it: after Run returns, the
// count is back where it was (the python engine's readers included).
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for _, engine := range []string{"python", "shell", "sql"} {
		cfg := testConfig(t, engine)
		mgr := newFakeManager()
		mgr.grant("ask-1", ticket, token, time.Time{})
		ec, err := engineconn.New(cfg, engines.Builtin(), mgr, quiet)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ec.Run(ctx) }()
		waitFor(t, 30*time.Second, "the engine to listen", func() bool { return ec.Addr() != "" })
		cli := api.NewEngineClient(ec.Addr(), cfg.Token, nil)
		code := map[string]string{"python": "print(1)", "shell": "echo 1", "sql": "SELECT 1"}[engine]
		var st api.TaskStatus
		waitFor(t, 5*time.Second, "a task to run", func() bool {
			st, err = cli.Run(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
			return !errors.Is(err, linkis.ErrUnavailable)
		})
		if err != nil || st.State != api.TaskSuccess {
			t.Fatalf("%s: %+v %v", engine, st, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	waitFor(t, 5*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func TestLockAheadOfTheFirstTask(t *testing.T) {
	h := start(t, testConfig(t, "echo"))
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	h.mgr.grant("ask-1", ticket, token, exp)
	r, err := h.cli.Lock(ctx, api.LockRequest{AskID: "ask-1", Token: token})
	if err != nil || !r.Held || r.EC != ticket || r.Expires != exp.UnixNano() {
		t.Fatalf("lock %+v %v", r, err)
	}
	if info, _ := h.cli.Info(ctx); info.Locks != 1 || info.Status != "Idle" {
		t.Fatalf("info after lock %+v", info)
	}
	waitFor(t, 5*time.Second, "Idle reported", func() bool { return h.mgr.last() == "Idle" })
	if _, err := h.cli.Lock(ctx, api.LockRequest{AskID: "ask-1", Token: token2}); !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("lock with a wrong token: %v", err)
	}
	if _, err := h.cli.Lock(ctx, api.LockRequest{AskID: "ask-1", Token: "nothex"}); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("lock with a malformed token: %v", err)
	}
	// Another engine's grant is not this one's.
	h.mgr.grant("ask-3", "ec-8", token2, time.Time{})
	if _, err := h.cli.Lock(ctx, api.LockRequest{AskID: "ask-3", Token: token2}); !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("another engine's grant: %v", err)
	}
	// Unknown tasks and bad paging are refused by name.
	if _, err := h.cli.Status(ctx, "t-99", 0); !errors.Is(err, linkis.ErrUnknownNode) {
		t.Fatalf("unknown task: %v", err)
	}
	st, err := h.cli.Run(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.cli.Log(ctx, st.ID, 0, 0); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("page size 0: %v", err)
	}
}

// A lock is verified past a manager member that does not answer (cut off
// from the network): the engine asks again rather than refusing the task.
func TestLockVerifiedPastASilentMember(t *testing.T) {
	h := start(t, testConfig(t, "echo"))
	h.mgr.grant("ask-1", ticket, token, time.Time{})
	h.mgr.mu.Lock()
	h.mgr.silent = 1
	h.mgr.mu.Unlock()
	if r, err := h.cli.Lock(context.Background(), api.LockRequest{AskID: "ask-1", Token: token}); err != nil || !r.Held {
		t.Fatalf("lock past a silent member: %+v %v", r, err)
	}
}

func TestLogsOutliveTheTaskRecord(t *testing.T) {
	cfg := testConfig(t, "shell")
	cfg.KeepTasks = 1
	h := start(t, cfg)
	first := h.run("echo one; echo two >&2")
	h.run("true")
	ctx := context.Background()
	// The record goes once the log is saved (a moment after the next task
	// ended): the log is always in memory or on disk.
	waitFor(t, 5*time.Second, "the first task's record to be forgotten", func() bool {
		_, err := h.cli.Status(ctx, first.ID, 0)
		return errors.Is(err, linkis.ErrUnknownNode)
	})
	if _, ok := engineconn.ReadSavedLog(cfg.LogDir, first.ID); !ok {
		t.Fatal("the record was forgotten before the log was saved")
	}
	p, err := h.cli.Log(ctx, first.ID, 0, 100)
	if err != nil || !p.Complete || strings.Join(p.Lines, ",") != "one,two" && strings.Join(p.Lines, ",") != "two,one" {
		t.Fatalf("log of a forgotten task: %+v %v", p, err)
	}
	for _, id := range []string{"t-../../etc/passwd", "t-", "x-1", "t-1x"} {
		if _, err := h.cli.Log(ctx, id, 0, 10); !errors.Is(err, linkis.ErrUnknownNode) {
			t.Errorf("log of %q: %v", id, err)
		}
	}
}

func TestKeptLogsAreSavedAtExit(t *testing.T) {
	cfg := testConfig(t, "echo")
	h := start(t, cfg)
	st := h.run("kept line")
	h.stop()
	<-h.done
	h.done <- nil
	lines, ok := engineconn.ReadSavedLog(cfg.LogDir, st.ID)
	if !ok || strings.Join(lines, "|") != "kept line" {
		t.Fatalf("saved log %q %v", lines, ok)
	}
}

func TestReleasedGrantStopsWorkingAfterTTL(t *testing.T) {
	cfg := testConfig(t, "echo")
	cfg.GrantTTL = 100 * time.Millisecond
	h := start(t, cfg)
	if st := h.run("x"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	// Released through the manager: the engine still trusts its cache ...
	h.mgr.mu.Lock()
	delete(h.mgr.grants, "ask-1")
	h.mgr.mu.Unlock()
	ctx := context.Background()
	// ... until the TTL runs out, then asks again and refuses.
	time.Sleep(150 * time.Millisecond)
	if _, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: "x"}); !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("a released grant after its TTL: %v", err)
	}
}

// Output without a newline must not grow the engine's memory without
// limit: the result row is cut at 64 KiB and says so.
func TestShellLongLineIsCut(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	st := h.run("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo next")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("status %+v", st)
	}
	rs := readResult(t, st.Results[0])
	if len(rs.Rows) != 2 || rs.Rows[1][0] != "next" {
		t.Fatalf("%d rows", len(rs.Rows))
	}
	row, _ := rs.Rows[0][0].(string)
	if len(row) > 64<<10+100 || !strings.HasSuffix(row, "[line cut at 65536 bytes]") {
		t.Fatalf("first row is %d bytes, ends %q", len(row), row[max(0, len(row)-40):])
	}
}

// A slow manager must not delay the end of running tasks past the ECM's
// grace: tasks are cancelled before the ShuttingDown report, which has a
// short deadline of its own.
func TestSIGTERMCancelsTasksBeforeASlowReport(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	h.mgr.mu.Lock()
	h.mgr.slowShutdown = true
	h.mgr.mu.Unlock()
	pidFile := filepath.Join(t.TempDir(), "pid")
	if _, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token,
		Code: "sleep 60 & echo $! > " + pidFile + "; wait"}); err != nil {
		t.Fatal(err)
	}
	var pid int
	waitFor(t, 5*time.Second, "the task's pid", func() bool {
		b, _ := os.ReadFile(pidFile)
		_, err := fmt.Sscan(string(b), &pid)
		return err == nil
	})
	h.stop()
	waitFor(t, 1500*time.Millisecond, "the task's process to end", func() bool { return !alive(pid) })
	select {
	case <-h.done:
		h.done <- nil
	case <-time.After(6 * time.Second):
		t.Fatal("the engine did not stop within the ECM's grace")
	}
}

// alive says whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// runWithin runs code and fails the test if it does not end within d.
func (h *harness) runWithin(d time.Duration, code string) api.TaskStatus {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	sub, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	st, err := h.cli.Wait(ctx, sub.ID)
	if err != nil {
		h.t.Fatalf("wait for %q: %v", code, err)
	}
	return st
}

// A process that escaped the interpreter's group holding its pipes (a
// fork that called setsid) must not make a later crash of the interpreter
// hang the task, the next one or the engine's end; and what user code
// starts does not inherit the protocol's pipes at all.
func TestPythonCrashWithAnEscapedChildHoldingThePipes(t *testing.T) {
	h := start(t, testConfig(t, "python"))
	st := h.runWithin(10*time.Second, "import os\nprint(os.readlink('/proc/self/fd/3'), os.readlink('/proc/self/fd/4'))")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("%+v", st)
	}
	if rs := readResult(t, st.Results[0]); len(rs.Rows) != 1 || rs.Rows[0][0] != "/dev/null /dev/null" {
		t.Fatalf("fds 3 and 4 of user code: %v", rs.Rows)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	st = h.runWithin(10*time.Second, "import os, time\npid = os.fork()\nif pid == 0:\n    os.setsid()\n    time.sleep(60)\n    os._exit(0)\nopen("+
		fmt.Sprintf("%q", pidFile)+", 'w').write(str(pid))")
	if st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	b, _ := os.ReadFile(pidFile)
	var child int
	if _, err := fmt.Sscan(string(b), &child); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if st := h.runWithin(10*time.Second, "import os\nos._exit(1)"); st.State != api.TaskError {
		t.Fatalf("crash: %+v", st)
	}
	if st := h.runWithin(30*time.Second, "print('alive')"); st.State != api.TaskSuccess {
		t.Fatalf("after the crash: %+v", st)
	}
}

// An END frame forged by the task's own code neither ends that task early
// nor hands its status to the next task.
func TestPythonForgedEndIsDropped(t *testing.T) {
	h := start(t, testConfig(t, "python"))
	st := h.runWithin(10*time.Second, "import sys, time\nsys.modules['__main__']._send(b'END', 'OK')\n"+
		"sys.modules['__main__']._send(b'END', 'LINKIS-END-0000000000000000 OK')\ntime.sleep(0.3)\nraise ValueError('boom')")
	if st.State != api.TaskError || !strings.Contains(st.Error, "boom") {
		t.Fatalf("forging task: %+v", st)
	}
	if st := h.runWithin(10*time.Second, "print('next')"); st.State != api.TaskSuccess {
		t.Fatalf("next task: %+v", st)
	}
}

// Printing more than a frame may carry (16 MiB) in one call goes in
// several frames: the interpreter, and the session's variables, survive.
func TestPythonHugePrintKeepsTheSession(t *testing.T) {
	h := start(t, testConfig(t, "python"))
	if st := h.runWithin(30*time.Second, "y = 5\nprint('x' * (17 << 20))\nraise ValueError('é' * (2 << 20))"); st.State != api.TaskError || !strings.Contains(st.Error, "ééé") {
		t.Fatalf("huge print: %+v", st)
	}
	st := h.runWithin(30*time.Second, "print(y)")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("%+v", st)
	}
	if rs := readResult(t, st.Results[0]); len(rs.Rows) != 1 || rs.Rows[0][0] != "5" {
		t.Fatalf("the session lost its variables: %v", rs.Rows)
	}
}

// A serial engine held by one grant reports neither Busy nor Idle for
// short tasks (the manager knows it is held), but a task that lasts is
// reported Busy, and the end of the grant is reported at once.
func TestShortTasksUnderAGrantCostNoHeartbeats(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	st := h.run("true") // the grant is verified and the engine reports Idle
	if st.State != api.TaskSuccess {
		t.Fatalf("first task: %+v", st)
	}
	waitFor(t, 5*time.Second, "Idle", func() bool { return h.mgr.last() == "Idle" })
	h.mgr.mu.Lock()
	before := len(h.mgr.statuses)
	h.mgr.mu.Unlock()
	for range 20 {
		if st := h.run("true"); st.State != api.TaskSuccess {
			t.Fatalf("task: %+v", st)
		}
	}
	time.Sleep(2 * engineconn.BusyReportDelay)
	h.mgr.mu.Lock()
	after := h.mgr.statuses[before:]
	h.mgr.mu.Unlock()
	if len(after) > 0 {
		t.Errorf("20 short tasks under one grant sent heartbeats %v, want none", after)
	}
	code, release := gate(t)
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: "ask-1", Token: token, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a long task reported Busy", func() bool { return h.mgr.last() == "Busy" })
	release()
	if _, err := h.cli.Wait(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "Idle after it", func() bool { return h.mgr.last() == "Idle" })
	if _, err := h.cli.Unlock(context.Background(), api.LockRequest{AskID: "ask-1", Token: token}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "Unlock at once", func() bool { return h.mgr.last() == "Unlock" })
}

// A waiting submission that asks for the log (?logSize) gets the first
// page of an ended task's log in the same answer, as a log call gives it.
func TestSubmitWaitCarriesTheLog(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	post := func(query string) (*http.Response, api.TaskSubmitted) {
		t.Helper()
		body := strings.NewReader(`{"askId":"ask-1","token":"` + token + `","code":"echo one; echo two; echo three"}`)
		req, err := http.NewRequest(http.MethodPost, "http://"+h.ec.Addr()+api.PathTasks+query, body)
		if err != nil {
			t.Fatal(err)
		}
		api.SetToken(req, h.cfg.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out api.TaskSubmitted
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp, out
	}
	if resp, _ := post("?waitMs=100&logSize=" + fmt.Sprint(api.MaxLogPageSize+1)); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("logSize over the page limit: HTTP %d", resp.StatusCode)
	}
	resp, out := post("?waitMs=" + fmt.Sprint(api.MaxWait.Milliseconds()) + "&logSize=2")
	if resp.StatusCode != http.StatusOK || out.Status == nil || out.Status.State != api.TaskSuccess || out.Log == nil {
		t.Fatalf("waiting submission: HTTP %d %+v", resp.StatusCode, out)
	}
	want, err := h.cli.Log(context.Background(), out.ID, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*out.Log) != fmt.Sprint(want) || len(want.Lines) != 2 || want.Complete {
		t.Fatalf("inline log %+v, log call %+v", *out.Log, want)
	}
	// Without logSize (or without a wait) no log travels.
	if _, out := post("?waitMs=" + fmt.Sprint(api.MaxWait.Milliseconds())); out.Log != nil || out.Status == nil {
		t.Fatalf("submission without logSize: %+v", out)
	}
}

// An engine an ECM started reports its address on the socket it
// inherited (LINKIS_ADDR_FD), which it marks close-on-exec at once so
// that the user's code it runs never holds it, and tells the manager only
// once the ECM acknowledged: whatever the manager hands out, the ECM
// knows. An engine whose ECM is gone fails to start.
func TestEngineReportsItsAddressToItsECMFirst(t *testing.T) {
	pair := func() (ecmEnd *os.File, engineFD string) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		// As the engine inherits it: not close-on-exec.
		if _, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fds[1]), syscall.F_SETFD, 0); errno != 0 {
			t.Fatal(errno)
		}
		return os.NewFile(uintptr(fds[0]), "ecm"), strconv.Itoa(fds[1])
	}
	parse := func(fd string) engineconn.Config {
		env := map[string]string{engineconn.EnvManager: "http://127.0.0.1:9", engineconn.EnvToken: "t", engineconn.EnvAddrFD: fd,
			engineconn.EnvWorkDir: "/tmp/w", engineconn.EnvLogDir: "/tmp/l", engineconn.EnvResultDir: "/tmp/r"}
		c, err := engineconn.ParseArgs([]string{"--ticket", ticket, "--engine", "shell-1"}, func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ours, fd := pair()
	defer ours.Close()
	cfg := testConfig(t, "shell")
	cfg.AddrReport = parse(fd).AddrReport
	n, _ := strconv.Atoi(fd)
	if flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(n), syscall.F_GETFD, 0); errno != 0 || flags&syscall.FD_CLOEXEC == 0 {
		t.Fatalf("the address socket is inherited by the engine's children (flags %#x, %v)", flags, errno)
	}
	if _, err := engineconn.ParseArgs([]string{"--ticket", ticket, "--engine", "shell-1"}, func(k string) string {
		return map[string]string{engineconn.EnvManager: "http://127.0.0.1:9", engineconn.EnvToken: "t", engineconn.EnvAddrFD: "0",
			engineconn.EnvWorkDir: "/tmp/w", engineconn.EnvLogDir: "/tmp/l", engineconn.EnvResultDir: "/tmp/r"}[k]
	}); err == nil || !strings.Contains(err.Error(), engineconn.EnvAddrFD) {
		t.Errorf("stdin as the address socket: %v", err)
	}
	mgr := newFakeManager()
	ec, err := engineconn.New(cfg, engines.Builtin(), mgr, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ec.Run(ctx) }()
	defer func() { cancel(); <-done }()
	line, err := bufio.NewReader(ours).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != ec.Addr() {
		t.Fatalf("read %q %v from the address socket; the engine serves at %q", line, err, ec.Addr())
	}
	time.Sleep(100 * time.Millisecond)
	mgr.mu.Lock()
	early := len(mgr.started)
	mgr.mu.Unlock()
	if early != 0 {
		t.Fatal("the engine reported to the manager before its ECM acknowledged its address")
	}
	if _, err := ours.Write([]byte(engineconn.AddrAck)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the report to the manager", func() bool { return mgr.seen("Unlock") })

	gone, fd := pair()
	gone.Close()
	cfg = testConfig(t, "shell")
	cfg.AddrReport = parse(fd).AddrReport
	ec, err = engineconn.New(cfg, engines.Builtin(), newFakeManager(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "ECM") {
		t.Fatalf("an engine whose ECM is gone: %v, want a failed start naming the ECM", err)
	}
}
