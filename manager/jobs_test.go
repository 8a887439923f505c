package manager

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// Tests of the entrance's state: consumer groups, dispatch, job records
// (jobs.go, jobcmds.go, jobviews.go, jobcodec.go, jobcheck.go).

func (h *harness) configureJobs(mut func(*JobConfig)) {
	h.t.Helper()
	c := DefaultJobConfig()
	mut(&c)
	h.apply(ConfigureJobs{Config: c})
}

func (h *harness) submit(user, creator, et string) JobView {
	h.t.Helper()
	h.nonce++
	return h.apply(SubmitJob{Nonce: uint32(h.nonce), User: user, Creator: creator, EngineType: et, Request: []byte("{}")}).Job
}

func (h *harness) job(id int64) JobView {
	h.t.Helper()
	v, ok := h.s.Job(id)
	if !ok {
		h.t.Fatalf("job %d unknown", id)
	}
	return v
}

func (h *harness) finish(id int64, to linkis.JobState) Result {
	h.t.Helper()
	return h.apply(UpdateJob{TaskID: id, State: to, Progress: -1})
}

func scheduled(r Result) []int64 {
	var ids []int64
	for _, n := range r.Jobs {
		if n.State == linkis.JobScheduled {
			ids = append(ids, n.TaskID)
		}
	}
	return ids
}

func TestJobsFIFOAndGroupCap(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 2 })
	var ids []int64
	for i := 0; i < 5; i++ {
		ids = append(ids, h.submit("alice", "IDE", "shell-1").TaskID)
	}
	for i, id := range ids {
		want := linkis.JobInited
		if i < 2 {
			want = linkis.JobScheduled
		}
		if got := h.job(id); got.State != want || (want == linkis.JobInited && got.Position != i-1) {
			t.Fatalf("job %d: %v at %d, want %v at %d", i, got.State, got.Position, want, i-1)
		}
	}
	r := h.finish(ids[1], linkis.JobSucceed)
	if got := scheduled(r); !slices.Equal(got, []int64{ids[2]}) {
		t.Fatalf("ending a job dispatched %v, want the group's next (%d)", got, ids[2])
	}
	if v := h.job(ids[1]); v.State != linkis.JobSucceed || v.Progress != 1 || v.Ended != h.now {
		t.Fatalf("ended job: %+v", v)
	}
}

func TestJobsRoundRobinBetweenGroups(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.MaxRunning = 1 })
	var a, b []int64
	for i := 0; i < 3; i++ {
		a = append(a, h.submit("alice", "IDE", "shell-1").TaskID)
	}
	for i := 0; i < 3; i++ {
		b = append(b, h.submit("bob", "IDE", "shell-1").TaskID)
	}
	// a[0] runs; then turns alternate although alice queued first.
	order := []int64{a[0]}
	running := a[0]
	for len(order) < 6 {
		r := h.finish(running, linkis.JobSucceed)
		next := scheduled(r)
		if len(next) != 1 {
			t.Fatalf("after %d ended: dispatched %v", running, next)
		}
		running = next[0]
		order = append(order, running)
	}
	if want := []int64{a[0], b[0], a[1], b[1], a[2], b[2]}; !slices.Equal(order, want) {
		t.Fatalf("dispatch order %v, want %v (round robin)", order, want)
	}
}

func TestJobsQueueFullRefusesAndChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.QueueCapacity = 2; c.GroupMaxRunning = 0 })
	h.submit("alice", "IDE", "shell-1")
	h.submit("alice", "IDE", "shell-1")
	err := h.refuse(SubmitJob{User: "alice", Creator: "IDE", EngineType: "shell-1"}, linkis.ErrQueueFull)
	if want := "IDE_alice_shell-1"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Fatalf("error %q does not name the group %s", err, want)
	}
	// Another group has its own queue.
	h.submit("alice", "IDE", "python-3")
}

func TestJobsSubmitIsIdempotentByKey(t *testing.T) {
	h := newHarness(t)
	first := h.apply(SubmitJob{Key: 42, Nonce: 1, User: "alice", Creator: "IDE", EngineType: "shell-1"}).Job
	again := h.apply(SubmitJob{Key: 42, Nonce: 2, User: "alice", Creator: "IDE", EngineType: "shell-1"}).Job
	if again.TaskID != first.TaskID || again.ExecID != first.ExecID {
		t.Fatalf("a resubmission with the same key made job %d (%s), want %d (%s)", again.TaskID, again.ExecID, first.TaskID, first.ExecID)
	}
	if _, n := h.s.ListJobs(JobQuery{}); n != 1 {
		t.Fatalf("%d jobs, want 1", n)
	}
}

func TestJobsBadSubmissionsChangeNothing(t *testing.T) {
	h := newHarness(t)
	for _, c := range []SubmitJob{
		{User: "", Creator: "IDE", EngineType: "shell-1"},
		{User: "alice", Creator: string(make([]byte, 129)), EngineType: "shell-1"},
		{User: "alice", Creator: "IDE", EngineType: "shell-1", Request: make([]byte, MaxJobRequestBytes+1)},
		{User: "alice", Creator: "IDE", EngineType: "shell-1", QueueTimeout: -1},
	} {
		h.refuse(c, linkis.ErrInvalidArgument)
	}
	h.refuse(UpdateJob{TaskID: 99, Progress: -1}, linkis.ErrUnknownJob)
	h.refuse(KillJob{TaskID: 99}, linkis.ErrUnknownJob)
	h.refuse(ConfigureJobs{Config: JobConfig{}}, linkis.ErrInvalidArgument)
}

func TestJobsUpdatesFollowTheLegalMoves(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	j := h.submit("alice", "IDE", "shell-1")
	q := h.submit("alice", "IDE", "shell-1")
	h.refuse(UpdateJob{TaskID: q.TaskID, State: linkis.JobRunning, Progress: -1}, linkis.ErrIllegalTransition) // still queued
	h.refuse(UpdateJob{TaskID: j.TaskID, State: linkis.JobScheduled, Progress: -1}, linkis.ErrIllegalTransition)
	h.refuse(UpdateJob{TaskID: j.TaskID, Progress: 1.5}, linkis.ErrInvalidArgument)
	task := JobTask{Key: j.ExecID + "-1.0", AskID: j.ExecID + "-1.0", EC: "ec-1", ECM: "ecm-a", Addr: "10.0.0.1:1", TaskID: "7"}
	h.apply(UpdateJob{TaskID: j.TaskID, State: linkis.JobRunning, Progress: 0.5, ProgressInfo: "half", Attempts: 1,
		Log: []string{"INFO running on ec-1"}, Task: task, Tail: []string{"out 1"}})
	v := h.job(j.TaskID)
	if v.State != linkis.JobRunning || v.Progress != 0.5 || len(v.Tasks) != 1 || v.Tasks[0] != task || len(v.Log) != 2 || v.Log[1].Task != task || v.Log[1].Count != -1 {
		t.Fatalf("running job: %+v", v)
	}
	h.apply(UpdateJob{TaskID: j.TaskID, TaskEnded: task.Key, TaskLines: 12, Progress: -1})
	h.apply(UpdateJob{TaskID: j.TaskID, State: linkis.JobFailed, Reason: "exit 1", Progress: -1, Results: []string{"r0"}})
	v = h.job(j.TaskID)
	if v.State != linkis.JobFailed || v.Reason != "exit 1" || len(v.Tasks) != 0 || v.Log[1].Count != 12 || v.Cleanup {
		t.Fatalf("failed job: %+v", v)
	}
	h.refuse(UpdateJob{TaskID: j.TaskID, State: linkis.JobSucceed, Progress: -1}, linkis.ErrIllegalTransition)
	if h.job(q.TaskID).State != linkis.JobScheduled {
		t.Fatalf("the next job was not dispatched when the first ended")
	}
}

func TestJobsKill(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	run := h.submit("alice", "IDE", "shell-1")
	queued := h.submit("alice", "IDE", "shell-1")
	r := h.apply(KillJob{TaskID: queued.TaskID, By: "alice"})
	if r.Job.State != linkis.JobCancelled || r.Job.Cleanup || r.Job.Reason != "killed by alice while queued" {
		t.Fatalf("killed queued job: %+v", r.Job)
	}
	h.apply(UpdateJob{TaskID: run.TaskID, State: linkis.JobRunning, Progress: -1, Task: JobTask{Key: "k", TaskID: "1"}})
	r = h.apply(KillJob{TaskID: run.TaskID, By: "admin"})
	if r.Job.State != linkis.JobCancelled || !r.Job.Cleanup || len(r.Job.Tasks) != 1 {
		t.Fatalf("killed running job: %+v", r.Job)
	}
	if live := h.s.LiveJobs(); len(live) != 1 || live[0].TaskID != run.TaskID {
		t.Fatalf("a killed job whose task may run must stay live for the dispatcher: %+v", live)
	}
	// Killing again changes nothing; the dispatcher reports the cleanup.
	if again := h.apply(KillJob{TaskID: run.TaskID, By: "x"}); again.Job.Reason != r.Job.Reason {
		t.Fatalf("a second kill changed the job: %+v", again.Job)
	}
	h.apply(UpdateJob{TaskID: run.TaskID, Cleaned: true, Progress: -1})
	if live := h.s.LiveJobs(); len(live) != 0 || len(h.job(run.TaskID).Tasks) != 0 {
		t.Fatalf("cleaned job still live: %+v", live)
	}
}

func TestJobsTimeouts(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1; c.QueueTimeout = time.Minute })
	run := h.apply(SubmitJob{User: "a", Creator: "IDE", EngineType: "shell-1", RunTimeout: 30 * time.Second}).Job
	queued := h.submit("a", "IDE", "shell-1")
	h.advance(30 * time.Second)
	r := h.apply(Tick{})
	v := h.job(run.TaskID)
	if v.State != linkis.JobTimeout || !v.Cleanup || v.Reason != "ran longer than its running timeout of 30s" {
		t.Fatalf("run timeout: %+v", v)
	}
	if got := scheduled(r); !slices.Equal(got, []int64{queued.TaskID}) {
		t.Fatalf("the timed-out job's slot went to %v", got)
	}
	// The queued job was dispatched before its queuing timeout: it no
	// longer has one.
	h.advance(time.Hour)
	h.apply(Tick{})
	if s := h.job(queued.TaskID).State; s != linkis.JobScheduled {
		t.Fatalf("a dispatched job timed out on its queuing timeout: %v", s)
	}
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 0; c.QueueTimeout = time.Minute })
	late := h.submit("b", "IDE", "shell-1")
	h.advance(time.Minute)
	h.apply(Tick{})
	if v := h.job(late.TaskID); v.State != linkis.JobTimeout || v.Reason != "waited in its queue longer than its queuing timeout of 1m0s" {
		t.Fatalf("queue timeout: %+v", v)
	}
}

func TestJobsHistoryRetention(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.Retain = 3; c.RetainFor = time.Hour })
	var ids []int64
	for i := 0; i < 5; i++ {
		j := h.submit("a", "IDE", "shell-1")
		h.finish(j.TaskID, linkis.JobSucceed)
		ids = append(ids, j.TaskID)
		h.advance(time.Minute)
	}
	h.apply(Tick{})
	if _, n := h.s.ListJobs(JobQuery{}); n != 3 {
		t.Fatalf("history keeps %d, want 3", n)
	}
	if _, ok := h.s.Job(ids[1]); ok {
		t.Fatalf("the oldest jobs should go first")
	}
	h.advance(time.Hour)
	h.apply(Tick{})
	if _, n := h.s.ListJobs(JobQuery{}); n != 0 {
		t.Fatalf("jobs older than RetainFor are kept: %d", n)
	}
}

// TestJobsHistoryBytes: the history keeps no more than maxHistoryBytes of
// ended jobs' requests, whatever Retain says, the oldest going first - but
// never a job whose tasks the dispatcher has yet to stop (it skips past
// it rather than keeping everything newer).
func TestJobsHistoryBytes(t *testing.T) {
	defer func(v int64) { maxHistoryBytes = v }(maxHistoryBytes)
	maxHistoryBytes = 3000
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 10 })
	big := []byte(strings.Repeat("x", 1000))
	stuck := h.apply(SubmitJob{Nonce: 99, User: "a", Creator: "IDE", EngineType: "shell-1", Request: big}).Job
	h.apply(UpdateJob{TaskID: stuck.TaskID, State: linkis.JobRunning, Progress: -1, Task: JobTask{Key: "k", TaskID: "t"}})
	h.apply(KillJob{TaskID: stuck.TaskID, By: "a"}) // ended, its task still to stop
	var ids []int64
	for i := 0; i < 5; i++ {
		h.nonce++
		j := h.apply(SubmitJob{Nonce: uint32(h.nonce), User: "a", Creator: "IDE", EngineType: "shell-1", Request: big}).Job
		h.finish(j.TaskID, linkis.JobSucceed)
		ids = append(ids, j.TaskID)
	}
	h.apply(Tick{})
	if _, ok := h.s.Job(stuck.TaskID); !ok {
		t.Fatal("a job awaiting its cleanup was evicted")
	}
	for i, id := range ids {
		if _, ok := h.s.Job(id); ok != (i >= 3) {
			t.Fatalf("job %d of 5 kept: %v (3000 bytes hold the stuck job and the last two)", i, ok)
		}
	}
	if err := CheckInvariants(h.s); err != nil {
		t.Fatal(err)
	}
}

func TestJobsList(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 100 })
	for i := 0; i < 30; i++ {
		u := "alice"
		if i%3 == 0 {
			u = "bob"
		}
		j := h.submit(u, "IDE", []string{"shell-1", "python-3"}[i%2])
		if i%4 == 0 {
			h.finish(j.TaskID, linkis.JobFailed)
		}
		h.advance(time.Second)
	}
	page, total := h.s.ListJobs(JobQuery{User: "alice", EngineType: "python", Offset: 2, Limit: 3})
	if total != 10 || len(page) != 3 {
		t.Fatalf("alice's python jobs: %d, page of %d", total, len(page))
	}
	for i := 1; i < len(page); i++ {
		if page[i].TaskID >= page[i-1].TaskID || page[i].User != "alice" || page[i].EngineType != "python-3" {
			t.Fatalf("page not newest first or not filtered: %+v", page)
		}
	}
	_, failed := h.s.ListJobs(JobQuery{States: []linkis.JobState{linkis.JobFailed}})
	if failed != 8 {
		t.Fatalf("failed jobs %d, want 8", failed)
	}
}

func TestJobsImport(t *testing.T) {
	h := newHarness(t)
	h.apply(ImportJob{Job: JobView{TaskID: 7, ExecID: "exec_7_aa", User: "a", Creator: "IDE", EngineType: "sql-1", State: linkis.JobSucceed,
		Log: []JobLogPart{{Lines: []string{"old"}}}, Created: t0 - 2, Ended: t0 - 1}})
	h.apply(ImportJob{Job: JobView{TaskID: 9, ExecID: "exec_9_aa", User: "a", Creator: "IDE", EngineType: "sql-1", State: linkis.JobInited, Created: 3}})
	h.refuse(ImportJob{Job: JobView{TaskID: 8, ExecID: "exec_8", User: "a", Creator: "IDE", EngineType: "sql-1", State: linkis.JobSucceed}}, linkis.ErrDuplicate)
	h.refuse(ImportJob{Job: JobView{TaskID: 10, ExecID: "exec_10", User: "a", Creator: "IDE", EngineType: "sql-1", State: linkis.JobRunning}}, linkis.ErrInvalidArgument)
	if s := h.job(9).State; s != linkis.JobScheduled {
		t.Fatalf("an imported queued job is queued and dispatched like any: %v", s)
	}
	if j := h.submit("a", "IDE", "sql-1"); j.TaskID != 10 {
		t.Fatalf("the next task id is %d, want 10", j.TaskID)
	}
	if v, ok := h.s.JobByExecID("exec_7_aa"); !ok || v.Log[0].Lines[0] != "old" {
		t.Fatalf("imported record: %+v", v)
	}
}

// TestJobsStateMachineProperty drives the entrance's state with random
// commands and checks, after each: the invariants; caps (a group never
// runs more than its cap, nor all groups more than MaxRunning, unless a cap
// was lowered under them); no idle room (no group waits while it and the
// whole have a free slot); FIFO within a group; an ended job never changes
// state again; and that a snapshot restores to a state that goes on alike.
func TestJobsStateMachineProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		st, err := New(DefaultConfig(), nil)
		if err != nil {
			rt.Fatal(err)
		}
		h := &propJobs{s: st, now: t0}
		ecm := RegisterECM{Time: t0, ID: "ecm-1", Addr: "ecm-1:9101", Max: res(16, 8, 4)}
		if _, err := st.Apply(ecm); err != nil {
			rt.Fatal(err)
		}
		users := []string{"a", "b", "c_d", "c"}
		creators := []string{"IDE", "d_x"}
		dispatched := map[string][]int64{} // group → job ids in dispatch order
		submitted := map[string][]int64{}  // group → job ids in submission order
		final := map[int64]linkis.JobState{}
		log := []Command{ecm}
		capsLowered := false
		step := func(c Command) {
			c = withTime(c, h.now)
			r, err := h.s.Apply(c)
			if err != nil {
				return
			}
			log = append(log, c)
			if err := CheckInvariants(h.s); err != nil {
				rt.Fatalf("after %v: %v", c.Type(), err)
			}
			for _, n := range r.Jobs {
				v, _ := h.s.Job(n.TaskID)
				if n.State == linkis.JobScheduled && v.Attempts == 0 && !slices.Contains(dispatched[v.Group], v.TaskID) {
					dispatched[v.Group] = append(dispatched[v.Group], v.TaskID)
				}
			}
		}
		for i := rapid.IntRange(1, 120).Draw(rt, "steps"); i > 0; i-- {
			switch rapid.IntRange(0, 9).Draw(rt, "op") {
			case 0, 1, 2, 3:
				u := rapid.SampledFrom(users).Draw(rt, "user")
				cr := rapid.SampledFrom(creators).Draw(rt, "creator")
				h.nonce++
				before, _ := h.s.ListJobs(JobQuery{Limit: 1})
				var ask *JobAsk // the state's own ask at dispatch, some of the time
				if rapid.Bool().Draw(rt, "ask") {
					ls, err := linkis.NewLabels(linkis.LabelUserCreator, u+"-"+cr, linkis.LabelEngineType, "shell-1")
					if err != nil {
						rt.Fatal(err)
					}
					ask = &JobAsk{Nonce: h.nonce, Labels: ls}
				}
				step(SubmitJob{Key: uint64(rapid.IntRange(0, 40).Draw(rt, "key")), Nonce: uint32(h.nonce), User: u, Creator: cr, EngineType: "shell-1",
					QueueTimeout: time.Duration(rapid.IntRange(0, 3).Draw(rt, "qt")) * time.Minute, Ask: ask})
				after, _ := h.s.ListJobs(JobQuery{Limit: 1})
				if len(after) > 0 && (len(before) == 0 || after[0].TaskID != before[0].TaskID) {
					submitted[after[0].Group] = append(submitted[after[0].Group], after[0].TaskID)
				}
			case 4, 5:
				live := h.s.LiveJobs()
				if len(live) == 0 {
					continue
				}
				j := rapid.SampledFrom(live).Draw(rt, "job")
				to := rapid.SampledFrom([]linkis.JobState{linkis.JobRunning, linkis.JobWaitForRetry, linkis.JobSucceed, linkis.JobFailed, linkis.JobCancelled}).Draw(rt, "to")
				step(UpdateJob{TaskID: j.TaskID, State: to, Progress: -1, Cleaned: j.Cleanup,
					Task: JobTask{Key: j.ExecID + "-" + strconv.Itoa(j.Attempts), TaskID: "t"}, Attempts: j.Attempts + 1})
			case 6:
				all, n := h.s.ListJobs(JobQuery{Limit: 1 << 20})
				if n == 0 {
					continue
				}
				step(KillJob{TaskID: rapid.SampledFrom(all).Draw(rt, "kill").TaskID, By: "x"})
			case 7:
				h.advance(time.Duration(rapid.IntRange(1, 90).Draw(rt, "secs")) * time.Second)
				step(Tick{})
			case 8:
				c := DefaultJobConfig()
				c.GroupMaxRunning = rapid.IntRange(0, 3).Draw(rt, "gmr")
				c.MaxRunning = rapid.IntRange(1, 5).Draw(rt, "mr")
				c.QueueCapacity = rapid.IntRange(1, 6).Draw(rt, "cap")
				c.Retain = rapid.IntRange(1, 8).Draw(rt, "retain")
				c.RunTimeout = time.Duration(rapid.IntRange(0, 2).Draw(rt, "rt")) * time.Minute
				if rapid.Bool().Draw(rt, "creatorCap") {
					c.CreatorMaxRunning = map[string]int{"d_x": rapid.IntRange(0, 2).Draw(rt, "dcap")}
				}
				old := h.s.JobConfig()
				step(ConfigureJobs{Config: c})
				capsLowered = capsLowered || c.MaxRunning < old.MaxRunning || c.GroupMaxRunning < old.GroupMaxRunning || len(c.CreatorMaxRunning) > 0
			case 9:
				snap := h.s.Snapshot()
				r, err := Restore(snap, nil)
				if err != nil {
					rt.Fatalf("restore: %v", err)
				}
				if again := r.Snapshot(); !bytes.Equal(again, snap) {
					rt.Fatalf("a restored state snapshots differently")
				}
				// Both go on alike.
				h.advance(time.Second)
				c := withTime(SubmitJob{User: "z", Creator: "IDE", EngineType: "shell-1"}, h.now)
				r1, e1 := h.s.Apply(c)
				r2, e2 := r.Apply(c)
				if fmt.Sprint(e1) != fmt.Sprint(e2) || fmt.Sprint(r1.Jobs) != fmt.Sprint(r2.Jobs) || !bytes.Equal(h.s.Snapshot(), r.Snapshot()) {
					rt.Fatalf("a restored state went on differently: %v %v / %v %v", r1.Jobs, e1, r2.Jobs, e2)
				}
				if e1 == nil {
					log = append(log, c)
					submitted["IDE_z_shell-1"] = append(submitted["IDE_z_shell-1"], r1.Job.TaskID)
					for _, n := range r1.Jobs {
						if n.State == linkis.JobScheduled {
							dispatched["IDE_z_shell-1"] = append(dispatched["IDE_z_shell-1"], n.TaskID)
						}
					}
				}
			}
			// Caps and no idle room.
			cfg := h.s.JobConfig()
			total := 0
			for _, g := range h.s.JobGroups() {
				total += g.Running
				if !capsLowered && g.Running > g.MaxRunning {
					rt.Fatalf("group %s runs %d over its cap %d", g.Name, g.Running, g.MaxRunning)
				}
			}
			if !capsLowered && total > cfg.MaxRunning {
				rt.Fatalf("%d running over MaxRunning %d", total, cfg.MaxRunning)
			}
			if total < cfg.MaxRunning {
				for _, g := range h.s.JobGroups() {
					if g.Queued > 0 && g.Running < g.MaxRunning {
						rt.Fatalf("group %s waits with %d queued, %d of %d running, %d of %d in all", g.Name, g.Queued, g.Running, g.MaxRunning, total, cfg.MaxRunning)
					}
				}
			}
			// Ended jobs never change.
			all, _ := h.s.ListJobs(JobQuery{Limit: 1 << 20})
			for _, v := range all {
				if old, ok := final[v.TaskID]; ok && old != v.State {
					rt.Fatalf("job %d ended %v, now %v", v.TaskID, old, v.State)
				}
				if v.State.Final() {
					final[v.TaskID] = v.State
				}
			}
		}
		// FIFO: within a group, jobs were dispatched in submission order
		// (skipping those that ended in their queue).
		for g, ds := range dispatched {
			pos := map[int64]int{}
			for i, id := range submitted[g] {
				pos[id] = i
			}
			for i := 1; i < len(ds); i++ {
				if pos[ds[i]] < pos[ds[i-1]] {
					rt.Fatalf("group %s dispatched %v out of submission order %v", g, ds, submitted[g])
				}
			}
		}
		// Replaying the log gives the same state.
		s2, _ := New(h.s.Config(), nil)
		for _, c := range log {
			if _, err := s2.Apply(c); err != nil {
				rt.Fatalf("replay of %v failed: %v", c.Type(), err)
			}
		}
		if !bytes.Equal(s2.Snapshot(), h.s.Snapshot()) {
			rt.Fatalf("replaying the log gave another state")
		}
	})
}

// propJobs is the little the property test needs of a harness (which
// takes a testing.TB, and *rapid.T is none).
type propJobs struct {
	s     *State
	now   int64
	nonce uint64
}

func (h *propJobs) advance(d time.Duration) { h.now += int64(d) }

// An update releases the engines it names in the same command: the record
// of a task's end and the release of its engine are one step.
func TestJobsUpdateReleasesEngines(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm-1", res(8, 4, 4))
	j := h.submit("alice", "IDE", "shell-1")
	a := h.ask(j.ExecID+"-1.0", "alice-IDE", "shell-1")
	h.start(a.EC)
	if got := h.askState(a.AskID); got.Status != AskGranted {
		t.Fatalf("ask %+v", got)
	}
	r := h.apply(UpdateJob{TaskID: j.TaskID, State: linkis.JobSucceed, Progress: -1, Release: []string{a.AskID, "never-asked"}})
	if _, ok := h.s.Ask(a.AskID); ok {
		t.Fatal("the ask is still held after the update that released it")
	}
	if e := h.ec(a.EC); len(e.Holders) != 0 || e.Status != linkis.StatusUnlock {
		t.Fatalf("engine after the release: %+v", e)
	}
	if n, ok := noticeFor(r, a.AskID); !ok || n.Status != AskDone {
		t.Fatalf("the release's outcome is not among the notices: %+v", r.Notices)
	}
	h.refuse(UpdateJob{TaskID: j.TaskID, Progress: -1, Release: make([]string, MaxJobReleases+1)}, linkis.ErrInvalidArgument)
}

// ImportJob refuses task ids near math.MaxInt64: nextID = id+1 would
// overflow, and the next submission get a negative task id (found in
// review).
func TestImportAtMaxTaskID(t *testing.T) {
	h := newHarness(t)
	_, err := h.s.Apply(ImportJob{Time: h.now, Job: JobView{TaskID: math.MaxInt64, ExecID: "exec_max", User: "a", Creator: "IDE",
		EngineType: "sql-1", State: linkis.JobSucceed, Ended: h.now}})
	if !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Errorf("an import at task id MaxInt64: %v, want ErrInvalidArgument", err)
	}
	if err == nil {
		j, err := h.s.Apply(SubmitJob{Time: h.now, Nonce: 1, User: "a", Creator: "IDE", EngineType: "sql-1", Request: []byte("{}")})
		if err == nil && j.Job.TaskID <= 0 {
			_, rerr := Restore(h.s.Snapshot(), nil)
			t.Fatalf("after importing task id MaxInt64, a submission got task id %d (invariants: %v; restoring a snapshot: %v)", j.Job.TaskID, CheckInvariants(h.s), rerr)
		}
	}
}

// ImportJob refuses a progress UpdateJob would refuse (NaN, -5, 7), which
// would reach every reader (JSON encoding of NaN fails).
func TestImportChecksProgress(t *testing.T) {
	h := newHarness(t)
	for i, p := range []float64{math.NaN(), -5, 7} {
		_, err := h.s.Apply(ImportJob{Time: h.now, Job: JobView{TaskID: int64(10 + i), ExecID: "exec_p" + string(rune('a'+i)), User: "a", Creator: "IDE",
			EngineType: "sql-1", State: linkis.JobSucceed, Progress: p, Ended: h.now}})
		if err == nil {
			v, _ := h.s.Job(int64(10 + i))
			t.Errorf("an import with progress %v was accepted: the record holds %v", p, v.Progress)
		}
	}
}

// JobConfig.GroupOverrides is keyed by the group's name
// Creator_User_EngineType, ambiguous when users and creators hold '_':
// user "x" submitting as creator "IDE_bob" does not get the running cap
// an administrator gave user "bob_x"'s IDE group - which still has it.
func TestGroupOverrideIsNotAmbiguous(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) {
		c.GroupMaxRunning = 1
		c.GroupOverrides = map[string]int{"IDE_bob_x_shell-1": 3} // for bob_x's IDE jobs
	})
	for i := 0; i < 3; i++ {
		h.submit("x", "IDE_bob", "shell-1")
		h.submit("bob_x", "IDE", "shell-1")
	}
	for _, g := range h.s.JobGroups() {
		if g.User == "x" && g.Running > 1 {
			t.Fatalf("user x's group %s (creator %q) runs %d jobs under bob_x's override; the default cap is 1", g.Name, g.Creator, g.Running)
		}
		if g.User == "bob_x" && g.Running != 3 {
			t.Fatalf("bob_x's group %s runs %d jobs, its override is 3", g.Name, g.Running)
		}
	}
}
