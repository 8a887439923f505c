package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

func TestMain(m *testing.M) {
	embedded.ServeEngine() // `linkis run` and `server` start engines as this test binary
	os.Exit(m.Run())
}

func TestRunPrintsLogAndResults(t *testing.T) {
	for _, c := range []struct {
		engine, code string
		want         []string
	}{
		{"shell", "echo to-the-log >&2; echo ${greeting} world", []string{"to-the-log", "Succeed", "hello world"}},
		{"sql", "select 6*7 as answer", []string{"Succeed", "answer", "42", "(1 row)"}},
	} {
		var out bytes.Buffer
		if err := runRun(&out, []string{"--engine", c.engine, "--code", c.code, "--var", "greeting=hello"}); err != nil {
			t.Fatalf("%s: %v\n%s", c.engine, err, out.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", c.engine, w, out.String())
			}
		}
	}
}

func TestRunFailsWithTheJobsReason(t *testing.T) {
	var out bytes.Buffer
	err := runRun(&out, []string{"--engine", "shell", "--code", "echo bad >&2; exit 3"})
	if err == nil || !strings.Contains(err.Error(), "Failed") {
		t.Fatalf("run of a failing job = %v, want an error saying it Failed\n%s", err, out.String())
	}
	for _, bad := range [][]string{
		{"--engine", "cobol", "--code", "x"},
		{"--engine", "shell"},
		{"--engine", "shell", "--code", "echo ${nope}"},
		{"--engine", "shell", "--code", "x", "extra"},
	} {
		if err := runRun(&out, bad); err == nil {
			t.Errorf("run %q: no error", bad)
		}
	}
}

func TestServerServesJobsToItsUsers(t *testing.T) {
	if _, err := loadUsers("", "", false); err == nil {
		t.Error("a server without users started")
	}
	for _, spec := range []string{"alice", "alice:", ":code", "alice:a,alice:b"} {
		if _, err := loadUsers("", spec, false); err == nil {
			t.Errorf("users %q accepted", spec)
		}
	}
	file := filepath.Join(t.TempDir(), "users")
	os.WriteFile(file, []byte("# team\nalice code-a\nbob:code-b\n"), 0o600)
	d, err := loadUsers(file, "ignored:x", false)
	if err != nil {
		t.Fatal(err)
	}
	checkCodes(t, d, map[string]string{"alice": "code-a", "bob": "code-b"})
	users := map[string]string{"alice": "code-a", "bob": "code-b"}

	sys, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	base, stop, err := serveLoopback(sys, users)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("LINKIS_SERVER", base)
	t.Setenv("LINKIS_USER", "alice")
	t.Setenv("LINKIS_TOKEN_CODE", "code-a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := runJobCommand(ctx, "submit", &out, &out, []string{"--engine", "python", "--code", "print(6*7)", "--wait"}); err != nil {
		t.Fatalf("submit --wait: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Succeed") {
		t.Fatalf("submit --wait printed:\n%s", out.String())
	}
	execID := strings.Fields(out.String())[1]
	out.Reset()
	if err := runJobCommand(ctx, "result", &out, &out, []string{execID}); err != nil || !strings.Contains(out.String(), "42") {
		t.Fatalf("result %s = %v:\n%s", execID, err, out.String())
	}
	// bob may not read alice's job.
	bob, err := restapi.NewClient(base, "bob", "code-b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Status(ctx, execID); !errors.Is(err, linkis.ErrPermission) {
		t.Errorf("bob reading alice's job: %v, want a permission error", err)
	}
}

// A users file's token code may hold ':' or a blank: the user ends at the
// first of them.
func TestLoadUsersCodeWithSeparators(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	os.WriteFile(file, []byte("alice s3:cr3t\nbob:b c\ncarol\tx:y\n"), 0o600)
	d, err := loadUsers(file, "", false)
	if err != nil {
		t.Fatal(err)
	}
	checkCodes(t, d, map[string]string{"alice": "s3:cr3t", "bob": "b c", "carol": "x:y"})
}

// checkCodes checks that each user's code lets it in, and another's not.
func checkCodes(t *testing.T, d *identity.Directory, codes map[string]string) {
	t.Helper()
	svc, err := identity.New(identity.Config{Directory: d, SessionTimeout: time.Hour, SessionMaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for u, code := range codes {
		if err := svc.Token(u, code, "127.0.0.1:1"); err != nil {
			t.Errorf("%s with its code: %v", u, err)
		}
		if err := svc.Token(u, code+"x", "127.0.0.1:1"); err == nil {
			t.Errorf("%s with a wrong code: accepted", u)
		}
	}
}

// A malformed users entry is reported without echoing a token code.
func TestLoadUsersErrorHidesCode(t *testing.T) {
	for _, spec := range []string{":s3cret", "alice:a, :s3cret"} {
		if _, err := loadUsers("", spec, false); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: %v", spec, err)
		}
	}
}

// linkis run works for a login whose name Linkis's userCreator label does
// not allow (a '-', say): the job runs under a name that it allows.
func TestRunUserWithDash(t *testing.T) {
	for _, login := range []string{"john-doe", "ü", "...", strings.Repeat("a", 80)} {
		t.Setenv("USER", login)
		u := runUser()
		if _, err := linkis.ParseUserCreator(u + "-LINKISCLI"); err != nil || strings.Trim(u, ".") == "" {
			t.Errorf("USER=%q: run user %q: %v", login, u, err)
		}
	}
	t.Setenv("USER", "john-doe")
	var out bytes.Buffer
	if err := runRun(&out, []string{"--engine", "shell", "--code", "echo hi"}); err != nil {
		t.Fatalf("run as john-doe: %v\n%s", err, out.String())
	}
}

// The API server bounds every wait, idle keep-alive connections
// included: without IdleTimeout (or ReadTimeout) net/http keeps them
// open for ever.
func TestAPIServerTimeouts(t *testing.T) {
	srv := newAPIServer(nil)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("timeouts: header %v, read %v, idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.IdleTimeout)
	}
}
