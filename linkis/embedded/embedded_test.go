package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

func TestMain(m *testing.M) {
	embedded.ServeEngine() // the ECM starts engines as this test binary
	os.Exit(m.Run())
}

func TestManagerAndECMRunARealEngine(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := sys.Manager().Ask(ctx, api.AskRequest{ID: "a1", WaitMs: 30_000,
		Labels: map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: "shell-1"}})
	if err != nil || res.Status != "Granted" {
		t.Fatalf("ask: %+v %v", res, err)
	}
	st, err := api.NewEngineClient(res.Addr, sys.Token(), nil).Run(ctx, api.TaskRequest{AskID: res.AskID, Token: res.Token, Code: "echo hi"})
	if err != nil || st.State != api.TaskSuccess {
		t.Fatalf("task: %+v %v", st, err)
	}
	dir := sys.DataDir()
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the temporary data dir %s is still there: %v", dir, err)
	}
}

func TestDurableSystemRestartsOnItsDataDir(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		st, err := sys.Manager().Status(context.Background())
		if err != nil || st.State != "Leader" {
			t.Errorf("round %d: status %+v %v", round, st, err)
		}
		if round == 1 && st.AppliedIndex < 3 {
			t.Errorf("round %d: applied index %d: the restarted manager did not read its log", round, st.AppliedIndex)
		}
		if err := sys.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a durable system's data dir must stay: %v", err)
	}
}

func shellJob(t *testing.T, user, code string) orchestrator.JobRequest {
	t.Helper()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: "shell", Code: code})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// waitState polls a job until it reaches want.
func waitState(t *testing.T, sys *embedded.System, user, execID string, want orchestrator.State) orchestrator.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := sys.Jobs().JobByExecID(context.Background(), user, execID)
		if err == nil && j.State == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v %v, want %v", execID, j.State, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cancel while queued and while running, through real engines: the
// running task's processes go, the engine serves the next job.
func TestKillQueuedAndRunningJobs(t *testing.T) {
	ec := oneAtATime()
	sys, err := embedded.Start(embedded.Config{Entrance: ec})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	marker := filepath.Join(t.TempDir(), "child")
	running, err := sys.Submit(ctx, "alice", shellJob(t, "alice", "sleep 300 & echo $! > "+marker+"; wait"))
	if err != nil {
		t.Fatal(err)
	}
	queued, err := sys.Submit(ctx, "alice", shellJob(t, "alice", "echo never"))
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, sys, "alice", running.ExecID, orchestrator.Running)
	if j, err := sys.Jobs().Kill(ctx, "alice", queued.ExecID); err != nil || j.State != orchestrator.Cancelled {
		t.Fatalf("kill queued: %+v %v", j.State, err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(marker)
		fmt.Sscan(string(b), &pid)
		if time.Now().After(deadline) {
			t.Fatal("the running job's child never started")
		}
	}
	if _, err := sys.Jobs().Kill(ctx, "bob", running.ExecID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("bob killing alice's job: %v", err)
	}
	if _, err := sys.Jobs().Kill(ctx, "alice", running.ExecID); err != nil {
		t.Fatal(err)
	}
	if j, err := sys.Wait(ctx, "alice", running.ExecID); err != nil || j.State != orchestrator.Cancelled {
		t.Fatalf("killed running job: %v %v", j.State, err)
	}
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the killed job's child %d is still alive", pid)
		}
	}
	next, err := sys.Submit(ctx, "alice", shellJob(t, "alice", "echo after"))
	if err != nil {
		t.Fatal(err)
	}
	if j, err := sys.Wait(ctx, "alice", next.ExecID); err != nil || j.State != orchestrator.Succeed || j.EC != running.EC && running.EC != "" {
		t.Fatalf("the job after the kills: %+v %v", j, err)
	}
}

// A durable system stopped with a running job and queued ones: after the
// restart every accepted job is accounted for - the queued ones run, the
// running one is failed with the reason.
func TestRestartAccountsForEveryJob(t *testing.T) {
	dir := t.TempDir()
	ec := oneAtATime()
	cfg := embedded.Config{DataDir: dir, Durable: true, Entrance: ec}
	sys, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	long, err := sys.Submit(ctx, "alice", shellJob(t, "alice", "sleep 300"))
	if err != nil {
		t.Fatal(err)
	}
	var queued []string
	for i := range 3 {
		j, err := sys.Submit(ctx, "alice", shellJob(t, "alice", fmt.Sprintf("echo queued %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, j.ExecID)
	}
	waitState(t, sys, "alice", long.ExecID, orchestrator.Running)
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}

	sys, err = embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	j, err := sys.Wait(ctx, "alice", long.ExecID)
	if err != nil || j.State != orchestrator.Failed || !strings.Contains(j.Reason, "not run again") {
		t.Errorf("the job running at the stop: %v %q %v", j.State, j.Reason, err)
	}
	for _, id := range queued {
		if j, err := sys.Wait(ctx, "alice", id); err != nil || j.State != orchestrator.Succeed {
			t.Errorf("queued job %s after the restart: %v %q %v", id, j.State, j.Reason, err)
		}
	}
	jobs, total, err := sys.Jobs().List(ctx, "alice", orchestrator.ListQuery{PageSize: 100})
	if err != nil || total != 4 || len(jobs) != 4 {
		t.Errorf("history after the restart: %d of %d jobs, %v", len(jobs), total, err)
	}
}

// A closed system refuses calls with a clear error instead of panicking.
func TestClosedSystemRefusesCalls(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sys.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := sys.Submit(context.Background(), "alice", shellJob(t, "alice", "true")); !errors.Is(err, linkis.ErrUnavailable) {
		t.Errorf("Submit after Close: %v", err)
	}
	if _, err := sys.Wait(context.Background(), "alice", "exec_1_00000000"); !errors.Is(err, linkis.ErrUnavailable) {
		t.Errorf("Wait after Close: %v", err)
	}
	if _, err := sys.Handler(restapi.DefaultConfig()); !errors.Is(err, linkis.ErrUnavailable) {
		t.Errorf("Handler after Close: %v", err)
	}
}

// oneAtATime is an entrance that runs one job of a group at a time.
func oneAtATime() *entrance.Config {
	ec := entrance.DefaultConfig()
	jc := manager.DefaultJobConfig()
	jc.GroupMaxRunning = 1
	ec.Jobs = &jc
	return &ec
}

// A job's engine is given back with the record of the job's end, in the
// same command: once Wait has the end, the engine is free (not held until
// its lock expires), and until then a successor of a dead leader asking
// under the job's own id would get it back.
func TestEngineReleasedWithTheJobsEnd(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := sys.Submit(ctx, "alice", shellJob(t, "alice", "echo hi"))
	if err != nil {
		t.Fatal(err)
	}
	if j, err = sys.Wait(ctx, "alice", j.ExecID); err != nil || j.State != orchestrator.Succeed {
		t.Fatalf("%+v %v", j, err)
	}
	sys.Store().Read(ctx, true, func(s *manager.State) {
		for _, e := range s.ECs() {
			if len(e.Holders) != 0 {
				t.Errorf("engine %v is still held by %v after its job ended", e.ID, e.Holders)
			}
		}
	})
}

// TestBigOutputEndsTheJob runs, on real engines, jobs whose last update
// would pass what the replicated log takes (4 KiB per line, 1024 result
// sets per record, 1 MiB per command): each still ends as it ran, with
// what did not fit cut and said in its log - not left Scheduled for ever
// (found in review: the update that carried the end was refused whole).
func TestBigOutputEndsTheJob(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for _, c := range []struct {
		name, engine, code string
		results            int
		logHas             string
	}{
		{"a 5000-byte line", "shell", "head -c 5000 /dev/zero | tr '\\0' x; echo", 1, strings.Repeat("x", 5000)},
		{"1100 result sets", "sql", strings.Repeat("select 1;\n", 1100), manager.MaxJobResults, "the job made 1100 result sets; the record keeps the first 1024"},
		{"10 result sets", "sql", strings.Repeat("select 1;\n", 10), 10, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: c.engine, Code: c.code})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			j, err := sys.Submit(ctx, "alice", req)
			if err != nil {
				t.Fatal(err)
			}
			done, err := sys.Wait(ctx, "alice", j.ExecID)
			if err != nil || done.State != orchestrator.Succeed {
				t.Fatalf("want Succeed, got %v %v (%s)", done.State, err, done.Reason)
			}
			if len(done.Results) != c.results {
				t.Fatalf("%d result sets recorded, want %d", len(done.Results), c.results)
			}
			page, err := sys.Jobs().Log(ctx, "alice", j.ExecID, 0, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			if all := strings.Join(page.Lines, "\n"); !strings.Contains(all, c.logHas) {
				t.Fatalf("the log lacks %q:\n%s", c.logHas, all[:min(len(all), 2000)])
			}
		})
	}
}
