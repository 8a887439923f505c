package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

var alice = map[string]string{"alice": "a-code"}

// startServed starts a system (durable in dir when dir is not empty) and
// serves its REST API at addr; it returns the base URL and a stop
// function, also run at cleanup.
func startServed(t *testing.T, dir, addr string) (string, func()) {
	t.Helper()
	cfg := embedded.Config{DataDir: dir, Durable: dir != ""}
	sys, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base, stopHTTP, err := serveAt(sys, alice, addr)
	if err != nil {
		sys.Close()
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopHTTP()
			sys.Close()
		}
	}
	t.Cleanup(stop)
	return base, stop
}

func aliceClient(t *testing.T, base string) *restapi.Client {
	t.Helper()
	c, err := restapi.NewClient(base, "alice", "a-code", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logLines reads a job's whole log through the REST API.
func logLines(t *testing.T, c *restapi.Client, execID string) []string {
	t.Helper()
	var all []string
	for from := 0; ; {
		p, err := c.Log(context.Background(), execID, from, 0)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Lines...)
		if p.Complete || p.Next <= from {
			return all
		}
		from = p.Next
	}
}

// The first line a shell task prints is visible through the REST API's
// log while the task still runs, and stays there after `linkis kill`,
// which prints the state the job ended in. Before, the line showed only
// when the task ended (the engine held it back, the orchestrator heard of
// it with its next one-second poll) and a kill lost it; and kill printed
// "EXECID Running".
func TestShellLineVisibleWhileItRunsAndKeptAfterKill(t *testing.T) {
	base, _ := startServed(t, "", "127.0.0.1:0")
	c := aliceClient(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", User: "alice", Code: "echo start; sleep 60; echo end"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, `"start" in the job's log`, func() bool { return slices.Contains(logLines(t, c, sub.ExecID), "start") })
	if st, err := c.Status(ctx, sub.ExecID); err != nil || st.Status != "Running" {
		t.Fatalf("the line came with the end of the job: %+v %v", st, err)
	}
	conn := []string{"--server", base, "--user", "alice", "--token", "a-code"}
	out, err := runCmd(t, "kill", append([]string{sub.ExecID}, conn...)...)
	if err != nil || out != sub.ExecID+" Cancelled\n" {
		t.Fatalf("kill printed %q, %v", out, err)
	}
	log := logLines(t, c, sub.ExecID)
	if !slices.Contains(log, "start") || slices.Contains(log, "end") {
		t.Fatalf("log after the kill: %q", log)
	}
}

// What a task printed reaches the job's log while it runs and stays there
// when its engine dies (kill -9); before, the shell engine held the line
// back and it died with the engine.
func TestLinesKeptWhenTheEngineDies(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	base, stop, err := serveLoopback(sys, alice)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := aliceClient(t, base)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", User: "alice", Code: "echo before-the-crash; sleep 60",
		Labels: map[string]string{linkis.LabelJobRetryCount: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var pidFile string
	waitFor(t, "the engine's pid file", func() bool {
		m, _ := filepath.Glob(filepath.Join(sys.DataDir(), "ecm", "ec-*", ecm.PIDFile))
		if len(m) == 1 {
			pidFile = m[0]
		}
		return pidFile != ""
	})
	// Before, the line never left the engine: this wait failed.
	waitFor(t, "the line in the job's log", func() bool { return slices.Contains(logLines(t, c, sub.ExecID), "before-the-crash") })
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st, err := c.Follow(ctx, sub.ExecID, 0, nil)
	if err != nil || st.Status != "Failed" {
		t.Fatalf("the job whose engine died: %+v %v", st, err)
	}
	if log := logLines(t, c, sub.ExecID); !slices.Contains(log, "before-the-crash") {
		t.Fatalf("the line printed before the crash is gone: %q", log)
	}
}

// linkis run shows a shell job's output once, from its log, not again as
// its text result; a table result is still printed.
func TestRunPrintsOutputOnce(t *testing.T) {
	var out bytes.Buffer
	if err := runRun(&out, []string{"--engine", "shell", "--code", "echo once-only"}); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "once-only"); n != 1 {
		t.Fatalf("the output line is printed %d times:\n%s", n, out.String())
	}
}

// submit --wait outlives a real server restart (same data directory, same
// address): it says the server went away, finds it again and follows the
// job to the end the restarted server gives it (a job running at the
// restart fails: its engine stopped with the server, and without a
// jobRetryCount label its code is not run again).
func TestSubmitWaitSurvivesARealServerRestart(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, stop := startServed(t, dir, addr)
	conn := []string{"--server", addr, "--user", "alice", "--token", "a-code"}
	var out, diag syncBuffer
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	go func() {
		done <- runJobCommand(ctx, "submit", &out, &diag, append([]string{"--engine", "shell", "--code", "echo before; sleep 60; echo after", "--wait"}, conn...))
	}()
	waitFor(t, `"before" followed`, func() bool { return strings.Contains(out.String(), "before\n") })
	stop()
	waitFor(t, "the follower to say the server is gone", func() bool { return strings.Contains(diag.String(), "no answer from the server") })
	startServed(t, dir, addr)
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(90 * time.Second):
		t.Fatalf("submit --wait did not end\nout %s\ndiag %s", out.String(), diag.String())
	}
	if err2 == nil || !strings.Contains(err2.Error(), "ended Failed") {
		t.Fatalf("submit --wait: %v\nout %s\ndiag %s", err2, out.String(), diag.String())
	}
	if !strings.Contains(diag.String(), "answers again") || strings.Count(out.String(), "before\n") != 1 || strings.Contains(out.String(), "after\n") {
		t.Fatalf("out %s\ndiag %s", out.String(), diag.String())
	}
}

// metric reads one sample of the ECM ledger from a server's /metrics.
func metric(t *testing.T, base, kind, dim string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	prefix := `linkis_ecm_resource{dim="` + dim + `",ecm="ecm-embedded",kind="` + kind + `"} `
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", prefix)
	return 0
}

// linkis server offers what --memory, --cores and --instances say, and
// its engines exit after --engine-idle-time without work, giving their
// room back; a job's own engineconn.max.free.time (--param) wins over it.
func TestServerCapacityAndEngineIdleFlags(t *testing.T) {
	t.Setenv("LINKIS_USERS", "alice:a-code")
	for _, c := range []struct {
		name  string
		flags []string
		param []string
	}{
		{"server flag", []string{"--engine-idle-time", "2s"}, nil},
		{"job parameter", nil, []string{"--param", "engineconn.max.free.time=2s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseServer(append([]string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
				"--memory", "2g", "--cores", "1.5", "--instances", "3", "--in-memory"}, c.flags...))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			addrs := make(chan string, 1)
			done := make(chan error, 1)
			var banner syncBuffer
			go func() { done <- s.serve(ctx, &banner, func(a string) { addrs <- a }) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			var base string
			select {
			case a := <-addrs:
				base = "http://" + a
			case err := <-done:
				t.Fatal(err)
			}
			if !strings.Contains(banner.String(), "memory=2GiB cores=1.5 instances=3") {
				t.Errorf("banner: %q", banner.String())
			}
			if m, cr, n := metric(t, base, "max", "memory_bytes"), metric(t, base, "max", "cores"), metric(t, base, "max", "instances"); m != 2<<30 || cr != 1.5 || n != 3 {
				t.Fatalf("the ECM offers memory %v, cores %v, instances %v", m, cr, n)
			}
			conn := []string{"--server", base, "--user", "alice", "--token", "a-code"}
			if out, err := runCmd(t, "submit", append(append([]string{"--engine", "shell", "--code", "echo hi", "--wait"}, c.param...), conn...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if metric(t, base, "used", "instances") != 1 {
				t.Fatal("no engine after the job")
			}
			start := time.Now()
			waitFor(t, "the idle engine to exit", func() bool { return metric(t, base, "used", "instances") == 0 })
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("the engine exited %v after its job, idle time 2s", d)
			}
		})
	}
	for _, bad := range [][]string{{"--cores", "-1"}, {"--memory", "lots"}, {"--instances", "0"}, {"--engine-idle-time", "0s"}, {"--trusted-proxy", "proxy.example"},
		{"--ldap-starttls"}, {"--ldap-url", "ldaps://ldap:636", "--ldap-starttls"}} {
		if _, err := parseServer(append([]string{"--data-dir", t.TempDir()}, bad...)); err == nil {
			t.Errorf("server %v: accepted", bad)
		}
	}
	s, err := parseServer([]string{"--data-dir", t.TempDir(), "--ldap-url", "ldap://127.0.0.1:389", "--ldap-starttls", "--trusted-proxy", "127.0.0.1,10.0.0.0/8"})
	if err != nil || !s.ldap.StartTLS || len(s.trusted) != 2 {
		t.Errorf("--ldap-starttls --trusted-proxy: %+v, %v", s, err)
	}
}

// The README's commands go through the binary's own flags: every `linkis
// CMD ...` in its sh blocks parses (asked for help, so nothing starts),
// and the ECM example's managers are the manager example's API address.
func TestREADMECommandsParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	inSh := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
		}
		if !inSh {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == ';' || r == '&' || r == '|' }) {
			fields := strings.Fields(part)
			i := slices.IndexFunc(fields, func(f string) bool { return f == "linkis" || strings.HasSuffix(f, "/linkis") })
			if i < 0 || i+1 >= len(fields) {
				continue
			}
			if _, ok := lookup(fields[i+1]); ok {
				cmds = append(cmds, fields[i+1:])
			}
		}
	}
	if len(cmds) < 10 {
		t.Fatalf("only %d linkis commands found in the README", len(cmds))
	}
	managerAPI, ecmManagers := "", ""
	for _, fields := range cmds {
		var args []string
		for j, f := range fields[1:] {
			if f == "..." {
				break
			}
			args = append(args, strings.Trim(f, "[]"))
			if j > 0 && fields[j] == "--http-addr" && fields[0] == "manager" && managerAPI == "" {
				managerAPI = f
			}
			if j > 0 && fields[j] == "--manager" && fields[0] == "ecm" {
				ecmManagers = f
			}
		}
		c, _ := lookup(fields[0])
		if err := c.run(io.Discard, append(args, "--help")); err == nil || err.Error() != "help requested" {
			t.Errorf("README: linkis %s: %v", strings.Join(fields, " "), err)
		}
	}
	if managerAPI == "" || !strings.Contains(ecmManagers, "http://"+managerAPI) {
		t.Errorf("the ECM example's --manager %q does not name the manager example's API %q", ecmManagers, managerAPI)
	}
}
