package entrance_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/entrance/entrancetest"
	"github.com/golinkis/golinkis/raftstore"
)

type fixture struct {
	t     *testing.T
	store *raftstore.Memory
	eng   *entrancetest.Engine
	e     *entrance.Entrance
	cfg   entrance.Config
}

func newFixture(t *testing.T, tune ...func(*entrance.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, store: entrancetest.NewStore(t), eng: entrancetest.NewEngine(t.TempDir()), cfg: entrance.DefaultConfig()}
	f.cfg.Checkpoint = 10 * time.Millisecond
	for _, fn := range tune {
		fn(&f.cfg)
	}
	f.open()
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	e, err := entrance.Open(f.cfg, f.store, f.eng, f.eng, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.e = e
	f.t.Cleanup(func() { e.Close() })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func request(t *testing.T, user, code string, labels ...string) orchestrator.JobRequest {
	t.Helper()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: "shell", Code: code})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(labels); i += 2 {
		req.Labels[labels[i]] = labels[i+1]
	}
	return req
}

func (f *fixture) submit(user, code string, labels ...string) orchestrator.Job {
	f.t.Helper()
	j, err := f.e.Submit(ctx(f.t), user, request(f.t, user, code, labels...))
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

func (f *fixture) wait(user string, j orchestrator.Job) orchestrator.Job {
	f.t.Helper()
	got, err := f.e.Wait(ctx(f.t), user, j.ExecID)
	if err != nil {
		f.t.Fatalf("wait for %s: %v", j.ExecID, err)
	}
	return got
}

func (f *fixture) record(id int64) manager.JobView {
	f.t.Helper()
	var v manager.JobView
	f.store.Read(context.Background(), true, func(s *manager.State) { v, _ = s.Job(id) })
	return v
}

func (f *fixture) live() []manager.JobView {
	var vs []manager.JobView
	f.store.Read(context.Background(), true, func(s *manager.State) { vs = s.LiveJobs() })
	return vs
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A job goes in, runs through the runner the leader's dispatcher drives,
// and comes out with its log - the entrance's lines and the task's, read
// from where the task ran - and its result set, read through its ECM.
func TestSubmitRunResult(t *testing.T) {
	f := newFixture(t)
	j := f.submit("alice", "echo hi")
	if j.TaskID != 1 || !strings.HasPrefix(j.ExecID, "exec_1_") || j.State.Final() {
		t.Fatalf("submitted: %+v", j)
	}
	done := f.wait("alice", j)
	if done.State != orchestrator.Succeed || done.EC != "ec-1" || len(done.Results) != 1 || done.Progress != 1 {
		t.Fatalf("ended: %+v", done)
	}
	page, err := f.e.Log(ctx(t), "alice", j.ExecID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(page.Lines, "|")
	if !page.Complete || !strings.HasPrefix(got, "INFO running "+j.ExecID+"|echo hi|") || !strings.Contains(got, "ended Succeed") {
		t.Fatalf("log %q complete %v", got, page.Complete)
	}
	rc, _, err := f.e.OpenResult(ctx(t), "alice", done.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	rs, err := api.ReadResultSet(rc, 0)
	rc.Close()
	if err != nil || len(rs.Rows) != 1 || rs.Rows[0][0] != "echo hi" {
		t.Fatalf("result %+v %v", rs, err)
	}
	if v := f.record(j.TaskID); len(v.Tasks) != 0 || v.Cleanup || v.Log[1].Count != 1 {
		t.Fatalf("record after the end: %+v", v)
	}
}

// Bad submissions are refused with the field named, and nothing is
// accepted.
func TestSubmitRefusals(t *testing.T) {
	f := newFixture(t)
	good := request(t, "alice", "x")
	for _, c := range []struct {
		name string
		user string
		mut  func(*orchestrator.JobRequest)
		kind error
	}{
		{"bad user", "../x", nil, linkis.ErrInvalidArgument},
		{"no userCreator", "alice", func(r *orchestrator.JobRequest) { delete(r.Labels, linkis.LabelUserCreator) }, linkis.ErrMissingLabel},
		{"no engineType", "alice", func(r *orchestrator.JobRequest) { delete(r.Labels, linkis.LabelEngineType) }, linkis.ErrMissingLabel},
		{"another user's creator", "bob", nil, linkis.ErrPermission},
		{"bad timeout", "alice", func(r *orchestrator.JobRequest) { r.Labels[linkis.LabelJobRunningTimeout] = "-3" }, linkis.ErrInvalidLabel},
		{"bad submitter", "alice", func(r *orchestrator.JobRequest) { r.SubmitUser = "a/b" }, linkis.ErrInvalidArgument},
		{"record too large", "alice", func(r *orchestrator.JobRequest) {
			r.Params.Variable = orchestrator.Values{"v": strings.Repeat("x", manager.MaxJobRequestBytes)}
		}, linkis.ErrInvalidArgument},
	} {
		req := good
		req.Labels = map[string]string{}
		for k, v := range good.Labels {
			req.Labels[k] = v
		}
		if c.mut != nil {
			c.mut(&req)
		}
		if _, err := f.e.Submit(ctx(t), c.user, req); !errors.Is(err, c.kind) {
			t.Errorf("%s: want %v, got %v", c.name, c.kind, err)
		}
	}
	if jobs, n, _ := f.e.List(ctx(t), "alice", orchestrator.ListQuery{}); n != 0 || len(jobs) != 0 {
		t.Fatalf("refused submissions left %d jobs", n)
	}
}

// A user sees, kills, reads and opens only their own jobs.
func TestOtherUsersJobs(t *testing.T) {
	f := newFixture(t)
	j := f.wait("alice", f.submit("alice", "echo hi"))
	c := ctx(t)
	if _, err := f.e.JobByExecID(c, "bob", j.ExecID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("status: %v", err)
	}
	if _, err := f.e.Job(c, "bob", j.TaskID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("history: %v", err)
	}
	if _, err := f.e.Kill(c, "bob", j.ExecID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("kill: %v", err)
	}
	if _, err := f.e.Log(c, "bob", j.ExecID, 0, 10); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("log: %v", err)
	}
	if _, _, err := f.e.OpenResult(c, "bob", j.Results[0]); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("result: %v", err)
	}
	bobs := strings.Replace(j.Results[0], "/alice/", "/bob/", 1)
	if _, _, err := f.e.OpenResult(c, "bob", bobs); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("result under bob's name: %v", err)
	}
	if _, err := f.e.JobByExecID(c, "alice", "exec_99_00000000"); !errors.Is(err, linkis.ErrUnknownJob) {
		t.Errorf("unknown: %v", err)
	}
}

// Kill ends a queued job at once, and a running one at once too: its task
// is stopped by the dispatcher, which records it stopped.
func TestKill(t *testing.T) {
	f := newFixture(t, func(c *entrance.Config) {
		jc := manager.DefaultJobConfig()
		jc.GroupMaxRunning = 1
		c.Jobs = &jc
	})
	run := f.submit("alice", "sleep")
	queued := f.submit("alice", "echo later")
	task := <-f.eng.Running
	waitUntil(t, "the task recorded", func() bool { return len(f.record(run.TaskID).Tasks) == 1 })
	c := ctx(t)
	k, err := f.e.Kill(c, "alice", queued.ExecID)
	if err != nil || k.State != orchestrator.Cancelled || k.Reason != "killed by alice while queued" {
		t.Fatalf("kill queued: %+v %v", k, err)
	}
	k, err = f.e.Kill(c, "alice", run.ExecID)
	if err != nil || k.State != orchestrator.Cancelled {
		t.Fatalf("kill running: %+v %v", k, err)
	}
	waitUntil(t, "the killed job's task stopped", func() bool { return len(f.live()) == 0 })
	v := f.record(run.TaskID)
	if len(v.Tasks) != 0 || v.Cleanup || len(v.Log) != 3 || v.Log[1].Task.Key != task.Key || v.Log[1].Count != 1 {
		t.Fatalf("killed record: %+v", v)
	}
	page, _ := f.e.Log(c, "alice", run.ExecID, 0, 0)
	if got := strings.Join(page.Lines, "|"); !page.Complete || !strings.Contains(got, "sleeping") || !strings.Contains(got, "ended Cancelled: killed by alice while Running") {
		t.Fatalf("log %q complete %v", got, page.Complete)
	}
	if again, err := f.e.Kill(c, "alice", run.ExecID); err != nil || again.State != orchestrator.Cancelled {
		t.Fatalf("killing an ended job: %+v %v", again, err)
	}
}

// The queue's capacity refuses the job past it, naming the group.
func TestQueueFull(t *testing.T) {
	f := newFixture(t, func(c *entrance.Config) {
		jc := manager.DefaultJobConfig()
		jc.GroupMaxRunning, jc.QueueCapacity = 0, 2
		c.Jobs = &jc
	})
	f.submit("alice", "a")
	f.submit("alice", "b")
	_, err := f.e.Submit(ctx(t), "alice", request(t, "alice", "c"))
	if !errors.Is(err, linkis.ErrQueueFull) || !strings.Contains(err.Error(), "IDE_alice_shell-1") {
		t.Fatalf("want queue full naming the group, got %v", err)
	}
	if st := f.e.Stats(); st.Queued != 2 || st.Groups != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A running timeout (label) ends the job Timeout and stops its task.
func TestRunTimeout(t *testing.T) {
	f := newFixture(t)
	tick := func() {
		f.store.Apply(context.Background(), manager.Tick{Time: time.Now().UnixNano()})
	}
	j := f.submit("alice", "sleep", linkis.LabelJobRunningTimeout, "50ms")
	<-f.eng.Running
	time.Sleep(60 * time.Millisecond)
	tick()
	done := f.wait("alice", j)
	if done.State != orchestrator.Timeout || done.Reason != "ran longer than its running timeout of 50ms" {
		t.Fatalf("timed out: %+v", done)
	}
	waitUntil(t, "the timed-out job's task stopped", func() bool { return len(f.live()) == 0 })
}

// A dispatcher that stops (its member loses leadership, or closes)
// detaches its runs: the job stays Running with its task recorded, and the
// next dispatcher re-attaches to it rather than starting it again.
func TestResumeReattaches(t *testing.T) {
	f := newFixture(t)
	j := f.submit("alice", "sleep")
	task := <-f.eng.Running
	waitUntil(t, "the task recorded", func() bool { return len(f.record(j.TaskID).Tasks) == 1 })
	f.e.Close()
	if v := f.record(j.TaskID); v.State != orchestrator.Running || v.Tasks[0].TaskID != task.ID {
		t.Fatalf("after the dispatcher stopped: %+v", v)
	}
	f.open()
	again := <-f.eng.Running
	if again != task || f.eng.Starts(task.Key) != 1 {
		t.Fatalf("resumed on %+v (started %d times), want a re-attach to %+v", again, f.eng.Starts(task.Key), task)
	}
	if _, err := f.e.Kill(ctx(t), "alice", j.ExecID); err != nil {
		t.Fatal(err)
	}
	if done := f.wait("alice", j); done.State != orchestrator.Cancelled {
		t.Fatalf("%+v", done)
	}
	waitUntil(t, "the task stopped", func() bool { return len(f.live()) == 0 })
}

// flakyStore applies commands through a store, failing the next ones as
// scripted: "lost" applies the command and answers ErrUnavailable (the
// leader died before answering), "noleader" applies nothing and answers
// ErrNotLeader.
type flakyStore struct {
	entrance.Store
	mu     sync.Mutex
	script []string
}

func (s *flakyStore) Apply(ctx context.Context, cmd manager.Command) (manager.Result, error) {
	s.mu.Lock()
	var next string
	if _, ok := cmd.(manager.SubmitJob); ok && len(s.script) > 0 {
		next, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	switch next {
	case "lost":
		if _, err := s.Store.Apply(ctx, cmd); err != nil {
			return manager.Result{}, err
		}
		return manager.Result{}, linkis.Errorf(linkis.ErrUnavailable, "leader", "lost before it answered")
	case "noleader":
		return manager.Result{}, linkis.Errorf(linkis.ErrNotLeader, "leader", "no leader known")
	}
	return s.Store.Apply(ctx, cmd)
}

// A submission whose first attempt was accepted without an answer, and
// whose next ones met no leader, is not answered "not the leader" (which
// says it certainly was not accepted, so a client would submit it again):
// it is asked again while tries remain, and found by its key.
func TestSubmitUnknownThenNoLeader(t *testing.T) {
	store := &flakyStore{Store: entrancetest.NewStore(t)}
	eng := entrancetest.NewEngine(t.TempDir())
	e, err := entrance.Open(entrance.DefaultConfig(), store, eng, eng, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	count := func() int {
		_, n, err := e.List(ctx(t), "alice", orchestrator.ListQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	store.script = []string{"lost", "noleader", "noleader", "noleader", "noleader"}
	if _, err := e.Submit(ctx(t), "alice", request(t, "alice", "sleep")); !errors.Is(err, linkis.ErrUnavailable) || errors.Is(err, linkis.ErrNotLeader) {
		t.Fatalf("a submission that may have been accepted answered %v; want ErrUnavailable", err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d jobs, want the one accepted", n)
	}
	store.script = []string{"lost", "noleader"}
	j, err := e.Submit(ctx(t), "alice", request(t, "alice", "sleep"))
	if err != nil || j.ExecID == "" {
		t.Fatalf("a submission accepted, then asked again past a member without a leader: %+v %v", j, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d jobs, want 2", n)
	}
}

// A task that ended while its job's end was not yet recorded (the leader
// died between the two) is followed by the next dispatcher, not run a
// second time.
func TestResumeFollowsAnEndedTask(t *testing.T) {
	f := newFixture(t)
	j := f.submit("alice", "sleep")
	task := <-f.eng.Running
	waitUntil(t, "the task recorded", func() bool { return len(f.record(j.TaskID).Tasks) == 1 })
	f.e.Close()
	// What the old leader had written when it died: the task's end.
	if _, err := f.store.Apply(context.Background(), manager.UpdateJob{Time: time.Now().UnixNano(), TaskID: j.TaskID,
		Progress: -1, TaskEnded: task.Key, TaskLines: 1}); err != nil {
		t.Fatal(err)
	}
	if v := f.record(j.TaskID); v.State != orchestrator.Running || len(v.Tasks) != 0 {
		t.Fatalf("a running job whose task ended: %+v", v)
	}
	f.open()
	again := <-f.eng.Running
	if again != task || f.eng.Starts(task.Key) != 1 {
		t.Fatalf("resumed on %+v (started %d times), want to follow the ended %+v", again, f.eng.Starts(task.Key), task)
	}
	if _, err := f.e.Kill(ctx(t), "alice", j.ExecID); err != nil {
		t.Fatal(err)
	}
	f.wait("alice", j)
}

// A job killed while no dispatcher ran it (its leader died) has its tasks
// stopped by the next dispatcher from the record alone.
func TestCleanupWithoutRun(t *testing.T) {
	f := newFixture(t)
	j := f.submit("alice", "sleep")
	<-f.eng.Running
	waitUntil(t, "the task recorded", func() bool { return len(f.record(j.TaskID).Tasks) == 1 })
	f.e.Close()
	if _, err := f.store.Apply(context.Background(), manager.KillJob{Time: time.Now().UnixNano(), TaskID: j.TaskID, By: "admin"}); err != nil {
		t.Fatal(err)
	}
	if v := f.record(j.TaskID); !v.Cleanup {
		t.Fatalf("a job killed while its task ran must await cleanup: %+v", v)
	}
	f.open()
	waitUntil(t, "the task stopped", func() bool { return len(f.live()) == 0 })
	if v := f.record(j.TaskID); v.State != orchestrator.Cancelled || len(v.Tasks) != 0 || v.Log[1].Count < 0 {
		t.Fatalf("cleaned record: %+v", v)
	}
}

// A log is paged across its parts; a task whose host is gone shows one
// line saying so, then the tail of output the record kept.
func TestLogPagesAndLostHost(t *testing.T) {
	f := newFixture(t)
	j := f.wait("alice", f.submit("alice", "lines 30"))
	c := ctx(t)
	var all []string
	for from := 0; ; {
		p, err := f.e.Log(c, "alice", j.ExecID, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Lines...)
		if p.Complete || len(p.Lines) == 0 {
			if !p.Complete {
				t.Fatalf("paging stopped before the end at %d", from)
			}
			break
		}
		from = p.Next
	}
	if len(all) != 32 || all[1] != "line 0" || all[30] != "line 29" || !strings.Contains(all[31], "ended Succeed") {
		t.Fatalf("paged log: %d lines %q", len(all), all)
	}
	// The ECM leaves the cluster: its host's logs are out of reach.
	f.store.Apply(c, manager.DeregisterECM{Time: time.Now().UnixNano(), ID: entrancetest.ECM, Force: true})
	p, err := f.e.Log(c, "alice", j.ExecID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Lines) < 3 || !strings.Contains(p.Lines[1], "is not available") || p.Lines[len(p.Lines)-2] != "line 29" || !p.Complete {
		t.Fatalf("log with its host gone: %q", p.Lines)
	}
	if _, _, err := f.e.OpenResult(c, "alice", "linkis:///results/alice/1/_0.jsonl"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("a job without results: %v", err)
	}
}

// A data directory of the version before the queues joined the replicated
// state (testdata/v1, written by that version's entrance: a job that
// succeeded with a result, one that failed, one running and one queued
// when it stopped) opens with its jobs.
func TestMigrateV1(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "testdata/v1/entrance", dir)
	f := newFixture(t, func(c *entrance.Config) { c.DataDir = dir })
	c := ctx(t)
	jobs, total, err := f.e.List(c, "alice", orchestrator.ListQuery{})
	if err != nil || total != 3 {
		t.Fatalf("alice's imported jobs: %d %v", total, err)
	}
	byID := map[int64]orchestrator.Job{}
	for _, j := range jobs {
		byID[j.TaskID] = j
	}
	ok := byID[1]
	if ok.State != orchestrator.Succeed || len(ok.Results) != 1 {
		t.Fatalf("job 1: %+v", ok)
	}
	rc, _, err := f.e.OpenResult(c, "alice", ok.Results[0])
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := api.ReadResultSet(rc, 0)
	rc.Close()
	if len(rs.Rows) != 1 {
		t.Fatalf("imported result: %+v", rs)
	}
	if p, _ := f.e.Log(c, "alice", ok.ExecID, 0, 0); !strings.Contains(strings.Join(p.Lines, "|"), "hello from "+ok.ExecID) {
		t.Fatalf("imported log: %q", p.Lines)
	}
	if j := byID[3]; j.State != orchestrator.Failed || !strings.Contains(j.Reason, "upgraded while the job running") {
		t.Fatalf("job 3 (running at the upgrade): %+v", j)
	}
	// Job 4 was queued: it runs now.
	if j := f.wait("alice", byID[4]); j.State != orchestrator.Succeed {
		t.Fatalf("job 4: %+v", j)
	}
	if b, err := f.e.Job(c, "bob", 2); err != nil || b.State != orchestrator.Failed {
		t.Fatalf("bob's job: %+v %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jobs.db"+entrance.MigratedSuffix)); err != nil {
		t.Fatalf("the history is not set aside: %v", err)
	}
	// New jobs continue the task ids.
	if j := f.submit("alice", "x"); j.TaskID != 5 {
		t.Fatalf("next task id %d", j.TaskID)
	}
}

// A history that cannot be read is refused with the reason, and nothing
// is imported.
func TestMigrateRefusesCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "jobs.db"), []byte("not a bbolt file at all, just garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := entrancetest.NewStore(t)
	eng := entrancetest.NewEngine(t.TempDir())
	cfg := entrance.DefaultConfig()
	cfg.DataDir = dir
	_, err := entrance.Open(cfg, store, eng, eng, nil)
	if !errors.Is(err, linkis.ErrMalformed) || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("want a refusal naming the way out, got %v", err)
	}
	var n int
	store.Read(context.Background(), true, func(s *manager.State) { _, n = s.ListJobs(manager.JobQuery{}) })
	if n != 0 {
		t.Fatalf("%d jobs imported from a corrupt history", n)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A job killed before its run recorded the task it started still gets
// the task recorded - and stopped - rather than forgotten.
func TestKillBeforeTheTaskIsRecorded(t *testing.T) {
	f := newFixture(t, func(c *entrance.Config) { c.Checkpoint = time.Hour })
	j := f.submit("alice", "sleep")
	task := <-f.eng.Running
	if _, err := f.store.Apply(context.Background(), manager.KillJob{Time: time.Now().UnixNano(), TaskID: j.TaskID, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the task stopped", func() bool { return len(f.live()) == 0 })
	v := f.record(j.TaskID)
	found := false
	for _, p := range v.Log {
		found = found || p.Task.Key == task.Key && p.Count == 1
	}
	if v.State != orchestrator.Cancelled || !found {
		t.Fatalf("the task of a job killed early is not in its record: %+v", v)
	}
}
