package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// `linkis admin` against a real server (`linkis server --admins ops`):
// the tables an operator reads, and what a user who is not an
// administrator is refused.
func TestAdminCommands(t *testing.T) {
	t.Setenv("LINKIS_USERS", "ops:ops-code,alice:a-code")
	s, err := parseServer([]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--admins", "ops", "--in-memory"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- s.serve(ctx, io.Discard, func(a string) { addr <- a }) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-served:
		t.Fatalf("server: %v", err)
	}
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("server: %v", err)
		}
	}()
	as := func(user string, args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := runAdminCommand(ctx, &out, append(args, "--server", base, "--user", user, "--token", map[string]string{"ops": "ops-code", "alice": "a-code"}[user]))
		return out.String(), err
	}
	must := func(user string, args ...string) string {
		t.Helper()
		out, err := as(user, args...)
		if err != nil {
			t.Fatalf("linkis admin %s as %s: %v", strings.Join(args, " "), user, err)
		}
		return out
	}

	out := must("ops", "ecms")
	if !strings.Contains(out, "id") || !strings.Contains(out, "ecm-embedded") || !strings.Contains(out, "1 of 1 ECMs") {
		t.Fatalf("ecms:\n%s", out)
	}
	if _, err := as("alice", "ecms"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("alice listed the ECMs: %v", err)
	}
	if out := must("ops", "drain", "ecm-embedded"); !strings.Contains(out, "UnHealthy") {
		t.Fatalf("drain: %s", out)
	}
	if out := must("ops", "ecms", "--health", "UnHealthy"); !strings.Contains(out, "UnHealthy (set)") {
		t.Fatalf("drained ECM:\n%s", out)
	}
	must("ops", "drain", "ecm-embedded", "--undo")

	// Configuration: an administrator caps alice; alice reads it; bad
	// values name the key.
	if out := must("ops", "config", "set", "--owner", "alice", "--creator", "IDE", "--engine", "shell", "wds.linkis.rm.instance=1"); out != "wds.linkis.rm.instance = 1\n" {
		t.Fatalf("config set: %q", out)
	}
	out = must("alice", "config", "get", "--creator", "IDE", "--engine", "shell-1")
	if !strings.Contains(out, "wds.linkis.rm.instance") || !strings.Contains(out, "alice-IDE,shell") {
		t.Fatalf("config get:\n%s", out)
	}
	if _, err := as("alice", "config", "set", "--owner", "ops", "wds.linkis.rm.instance=1"); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("alice set another's configuration: %v", err)
	}
	if _, err := as("alice", "config", "set", "--engine", "shell", "wds.linkis.rm.client.memory.max=4096"); err == nil || !strings.Contains(err.Error(), "wds.linkis.rm.client.memory.max") {
		t.Fatalf("a memory without a unit: %v", err)
	}

	// Variables, then a job that uses one, its engine, history, log.
	if out := must("alice", "vars", "set", "greeting=hello"); !strings.Contains(out, "greeting") || !strings.Contains(out, "hello") {
		t.Fatalf("vars set:\n%s", out)
	}
	c, err := restapi.NewClient(base, "alice", "a-code", nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", User: "alice", Code: "echo ${greeting}"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.Wait(ctx, sub.ExecID, nil); err != nil || st.Status != "Succeed" {
		t.Fatalf("job: %+v %v", st, err)
	}
	out = must("alice", "engines")
	if !strings.Contains(out, "ec-1") || !strings.Contains(out, "alice") || !strings.Contains(out, "1 of 1 engines") {
		t.Fatalf("engines:\n%s", out)
	}
	if out := must("alice", "resources"); !strings.Contains(out, "alice-IDE,shell-1") {
		t.Fatalf("resources:\n%s", out)
	}
	must("alice", "logs", "ec-1")
	if out := must("alice", "kill-engine", "ec-1"); out != "killed 1 engines: ec-1\n" {
		t.Fatalf("kill-engine: %q", out)
	}
	waitFor(t, "ec-1 in the history", func() bool {
		out, err := as("alice", "history")
		return err == nil && strings.Contains(out, "ec-1") && strings.Contains(out, "1 of 1 ended engines")
	})
	if _, err := as("alice", "bogus"); err == nil || !strings.Contains(err.Error(), "unknown subcommand") {
		t.Fatalf("unknown subcommand: %v", err)
	}
}
