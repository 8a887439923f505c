package manager

import (
	"bytes"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// submitAsking submits a job of user's whose first ask the state makes.
func (h *harness) submitAsking(user string) JobView {
	h.t.Helper()
	a := h.askCmd("", user+"-IDE", "shell-1")
	h.nonce++
	return h.apply(SubmitJob{Nonce: uint32(h.nonce), User: user, Creator: "IDE", EngineType: "shell-1", Request: []byte("{}"),
		Ask: &JobAsk{Nonce: a.Nonce, Labels: a.Labels}}).Job
}

// TestJobFirstAsk: the command that dispatches a job makes its first ask
// under JobAskID(execID, 1, 0) - the job queued behind its group's cap is
// granted, in the command that ends the job before it, the engine that
// job gives back (not a new one) - and the state gives the ask back when
// the job is over and no one did: at its end, or after its tasks were
// stopped when it was killed running. A job killed in its queue never
// asks.
func TestJobFirstAsk(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm-1", res(64, 32, 10))
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	first := h.submitAsking("alice")
	a1 := h.askState(JobAskID(first.ExecID, 1, 0))
	if a1.Status != AskPending || !a1.Created {
		t.Fatalf("the dispatched job's first ask: %+v, want pending on a new engine", a1)
	}
	h.start(a1.EC)
	if a := h.askState(JobAskID(first.ExecID, 1, 0)); a.Status != AskGranted {
		t.Fatalf("after its engine started: %+v", a)
	}
	second := h.submitAsking("alice")
	if _, ok := h.s.Ask(JobAskID(second.ExecID, 1, 0)); ok || h.job(second.TaskID).State != linkis.JobInited {
		t.Fatal("a queued job has asked")
	}
	// The first ends, giving its engine back in the same command: the
	// second is dispatched and granted that engine.
	r := h.apply(UpdateJob{TaskID: first.TaskID, State: linkis.JobSucceed, Progress: -1, Release: []string{JobAskID(first.ExecID, 1, 0)}})
	a2, ok := noticeFor(r, JobAskID(second.ExecID, 1, 0))
	if !ok || a2.Status != AskGranted || a2.EC != a1.EC || !a2.Reused {
		t.Fatalf("the next job's first ask: %+v (noticed %v), want the freed engine %v", a2, ok, a1.EC)
	}
	// Killed while running: the ask is kept until its tasks are stopped.
	h.apply(KillJob{TaskID: second.TaskID, By: "alice"})
	if a := h.askState(JobAskID(second.ExecID, 1, 0)); a.Status != AskGranted {
		t.Fatalf("a killed job's ask went before its tasks were stopped: %+v", a)
	}
	h.apply(UpdateJob{TaskID: second.TaskID, Progress: -1, Cleaned: true})
	if a, ok := h.s.Ask(JobAskID(second.ExecID, 1, 0)); ok && a.Status != AskDone {
		t.Fatalf("a cleaned-up job's ask is still held: %+v", a)
	}
	if e := h.ec(a1.EC); len(e.Holders) > 0 {
		t.Fatalf("the engine is still locked: %+v", e)
	}
	// A job that ends while queued never asks; one that ends without its
	// run giving the ask back (it never used it) has it given back.
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 0 })
	queued := h.submitAsking("bob")
	h.apply(KillJob{TaskID: queued.TaskID, By: "bob"})
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	if _, ok := h.s.Ask(JobAskID(queued.ExecID, 1, 0)); ok {
		t.Fatal("a job killed in its queue asked")
	}
	unused := h.submitAsking("bob")
	h.apply(UpdateJob{TaskID: unused.TaskID, State: linkis.JobFailed, Progress: -1, Reason: "no"})
	if a, ok := h.s.Ask(JobAskID(unused.ExecID, 1, 0)); ok && a.Status != AskDone {
		t.Fatalf("an ended job's unused ask is still held: %+v", a)
	}
}

// TestJobFirstAskSnapshot: the first asks of queued jobs are in the
// snapshot (version 4); the state restored from it dispatches alike, and a
// version 3 snapshot restores with the queued jobs asking nothing.
func TestJobFirstAskSnapshot(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm-1", res(64, 32, 10))
	h.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	first := h.submitAsking("alice")
	queued := h.submitAsking("alice")
	snap := h.s.Snapshot()
	r, err := Restore(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Fatal("a restored state snapshots differently")
	}
	end := UpdateJob{Time: h.now, TaskID: first.TaskID, State: linkis.JobSucceed, Progress: -1}
	r1, _ := h.s.Apply(end)
	r2, _ := r.Apply(end)
	if !bytes.Equal(h.s.Snapshot(), r.Snapshot()) || len(r1.Notices) != len(r2.Notices) {
		t.Fatal("the restored state went on differently")
	}
	if _, ok := r.Ask(JobAskID(queued.ExecID, 1, 0)); !ok {
		t.Fatal("the restored state did not make the queued job's first ask")
	}
	h2 := newHarness(t)
	h2.addECM("ecm-1", res(64, 32, 10))
	h2.configureJobs(func(c *JobConfig) { c.GroupMaxRunning = 1 })
	h2.submitAsking("alice")
	q2 := h2.submitAsking("alice")
	old, err := Restore(olderSnapshot(t, h2.s, h2.s.Snapshot(), 3), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := old.Job(q2.TaskID); v.State != linkis.JobInited {
		t.Fatalf("queued job restored from version 3: %v", v.State)
	}
}
