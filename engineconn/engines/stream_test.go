package engines_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/engineconn/engines"
)

// waitLine waits until the task's log holds line and returns its state
// then; the test fails if the line does not come within 10 s.
func (h *shellEC) waitLine(id, line string) api.TaskStatus {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st, err := h.cli.Status(context.Background(), id, 0)
		if err != nil {
			h.t.Fatal(err)
		}
		if slices.Contains(h.log(id), line) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%q is not in the log of task %s after 10 s (%s): %q", line, id, st.State, h.log(id))
		}
	}
}

// A line reaches the task's log as the code prints it, not when the task
// ends, and what was printed before a kill stays in the log. Each engine
// prints through the path its users meet: bash builtins and a child
// process; Python's print without flush, and output written below Python
// (os.write, a child process). Before the fix, the shell engine held back
// the last 29 bytes of its output (the length of the end-of-task mark) and
// a short first line stayed invisible until the task ended - and was lost
// for good when the task was killed.
func TestOutputStreamsAndSurvivesAKill(t *testing.T) {
	for _, c := range []struct {
		name, typ string
		params    map[string]string
		code      string
		lines     []string // printed before the sleep
	}{
		{"shell session", "shell", map[string]string{engines.ParamShellMode: engines.ShellSession},
			"echo start; sh -c 'echo child'; sleep 30; echo end", []string{"start", "child"}},
		{"shell process", "shell", map[string]string{engines.ParamShellMode: engines.ShellProcess},
			"echo start; sh -c 'echo child'; sleep 30; echo end", []string{"start", "child"}},
		{"python", "python", nil,
			"import os, time\nprint('start')\nos.write(1, b'below\\n')\nos.system('echo child')\ntime.sleep(30)\nprint('end')",
			[]string{"start", "below", "child"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := startEngine(t, c.typ, c.params, 1)
			id := h.submit(c.code)
			for _, l := range c.lines {
				if st := h.waitLine(id, l); st.State != api.TaskRunning {
					t.Fatalf("%q came only with the end of the task (%s)", l, st.State)
				}
			}
			if st, err := h.cli.Kill(context.Background(), id); err != nil || st.State != api.TaskCancel {
				t.Fatalf("kill: %+v %v", st, err)
			}
			log := h.log(id)
			for _, l := range c.lines {
				if !slices.Contains(log, l) {
					t.Errorf("%q is gone from the log after the kill: %q", l, log)
				}
			}
			if slices.Contains(log, "end") {
				t.Errorf("the killed task printed its end: %q", log)
			}
		})
	}
}

// A task that dies by a signal of its own keeps what it printed first.
func TestShellOutputKeptWhenTheTaskDies(t *testing.T) {
	for _, mode := range shellModes {
		t.Run(mode, func(t *testing.T) {
			h := startShell(t, mode, 1)
			st := h.run("echo start; kill -9 $BASHPID")
			if st.State != api.TaskError || !slices.Contains(h.log(st.ID), "start") {
				t.Fatalf("%+v, log %q", st, h.log(st.ID))
			}
		})
	}
}

// A status call that says how many log lines the caller has read
// (logLines) ends when the next line is printed, not when its wait runs
// out: this is how the orchestrator hears of a line as it is printed.
func TestStatusWaitEndsWithTheNextLine(t *testing.T) {
	h := startShell(t, engines.ShellSession, 1)
	id := h.submit("echo one; sleep 0.2; echo two; sleep 30")
	ctx := context.Background()
	start := time.Now()
	st, err := h.cli.StatusAfter(ctx, id, 20*time.Second, 0)
	if err != nil || st.State != api.TaskRunning || st.LogLines < 1 {
		t.Fatalf("%+v %v", st, err)
	}
	if st, err = h.cli.StatusAfter(ctx, id, 20*time.Second, 1); err != nil || st.LogLines < 2 {
		t.Fatalf("%+v %v", st, err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the waits ended after %v, with their timeout rather than the lines", d)
	}
	// A caller that has read everything waits for the wait's end.
	start = time.Now()
	if st, err = h.cli.StatusAfter(ctx, id, 300*time.Millisecond, 2); err != nil || st.LogLines != 2 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("%+v %v after %v", st, err, time.Since(start))
	}
	if _, err := h.cli.Kill(ctx, id); err != nil {
		t.Fatal(err)
	}

	// A submission that waits may end at the task's first line too
	// (&logLines=0), rather than hold it for its whole wait.
	body, _ := json.Marshal(api.TaskRequest{AskID: shAsk, Token: shToken, Code: "echo first; sleep 30"})
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+api.PathTasks+"?waitMs=20000&logLines=0", bytes.NewReader(body))
	api.SetToken(req, h.cfg.Token)
	start = time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sub api.TaskSubmitted
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil || sub.Status == nil || sub.Status.State != api.TaskRunning ||
		sub.Status.LogLines != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("%+v %v after %v", sub, err, time.Since(start))
	}
	if _, err := h.cli.Kill(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
}
