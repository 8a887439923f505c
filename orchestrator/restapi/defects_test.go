package restapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
)

// handlerOver is the handler of the test users over jobs.
func handlerOver(t *testing.T, jobs Jobs) http.Handler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Users = testUsers
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := NewHandler(jobs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// panicky is a Jobs whose JobByExecID panics.
type panicky struct{ *restapitest.Jobs }

func (panicky) JobByExecID(context.Context, string, string) (orchestrator.Job, error) {
	panic("boom: secret detail")
}

// A panic in the Jobs behind the handler is answered with the envelope
// (status 1, HTTP 500, no detail), not a dropped connection.
func TestPanicAnsweredWithEnvelope(t *testing.T) {
	h := handlerOver(t, panicky{restapitest.NewJobs()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+Prefix+"/entrance/exec_1/status", nil)
	req.Header.Set(HeaderTokenUser, "alice")
	req.Header.Set(HeaderTokenCode, testUsers["alice"])
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("the connection was dropped: %v", err)
	}
	defer resp.Body.Close()
	code, env := call(t, h, "GET", Prefix+"/entrance/exec_1/status", "", "alice")
	if code != http.StatusInternalServerError || resp.StatusCode != code || env.Status != StatusError || strings.Contains(env.Message, "secret") {
		t.Fatalf("HTTP %d/%d, envelope %+v", code, resp.StatusCode, env)
	}
}

// A retryable failure in the middle of reading a log loses no line and
// repeats none.
func TestFollowRetryKeepsLines(t *testing.T) {
	f := restapitest.NewJobs()
	inner := newTestHandler(t, f)
	var logCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/log") && logCalls.Add(1) == 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"method":%q,"status":1,"message":"busy","data":{"errorKind":"unavailable","retryable":true}}`, r.URL.Path)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := newTestClient(t, srv, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Submit(ctx, aliceShell(t, "ls"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 2*DefaultLogSize + 500
	for i := range n {
		f.AddLog(sub.ExecID, fmt.Sprint(i))
	}
	f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	var lines []string
	if _, err := c.Wait(ctx, sub.ExecID, func(u Update) { lines = append(lines, u.Lines...) }); err != nil {
		t.Fatal(err)
	}
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if l != fmt.Sprint(i) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

// Once a job has ended, Follow reads its whole log, however many pages.
func TestFollowDrainsLongLog(t *testing.T) {
	f, srv := newTestServer(t)
	c := newTestClient(t, srv, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub, err := c.Submit(ctx, aliceShell(t, "ls"))
	if err != nil {
		t.Fatal(err)
	}
	n := maxDrainPages*DefaultLogSize + 10
	lines := make([]string, n)
	for i := range lines {
		lines[i] = "x"
	}
	f.AddLog(sub.ExecID, lines...)
	f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	got := 0
	if _, err := c.Wait(ctx, sub.ExecID, func(u Update) { got += len(u.Lines) }); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Fatalf("%d lines, want %d", got, n)
	}
}

// A page is refused when its rows hold more than maxBytes, rather than
// held in memory whatever its size.
func TestReadPageBytesBounded(t *testing.T) {
	file := `{"type":"table","columns":[{"name":"s","type":"string"}]}` + "\n" +
		strings.Repeat(`["`+strings.Repeat("a", 100)+`"]`+"\n", 10)
	if _, err := pageOf(strings.NewReader(file), 1, 10, 0, 500); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("a page over the byte limit: %v", err)
	}
	d, err := pageOf(strings.NewReader(file), 2, 3, 0, 500)
	if err != nil || len(d.FileContent) != 3 || d.TotalLine != 10 {
		t.Fatalf("a page under the limit: %+v %v", d, err)
	}
}

// pendingLog is a Jobs whose log is not complete until flushed is set,
// as the Entrance's while an ended job's last lines await their commit.
type pendingLog struct {
	*restapitest.Jobs
	flushed atomic.Bool
}

func (p *pendingLog) Log(ctx context.Context, user, execID string, from, size int) (orchestrator.LogPage, error) {
	if !p.flushed.Load() {
		return orchestrator.LogPage{From: from, Next: from}, nil
	}
	return p.Jobs.Log(ctx, user, execID, from, size)
}

// A job that has ended while its last log lines are still being written
// is followed until the server calls its log complete.
func TestFollowWaitsForCompleteLog(t *testing.T) {
	f := &pendingLog{Jobs: restapitest.NewJobs()}
	srv := httptest.NewServer(handlerOver(t, f))
	defer srv.Close()
	c := newTestClient(t, srv, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Submit(ctx, aliceShell(t, "ls"))
	if err != nil {
		t.Fatal(err)
	}
	f.AddLog(sub.ExecID, "last words")
	f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	time.AfterFunc(50*time.Millisecond, func() { f.flushed.Store(true) })
	var lines []string
	var finals int
	if _, err := c.Wait(ctx, sub.ExecID, func(u Update) {
		lines = append(lines, u.Lines...)
		if u.Final {
			finals++
		}
	}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "last words" || finals != 1 {
		t.Fatalf("lines %q, %d final updates", lines, finals)
	}
}

// A server URL refused by NewClient is not echoed with its password.
func TestNewClientHidesURLPassword(t *testing.T) {
	for _, u := range []string{"ftp://u:s3cret@h", "http://u:s3cret@[::1"} {
		_, err := NewClient(u, "alice", "code", nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v", u, err)
		}
	}
}

// A 405 says which methods the path takes, as HTTP requires.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	h := newTestHandler(t, restapitest.NewJobs())
	for path, want := range map[string]string{PathSubmit: "POST", "/entrance/exec_1/kill": "GET, POST", PathHistory: "GET"} {
		r := httptest.NewRequest("DELETE", Prefix+path, nil)
		r.Header.Set(HeaderTokenUser, "alice")
		r.Header.Set(HeaderTokenCode, testUsers["alice"])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != want {
			t.Errorf("DELETE %s: HTTP %d, Allow %q, want %q", path, w.Code, w.Header().Get("Allow"), want)
		}
	}
}
