package main

import (
	"bytes"
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
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
)

// jobServer runs the REST handler over an in-memory Entrance and returns
// the flags that point a job command at it as alice.
func jobServer(t *testing.T) (*restapitest.Jobs, []string) {
	t.Helper()
	jobs := restapitest.NewJobs()
	cfg := restapi.DefaultConfig()
	cfg.Users = map[string]string{"alice": "a-code", "bob": "b-code"}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := restapi.NewHandler(jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return jobs, []string{"--server", srv.URL, "--user", "alice", "--token", "a-code"}
}

func runCmd(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := runJobCommand(ctx, name, &out, &out, args)
	return out.String(), err
}

// submit sends what the flags say: engine label, userCreator, variables,
// labels, the code of a file; status, kill and list show what the server
// holds.
func TestJobCommands(t *testing.T) {
	jobs, conn := jobServer(t)
	out, err := runCmd(t, "submit", append([]string{"--engine", "python", "--code", "print(${n})", "--var", "n=1", "--label", "tenant=t1", "--creator", "cli"}, conn...)...)
	if err != nil || out != "submitted exec_1 (taskID 1)\n" {
		t.Fatalf("submit: %q %v", out, err)
	}
	j, _ := jobs.JobByExecID(context.Background(), "alice", "exec_1")
	if j.EngineType != "python-3" || j.Request.Labels["userCreator"] != "alice-cli" || j.Request.Labels["tenant"] != "t1" ||
		j.Request.Params.Variable["n"] != "1" || j.Request.ExecutionContent.Code != "print(${n})" {
		t.Fatalf("submitted %+v", j)
	}
	file := filepath.Join(t.TempDir(), "q.sql")
	if err := os.WriteFile(file, []byte("select 1"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "submit", append([]string{"--engine", "sql", "--file", file}, conn...)...); err != nil {
		t.Fatal(err)
	}
	j, _ = jobs.JobByExecID(context.Background(), "alice", "exec_2")
	if j.EngineType != "sql-1" || j.Request.ExecutionContent.Code != "select 1" || j.Request.Source["scriptPath"] != file {
		t.Fatalf("from a file: %+v", j)
	}

	jobs.Set("exec_1", func(j *orchestrator.Job) { j.State, j.Progress, j.ProgressInfo = orchestrator.Running, 0.4, "stage 2" })
	// Flags may follow the exec id.
	out, err = runCmd(t, "status", append([]string{"exec_1"}, conn...)...)
	if err != nil || out != "exec_1 taskID 1: Running 40% (stage 2)\n" {
		t.Fatalf("status: %q %v", out, err)
	}
	out, err = runCmd(t, "kill", append(conn, "exec_1")...)
	if err != nil || out != "exec_1 Cancelled\n" {
		t.Fatalf("kill: %q %v", out, err)
	}
	out, err = runCmd(t, "list", conn...)
	if err != nil || !strings.Contains(out, "taskID  execID  status") || !strings.Contains(out, "exec_1  Cancelled  python-3") ||
		!strings.Contains(out, "killed by alice") || !strings.HasSuffix(out, "page 1 of 1 (2 jobs)\n") ||
		strings.Index(out, "exec_2") > strings.Index(out, "exec_1") {
		t.Fatalf("list:\n%s %v", out, err)
	}
	out, err = runCmd(t, "list", append(conn, "--status", "Cancelled")...)
	if err != nil || strings.Contains(out, "exec_2") || !strings.HasSuffix(out, "(1 jobs)\n") {
		t.Fatalf("list --status:\n%s %v", out, err)
	}
}

// log prints a job's log from a line; --follow stays until the job ends;
// submit --wait follows too and fails for a job that failed, with the
// reason.
func TestLogFollowAndWait(t *testing.T) {
	jobs, conn := jobServer(t)
	if _, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	jobs.AddLog("exec_1", "INFO one", "two", "ERROR three")
	out, err := runCmd(t, "log", append([]string{"exec_1", "--from", "1"}, conn...)...)
	if err != nil || out != "two\nERROR three\n" {
		t.Fatalf("log: %q %v", out, err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		jobs.AddLog("exec_1", "four")
		jobs.Set("exec_1", func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	}()
	out, err = runCmd(t, "log", append([]string{"exec_1", "--follow", "--from", "2"}, conn...)...)
	if err != nil || out != "ERROR three\nfour\n" {
		t.Fatalf("log --follow: %q %v", out, err)
	}

	// submit --wait on a job that fails.
	go func() {
		for jobs.Count() < 2 {
			time.Sleep(5 * time.Millisecond)
		}
		jobs.AddLog("exec_2", "ERROR no such table")
		jobs.Set("exec_2", func(j *orchestrator.Job) { j.State, j.Reason = orchestrator.Failed, "no such table: t" })
	}()
	out, err = runCmd(t, "submit", append([]string{"--engine", "sql", "--code", "select * from t", "--wait"}, conn...)...)
	if err == nil || !strings.Contains(err.Error(), "ended Failed: no such table: t") ||
		out != "submitted exec_2 (taskID 2)\nERROR no such table\nexec_2 Failed\n" {
		t.Fatalf("submit --wait: %q %v", out, err)
	}
	if strings.Contains(out, "\r") {
		t.Fatal("progress drawn on a non-terminal")
	}
}

// result prints the result sets of a job named by task id or exec id,
// a page at a time.
func TestResult(t *testing.T) {
	jobs, conn := jobServer(t)
	if _, err := runCmd(t, "submit", append([]string{"--engine", "sql", "--code", "select 1"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "result", append([]string{"exec_1"}, conn...)...)
	if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), "no result yet") {
		t.Fatalf("result of a queued job: %q %v", out, err)
	}
	dir := t.TempDir()
	if err := jobs.AddResult("exec_1", filepath.Join(dir, "_0.jsonl"), `{"type":"table","columns":[{"name":"id","type":"INTEGER"},{"name":"name","type":"TEXT"}]}
[1,"one"]
[20,null]
[300,"three"]
`); err != nil {
		t.Fatal(err)
	}
	if err := jobs.AddResult("exec_1", filepath.Join(dir, "_1.jsonl"), "{\"type\":\"text\",\"columns\":[{\"name\":\"line\",\"type\":\"TEXT\"}]}\n[\"done\"]\n"); err != nil {
		t.Fatal(err)
	}
	jobs.Set("exec_1", func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	out, err = runCmd(t, "result", append([]string{"1"}, conn...)...)
	want := "== result 1 of 2 ==\n id  name\n---  -----\n  1  one\n 20  NULL\n300  three\n(3 rows)\n\n== result 2 of 2 ==\ndone\n"
	if err != nil || out != want {
		t.Fatalf("result:\n%s\nwant\n%s %v", out, want, err)
	}
	out, err = runCmd(t, "result", append([]string{"exec_1", "--page", "2", "--page-size", "2"}, conn...)...)
	if err != nil || !strings.Contains(out, "300  three\n(1 row)\n(page 2 of 2, 3 rows in all; --page N for another)\n") {
		t.Fatalf("result --page 2:\n%s %v", out, err)
	}
}

// Bad command lines and refusals come back as errors naming the problem.
func TestJobCommandErrors(t *testing.T) {
	_, conn := jobServer(t)
	if _, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	bob := []string{conn[0], conn[1], "--user", "bob", "--token", "b-code"}
	for _, tc := range []struct {
		name string
		cmd  string
		args []string
		want string
	}{
		{"no code", "submit", append([]string{"--engine", "shell"}, conn...), "exactly one of --code and --file"},
		{"code and file", "submit", append([]string{"--engine", "shell", "--code", "x", "--file", "f"}, conn...), "exactly one"},
		{"unknown engine", "submit", append([]string{"--engine", "spark", "--code", "x"}, conn...), "unknown engine type"},
		{"bad var", "submit", append([]string{"--engine", "shell", "--code", "x", "--var", "novalue"}, conn...), "want key=value"},
		{"missing file", "submit", append([]string{"--engine", "shell", "--file", "/nonexistent/x.sh"}, conn...), "no such file"},
		{"unknown variable", "submit", append([]string{"--engine", "shell", "--code", "echo ${y}"}, conn...), "unknown variable"},
		{"no exec id", "status", conn, "usage: linkis status EXECID"},
		{"two exec ids", "kill", append([]string{"a", "b"}, conn...), "usage: linkis kill EXECID"},
		{"unknown job", "status", append([]string{"exec_9"}, conn...), "unknown job"},
		{"another user's job", "kill", append([]string{"exec_1"}, bob...), "permission denied"},
		{"another user's log", "log", append([]string{"exec_1"}, bob...), "permission denied"},
		{"another user's result", "result", append([]string{"1"}, bob...), "permission denied"},
		{"wrong token", "list", []string{conn[0], conn[1], "--user", "alice", "--token", "b-code"}, "auth failed"},
		{"no token", "list", []string{conn[0], conn[1], "--user", "alice", "--token", ""}, "a user and token code are required"},
		{"bad server", "list", []string{"--server", "localhost:1", "--user", "a", "--token", "b"}, "--server"[2:]},
		{"bad state", "list", append([]string{"--status", "Done"}, conn...), "not a job state"},
		{"negative from", "log", append([]string{"exec_1", "--from", "-1"}, conn...), "--from"},
		{"unknown flag", "list", append([]string{"--colour"}, conn...), "colour"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmd(t, tc.cmd, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q %v, want an error with %q", out, err, tc.want)
			}
		})
	}
}

// On a terminal the follower keeps one progress line under the log: it
// clears it before printing lines and draws it again after, and leaves
// nothing behind at the end.
func TestFollowerOnTerminal(t *testing.T) {
	var b bytes.Buffer
	f := &follower{out: &b, tty: true, showLogs: true}
	st := restapi.StatusData{Status: "Running", ExecID: "exec_12"}
	f.update(restapi.Update{Status: st, Progress: 0.4})
	f.update(restapi.Update{Status: st, Progress: 0.5, Lines: []string{"hello"}})
	st.Status = "Succeed"
	f.update(restapi.Update{Status: st, Progress: 1, Final: true})
	want := "[####      ]  40% Running exec_12" + "\r\033[K" + "hello\n[#####     ]  50% Running exec_12" + "\r\033[K"
	if b.String() != want || f.drawn {
		t.Fatalf("%q\nwant %q", b.String(), want)
	}
}

// list refuses a page or page size below 1 rather than printing "page 0
// of N" over the server's default page.
func TestListPageFlags(t *testing.T) {
	_, conn := jobServer(t)
	for _, bad := range [][]string{{"--page", "0"}, {"--page-size", "0"}, {"--page", "-2"}} {
		if out, err := runCmd(t, "list", append(bad, conn...)...); err == nil {
			t.Errorf("list %v: %q, no error", bad, out)
		}
	}
}
