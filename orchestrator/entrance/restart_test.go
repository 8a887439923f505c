package entrance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// restartFixture runs a first entrance with one Scheduled job, one Running
// job and three queued ones behind them, then closes it.
func restartFixture(t *testing.T, dir string) (sched, running orchestrator.Job, queued []orchestrator.Job) {
	calls := make(chan int64, 10)
	r1 := &fakeRunner{calls: calls, fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		if spec.Request.Labels["userCreator"] == "alice-Run" {
			l.Scheduled(1)
			l.Running("ec-1")
		}
		<-ctx.Done()
		return orchestrator.Outcome{State: orchestrator.Cancelled, Err: ctx.Err()}
	}}
	e1, _ := open(t, dir, r1, func(c *Config) { c.MaxRunningPerGroup = 1 })
	sched = submit(t, e1, "alice", request("alice-Sched", "shell-1", "s"))
	running = submit(t, e1, "alice", request("alice-Run", "shell-1", "r"))
	queued = []orchestrator.Job{
		submit(t, e1, "alice", request("alice-Sched", "shell-1", "q1")),
		submit(t, e1, "alice", request("alice-Sched", "shell-1", "q2")),
		submit(t, e1, "alice", request("alice-Run", "shell-1", "q3")),
	}
	<-calls
	<-calls
	eventually(t, "the Run job to run", func() bool {
		j, _ := e1.Job("alice", running.TaskID)
		return j.State == orchestrator.Running
	})
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	return sched, running, queued
}

// Close, then Open on the same DataDir: every accepted job is accounted
// for. Queued jobs run in their order; the Scheduled one is queued again
// first; the Running one is Failed with the reason (its outcome is
// unknown) and never reaches the new runner.
func TestRestartSettlesJobs(t *testing.T) {
	dir := t.TempDir()
	sched, running, queued := restartFixture(t, dir)

	r2 := &fakeRunner{}
	e2, _ := open(t, dir, r2, func(c *Config) { c.MaxRunningPerGroup = 1 })
	got := wait(t, e2, sched)
	if got.State != orchestrator.Succeed {
		t.Fatalf("the Scheduled job ended %v %q", got.State, got.Reason)
	}
	e2.hist.Flush()
	page, _ := e2.Log("alice", sched.ExecID, 0, 100)
	if !slices.ContainsFunc(page.Lines, func(s string) bool { return strings.Contains(s, "restarted before the job reached an engine") }) {
		t.Fatalf("the requeued job's log does not say why: %q", page.Lines)
	}
	got = wait(t, e2, running)
	if got.State != orchestrator.Failed || !strings.Contains(got.Reason, "the entrance restarted while the job ran; its outcome is unknown") {
		t.Fatalf("the Running job ended %v %q", got.State, got.Reason)
	}
	for _, q := range queued {
		if got := wait(t, e2, q); got.State != orchestrator.Succeed {
			t.Fatalf("queued job %d ended %v", q.TaskID, got.State)
		}
	}
	started := r2.startedIDs()
	if slices.Contains(started, running.TaskID) {
		t.Fatal("the job whose outcome is unknown ran again")
	}
	var sc []int64
	for _, id := range started {
		if id != queued[2].TaskID {
			sc = append(sc, id)
		}
	}
	if want := []int64{sched.TaskID, queued[0].TaskID, queued[1].TaskID}; !slices.Equal(sc, want) {
		t.Fatalf("Sched group ran %v, want %v", sc, want)
	}
	if n := count(t, e2); n != 5 {
		t.Fatalf("%d records, want 5", n)
	}
	list, total, _ := e2.List("alice", orchestrator.ListQuery{})
	for _, j := range list {
		if !j.State.Final() {
			t.Errorf("job %d is %v after the restart's jobs ran", j.TaskID, j.State)
		}
	}
	if total != 5 {
		t.Fatalf("list total %d", total)
	}
}

// With RequeueRunning, the Running job runs again.
func TestRestartRequeueRunning(t *testing.T) {
	dir := t.TempDir()
	_, running, _ := restartFixture(t, dir)
	r2 := &fakeRunner{}
	e2, ch := open(t, dir, r2, func(c *Config) { c.MaxRunningPerGroup = 1; c.RequeueRunning = true })
	got := wait(t, e2, running)
	if got.State != orchestrator.Succeed {
		t.Fatalf("the Running job ended %v %q", got.State, got.Reason)
	}
	if s := ch.states(running.TaskID); s[0] != orchestrator.WaitForRetry {
		t.Fatalf("states after restart %v, want WaitForRetry first", s)
	}
}

// A job Submit returned is on disk even if the process dies at once (no
// Close, the writer's pending work dropped); the next Open runs it. Jobs
// that were running when it died end in a final state too.
func TestDurableWithoutClose(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.MaxRunningPerGroup = 2
	block := func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Running("ec-1")
		<-ctx.Done()
		return orchestrator.Outcome{State: orchestrator.Cancelled}
	}
	e1, err := Open(cfg, &fakeRunner{fn: block}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []orchestrator.Job
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				j, err := e1.Submit(context.Background(), "alice", request("alice-IDE", "shell-1", "x"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted = append(accepted, j)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	e1.crash()

	e2, _ := open(t, dir, &fakeRunner{}, func(c *Config) { c.NoSync = false; c.RequeueRunning = false })
	for _, j := range accepted {
		got := wait(t, e2, j)
		if !got.State.Final() || got.ExecID != j.ExecID {
			t.Fatalf("job %d: %v %s", j.TaskID, got.State, got.ExecID)
		}
	}
	if n := count(t, e2); n != len(accepted) || n != 40 {
		t.Fatalf("%d records, %d accepted", n, len(accepted))
	}
	// Task ids continue after a restart.
	j := submit(t, e2, "alice", request("alice-IDE", "shell-1", "x"))
	for _, a := range accepted {
		if a.TaskID >= j.TaskID {
			t.Fatalf("task id %d reused or lower than %d", j.TaskID, a.TaskID)
		}
	}
}

func TestMetrics(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) {
		c.QueueCapacity = 1
		c.GroupMaxRunning = map[string]int{"Hold_alice_shell-1": 0}
	})
	wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	submit(t, e, "alice", request("alice-Hold", "shell-1", "x"))
	if _, err := e.Submit(context.Background(), "alice", request("alice-Hold", "shell-1", "x")); !errors.Is(err, linkis.ErrQueueFull) {
		t.Fatal(err)
	}
	e.Submit(context.Background(), "alice", request("bob-Hold", "shell-1", "x"))
	reg := e.Registry()
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"linkis_entrance_jobs_ended_total", "state", "Succeed", 1},
		{"linkis_entrance_jobs_rejected_total", "reason", "queue_full", 1},
		{"linkis_entrance_jobs_rejected_total", "reason", "permission", 1},
		{"linkis_entrance_jobs_submitted_total", "", "", 2},
		{"linkis_entrance_queue_depth", "group", "Hold_alice_shell-1", 1},
		{"linkis_entrance_running", "group", "Hold_alice_shell-1", 0},
		{"linkis_entrance_jobs", "state", "Inited", 1},
		{"linkis_entrance_jobs", "state", "Running", 0},
		{"linkis_entrance_queue_wait_seconds", "", "", 1},
		{"linkis_entrance_run_seconds", "", "", 1},
		{"linkis_entrance_job_seconds", "", "", 1},
		{"linkis_entrance_dispatch_seconds", "", "", 1},
	} {
		if got, ok := gathered(t, reg, c.name, c.label, c.value); !ok || got != c.want {
			t.Errorf("%s{%s=%q} = %v (found %v), want %v", c.name, c.label, c.value, got, ok, c.want)
		}
	}
	// The IDE group ended and left no series behind.
	if _, ok := gathered(t, reg, "linkis_entrance_queue_depth", "group", "IDE_alice_shell-1"); ok {
		t.Error("an idle group still has a queue depth series")
	}
}

// gathered returns the value of a metric (a histogram's sample count).
func gathered(t *testing.T, reg *prometheus.Registry, name, label, value string) (float64, bool) {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// FuzzJobRequestJSON decodes arbitrary bytes as a job request and submits
// it: never a panic, and a refused submit persists nothing.
func FuzzJobRequestJSON(f *testing.F) {
	for _, s := range []string{
		`{"executionContent":{"code":"echo 1","runType":"sh"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`,
		`{"executionContent":{"code":"x"},"params":{"variable":{"a":1,"b":true}},"labels":{"engineType":"shell-1","userCreator":"bob-IDE"}}`,
		`{"labels":{"engineType":"shell","userCreator":"alice-IDE","jobRunningTimeout":"5s"}}`,
		`{"labels":{"engineType":"shell-1","userCreator":"alice-IDE","jobQueuingTimeout":"-1"}}`,
		`{"labels":{"engineType":"shell-1","userCreator":"..-IDE"}}`,
		`{"labels":null}`, `[]`, `{"labels":{"":""}}`,
	} {
		f.Add([]byte(s))
	}
	e, _ := open(f, f.TempDir(), &fakeRunner{}, func(c *Config) { c.MaxRunningPerGroup = 0; c.QueueCapacity = 1 << 20 })
	f.Fuzz(func(t *testing.T, b []byte) {
		var req orchestrator.JobRequest
		if json.Unmarshal(b, &req) != nil {
			return
		}
		before := count(t, e)
		_, err := e.Submit(context.Background(), "alice", req)
		after := count(t, e)
		if err != nil && after != before {
			t.Fatalf("refused (%v) but %d records became %d", err, before, after)
		}
		if err == nil && after != before+1 {
			t.Fatalf("accepted but %d records became %d", before, after)
		}
		if err != nil {
			var le *linkis.Error
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *linkis.Error", err)
			}
		}
	})
}

func ExampleEntrance() {
	dir, _ := os.MkdirTemp("", "entrance-example")
	defer os.RemoveAll(dir)
	cfg := DefaultConfig()
	cfg.DataDir = dir
	e, err := Open(cfg, &fakeRunner{}, nil)
	if err != nil {
		panic(err)
	}
	defer e.Close()
	job, err := e.Submit(context.Background(), "alice", orchestrator.JobRequest{
		ExecutionContent: orchestrator.ExecutionContent{Code: "echo hi", RunType: "sh"},
		Labels:           map[string]string{"userCreator": "alice-IDE", "engineType": "shell-1"},
	})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, _ = e.Wait(ctx, "alice", job.ExecID)
	fmt.Println(job.State, job.Group())
	// Output: Succeed IDE_alice_shell-1
}
