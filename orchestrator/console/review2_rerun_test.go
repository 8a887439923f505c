package console_test

// Second security review of the submitUser fix (c273c52): FAILS on the
// code as reviewed.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator"
)

// A job's record keeps who submitted it when that is not its user
// (Request.SubmitUser, set by the REST API from the login). The
// console's re-run submits the old job's Request as it was - its
// SubmitUser too - so the record of the new job names whoever submitted
// the old one, not who pressed re-run: alice re-running a job the
// administrator once ran as her is recorded as the administrator's
// submission, and the administrator re-running alice's own job is
// recorded as alice's.
func TestReview2RerunRecordsWhoReranIt(t *testing.T) {
	s := startSystem(t)
	ctx := context.Background()
	rerun := func(v *visitor, taskID int64) orchestrator.Job {
		t.Helper()
		v.get(fmt.Sprintf("/jobs/%d", taskID))
		p := v.post(fmt.Sprintf("/jobs/%d/rerun", taskID), nil)
		id, err := strconv.ParseInt(strings.TrimPrefix(p.url.Path, "/jobs/"), 10, 64)
		if err != nil || id == taskID {
			t.Fatalf("re-run of %d: %d at %s", taskID, p.code, p.url)
		}
		return s.job(t, id)
	}

	// The administrator ops ran a job as alice (REST executeUser).
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: "shell", Code: "echo hi"})
	if err != nil {
		t.Fatal(err)
	}
	req.SubmitUser = "ops"
	byOps, err := s.sys.Submit(ctx, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.job(t, byOps.TaskID).Request.SubmitUser; got != "ops" {
		t.Fatalf("the administrator's submission as alice records submitUser %q", got)
	}
	alice := newVisitor(t, s.url)
	alice.login("alice")
	if nj := rerun(alice, byOps.TaskID); nj.Request.SubmitUser != "" {
		t.Errorf("alice re-ran it herself, yet the new job %d records it as submitted by %q", nj.TaskID, nj.Request.SubmitUser)
	}

	// alice's own job, re-run by the administrator.
	own := s.submit(t, "alice", "shell", "echo mine")
	ops := newVisitor(t, s.url)
	ops.login("ops")
	if nj := rerun(ops, own.TaskID); nj.User != "alice" || nj.Request.SubmitUser != "ops" {
		t.Errorf("ops re-ran alice's job: the new job %d runs as %q with submitUser %q, want alice submitted by ops", nj.TaskID, nj.User, nj.Request.SubmitUser)
	}
}
