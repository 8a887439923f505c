package restapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// The real Entrance satisfies Jobs with exactly its signatures.
var _ restapi.Jobs = (*entrance.Entrance)(nil)

// echoRunner runs a job without an engine: it logs the code and writes it
// as a one-row table result.
type echoRunner struct{ dir string }

func (echoRunner) Check(orchestrator.Spec) error { return nil }

func (r echoRunner) Run(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	l.Scheduled(1)
	l.Running("ec-test")
	l.Progress(0.5, "halfway")
	l.Log([]string{"INFO running " + spec.ExecID, "WARN nothing to do"})
	if strings.Contains(spec.Request.ExecutionContent.Code, "sleep") {
		<-ctx.Done()
		return orchestrator.Outcome{State: orchestrator.Cancelled, Err: ctx.Err()}
	}
	p := filepath.Join(r.dir, spec.ExecID+".jsonl")
	body := `{"type":"table","columns":[{"name":"code","type":"TEXT"}]}` + "\n" + `["` + spec.Request.ExecutionContent.Code + `"]` + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return orchestrator.Outcome{State: orchestrator.Failed, Err: err}
	}
	return orchestrator.Outcome{State: orchestrator.Succeed, Results: []string{p}, EC: "ec-test"}
}

// The handler and the Client over the real Entrance: a job submitted,
// followed to its end, its result read; another user can neither see nor
// open it; a path out of the user's results is refused; a running job is
// killed.
func TestOverEntrance(t *testing.T) {
	cfg := entrance.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.NoSync = true
	e, err := entrance.Open(cfg, echoRunner{dir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	hcfg := restapi.DefaultConfig()
	hcfg.Users = map[string]string{"alice": "a", "bob": "b"}
	hcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := restapi.NewHandler(e, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	alice, _ := restapi.NewClient(srv.URL, "alice", "a", srv.Client())
	bob, _ := restapi.NewClient(srv.URL, "bob", "b", srv.Client())
	alice.PollMin, alice.PollMax = time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", Code: "echo hi", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	st, err := alice.Wait(ctx, sub.ExecID, func(u restapi.Update) { lines = append(lines, u.Lines...) })
	if err != nil || st.Status != "Succeed" {
		t.Fatalf("wait: %+v %v", st, err)
	}
	if strings.Join(lines, "|") == "" || !strings.Contains(strings.Join(lines, "|"), "WARN nothing to do") {
		t.Errorf("log %q", lines)
	}
	task, err := alice.Job(ctx, sub.TaskID)
	if err != nil || len(task.ResultLocations) != 1 || task.EngineInstance != "ec-test" || task.UmUser != "alice" {
		t.Fatalf("task %+v %v", task, err)
	}
	fd, err := alice.OpenFile(ctx, task.ResultLocations[0], 1, 0)
	if err != nil || fd.TotalLine != 1 || fd.FileContent[0][0] != "echo hi" {
		t.Fatalf("openFile %+v %v", fd, err)
	}

	if _, err := bob.Status(ctx, sub.ExecID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("bob's status of alice's job: %v", err)
	}
	if _, err := bob.OpenFile(ctx, task.ResultLocations[0], 1, 0); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("bob opens alice's result: %v", err)
	}
	for _, p := range []string{"../bob/1/0.jsonl", filepath.Join(cfg.DataDir, "jobs.db"), "/etc/passwd"} {
		if _, err := alice.OpenFile(ctx, p, 1, 0); !errors.Is(err, linkis.ErrPermission) || strings.Contains(err.Error(), cfg.DataDir) && !strings.Contains(p, cfg.DataDir) {
			t.Errorf("alice opens %s: %v", p, err)
		}
	}
	if tasks, total, err := bob.List(ctx, orchestrator.ListQuery{}); err != nil || total != 0 || len(tasks) != 0 {
		t.Errorf("bob's list: %v %d %v", tasks, total, err)
	}

	req.ExecutionContent.Code = "sleep"
	sub2, err := alice.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Kill(ctx, sub2.ExecID); err != nil {
		t.Fatal(err)
	}
	if st, err := alice.Wait(ctx, sub2.ExecID, nil); err != nil || st.Status != "Cancelled" {
		t.Fatalf("killed job: %+v %v", st, err)
	}
}
