package restapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/entrance/entrancetest"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// The real Entrance satisfies Jobs with exactly its signatures.
var _ restapi.Jobs = (*entrance.Entrance)(nil)

// The handler and the Client over the real Entrance: a job submitted,
// followed to its end, its result read; another user can neither see nor
// open it; a path out of the user's results is refused; a running job is
// killed.
func TestOverEntrance(t *testing.T) {
	eng := entrancetest.NewEngine(t.TempDir())
	e, err := entrance.Open(entrance.DefaultConfig(), entrancetest.NewStore(t), eng, eng, nil)
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
	if got := strings.Join(lines, "|"); !strings.Contains(got, "INFO running "+sub.ExecID) || !strings.Contains(got, "|echo hi|") || !strings.Contains(got, "ended Succeed") {
		t.Errorf("log %q", lines)
	}
	task, err := alice.Job(ctx, sub.TaskID)
	if err != nil || len(task.ResultLocations) != 1 || task.EngineInstance != "ec-1" || task.UmUser != "alice" {
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
	for _, p := range []string{"../bob/1/0.jsonl", filepath.Join(eng.Dir, "ec-1", "results"), "/etc/passwd",
		"linkis:///results/bob/1/_0.jsonl", "linkis:///results/alice/1/_1.jsonl", "linkis:///results/alice/1/_00.jsonl", "linkis:///results/alice/99/_0.jsonl"} {
		if _, err := alice.OpenFile(ctx, p, 1, 0); !errors.Is(err, linkis.ErrPermission) || strings.Contains(err.Error(), eng.Dir) && !strings.Contains(p, eng.Dir) {
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
