package engines_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn"
	"github.com/golinkis/golinkis/engineconn/engines"
	"github.com/golinkis/golinkis/linkis"
)

// The shell engine's tests run a whole EngineConn in the test process (its
// task API over HTTP, a manager that grants everything), as a task can
// only be made by the runtime.

const shTicket, shToken, shAsk = "ec-1", "00000000000000aa", "ask-1"

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

type grantAll struct{}

func (grantAll) ECStarted(context.Context, api.ECStartedRequest) error     { return nil }
func (grantAll) ECHeartbeat(context.Context, api.ECHeartbeatRequest) error { return nil }
func (grantAll) ECUnlock(context.Context, api.ECUnlockRequest) error       { return nil }
func (grantAll) GetAsk(_ context.Context, id string, _ time.Duration) (api.AskResult, error) {
	return api.AskResult{AskID: id, Status: "Granted", EC: shTicket, Token: shToken}, nil
}

type shellEC struct {
	t    testing.TB
	cli  *api.EngineClient
	cfg  engineconn.Config
	addr string
}

// startShell runs an EngineConn of the shell engine in mode (set through
// the engine parameter, as a caller would) running up to concurrency
// tasks at once.
func startShell(t testing.TB, mode string, concurrency int) *shellEC {
	t.Helper()
	return startEngine(t, "shell", map[string]string{engines.ParamShellMode: mode}, concurrency)
}

// startEngine runs an EngineConn of a built-in engine type with params.
func startEngine(t testing.TB, typ string, params map[string]string, concurrency int) *shellEC {
	t.Helper()
	dir := t.TempDir()
	cfg := engineconn.DefaultConfig()
	cfg.Ticket = shTicket
	cfg.EngineType = linkis.EngineType{Type: typ, Version: "1"}
	cfg.Managers = []string{"http://127.0.0.1:1"}
	cfg.Token = "cluster-secret"
	cfg.WorkDir, cfg.LogDir, cfg.ResultDir = filepath.Join(dir, "work"), filepath.Join(dir, "logs"), filepath.Join(dir, "results")
	cfg.Concurrency = concurrency
	cfg.MaxTasks = 1 << 30
	cfg.ExitLinger = 100 * time.Millisecond
	cfg.Params = params
	ec, err := engineconn.New(cfg, engines.Builtin(), grantAll{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ec.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); ec.Addr() == "" || ec.Info().Status == "Starting"; time.Sleep(2 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the engine ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine did not listen")
		}
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(20 * time.Second):
			t.Error("the engine did not stop")
		}
	})
	return &shellEC{t: t, cli: api.NewEngineClient(ec.Addr(), cfg.Token, nil), cfg: cfg, addr: ec.Addr()}
}

func (h *shellEC) submit(code string) string {
	h.t.Helper()
	sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: shAsk, Token: shToken, Code: code})
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	return sub.ID
}

func (h *shellEC) wait(id string) api.TaskStatus {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := h.cli.Wait(ctx, id)
	if err != nil {
		h.t.Fatalf("wait for %s: %v", id, err)
	}
	return st
}

func (h *shellEC) run(code string) api.TaskStatus {
	h.t.Helper()
	return h.wait(h.submit(code))
}

// rows returns the task's text result set, one string per row.
func (h *shellEC) rows(st api.TaskStatus) []string {
	h.t.Helper()
	if len(st.Results) == 0 {
		return nil
	}
	f, err := os.Open(st.Results[0])
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	rs, err := api.ReadResultSet(f, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]string, len(rs.Rows))
	for i, r := range rs.Rows {
		out[i] = fmt.Sprint(r[0])
	}
	return out
}

func (h *shellEC) log(id string) []string {
	h.t.Helper()
	var all []string
	for from := 0; ; {
		p, err := h.cli.Log(context.Background(), id, from, 10000)
		if err != nil {
			h.t.Fatal(err)
		}
		all = append(all, p.Lines...)
		if p.Complete || len(p.Lines) == 0 {
			return all
		}
		from = p.Next
	}
}

// mustRun runs code, wants it to succeed and returns its rows.
func (h *shellEC) mustRun(code string) []string {
	h.t.Helper()
	st := h.run(code)
	if st.State != api.TaskSuccess {
		h.t.Fatalf("%.80q: %+v, log %q", code, st, h.log(st.ID))
	}
	return h.rows(st)
}

var shellModes = []string{engines.ShellSession, engines.ShellProcess}

// The two modes give a task the same output, log, state and error, down
// to the words of bash's messages (except the "eval" of a syntax error in
// session mode).
func TestShellModesAgree(t *testing.T) {
	type outcome struct {
		State, Error string
		Rows, Log    []string
	}
	codes := []string{
		"echo hello; echo world; echo oops >&2",
		"exit 3",
		"no_such_command_x",
		"echo $0 $LINENO; echo $LINKIS_TASK_ID\necho $LINENO",
		"kill -9 $BASHPID",
		"kill -TERM $BASHPID",
		"echo \"unbalanced",
		"echo 'single\nif",
		"cat; read -r x; echo read=$? \"[$x]\"",
		"printf 'no newline'; printf 'err no newline' >&2",
		"for f in 0 1 2 3 4 5; do [ -e /dev/fd/$f ] && echo open-$f; done",
		"echo $- ; shopt -po errexit nounset",
		"set -e; false; echo not reached",
		"return 4",
		"# only a comment",
		"echo é€ 日本; echo ${#x}",
		"echo trailing backslash \\",
		"echo crlf\r\necho next",
		"trap 'echo on exit' EXIT; echo body",
		"exec sh -c 'echo replaced; exit 4'",
		"cd /; pwd; X=1; export Y=2",
		"env | grep -c '^LINKIS_' ; echo ${LINKIS_TASK_ID:+set}",
		"for i in $(seq 1 300); do echo line-$i; echo err-$i >&2; done",
	}
	got := map[string][]outcome{}
	for _, mode := range shellModes {
		h := startShell(t, mode, 1)
		for _, code := range codes {
			st := h.run(code)
			// stdout and stderr are two pipes: the order of their lines
			// in the log is not fixed.
			o := outcome{State: st.State, Error: st.Error, Rows: h.rows(st), Log: h.log(st.ID)}
			sort.Strings(o.Log)
			got[mode] = append(got[mode], o)
		}
	}
	for i, code := range codes {
		s, p := got[engines.ShellSession][i], got[engines.ShellProcess][i]
		if !strings.HasPrefix(code, "echo \"unbalanced") && !strings.HasPrefix(code, "echo 'single") {
			if !reflect.DeepEqual(s, p) {
				t.Errorf("%q:\nsession %+v\nprocess %+v", code, s, p)
			}
			continue
		}
		// A syntax error: bash names "eval" where it named "-c".
		for j := range s.Log {
			s.Log[j] = strings.Replace(s.Log[j], "bash: eval: ", "bash: -c: ", 1)
		}
		if !reflect.DeepEqual(s, p) {
			t.Errorf("%q:\nsession %+v\nprocess %+v", code, s, p)
		}
	}
	// A few outcomes spelled out, so that both modes cannot agree on
	// something wrong.
	s := got[engines.ShellSession]
	if s[0].State != api.TaskSuccess || !reflect.DeepEqual(s[0].Rows, []string{"hello", "world"}) {
		t.Errorf("echo: %+v", s[0])
	}
	if s[1].State != api.TaskError || s[1].Error != "bash: exit status 3" {
		t.Errorf("exit 3: %+v", s[1])
	}
	if s[4].Error != "bash: signal: killed" || s[5].Error != "bash: signal: terminated" {
		t.Errorf("killed by a signal: %+v %+v", s[4], s[5])
	}
	if !reflect.DeepEqual(s[8].Rows, []string{"read=1 []"}) {
		t.Errorf("stdin is not empty: %+v", s[8])
	}
	if !reflect.DeepEqual(s[10].Rows, []string{"open-0", "open-1", "open-2"}) {
		t.Errorf("the code sees the protocol's descriptors: %+v", s[10])
	}
	if !reflect.DeepEqual(s[21].Rows, []string{"1", "set"}) {
		t.Errorf("environment: %+v", s[21])
	}
	if len(s[22].Rows) != 300 || len(s[22].Log) != 600 {
		t.Errorf("300 lines each way: %d rows, %d log lines", len(s[22].Rows), len(s[22].Log))
	}
}

// What a task changes in its shell (directory, variables, options,
// functions, traps, umask, exit) does not reach the next task, though both
// ran in the same bash.
func TestShellSessionIsolatesTasks(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	probe := `echo "$$|$PWD|${X-unset}|${Y-unset}|$-|$(type -t f)|$(umask)|$(trap -p EXIT)|$(shopt -p extglob)|$(alias)"`
	before := h.mustRun(probe)
	st := h.run("cd /; X=1; export Y=2; set -eu; f() { :; }; umask 077; trap 'echo bye' EXIT; shopt -s extglob expand_aliases; alias ll=ls; exit 3")
	if st.State != api.TaskError || st.Error != "bash: exit status 3" || !reflect.DeepEqual(h.rows(st), []string{"bye"}) {
		t.Fatalf("the changing task: %+v %v", st, h.rows(st))
	}
	after := h.mustRun(probe)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("a task's changes leaked:\nbefore %q\nafter  %q", before, after)
	}
	if f := strings.Split(before[0], "|"); f[1] != h.cfg.WorkDir || f[2] != "unset" || strings.Contains(f[4], "e") {
		t.Fatalf("probe %q", before[0])
	}
	// The same bash ran all three ($$ is the session's bash): isolation
	// is the subshell's, not a restart's.
	if st := h.run("set -e; false; echo no"); st.State != api.TaskError {
		t.Fatalf("set -e: %+v", st)
	}
	if got := h.mustRun(probe); !reflect.DeepEqual(got, before) {
		t.Fatalf("after set -e: %q", got)
	}
}

// Output that looks like the protocol, and bytes written into the
// protocol's own pipe (which a task can reopen through /proc), do not end
// a task or cut its output.
func TestShellSessionForgedEnd(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	code := `printf 'E x 0\nP x 1\nR\n'; printf '\0LINKIS-END-0123456789abcdef\0\n'; printf 'E x 0\n' >&2
echo "E 0 0" > /proc/$$/fd/4 2>/dev/null
printf 'E 1234 0\nR\n' > /proc/$$/fd/4 2>/dev/null
printf 'partial line without newline' > /proc/$$/fd/4 2>/dev/null
sleep 0.3
echo after`
	st := h.run(code)
	rows := h.rows(st)
	if st.State != api.TaskSuccess || len(rows) != 5 || rows[4] != "after" {
		t.Fatalf("%+v rows %q", st, rows)
	}
	// The partial line glued to bash's next report does not hide it.
	if got := h.mustRun("echo next"); !reflect.DeepEqual(got, []string{"next"}) {
		t.Fatalf("next task %q", got)
	}
}

// Code that could break a framing that parses it: heredoc delimiters,
// unbalanced quotes and parentheses, the engine's own variable names,
// multibyte text (its length in bytes is not in characters), code at the
// limit of the inline path and above it (512 KiB, run from a file), and
// code with a NUL byte (refused).
func TestShellSessionAnyCode(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	for _, c := range []struct{ code, want string }{
		{"cat <<'END'\nEOF\nLINKIS\n)\"'\nEND", "EOF LINKIS )\"'"},
		{"echo ')' ; # ( \" '\necho \"$__lk_c|$__lk_t|$__lk_n|$__lk_i\"", ") |||"},
		{"x='é€日本'; echo ${#x} \"$x\"", "4 é€日本"},
		{"echo 'done'\nEOF\n__lk_c\n", "done"}, // the last lines fail: command not found
		{"echo -n a; echo -n b >&2; echo c", "ac"},
	} {
		st := h.run(c.code)
		rows := strings.Join(h.rows(st), " ")
		if rows != c.want {
			t.Errorf("%q: %q, want %q (%+v)", c.code, rows, c.want, st)
		}
	}
	// Just under the inline limit (64 KiB), multibyte: the engine sends
	// bytes, bash must read bytes.
	var b strings.Builder
	for i := 0; b.Len() < 64<<10-200; i++ {
		fmt.Fprintf(&b, "echo 'é-%d'\n", i)
	}
	long := b.String()
	rows := h.mustRun(long)
	if n := strings.Count(long, "\n"); len(rows) != n || rows[n-1] != fmt.Sprintf("é-%d", n-1) {
		t.Fatalf("%d rows of %d, last %q", len(rows), n, rows[len(rows)-1])
	}
	huge := "x=0\n" + strings.Repeat("x=$((x+1))\n", (api.MaxCodeBytes-100)/11) + "echo $x $0"
	rows = h.mustRun(huge)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], strconv.Itoa((api.MaxCodeBytes-100)/11)+" ") {
		t.Fatalf("512 KiB script: %q", rows)
	}
	st := h.run("echo a\x00b")
	if st.State != api.TaskError || !strings.Contains(st.Error, "NUL") {
		t.Fatalf("code with a NUL: %+v", st)
	}
	if got := h.mustRun("echo still"); !reflect.DeepEqual(got, []string{"still"}) {
		t.Fatalf("after all that: %q", got)
	}
}

// alive says whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// dies reports whether pid is gone within 5 s: SIGKILL takes effect at
// once, but a process on a loaded machine takes a moment to end.
func dies(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); alive(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

func readPids(t *testing.T, file string, n int) []int {
	t.Helper()
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); len(pids) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d pids in %s, want %d", len(pids), file, n)
		}
		b, _ := os.ReadFile(file)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// Killing a task kills its whole process tree (children, a child that
// ignores SIGTERM, grandchildren) and the next task runs, in both modes;
// in session mode on the same bash.
func TestShellKillTree(t *testing.T) {
	for _, mode := range shellModes {
		t.Run(mode, func(t *testing.T) {
			h := startShell(t, mode, 1)
			sh := h.mustRun("echo $$")
			pidFile := filepath.Join(t.TempDir(), "pids")
			id := h.submit(`sleep 60 & echo $! >> ` + pidFile + `
(trap '' TERM; sleep 60 & echo $! >> ` + pidFile + `; echo $BASHPID >> ` + pidFile + `; wait) &
sh -c 'sleep 60 & echo $! >> ` + pidFile + `; wait' &
echo $BASHPID >> ` + pidFile + `
while :; do sleep 0.01; done`)
			pids := readPids(t, pidFile, 5)
			start := time.Now()
			st, err := h.cli.Kill(context.Background(), id)
			if err != nil || st.State != api.TaskCancel {
				t.Fatalf("kill: %+v %v", st, err)
			}
			for _, p := range pids {
				if !dies(p) {
					t.Errorf("pid %d of the killed task runs on (pids %v)", p, pids)
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			// The subshell that ignores SIGTERM holds the kill up to the grace.
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("the kill took %v", d)
			}
			after := h.mustRun("echo $$")
			if mode == engines.ShellSession && !reflect.DeepEqual(after, sh) {
				t.Errorf("session mode: the kill cost the bash (%v, then %v)", sh, after)
			}
			// A task killed right after its submission.
			id = h.submit("sleep 60")
			if st, _ := h.cli.Kill(context.Background(), id); st.State != api.TaskCancel {
				t.Fatalf("early kill: %+v", st)
			}
			if got := h.mustRun("echo ok"); !reflect.DeepEqual(got, []string{"ok"}) {
				t.Fatalf("after the early kill: %q", got)
			}
		})
	}
}

// A task that kills the session's bash ($$) fails saying so; the next task
// runs on a new bash. One that replaces its subshell (exec) is just a task
// that ran another program. A bash killed between tasks is replaced too.
func TestShellSessionBashDies(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	first := h.mustRun("echo $$")[0]
	pidFile := filepath.Join(t.TempDir(), "pid")
	st := h.run("sleep 60 & echo $! > " + pidFile + "; echo before; kill -9 $$; sleep 60")
	if st.State != api.TaskError || !strings.Contains(st.Error, "shell session ended during the task") ||
		!reflect.DeepEqual(h.rows(st), []string{"before"}) {
		t.Fatalf("%+v %q", st, h.rows(st))
	}
	if pid := readPids(t, pidFile, 1)[0]; !dies(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the task's child %d outlived its bash", pid)
	}
	second := h.mustRun("echo $$")[0]
	if second == first {
		t.Fatalf("the same bash (%s) after it was killed", first)
	}
	if got := h.mustRun("exec echo replaced"); !reflect.DeepEqual(got, []string{"replaced"}) {
		t.Fatalf("exec: %q", got)
	}
	if st := h.run("exec false"); st.State != api.TaskError || st.Error != "bash: exit status 1" {
		t.Fatalf("exec false: %+v", st)
	}
	if got := h.mustRun("echo $$")[0]; got != second {
		t.Fatalf("exec cost the bash: %s then %s", second, got)
	}
	pid, _ := strconv.Atoi(second)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for alive(pid) {
		time.Sleep(time.Millisecond)
	}
	if got := h.mustRun("echo $$")[0]; got == second {
		t.Fatal("a dead bash served a task")
	}
}

// A process a task leaves in the background dies with the task (its
// process group), as in process mode: its later output reaches no task.
// One that left the group (setsid) and keeps the output pipe may write
// into the next task's output, but never ends it early or cuts it.
func TestShellSessionBackground(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	if got := h.mustRun("(sleep 0.2; echo late; echo late >&2) & echo started"); !reflect.DeepEqual(got, []string{"started"}) {
		t.Fatalf("first task %q", got)
	}
	st := h.run("sleep 0.5; echo second")
	if st.State != api.TaskSuccess || !reflect.DeepEqual(h.rows(st), []string{"second"}) || !reflect.DeepEqual(h.log(st.ID), []string{"second"}) {
		t.Fatalf("the background process of the first task wrote into the second: %+v %q %q", st, h.rows(st), h.log(st.ID))
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	start := time.Now()
	h.mustRun("setsid sh -c 'echo $$ > " + pidFile + "; sleep 0.3; printf \"escaped\\n\\0LINKIS-END-x\\0E\\n\"; sleep 60' & while [ ! -s " + pidFile + " ]; do sleep 0.01; done; echo started")
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("a task that left a process holding its output took %v", d)
	}
	escaped := readPids(t, pidFile, 1)[0]
	t.Cleanup(func() { _ = syscall.Kill(escaped, syscall.SIGKILL) })
	st = h.run("sleep 0.6; echo third")
	rows := h.rows(st)
	if st.State != api.TaskSuccess || len(rows) == 0 || rows[len(rows)-1] != "third" {
		t.Fatalf("third task %+v %q", st, rows)
	}
	t.Logf("the third task's rows, with what the escaped process wrote: %q", rows)
}

// A concurrent engine runs tasks on bashes of their own: outputs never
// mix.
func TestShellSessionConcurrent(t *testing.T) {
	h := startShell(t, engines.ShellSession, 3)
	gate := filepath.Join(t.TempDir(), "go")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, h.submit(fmt.Sprintf("while [ ! -e %s ]; do sleep 0.005; done; for j in $(seq 1 500); do echo task%d-$j; echo err%d >&2; done; echo $$", gate, i, i)))
	}
	time.Sleep(100 * time.Millisecond)
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	shells := map[string]bool{}
	for i, id := range ids {
		st := h.wait(id)
		rows := h.rows(st)
		if st.State != api.TaskSuccess || len(rows) != 501 {
			t.Fatalf("task %d: %+v, %d rows", i, st, len(rows))
		}
		for j, r := range rows[:500] {
			if r != fmt.Sprintf("task%d-%d", i, j+1) {
				t.Fatalf("task %d row %d is %q", i, j, r)
			}
		}
		for _, l := range h.log(id) {
			if strings.HasPrefix(l, "err") && l != fmt.Sprintf("err%d", i) {
				t.Fatalf("task %d logged %q", i, l)
			}
		}
		shells[rows[500]] = true
	}
	if len(shells) != 3 {
		t.Fatalf("bashes %v, want 3", shells)
	}
	// They stay for the next tasks.
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: shAsk, Token: shToken, Code: "echo $$"})
				if err != nil {
					time.Sleep(time.Millisecond) // busy
					continue
				}
				st := h.wait(sub.ID)
				if rows := h.rows(st); st.State != api.TaskSuccess || len(rows) != 1 || !shells[rows[0]] {
					t.Errorf("%+v %q: not one of the first bashes %v", st, rows, shells)
				}
				return
			}
		}()
	}
	wg.Wait()
}

func TestShellModeParam(t *testing.T) {
	h := startShell(t, engines.ShellProcess, 1)
	if a, b := h.mustRun("echo $$"), h.mustRun("echo $$"); reflect.DeepEqual(a, b) {
		t.Fatalf("process mode: two tasks in one bash %v", a)
	}
	cfg := h.cfg
	cfg.WorkDir = t.TempDir()
	cfg.Params = map[string]string{engines.ParamShellMode: "fast"}
	ec, err := engineconn.New(cfg, engines.Builtin(), grantAll{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := ec.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "shell.mode") {
		t.Fatalf("a bad mode: %v", err)
	}
}
