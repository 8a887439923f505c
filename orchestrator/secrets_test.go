package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// sent keeps what the manager and the engines were sent.
type sent struct {
	mu    sync.Mutex
	asks  []map[string]string // ask params
	tasks []map[string]string // task params
	codes []string            // task code
	scrub [][]string          // the values the engine is to mask
}

type recordingClient struct {
	TaskClient
	r *sent
}

func (c recordingClient) Submit(ctx context.Context, req api.TaskRequest, wait time.Duration) (api.TaskSubmitted, error) {
	c.r.mu.Lock()
	c.r.tasks = append(c.r.tasks, req.Params)
	c.r.codes = append(c.r.codes, req.Code)
	c.r.scrub = append(c.r.scrub, req.Scrub)
	c.r.mu.Unlock()
	return c.TaskClient.Submit(ctx, req, wait)
}

func recordingOrchestrator(t *testing.T, sources *datasource.Set) (*Orchestrator, *sent) {
	t.Helper()
	m := newFakeManager()
	r := &sent{}
	m.refuse = func(a api.AskRequest) error {
		r.mu.Lock()
		r.asks = append(r.asks, a.Params)
		r.mu.Unlock()
		return nil
	}
	cfg := DefaultConfig()
	cfg.SubmitWait, cfg.PollWait = 50*time.Millisecond, 50*time.Millisecond
	cfg.DataSources = sources
	o, err := New(cfg, m, func(addr string) TaskClient { return recordingClient{m.engines.client(addr), r} })
	if err != nil {
		t.Fatal(err)
	}
	return o, r
}

func testSources(t *testing.T) *datasource.Set {
	t.Helper()
	s, err := datasource.NewSet([]datasource.DataSource{
		{Name: "sales", URL: "jdbc:postgresql://db1:5432/sales", Username: "report", Password: "Sales-Pw-77", Users: []string{"alice"}},
		{Name: "hr", URL: "jdbc:mysql://db2/hr", Username: "hr", Password: "Hr-Pw-88", ConnectMax: 3, Users: []string{"bob"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An inline password (Linkis style, in startup configuration) is replaced
// in the caller's request - the record the entrance keeps - before
// anything else, travels only with the task, and never in the ask.
func TestInlinePasswordLeavesTheRecordAndTheAsk(t *testing.T) {
	o, r := recordingOrchestrator(t, nil)
	s := spec("jdbc-4", "echo ok")
	s.Request.Params.Configuration.Startup = Values{datasource.KeyURL: "jdbc:postgresql://db:5432/x", datasource.KeyUsername: "u",
		datasource.KeyPassword: "Inline-Pw-1", "engineconn.memory": "512m"}
	s.Request.Params.Configuration.Runtime = Values{"wds.linkis.jdbc.password": "Inline-Pw-1"}
	if err := o.Check(s); err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(s.Request)
	if strings.Contains(string(rec), "Inline-Pw-1") || !strings.Contains(string(rec), datasource.RedactedPrefix) {
		t.Fatalf("the caller's request still holds the password: %s", rec)
	}
	out := o.Run(context.Background(), s, newRecorder())
	if out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	if len(r.asks) != 1 || len(r.tasks) != 1 {
		t.Fatalf("asks %v tasks %d", r.asks, len(r.tasks))
	}
	if got := r.asks[0]; len(got) != 1 || got["engineconn.memory"] != "512m" {
		t.Errorf("the ask carries only the engine's own start-up params, got %v", got)
	}
	task := r.tasks[0]
	if task[datasource.KeyPassword] != "Inline-Pw-1" || task[datasource.KeyURL] != "jdbc:postgresql://db:5432/x" || task[datasource.KeyUsername] != "u" {
		t.Errorf("the task carries the revealed settings, got %v", task)
	}
	// A secret of any engine's start-up configuration goes with the task.
	s2 := spec("shell-1", "echo ok")
	s2.Request.Params.Configuration.Startup = Values{"my.service.password": "Shell-Pw-2", "engineconn.cores": "1"}
	if out := o.Run(context.Background(), s2, newRecorder()); out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	if a := r.asks[1]; a["my.service.password"] != "" || a["engineconn.cores"] != "1" {
		t.Errorf("ask %v", a)
	}
	if r.tasks[1]["my.service.password"] != "Shell-Pw-2" {
		t.Errorf("task %v", r.tasks[1])
	}
}

// A secret the vault no longer holds (the process that accepted the job
// restarted) fails the job clearly, before any task.
func TestForgottenSecretFailsClearly(t *testing.T) {
	o, r := recordingOrchestrator(t, nil)
	other, _ := recordingOrchestrator(t, nil)
	s := spec("jdbc-4", "echo ok")
	s.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:mysql://db/x", datasource.KeyUsername: "u", datasource.KeyPassword: "Pw-Lost-3"}
	other.Redact(s.User, &s.Request) // accepted by another process
	out := o.Run(context.Background(), s, newRecorder())
	if out.State != Failed || !strings.Contains(out.Err.Error(), "submit the job again") {
		t.Fatalf("%+v", out)
	}
	if len(r.tasks) != 0 {
		t.Fatalf("a task was sent: %v", r.tasks)
	}
}

func TestDataSourceResolution(t *testing.T) {
	o, r := recordingOrchestrator(t, testSources(t))
	s := spec("jdbc-4", "echo ok")
	s.Request.Params.Configuration.Runtime = Values{datasource.KeyDataSource: "sales", datasource.KeyResultMax: "50"}
	if err := o.Check(s); err != nil {
		t.Fatal(err)
	}
	if out := o.Run(context.Background(), s, newRecorder()); out.State != Succeed {
		t.Fatalf("%+v", out)
	}
	task := r.tasks[0]
	for k, want := range map[string]string{datasource.KeyURL: "jdbc:postgresql://db1:5432/sales", datasource.KeyUsername: "report",
		datasource.KeyPassword: "Sales-Pw-77", datasource.KeyDataSource: "sales", datasource.KeyResultMax: "50"} {
		if task[k] != want {
			t.Errorf("task %s = %q, want %q", k, task[k], want)
		}
	}
	if strings.Contains(strings.Join(mapValues(r.asks[0]), ","), "Sales-Pw-77") {
		t.Errorf("the ask holds the password: %v", r.asks[0])
	}

	refuse := func(name string, user string, edit func(*Spec), kind error, says string) {
		t.Helper()
		s := spec("jdbc-4", "SELECT 1")
		s.User = user
		s.Request.Labels[linkis.LabelUserCreator] = user + "-IDE"
		s.Request.Params.Configuration.Runtime = Values{datasource.KeyDataSource: "sales"}
		edit(&s)
		err := o.Check(s)
		if !errors.Is(err, kind) || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: want %v saying %q, got %v", name, kind, says, err)
		}
		if err != nil && (strings.Contains(err.Error(), "Sales-Pw-77") || strings.Contains(err.Error(), "Pw-X")) {
			t.Errorf("%s: the error holds a password: %v", name, err)
		}
	}
	refuse("a user not allowed", "bob", func(*Spec) {}, linkis.ErrPermission, `user "bob" is not allowed`)
	refuse("no such data source", "alice", func(s *Spec) { s.Request.Params.Configuration.Runtime[datasource.KeyDataSource] = "nope" },
		linkis.ErrInvalidArgument, "no data source of this name")
	refuse("a data source sent elsewhere", "alice", func(s *Spec) {
		s.Request.Params.Configuration.Startup = Values{"wds.linkis.jdbc.connect.url": "jdbc:postgresql://evil:5432/x"}
	}, linkis.ErrInvalidArgument, "must not be set with a data source")
	refuse("a data source under another user", "alice", func(s *Spec) { s.Request.Params.Configuration.Runtime[datasource.KeyUsername] = "root" },
		linkis.ErrInvalidArgument, "must not be set with a data source")
	refuse("row cap zero", "alice", func(s *Spec) { s.Request.Params.Configuration.Runtime[datasource.KeyResultMax] = "0" },
		linkis.ErrInvalidArgument, datasource.KeyResultMax)
	noDS := func(s *Spec) { delete(s.Request.Params.Configuration.Runtime, datasource.KeyDataSource) }
	refuse("no connection at all", "alice", noDS, linkis.ErrInvalidArgument, datasource.KeyURL)
	refuse("malformed URL", "alice", func(s *Spec) {
		noDS(s)
		s.Request.Params.Configuration.Runtime[datasource.KeyURL] = "jdbc:postgresql://u:Pw-X@db/x"
	}, linkis.ErrInvalidArgument, "carries a password")
	refuse("unknown driver", "alice", func(s *Spec) {
		noDS(s)
		s.Request.Params.Configuration.Runtime[datasource.KeyURL] = "jdbc:sqlserver://db:1433/x"
	}, linkis.ErrInvalidArgument, `"sqlserver"`)
	if len(r.asks) != 1 {
		t.Errorf("a refused job asked for an engine: %d asks", len(r.asks))
	}
	// Without data sources configured, naming one is refused too.
	bare, _ := recordingOrchestrator(t, nil)
	s = spec("jdbc-4", "SELECT 1")
	s.Request.Params.Configuration.Runtime = Values{datasource.KeyDataSource: "sales"}
	if err := bare.Check(s); err == nil {
		t.Fatal("a data source was found where none is configured")
	}
}

func TestSplitParams(t *testing.T) {
	startup := map[string]string{"jdbc.url": "u", "jdbc.connect.max": "3", "x.password": "p", "engineconn.memory": "1g"}
	runtime := map[string]string{"jdbc.connect.max": "5"}
	ask, task := splitParams("jdbc", startup, runtime)
	if len(ask) != 1 || ask["engineconn.memory"] != "1g" {
		t.Errorf("ask %v", ask)
	}
	if task["jdbc.url"] != "u" || task["jdbc.connect.max"] != "5" || task["x.password"] != "p" {
		t.Errorf("task %v", task)
	}
	if len(startup) != 4 || len(runtime) != 1 {
		t.Errorf("the request's maps were changed: %v %v", startup, runtime)
	}
	ask, task = splitParams("shell", map[string]string{"jdbc.url": "u"}, nil)
	if ask["jdbc.url"] != "u" || task != nil {
		t.Errorf("another engine keeps its start-up params: %v %v", ask, task)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
