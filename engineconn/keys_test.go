package engineconn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// counted returns shell code that records each run of it in a file (one
// line per run), then waits at a gate; runs counts the lines.
func counted(t *testing.T) (code string, release func(), runs func() int) {
	f := filepath.Join(t.TempDir(), "runs")
	g, release := gate(t)
	return "echo run >> " + f + "\necho started\n" + g + "\necho done", release, func() int {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(b), "run\n")
	}
}

// submitWait posts a task as the orchestrator does, with ?waitMs and
// ?logSize, and decodes the answer.
func submitWait(t *testing.T, h *harness, r api.TaskRequest, waitMs, logSize int) (api.TaskSubmitted, error) {
	t.Helper()
	body, _ := json.Marshal(r)
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s%s?waitMs=%d&logSize=%d", h.ec.Addr(), api.PathTasks, waitMs, logSize), bytes.NewReader(body))
	api.SetToken(req, h.cfg.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var env struct{ Error api.ErrorBody }
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return api.TaskSubmitted{}, api.ErrorFromBody(resp.StatusCode, env.Error)
	}
	var out api.TaskSubmitted
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

// A keyed submission runs once: sent again while it runs (with its grant,
// with another grant, with a grant the manager never made), and after it
// ended, it answers with the same task and starts nothing.
func TestKeyedSubmissionRunsOnce(t *testing.T) {
	h := start(t, testConfig(t, "shell"))
	h.mgr.grant("ask-2", ticket, token2, time.Time{})
	code, release, runs := counted(t)
	ctx := context.Background()
	const key = "exec_12_ab12cd34-1.0"
	first, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: key, Code: code})
	if err != nil || first.Existing || first.State != api.TaskPending {
		t.Fatalf("first submission %+v %v", first, err)
	}
	waitFor(t, 10*time.Second, "the task to start", func() bool { return runs() == 1 })
	for name, r := range map[string]api.TaskRequest{
		"same grant":          {AskID: "ask-1", Token: token, Key: key, Code: code},
		"another grant":       {AskID: "ask-2", Token: token2, Key: key, Code: code},
		"a grant never given": {AskID: "ask-9", Token: "0123456789abcdef", Key: key, Code: code},
	} {
		again, err := h.cli.Submit(ctx, r)
		if err != nil || again.ID != first.ID || !again.Existing || again.State != api.TaskRunning {
			t.Errorf("%s while it runs: %+v %v, want %s RUNNING existing", name, again, err, first.ID)
		}
	}
	// A short wait on a resubmission waits on the task, as on a first one.
	again, err := submitWait(t, h, api.TaskRequest{AskID: "ask-1", Token: token, Key: key, Code: code}, 50, 10)
	if err != nil || again.ID != first.ID || again.Status == nil || again.Status.State != api.TaskRunning || again.Log != nil {
		t.Fatalf("waiting resubmission while it runs: %+v %v", again, err)
	}
	release()
	st, err := h.cli.Wait(ctx, first.ID)
	if err != nil || st.State != api.TaskSuccess {
		t.Fatalf("%+v %v", st, err)
	}
	// After the end: the final status and the log's first page, in one call.
	again, err = submitWait(t, h, api.TaskRequest{AskID: "ask-2", Token: token2, Key: key, Code: code}, 1000, 10)
	if err != nil || again.ID != first.ID || !again.Existing || again.State != api.TaskSuccess || again.Status == nil ||
		again.Log == nil || !again.Log.Complete || strings.Join(again.Log.Lines, ",") != "started,done" {
		t.Fatalf("resubmission after the end: %+v (log %+v) %v", again, again.Log, err)
	}
	if n := runs(); n != 1 {
		t.Fatalf("the task ran %d times, want 1", n)
	}
	// Other code under the same key is someone else's task: refused.
	if _, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: key, Code: "echo other"}); !errors.Is(err, linkis.ErrDuplicate) {
		t.Fatalf("same key, other code: %v, want duplicate", err)
	}
	// A wrong cluster token learns nothing.
	bad := api.NewEngineClient(h.ec.Addr(), "not-the-token", nil)
	if _, err := bad.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: key, Code: code}); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("wrong cluster token: %v", err)
	}
	// Another key is another task; no key at all, as before: every
	// submission runs (the gate is open now).
	for i, r := range []api.TaskRequest{
		{AskID: "ask-1", Token: token, Key: key + "-2", Code: code},
		{AskID: "ask-1", Token: token, Code: code},
		{AskID: "ask-1", Token: token, Code: code},
	} {
		st, err := h.cli.Run(ctx, r)
		if err != nil || st.State != api.TaskSuccess || st.ID == first.ID {
			t.Fatalf("submission %d: %+v %v", i, st, err)
		}
	}
	if n := runs(); n != 4 {
		t.Fatalf("%d runs, want 4 (one per key, one per unkeyed submission)", n)
	}
	// Bad keys are refused before anything happens.
	for _, k := range []string{strings.Repeat("k", api.MaxTaskKeyBytes+1), "a\nb", "a\x00b", "a\u0085b"} {
		if _, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: k, Code: code}); !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("key %q: %v, want invalid_argument", k, err)
		}
	}
	if n := runs(); n != 4 {
		t.Fatalf("%d runs after bad keys, want 4", n)
	}
}

// Many submissions of one key at once, on serial and concurrent
// executors: one task runs, every caller gets its id, none is told the
// engine is busy.
func TestKeyedSubmissionsAtOnce(t *testing.T) {
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency-%d", conc), func(t *testing.T) {
			cfg := testConfig(t, "shell")
			cfg.Concurrency = conc
			h := start(t, cfg)
			ctx := context.Background()
			// With a concurrent engine, several keys race at once too.
			keys := []string{"k-a"}
			if conc > 1 {
				keys = []string{"k-a", "k-b", "k-c"}
			}
			code, release, runs := counted(t)
			const callers = 12
			ids := make([][]string, len(keys))
			var wg sync.WaitGroup
			var mu sync.Mutex
			var errs []error
			for ki, key := range keys {
				ids[ki] = make([]string, callers)
				for i := 0; i < callers; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						sub, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: key, Code: code})
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
						ids[ki][i] = sub.ID
					}()
				}
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d submissions failed, first: %v", len(errs), errs[0])
			}
			seen := map[string]bool{}
			for ki := range keys {
				for _, id := range ids[ki] {
					if id != ids[ki][0] {
						t.Fatalf("key %s answered %v, want one id", keys[ki], ids[ki])
					}
				}
				if seen[ids[ki][0]] {
					t.Fatalf("two keys share task %s", ids[ki][0])
				}
				seen[ids[ki][0]] = true
			}
			release()
			for ki := range keys {
				if st, err := h.cli.Wait(ctx, ids[ki][0]); err != nil || st.State != api.TaskSuccess {
					t.Fatalf("%+v %v", st, err)
				}
			}
			if n := runs(); n != len(keys) {
				t.Fatalf("%d runs for %d keys", n, len(keys))
			}
			if info := h.ec.Info(); info.Succeeded != int64(len(keys)) {
				t.Fatalf("engine info %+v: want %d tasks", info, len(keys))
			}
		})
	}
}

// A keyed task is remembered past its record (KeepTasks) for the last
// KeepKeys keyed tasks: a resubmission answers its final status and its
// saved log instead of running it again. Past that bound it is
// forgotten.
func TestKeyedTaskRememberedAfterItsRecord(t *testing.T) {
	cfg := testConfig(t, "echo")
	cfg.KeepTasks = 1
	cfg.KeepKeys = 2
	h := start(t, cfg)
	ctx := context.Background()
	var ids []string
	for i := 1; i <= 4; i++ {
		st, err := h.cli.Run(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: fmt.Sprint("key-", i), Code: fmt.Sprint("line ", i)})
		if err != nil || st.State != api.TaskSuccess {
			t.Fatalf("%+v %v", st, err)
		}
		ids = append(ids, st.ID)
	}
	// key-4: kept; key-2 and key-3: forgotten but remembered; key-1: past KeepKeys.
	for i := 2; i <= 4; i++ {
		out, err := submitWait(t, h, api.TaskRequest{AskID: "ask-1", Token: token, Key: fmt.Sprint("key-", i), Code: fmt.Sprint("line ", i)}, 100, 10)
		if err != nil || out.ID != ids[i-1] || !out.Existing || out.State != api.TaskSuccess || out.Status == nil ||
			len(out.Status.Results) != 1 || out.Log == nil || strings.Join(out.Log.Lines, "") != fmt.Sprint("line ", i) {
			t.Fatalf("key-%d: %+v %v, want %s's final status and log", i, out, err, ids[i-1])
		}
		if st, err := h.cli.Status(ctx, ids[i-1], 0); err != nil || st.State != api.TaskSuccess {
			t.Fatalf("status of %s: %+v %v", ids[i-1], st, err)
		}
	}
	if info := h.ec.Info(); info.Succeeded != 4 {
		t.Fatalf("resubmissions ran tasks: %+v", info)
	}
	// (A record is forgotten just after the next task ended.)
	waitFor(t, 5*time.Second, "the first task to be forgotten whole", func() bool {
		_, err := h.cli.Status(ctx, ids[0], 0)
		return errors.Is(err, linkis.ErrUnknownNode)
	})
	out, err := h.cli.Submit(ctx, api.TaskRequest{AskID: "ask-1", Token: token, Key: "key-1", Code: "line 1"})
	if err != nil || out.Existing || out.ID == ids[0] {
		t.Fatalf("a key past KeepKeys: %+v %v, want a new task", out, err)
	}
}

func TestKeepKeysValidated(t *testing.T) {
	cfg := testConfig(t, "echo")
	cfg.KeepKeys = -1
	if err := cfg.Validate(); !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), "keepKeys") {
		t.Fatalf("%v", err)
	}
}
