package manager

// Reproducers from the review of the replicated job path (branch rev-jobs).

import (
	"math"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// ImportJob takes any task id at or above nextID; nextID = id+1 then
// overflows for math.MaxInt64, and the next submission gets a negative
// task id (below every job, which breaks the history's order and the
// state's own invariant "every id < nextID").
func TestReviewImportAtMaxTaskID(t *testing.T) {
	h := newHarness(t)
	_, err := h.s.Apply(ImportJob{Time: h.now, Job: JobView{TaskID: math.MaxInt64, ExecID: "exec_max", User: "a", Creator: "IDE",
		EngineType: "sql-1", State: linkis.JobSucceed, Ended: h.now}})
	if err == nil {
		j, err := h.s.Apply(SubmitJob{Time: h.now, Nonce: 1, User: "a", Creator: "IDE", EngineType: "sql-1", Request: []byte("{}")})
		if err == nil && j.Job.TaskID <= 0 {
			_, rerr := Restore(h.s.Snapshot(), nil)
			t.Fatalf("after importing task id MaxInt64, a submission got task id %d (invariants: %v; restoring a snapshot: %v)", j.Job.TaskID, CheckInvariants(h.s), rerr)
		}
	}
}

// Neither ImportJob nor restore check a record's progress: NaN, -5 or 7
// enter the replicated state (UpdateJob refuses them), and reach every
// reader (the REST API's progress, JSON encoding of NaN fails).
func TestReviewImportChecksProgress(t *testing.T) {
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
// Creator_User_EngineType, which jobs.go itself calls ambiguous (users and
// creators may hold '_'): user "x" submitting as creator "IDE_bob" gets the
// running cap an administrator gave user "bob_x"'s IDE group.
func TestReviewGroupOverrideAmbiguity(t *testing.T) {
	h := newHarness(t)
	h.configureJobs(func(c *JobConfig) {
		c.GroupMaxRunning = 1
		c.GroupOverrides = map[string]int{"IDE_bob_x_shell-1": 3} // for bob_x's IDE jobs
	})
	for i := 0; i < 3; i++ {
		h.submit("x", "IDE_bob", "shell-1")
	}
	for _, g := range h.s.JobGroups() {
		if g.User == "x" && g.Running > 1 {
			t.Fatalf("user x's group %s (creator %q) runs %d jobs under bob_x's override; the default cap is 1", g.Name, g.Creator, g.Running)
		}
	}
}
