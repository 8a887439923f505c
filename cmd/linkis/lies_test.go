package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
)

// status of a job that ended says how it ended, not what its progress
// said while it ran: a job that failed after a retry used to read
// "Failed 0% (attempt 1 failed: ...; retrying in 30s)".
func TestStatusOfAnEndedJobGivesItsEnd(t *testing.T) {
	jobs, conn := jobServer(t)
	if _, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	jobs.Set("exec_1", func(j *orchestrator.Job) {
		j.State, j.ProgressInfo = orchestrator.WaitForRetry, "attempt 1 failed: engine lost; retrying in 30s"
	})
	if out, err := runCmd(t, "status", append([]string{"exec_1"}, conn...)...); err != nil || !strings.Contains(out, "retrying in 30s") {
		t.Fatalf("while it waits to retry: %q %v", out, err)
	}
	jobs.Set("exec_1", func(j *orchestrator.Job) { j.State, j.Reason = orchestrator.Failed, "engine lost twice" })
	out, err := runCmd(t, "status", append([]string{"exec_1"}, conn...)...)
	if err != nil || out != "exec_1 taskID 1: Failed: engine lost twice\n" {
		t.Fatalf("status of the failed job: %q %v", out, err)
	}
}

// A dotted --label is an engine setting, which a label carries nowhere:
// it is refused with the flag that does carry it, --param, whose values
// reach the request's startup configuration. --server takes HOST:PORT.
func TestParamsLabelsAndBareServer(t *testing.T) {
	jobs, conn := jobServer(t)
	_, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls", "--label", "engineconn.max.free.time=15s"}, conn...)...)
	if err == nil || !strings.Contains(err.Error(), "--param engineconn.max.free.time=15s") {
		t.Fatalf("a dotted label: %v", err)
	}
	bare := append([]string{conn[0], strings.TrimPrefix(conn[1], "http://")}, conn[2:]...)
	out, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls", "--param", "engineconn.max.free.time=15s", "--label", "tenant=t1"}, bare...)...)
	if err != nil || !strings.HasPrefix(out, "submitted exec_1") {
		t.Fatalf("submit to HOST:PORT: %q %v", out, err)
	}
	j, _ := jobs.JobByExecID(context.Background(), "alice", "exec_1")
	if j.Request.Params.Configuration.Startup["engineconn.max.free.time"] != "15s" || j.Request.Labels["tenant"] != "t1" {
		t.Fatalf("submitted %+v", j.Request)
	}
	if _, err := restapi.NewClient("127.0.0.1:8088", "a", "b", nil); err == nil || !strings.Contains(err.Error(), `"127.0.0.1:8088"`) {
		t.Fatalf("a bad server URL is shown: %v", err)
	}
	if _, err := restapi.NewClient("user:pw@host:8088", "a", "b", nil); err == nil || strings.Contains(err.Error(), "pw") {
		t.Fatalf("a server URL with a password is not shown: %v", err)
	}
}

// flakyServer serves the REST API on a fixed address and can be stopped
// (connections refused) and started again there, as a restarted server.
type flakyServer struct {
	t    *testing.T
	h    http.Handler
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func (f *flakyServer) start() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	srv := &http.Server{Handler: f.h}
	f.mu.Lock()
	f.srv = srv
	f.mu.Unlock()
	go srv.Serve(ln)
}

func (f *flakyServer) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srv.Close()
}

// syncBuffer is a bytes.Buffer safe for one writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// log --follow outlives a server that goes away and comes back: it says
// so, tries again with backoff, and goes on from the line it had without
// losing or repeating one. Before, it retried in silence for ever.
func TestFollowSurvivesAServerRestart(t *testing.T) {
	jobs := restapitest.NewJobs()
	cfg := restapi.DefaultConfig()
	cfg.Users = map[string]string{"alice": "a-code"}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := restapi.NewHandler(jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fs := &flakyServer{t: t, h: h, addr: "127.0.0.1:0"}
	fs.start()
	defer fs.stop()
	conn := []string{"--server", fs.addr, "--user", "alice", "--token", "a-code"}
	if _, err := runCmd(t, "submit", append([]string{"--engine", "shell", "--code", "ls"}, conn...)...); err != nil {
		t.Fatal(err)
	}
	jobs.Set("exec_1", func(j *orchestrator.Job) { j.State = orchestrator.Running })
	jobs.AddLog("exec_1", "one")

	var out, diag syncBuffer
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		done <- runJobCommand(ctx, "log", &out, &diag, append([]string{"exec_1", "--follow"}, conn...))
	}()
	waitFor(t, "the first line", func() bool { return strings.Contains(out.String(), "one") })
	fs.stop()
	jobs.AddLog("exec_1", "two") // printed while the server is away
	waitFor(t, "the message that the server is gone", func() bool { return strings.Count(diag.String(), "no answer from the server") >= 2 })
	fs.start()
	jobs.AddLog("exec_1", "three")
	jobs.Set("exec_1", func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("follow: %v\n%s", err, diag.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("follow did not end; out %q diag %q", out.String(), diag.String())
	}
	if out.String() != "one\ntwo\nthree\n" {
		t.Errorf("log across the restart: %q", out.String())
	}
	d := diag.String()
	if !strings.Contains(d, "no answer from the server at http://"+fs.addr) || !strings.Contains(d, "trying again in") ||
		!strings.Contains(d, "answers again") {
		t.Errorf("what the follower said: %q", d)
	}
}

// A server that does not come back within Reconnect ends the follow with
// an error that says so and that the job may still run.
func TestFollowGivesUpOnAServerThatStaysAway(t *testing.T) {
	fs := &flakyServer{t: t, h: http.NotFoundHandler(), addr: "127.0.0.1:0"}
	fs.start()
	fs.stop() // nothing listens there now
	c, err := restapi.NewClient("http://"+fs.addr, "alice", "a-code", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Reconnect = time.Second
	var diag syncBuffer
	start := time.Now()
	_, _, err = follow(context.Background(), c, io.Discard, &diag, "http://"+fs.addr, "exec_1", 0, true)
	if err == nil || !strings.Contains(err.Error(), "giving up") || !strings.Contains(err.Error(), "linkis status exec_1") {
		t.Fatalf("follow of a server that is gone: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v, with a bound of 1s", d)
	}
	if n := strings.Count(diag.String(), "trying again"); n < 2 {
		t.Errorf("%d tries announced: %q", n, diag.String())
	}
	var cerr error = err
	if errors.Is(cerr, context.DeadlineExceeded) {
		t.Errorf("the error is a bare timeout: %v", err)
	}
}
