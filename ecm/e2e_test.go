package ecm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Ask → the reconciler launches on the ECM → a real EngineConn process
// reports in → the ask is granted → a shell task returns its output; a
// second ask reuses the same engine.
func TestAskStartsRealEngineAndReusesIt(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), nil)
	if !g.Created {
		t.Fatalf("first ask %+v: want a created engine", g)
	}
	resp, ok := c.ecm.Engine(g.EC)
	if !ok || resp.State != api.ECRunning || resp.Addr != g.Addr || !processAlive(resp.PID) {
		t.Fatalf("ECM view of %s: %+v", g.EC, resp)
	}
	// The cluster token stays out of the user's code.
	if st := run(t, g, "env | grep -c LINKIS_TOKEN || true"); st.State != api.TaskSuccess || fmt.Sprint(readResultRows(t, st.Results[0])) != "[[0]]" {
		t.Fatalf("the task sees the cluster token: %+v", st)
	}
	st := run(t, g, "echo hello from $LINKIS_TASK_ID; whoami >/dev/null")
	if st.State != api.TaskSuccess {
		t.Fatalf("task %+v", st)
	}
	if rows := readResultRows(t, st.Results[0]); len(rows) != 1 || !strings.HasPrefix(fmt.Sprint(rows[0][0]), "hello from t-") {
		t.Fatalf("rows %v", rows)
	}
	if _, err := c.client.Release(context.Background(), g.AskID); err != nil {
		t.Fatal(err)
	}
	g2 := c.mustAsk(labels("shell-5"), nil)
	if g2.EC != g.EC || !g2.Reused || g2.Token == g.Token {
		t.Fatalf("second ask %+v: want %s reused with a new token", g2, g.EC)
	}
	if st := run(t, g2, "echo again"); st.State != api.TaskSuccess {
		t.Fatalf("task on the reused engine %+v", st)
	}
	// The first grant's token no longer opens the engine.
	cli := api.NewEngineClient(g.Addr, clusterToken, nil)
	_, err := cli.Submit(context.Background(), api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: "echo stale"})
	if !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("a released grant: %v, want lock_mismatch", err)
	}
	// A well-formed token of the right ask that the manager never gave.
	_, err = cli.Submit(context.Background(), api.TaskRequest{AskID: g2.AskID, Token: "0123456789abcdef", Code: "echo x"})
	if !errors.Is(err, linkis.ErrLockMismatch) {
		t.Fatalf("a wrong token: %v, want lock_mismatch", err)
	}
	c.state(func(s *manager.State) {
		if n := len(s.ECs()); n != 1 {
			t.Errorf("%d engines, want 1", n)
		}
	})
}

func TestPythonAndSQLSessionsKeepState(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	py := c.mustAsk(labels("python-3"), nil)
	if st := run(t, py, "counter = 40"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	st := run(t, py, "counter += 2\nprint(counter)")
	if st.State != api.TaskSuccess || fmt.Sprint(readResultRows(t, st.Results[0])[0][0]) != "42" {
		t.Fatalf("python second task %+v", st)
	}
	db := c.mustAsk(labels("sql-3"), nil)
	if st := run(t, db, "CREATE TABLE t(k TEXT, v INTEGER); INSERT INTO t VALUES ('a', 1), ('b', 2);"); st.State != api.TaskSuccess {
		t.Fatalf("DDL %+v", st)
	}
	st = run(t, db, "SELECT k, v FROM t ORDER BY v DESC")
	if st.State != api.TaskSuccess || len(st.Results) != 1 {
		t.Fatalf("select %+v", st)
	}
	rows := readResultRows(t, st.Results[0])
	if fmt.Sprint(rows) != "[[b 2] [a 1]]" {
		t.Fatalf("rows %v", rows)
	}
}

func TestSerialBusyAndConcurrentBusyAtN(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), nil)
	cli := api.NewEngineClient(g.Addr, clusterToken, nil)
	ctx := context.Background()
	code, release := gate(t)
	sub, err := cli.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: "echo second"}); !errors.Is(err, linkis.ErrEngineBusy) {
		t.Fatalf("second task on a busy serial engine: %v, want engine_busy", err)
	}
	release()
	if st, _ := cli.Wait(ctx, sub.ID); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}

	// A concurrent engine (concurrentEngineConn=3) shared by three asks.
	ls := labels("shell-6", linkis.LabelConcurrentEngineConn, "3")
	var grants []api.AskResult
	for i := 0; i < 3; i++ {
		grants = append(grants, c.mustAsk(ls, nil))
	}
	if grants[1].EC != grants[0].EC || grants[2].EC != grants[0].EC {
		t.Fatalf("three asks of a concurrent engine got %s %s %s, want one engine", grants[0].EC, grants[1].EC, grants[2].EC)
	}
	id, _ := manager.ParseECID(grants[0].EC)
	var subs []string
	code, release = gate(t)
	for _, g := range grants {
		cli := api.NewEngineClient(g.Addr, clusterToken, nil)
		sub, err := cli.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: code})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub.ID)
	}
	c.waitState("the manager to see the engine Busy at 3", func(s *manager.State) bool {
		e, ok := s.EC(id)
		return ok && e.Status == linkis.StatusBusy
	})
	cli = api.NewEngineClient(grants[0].Addr, clusterToken, nil)
	if info, err := cli.Info(ctx); err != nil || info.Running != 3 || info.Status != "Busy" {
		t.Fatalf("engine info %+v %v", info, err)
	}
	release()
	for _, s := range subs {
		if st, _ := cli.Wait(ctx, s); st.State != api.TaskSuccess {
			t.Fatalf("%+v", st)
		}
	}
	if info, err := cli.Info(ctx); err != nil || info.Running != 0 || info.Status != "Unlock" {
		t.Fatalf("engine info after its tasks %+v %v", info, err)
	}
}

// kill -9 of an engine process: the ECM reports it, the manager releases
// everything it held (ledger invariants hold) and the next ask starts a
// fresh engine.
func TestKill9EngineIsReportedAndReleased(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), nil)
	resp, _ := c.ecm.Engine(g.EC)
	if err := syscall.Kill(resp.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	id, _ := manager.ParseECID(g.EC)
	c.waitState("the manager to forget the killed engine", func(s *manager.State) bool {
		_, ok := s.EC(id)
		return !ok
	})
	c.state(func(s *manager.State) {
		m, _ := s.ECM("ecm-test")
		if !m.Ledger.Used.IsZero() || !m.Ledger.Locked.IsZero() || m.Engines != 0 {
			t.Errorf("ECM ledger after the kill: %+v", m)
		}
		k := s.Key("alice-IDE,shell-5")
		if !k.Ledger.Used.IsZero() || !k.Ledger.Locked.IsZero() {
			t.Errorf("key ledger after the kill: %+v", k)
		}
		if _, ok := s.Ask(g.AskID); ok {
			t.Errorf("the ask holding the killed engine is still held")
		}
	})
	resp, _ = c.ecm.Engine(g.EC)
	if resp.State != api.ECExited || !resp.Failed || !resp.Retryable || !strings.Contains(resp.Reason, "signal: killed") && !strings.Contains(resp.Reason, "killed by signal") {
		t.Fatalf("ECM view after kill -9: %+v", resp)
	}
	g2 := c.mustAsk(labels("shell-5"), nil)
	if g2.EC == g.EC || !g2.Created {
		t.Fatalf("next ask %+v: want a fresh engine", g2)
	}
	if st := run(t, g2, "echo fresh"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
}

// An engine left unused exits by itself after its max free time, and what
// it held returns to the ledgers.
func TestIdleEngineExitsAndResourcesReturn(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), map[string]string{"engineconn.max.free.time": "300ms"})
	if st := run(t, g, "true"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	if _, err := c.client.Release(context.Background(), g.AskID); err != nil {
		t.Fatal(err)
	}
	id, _ := manager.ParseECID(g.EC)
	c.waitState("the idle engine to be gone", func(s *manager.State) bool {
		_, ok := s.EC(id)
		return !ok
	})
	c.state(func(s *manager.State) {
		m, _ := s.ECM("ecm-test")
		if !m.Ledger.Used.IsZero() || !m.Ledger.Locked.IsZero() {
			t.Errorf("ECM ledger after the idle exit: %+v", m.Ledger)
		}
	})
	resp, _ := c.ecm.Engine(g.EC)
	if resp.State != api.ECExited || resp.Failed {
		t.Fatalf("an idle exit is clean, got %+v", resp)
	}
}

func TestBadInputEndToEnd(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	// A type no plugin knows is refused by the manager.
	if _, err := c.ask(labels("nosuch-1"), nil); !errors.Is(err, linkis.ErrUnknownEngineType) {
		t.Fatalf("unknown engine type: %v", err)
	}
	// A type the manager knows but the EngineConn does not: the process
	// exits at once, the ECM reports a start-up failure, the ask fails
	// and says why.
	_, err := c.ask(labels("ghost-1"), nil)
	if !errors.Is(err, linkis.ErrEngineFailed) || !strings.Contains(err.Error(), "no engine of this type") {
		t.Fatalf("engine type unknown to the EngineConn: %v", err)
	}
	if linkis.IsRetryable(err) {
		t.Errorf("a start-up failure must not be retryable: %v", err)
	}
	// A launch of a binary that does not exist.
	_, err = c.ask(labels("missing-1"), nil)
	if !errors.Is(err, linkis.ErrEngineFailed) || !strings.Contains(err.Error(), "linkis-no-such-binary") {
		t.Fatalf("missing binary: %v", err)
	}
	c.waitState("no engine left", func(s *manager.State) bool { return len(s.ECs()) == 0 })

	// Code that never ends, killed on request; the engine serves on.
	g := c.mustAsk(labels("python-3"), nil)
	cli := api.NewEngineClient(g.Addr, clusterToken, nil)
	ctx := context.Background()
	sub, err := cli.Submit(ctx, api.TaskRequest{AskID: g.AskID, Token: g.Token, Code: "import time\nwhile True: time.sleep(0.01)"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if st, err := cli.Kill(ctx, sub.ID); err != nil || st.State != api.TaskCancel {
		t.Fatalf("kill: %+v %v", st, err)
	}
	if st := run(t, g, "print('still here')"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	// Output over the task log cap: truncated, and the log says so.
	g2 := c.mustAsk(labels("shell-5"), map[string]string{"engineconn.task.log.cap": "2k"})
	st := run(t, g2, "seq 1 2000")
	lg, err := api.NewEngineClient(g2.Addr, clusterToken, nil).Log(ctx, st.ID, 0, 10000)
	if err != nil || !lg.Truncated || !strings.Contains(lg.Lines[len(lg.Lines)-1], "log truncated") {
		t.Fatalf("log over the cap: truncated=%v lines=%d err=%v", lg.Truncated, len(lg.Lines), err)
	}
}

// SIGTERM to the ECM stops its engines and reports them; the manager ends
// up holding nothing.
func TestECMShutdownStopsEngines(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), nil)
	resp, _ := c.ecm.Engine(g.EC)
	c.stop()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
	c.done <- nil
	if processAlive(resp.PID) {
		t.Fatalf("engine %d survived its ECM", resp.PID)
	}
	c.state(func(s *manager.State) {
		if n := len(s.ECs()); n != 0 {
			t.Errorf("%d engines left in the manager", n)
		}
	})
}

// A once engine runs the job it was started with, reports Success and
// exits; its ask ends Done and nothing is left held.
func TestOnceEngineEndToEnd(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	ctx := context.Background()
	res, err := c.client.Ask(ctx, api.AskRequest{ID: nextAskID(), Labels: labels("shell-5", linkis.LabelEngineConnMode, "once"),
		Params: map[string]string{"engineconn.once.code": "echo the-job-ran > done.txt", "engineconn.exit.linger": "100ms"}, WaitMs: 30_000})
	if err != nil {
		t.Fatal(err)
	}
	if res.EC == "" {
		t.Fatalf("once ask %+v", res)
	}
	id, _ := manager.ParseECID(res.EC)
	c.waitState("the once engine to finish", func(s *manager.State) bool {
		_, ok := s.EC(id)
		return !ok
	})
	r := waitExitedCluster(t, c, res.EC)
	if r.Failed {
		t.Fatalf("once engine %+v", r)
	}
	if a, err := c.client.GetAsk(ctx, res.AskID, 0); err == nil && a.Status != "Done" {
		t.Fatalf("the once ask ended %+v: %v", a, a.Err())
	}
}

func waitExitedCluster(t *testing.T, c *cluster, ec string) api.LaunchResponse {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if r, ok := c.ecm.Engine(ec); ok && r.State == api.ECExited {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not exit", ec)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A task's processes live in a process group of their own; when the
// engine dies hard (kill -9, the OOM killer) they must not outlive it.
func TestKill9EngineTakesItsTasksProcessesAlong(t *testing.T) {
	c := newCluster(t, clusterOpts{})
	g := c.mustAsk(labels("shell-5"), nil)
	resp, _ := c.ecm.Engine(g.EC)
	pidFile := t.TempDir() + "/sleep.pid"
	cli := api.NewEngineClient(g.Addr, clusterToken, nil)
	if _, err := cli.Submit(context.Background(), api.TaskRequest{AskID: g.AskID, Token: g.Token,
		Code: "sleep 120 & echo $! > " + pidFile + "; wait"}); err != nil {
		t.Fatal(err)
	}
	var child int
	for deadline := time.Now().Add(10 * time.Second); child == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task did not start its child")
		}
		b, _ := os.ReadFile(pidFile)
		_, _ = fmt.Sscan(string(b), &child)
	}
	if err := syscall.Kill(resp.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); runningProcess(child); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the task's child %d outlived its engine", child)
		}
	}
}

// runningProcess says whether pid is a process that is not a zombie.
func runningProcess(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
