package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

func newTestServer(t *testing.T) (*restapitest.Jobs, *httptest.Server) {
	t.Helper()
	f := restapitest.NewJobs()
	srv := httptest.NewServer(newTestHandler(t, f))
	t.Cleanup(srv.Close)
	return f, srv
}

func newTestClient(t *testing.T, srv *httptest.Server, user string) *Client {
	t.Helper()
	c, err := NewClient(srv.URL, user, testUsers[user], srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	c.PollMin, c.PollMax = time.Millisecond, 5*time.Millisecond
	return c
}

func aliceShell(t *testing.T, code string) orchestrator.JobRequest {
	t.Helper()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", Code: code, User: "alice", Vars: map[string]string{"x": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Every client method against the real handler: typed results with the
// values the fake holds.
func TestClientRoundTrip(t *testing.T) {
	f, srv := newTestServer(t)
	c := newTestClient(t, srv, "alice")
	ctx := context.Background()
	sub, err := c.Submit(ctx, aliceShell(t, "echo ${x}"))
	if err != nil || sub.ExecID != "exec_1" || sub.TaskID != 1 {
		t.Fatalf("submit %+v %v", sub, err)
	}
	f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State, j.Progress, j.ProgressInfo = orchestrator.Running, 0.5, "half" })
	f.AddLog(sub.ExecID, "INFO a", "", "ERROR c")
	st, err := c.Status(ctx, sub.ExecID)
	if err != nil || st.Status != "Running" || st.TaskID != 1 {
		t.Fatalf("status %+v %v", st, err)
	}
	pr, err := c.Progress(ctx, sub.ExecID)
	if err != nil || pr.Progress != 0.5 || pr.ProgressInfo[0].Info != "half" {
		t.Fatalf("progress %+v %v", pr, err)
	}
	lp, err := c.Log(ctx, sub.ExecID, 1, 5)
	if err != nil || lp.From != 1 || lp.Next != 3 || len(lp.Lines) != 2 || lp.Lines[0] != "" || lp.Lines[1] != "ERROR c" {
		t.Fatalf("log %+v %v", lp, err)
	}
	lp, err = c.Log(ctx, sub.ExecID, 3, 0)
	if err != nil || lp.Next != 3 || len(lp.Lines) != 0 {
		t.Fatalf("empty log page %+v %v", lp, err)
	}
	p := writeTableResult(t, f, sub.ExecID, t.TempDir())
	f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	task, err := c.Job(ctx, sub.TaskID)
	if err != nil || task.Status != "Succeed" || len(task.ResultLocations) != 1 || task.ResultLocations[0] != p ||
		task.ResultLocation != "linkis:///results/alice/"+itoa(sub.TaskID) || task.LogPath != "linkis:///logs/alice/"+itoa(sub.TaskID)+".log" {
		t.Fatalf("job %+v %v", task, err)
	}
	tasks, total, err := c.List(ctx, orchestrator.ListQuery{State: orchestrator.Succeed, Since: time.Unix(0, 0), Until: time.Now().Add(time.Hour), Page: 1, PageSize: 5})
	if err != nil || total != 1 || len(tasks) != 1 || tasks[0].ExecID != sub.ExecID {
		t.Fatalf("list %+v %d %v", tasks, total, err)
	}
	fd, err := c.OpenFile(ctx, p, 1, 2)
	if err != nil || fd.TotalLine != 3 || len(fd.FileContent) != 2 || fd.FileContent[1][0] != "2" || fd.ResultSet().Rows[1][0] != json.Number("2") {
		t.Fatalf("openFile %+v %v", fd, err)
	}
	if rs := fd.ResultSet(); rs.Type != "table" || len(rs.Columns) != 2 || rs.Columns[0].Name != "id" || len(rs.Rows) != 2 {
		t.Fatalf("result set %+v", rs)
	}
	kd, err := c.Kill(ctx, sub.ExecID)
	if err != nil || kd.Status != "Succeed" {
		t.Fatalf("kill of an ended job %+v %v", kd, err)
	}
}

// Failed answers come back as typed errors: errors.Is works for the kinds
// callers act on, and the server's message is kept.
func TestClientErrors(t *testing.T) {
	f, srv := newTestServer(t)
	alice, bob := newTestClient(t, srv, "alice"), newTestClient(t, srv, "bob")
	ctx := context.Background()
	sub, err := alice.Submit(ctx, aliceShell(t, "ls"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, err, kind error, want string) {
		t.Helper()
		var le *linkis.Error
		if !errors.Is(err, kind) || !errors.As(err, &le) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (%T), want %v with %q", name, err, err, kind, want)
		}
	}
	_, err = alice.Status(ctx, "exec_404")
	check("unknown job", err, linkis.ErrUnknownJob, "exec_404")
	_, err = bob.Kill(ctx, sub.ExecID)
	check("another user's job", err, linkis.ErrPermission, "another user")
	_, err = bob.OpenFile(ctx, "/etc/passwd", 0, 0)
	check("a file not bob's", err, linkis.ErrPermission, "not one of your result-set files")
	_, err = alice.Submit(ctx, orchestrator.JobRequest{Labels: map[string]string{"engineType": "shell-1"}})
	check("missing label", err, linkis.ErrMissingLabel, "userCreator")
	req := aliceShell(t, "ls")
	req.Labels["engineType"] = "spark-3"
	_, err = alice.Submit(ctx, req)
	check("unknown engine", err, linkis.ErrUnknownEngineType, "spark-3")

	wrong, err := NewClient(srv.URL, "alice", "bob-code", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = wrong.List(ctx, orchestrator.ListQuery{})
	check("wrong token", err, linkis.ErrPermission, "auth failed")

	f.FailWith = errors.New("disk on fire at /var/x")
	_, _, err = alice.List(ctx, orchestrator.ListQuery{})
	var re *RemoteError
	if !errors.As(err, &re) || re.HTTPStatus != 500 || strings.Contains(err.Error(), "/var/x") {
		t.Errorf("internal: %v", err)
	}

	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	pc, _ := NewClient(plain.URL, "alice", "x", nil)
	_, err = pc.Status(ctx, "exec_1")
	if !errors.As(err, &re) || re.HTTPStatus != 404 || !strings.Contains(err.Error(), "without a Linkis envelope") {
		t.Errorf("not a Linkis server: %v", err)
	}
	for _, u := range []string{"", "ftp://x", "127.0.0.1:8088", "http://"} {
		if _, err := NewClient(u, "a", "b", nil); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("NewClient(%q): %v", u, err)
		}
	}
	if _, err := NewClient(srv.URL, "alice", "", nil); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Errorf("NewClient without a token: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	cc, _ := NewClient(closed.URL, "alice", "x", nil)
	if _, err := cc.Status(ctx, "exec_1"); !errors.Is(err, linkis.ErrUnavailable) {
		t.Errorf("no server: %v", err)
	}
}

// Wait follows a job to its end: every log line exactly once, in order,
// progress updates on the way, the final state last.
func TestWait(t *testing.T) {
	f, srv := newTestServer(t)
	c := newTestClient(t, srv, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := c.Submit(ctx, aliceShell(t, "ls"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= 5; i++ {
			time.Sleep(3 * time.Millisecond)
			f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State, j.Progress = orchestrator.Running, float64(i)/5 })
			f.AddLog(sub.ExecID, "line "+string(rune('0'+i)))
		}
		for i := 0; i < 2*MaxLogSize; i++ { // more than one page at the end
			f.AddLog(sub.ExecID, "tail")
		}
		f.Set(sub.ExecID, func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	}()
	var lines []string
	var ups []Update
	st, err := c.Wait(ctx, sub.ExecID, func(u Update) { lines = append(lines, u.Lines...); ups = append(ups, u) })
	wg.Wait()
	if err != nil || st.Status != "Succeed" {
		t.Fatalf("wait: %+v %v", st, err)
	}
	if len(lines) != 5+2*MaxLogSize || lines[0] != "line 1" || lines[4] != "line 5" || lines[5] != "tail" {
		t.Fatalf("%d lines, first %q", len(lines), lines[:min(6, len(lines))])
	}
	if last := ups[len(ups)-1]; !last.Final || last.Status.Status != "Succeed" {
		t.Fatalf("last update %+v", last)
	}
	for _, u := range ups[:len(ups)-1] {
		if u.Final {
			t.Fatal("a final update before the last")
		}
	}

	// A cancelled context stops the wait.
	sub2, _ := c.Submit(ctx, aliceShell(t, "sleep"))
	cctx, ccancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer ccancel()
	if _, err := c.Wait(cctx, sub2.ExecID, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait past the deadline: %v", err)
	}
	// An unknown job is an error at once.
	if _, err := c.Wait(ctx, "exec_404", nil); !errors.Is(err, linkis.ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	rs := FileData{Type: FileTypeTable, Metadata: mustJSON([]Column{{ColumnName: "id", DataType: "bigint"}, {ColumnName: "name", DataType: "string"}}),
		FileContent: [][]any{{"1", "one"}, {"200", "two\nlines"}, {"3", nil}}}.ResultSet()
	if err := WriteTable(&b, rs); err != nil {
		t.Fatal(err)
	}
	want := " id  name\n---  ----------\n  1  one\n200  two\\nlines\n  3  NULL\n(3 rows)\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	rs = FileData{Type: FileTypeText, Metadata: json.RawMessage(`"NULL"`), FileContent: [][]any{{"hello"}, {"wörld\x1b[2J"}}}.ResultSet()
	if err := WriteTable(&b, rs); err != nil {
		t.Fatal(err)
	}
	if b.String() != "hello\nwörld\\x1b[2J\n" {
		t.Fatalf("text: %q", b.String())
	}
}

func TestProgressLine(t *testing.T) {
	if got := ProgressLine(0.4, "Running", "exec_12", 10); got != "[####      ]  40% Running exec_12" {
		t.Fatalf("%q", got)
	}
	if got := ProgressLine(7, "Succeed", "e", 4); got != "[####] 100% Succeed e" {
		t.Fatalf("%q", got)
	}
	if got := ProgressLine(-1, "Inited", "e", 2); got != "[  ]   0% Inited e" {
		t.Fatalf("%q", got)
	}
}

// A client of a cluster's members moves to the next member when one
// cannot be reached, for reads and for writes that certainly were not
// sent; a write cut off after it was sent is not sent again (it may have
// been applied). A member that answers it knows no leader did nothing:
// any call moves on from it.
func TestClientFailsOverBetweenMembers(t *testing.T) {
	jobs, live := newTestServer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close() // nothing listens there: connections are refused
	c, err := NewClient(deadURL+", "+live.URL, "alice", testUsers["alice"], nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sub, err := c.Submit(ctx, aliceShell(t, "echo hi"))
	if err != nil || jobs.Count() != 1 {
		t.Fatalf("submit past a member that refuses connections: %+v %v (%d jobs)", sub, err, jobs.Count())
	}
	if _, err := c.Status(ctx, sub.ExecID); err != nil {
		t.Fatalf("status: %v", err)
	}
	// A member that accepts the request and dies before answering: the
	// submission may have been applied, so it is not sent elsewhere.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer hang.Close()
	c2, _ := NewClient(hang.URL+","+live.URL, "alice", testUsers["alice"], nil)
	if _, err := c2.Submit(ctx, aliceShell(t, "echo again")); !errors.Is(err, linkis.ErrUnavailable) || jobs.Count() != 1 {
		t.Fatalf("a write cut off after it was sent was sent again: %v (%d jobs)", err, jobs.Count())
	}
	if _, err := c2.Status(ctx, sub.ExecID); err != nil {
		t.Fatalf("a read moves on past a member that dies mid-answer: %v", err)
	}
	// A member that knows no leader did nothing: a write moves on too.
	leaderless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, linkis.Errorf(linkis.ErrNotLeader, "", "no leader known"))
	}))
	defer leaderless.Close()
	c3, _ := NewClient(leaderless.URL+","+live.URL, "alice", testUsers["alice"], nil)
	if _, err := c3.Submit(ctx, aliceShell(t, "echo elsewhere")); err != nil || jobs.Count() != 2 {
		t.Fatalf("a submission past a member without a leader: %v (%d jobs)", err, jobs.Count())
	}
	c4, _ := NewClient(leaderless.URL, "alice", testUsers["alice"], nil)
	if _, err := c4.Status(ctx, sub.ExecID); !errors.Is(err, linkis.ErrNotLeader) || !linkis.IsRetryable(err) {
		t.Fatalf("no member knows a leader: %v", err)
	}
	if _, err := NewClient(live.URL+",ftp://x", "alice", "c", nil); err == nil {
		t.Fatal("a bad member URL was accepted")
	}
}
