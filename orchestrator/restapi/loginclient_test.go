package restapi_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"errors"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"strings"
)

// The Go client with a login session instead of a token: before Login
// every call is refused, a wrong password opens nothing, and after Login
// the session's cookie authenticates the calls as the user the server
// names (lower-cased, as Linkis's gateway does).
func TestLoginClient(t *testing.T) {
	h, _ := loginHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()
	c, err := restapi.NewLoginClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: "shell", Code: "echo hi"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, req); !unauthenticated(err) {
		t.Fatalf("a submission before the login: %v", err)
	}
	if _, err := c.Login(ctx, "alice", "not-her-password"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if _, err := c.Submit(ctx, req); !unauthenticated(err) {
		t.Fatalf("a submission after a refused login: %v", err)
	}
	d, err := c.Login(ctx, "Alice", "alice-pw")
	if err != nil || d.UserName != "alice" {
		t.Fatalf("login: %+v %v", d, err)
	}
	sub, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	tasks, total, err := c.List(ctx, orchestrator.ListQuery{})
	if err != nil || total != 1 || len(tasks) != 1 || tasks[0].ExecID != sub.ExecID {
		t.Fatalf("the logged-in user's history: %+v %d %v (submitted %s)", tasks, total, err, sub.ExecID)
	}
}

// unauthenticated: the server refused the caller as not logged in.
func unauthenticated(err error) bool {
	return errors.Is(err, linkis.ErrPermission) && strings.Contains(err.Error(), "not logged in")
}
