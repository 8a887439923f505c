package restapi_test

// Reproducers of the security review of the REST API (branch rev-auth),
// against the conformance server (a real system, logins in the
// replicated state). Each FAILS on the code as reviewed.

import (
	"testing"
)

// Finding 12 (low): an administrator's submission as another user
// (executeUser) is recorded as that user's own: submitUser and
// executeUser both name the user, and nothing in the record says who
// submitted it. Linkis keeps the logged-in user as submitUser and the
// proxy as executeUser (EntranceRestfulApi.submit, JobRequest); here a
// job an administrator ran as alice is indistinguishable from alice's.
func TestReviewExecuteUserKeepsTheSubmitter(t *testing.T) {
	s := conformanceServer(t)
	ops := s.newClient(t, nil)
	ops.login("ops", opsPassword).ok(t)
	a := ops.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"echo hi"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	task := ops.waitEnded(idOf(t, a.Data, "taskID"))
	if sub, ex := str(t, task, "submitUser"), str(t, task, "executeUser"); sub != "ops" || ex != "alice" {
		t.Errorf("ops submitted as alice; the record says submitUser %q, executeUser %q", sub, ex)
	}
}
