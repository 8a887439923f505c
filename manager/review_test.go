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
