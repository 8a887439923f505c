package entrance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.DataDir = t.TempDir()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		mod   func(*Config)
	}{
		{"DataDir", func(c *Config) { c.DataDir = "" }},
		{"MaxRunningPerGroup", func(c *Config) { c.MaxRunningPerGroup = -1 }},
		{"MaxRunning", func(c *Config) { c.MaxRunning = 0 }},
		{"QueueCapacity", func(c *Config) { c.QueueCapacity = 0 }},
		{"QueueTimeout", func(c *Config) { c.QueueTimeout = -time.Second }},
		{"RunTimeout", func(c *Config) { c.RunTimeout = -time.Second }},
		{"LogMaxLines", func(c *Config) { c.LogMaxLines = 0 }},
		{"LogMaxBytes", func(c *Config) { c.LogMaxBytes = 0 }},
		{"GroupMaxRunning", func(c *Config) { c.GroupMaxRunning = map[string]int{"a_b_c-1": -1} }},
	} {
		cfg := good
		c.mod(&cfg)
		err := cfg.Validate()
		var le *linkis.Error
		if !errors.As(err, &le) || le.Field != c.field {
			t.Errorf("%s: got %v, want an error naming the field", c.field, err)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"300": 300 * time.Second, "1": time.Second, "1m30s": 90 * time.Second, "50ms": 50 * time.Millisecond} {
		if got, err := ParseTimeout("jobRunningTimeout", in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "", "soon", "-5s", "0s", "99999999999999"} {
		if _, err := ParseTimeout("jobRunningTimeout", in); !errors.Is(err, linkis.ErrInvalidLabel) {
			t.Errorf("%q: %v, want ErrInvalidLabel", in, err)
		}
	}
}

// A job runs through the runner; its events become states, progress, EC
// and log lines, and every recorded move is legal (the checked history
// fails the test otherwise).
func TestSubmitRunSucceed(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		if spec.Request.ExecutionContent.Code != "echo hi" || spec.User != "alice" || spec.ExecID == "" {
			return orchestrator.Outcome{State: orchestrator.Failed, Err: fmt.Errorf("bad spec %+v", spec)}
		}
		l.Scheduled(1)
		l.Running("ec-7")
		l.Progress(0.5, "half")
		l.Log([]string{"hi", "there"})
		return orchestrator.Outcome{State: orchestrator.Succeed, EC: "ec-7"}
	}}
	e, ch := open(t, t.TempDir(), r, nil)
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "echo hi"))
	if j.TaskID <= 0 || !strings.HasPrefix(j.ExecID, "exec_") || j.State != orchestrator.Inited {
		t.Fatalf("submitted %+v", j)
	}
	got := wait(t, e, j)
	if got.State != orchestrator.Succeed || got.EC != "ec-7" || got.Progress != 1 || got.Started.IsZero() || got.Ended.IsZero() {
		t.Fatalf("ended %+v", got)
	}
	want := []orchestrator.State{orchestrator.Inited, orchestrator.Scheduled, orchestrator.Running, orchestrator.Succeed}
	if s := ch.states(j.TaskID); !slices.Equal(s, want) {
		t.Fatalf("states %v, want %v", s, want)
	}
	e.hist.Flush()
	page, err := e.Log("alice", j.ExecID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Lines) != 3 || page.Lines[0] != "hi" || page.Lines[1] != "there" || !strings.Contains(page.Lines[2], "ended Succeed") || !page.Complete {
		t.Fatalf("log %+v", page)
	}
	// A second job gets a higher task id and another exec id.
	j2 := submit(t, e, "alice", request("alice-IDE", "shell-1", "echo hi"))
	if j2.TaskID <= j.TaskID || j2.ExecID == j.ExecID {
		t.Fatalf("ids %d %s after %d %s", j2.TaskID, j2.ExecID, j.TaskID, j.ExecID)
	}
}

// Retrying shows WaitForRetry, and the next Scheduled moves back.
func TestRetryingEvents(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Scheduled(1)
		l.Running("ec-1")
		l.Retrying(1, time.Millisecond, errors.New("engine died"))
		l.Scheduled(2)
		l.Running("ec-2")
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, ch := open(t, t.TempDir(), r, nil)
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	if j.State != orchestrator.Succeed || j.Attempts != 2 || j.EC != "ec-2" {
		t.Fatalf("job %+v", j)
	}
	want := []orchestrator.State{orchestrator.Inited, orchestrator.Scheduled, orchestrator.Running, orchestrator.WaitForRetry,
		orchestrator.Scheduled, orchestrator.Running, orchestrator.Succeed}
	if s := ch.states(j.TaskID); !slices.Equal(s, want) {
		t.Fatalf("states %v, want %v", s, want)
	}
}

// A runner's failure and a runner's panic end the job Failed with the
// reason; a non-final outcome state is Failed too.
func TestRunnerFailures(t *testing.T) {
	var mode atomic.Int32
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		switch mode.Load() {
		case 0:
			return orchestrator.Outcome{State: orchestrator.Failed, Err: errors.New("syntax error")}
		case 1:
			panic("boom")
		}
		return orchestrator.Outcome{State: orchestrator.Running}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	for i, want := range []string{"syntax error", "panicked: boom", "not a final one"} {
		mode.Store(int32(i))
		j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
		if j.State != orchestrator.Failed || !strings.Contains(j.Reason, want) {
			t.Errorf("case %d: %v %q, want Failed with %q", i, j.State, j.Reason, want)
		}
	}
}

func TestFIFOWithinGroup(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var codes []string
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		mu.Lock()
		codes = append(codes, spec.Request.ExecutionContent.Code)
		mu.Unlock()
		<-gate
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunningPerGroup = 1 })
	var jobs []orchestrator.Job
	var wantCodes []string
	for i := 0; i < 30; i++ {
		jobs = append(jobs, submit(t, e, "alice", request("alice-IDE", "shell-1", fmt.Sprint(i))))
		wantCodes = append(wantCodes, fmt.Sprint(i))
	}
	close(gate)
	var want []int64
	for _, j := range jobs {
		wait(t, e, j)
		want = append(want, j.TaskID)
	}
	if got := r.startedIDs(); !slices.Equal(got, want) {
		t.Fatalf("run order %v, want %v", got, want)
	}
	// The first ran from Submit's hand, the others read back from the
	// history: both carry the request.
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(codes, wantCodes) {
		t.Fatalf("codes %v", codes)
	}
}

func TestRunningCap(t *testing.T) {
	var now, peak atomic.Int32
	release := make(chan struct{})
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		now.Add(-1)
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) {
		c.MaxRunningPerGroup = 3
		c.CreatorMaxRunning = map[string]int{"Batch": 1}
	})
	var jobs []orchestrator.Job
	for i := 0; i < 10; i++ {
		jobs = append(jobs, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	}
	jobs = append(jobs, submit(t, e, "alice", request("alice-Batch", "shell-1", "x")), submit(t, e, "alice", request("alice-Batch", "shell-1", "x")))
	eventually(t, "4 running", func() bool { return now.Load() == 4 })
	time.Sleep(30 * time.Millisecond)
	if n := now.Load(); n != 4 {
		t.Fatalf("%d running, want 3 of IDE + 1 of Batch", n)
	}
	if s := e.Stats(); s.Running != 4 || s.Queued != 8 || s.Groups != 2 {
		t.Fatalf("stats %+v", s)
	}
	close(release)
	for _, j := range jobs {
		if got := wait(t, e, j); got.State != orchestrator.Succeed {
			t.Fatalf("job %d %v", got.TaskID, got.State)
		}
	}
	if p := peak.Load(); p != 4 {
		t.Fatalf("peak %d running", p)
	}
	if s := e.Stats(); s != (Stats{}) {
		t.Fatalf("stats after all ended %+v: groups must be forgotten", s)
	}
}

// The global cap holds, and groups share it.
func TestGlobalCap(t *testing.T) {
	var now, peak atomic.Int32
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		n := now.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		now.Add(-1)
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunning = 3 })
	var jobs []orchestrator.Job
	for i := 0; i < 40; i++ {
		jobs = append(jobs, submit(t, e, fmt.Sprint("u", i%4), request(fmt.Sprint("u", i%4, "-IDE"), "shell-1", "x")))
	}
	for _, j := range jobs {
		wait(t, e, j)
	}
	if p := peak.Load(); p > 3 {
		t.Fatalf("peak %d running, cap 3", p)
	}
}

func TestQueueFull(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) { c.MaxRunningPerGroup = 0; c.QueueCapacity = 3 })
	for i := 0; i < 3; i++ {
		submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	}
	before := count(t, e)
	_, err := e.Submit(context.Background(), "alice", request("alice-IDE", "shell-1", "x"))
	wantKind(t, err, linkis.ErrQueueFull)
	if !strings.Contains(err.Error(), "IDE_alice_shell-1") || !strings.Contains(err.Error(), "3") {
		t.Fatalf("error %q must name the group and its capacity", err)
	}
	if after := count(t, e); after != before {
		t.Fatalf("%d records after a refused submit, %d before", after, before)
	}
	if s := e.Stats(); s.Queued != 3 {
		t.Fatalf("stats %+v", s)
	}
	// Another group is not full.
	submit(t, e, "alice", request("alice-Batch", "shell-1", "x"))
	submit(t, e, "bob", request("bob-IDE", "shell-1", "x"))
}

// Concurrent submits into a nearly full queue: exactly the capacity gets
// in, the rest are refused, and the history holds exactly the accepted.
func TestQueueFullConcurrent(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) { c.MaxRunningPerGroup = 0; c.QueueCapacity = 50 })
	var ok, full atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Submit(context.Background(), "alice", request("alice-IDE", "shell-1", "x"))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, linkis.ErrQueueFull):
				full.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 50 || full.Load() != 70 || count(t, e) != 50 {
		t.Fatalf("ok %d full %d records %d", ok.Load(), full.Load(), count(t, e))
	}
}

// A flood of 1,000 jobs in one group does not delay another group's job
// beyond one job's run time: when the group cap binds (the other group has
// its own slots) and when the global cap binds (every slot is the flood's,
// and the next free one must go to the other group).
func TestGroupFairness(t *testing.T) {
	for _, c := range []struct {
		name             string
		global, perGroup int
	}{{"group cap binds", 100, 5}, {"global cap binds", 5, 10}} {
		t.Run(c.name, func(t *testing.T) { testFairness(t, c.global, c.perGroup) })
	}
}

func testFairness(t *testing.T, global, perGroup int) {
	const runTime = 50 * time.Millisecond
	var mu sync.Mutex
	called := map[int64]time.Time{}
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		mu.Lock()
		called[spec.TaskID] = time.Now()
		mu.Unlock()
		select {
		case <-time.After(runTime):
			return orchestrator.Outcome{State: orchestrator.Succeed}
		case <-ctx.Done():
			return orchestrator.Outcome{State: orchestrator.Cancelled}
		}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunning = global; c.MaxRunningPerGroup = perGroup })
	var wg sync.WaitGroup
	for w := 0; w < 10; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := e.Submit(context.Background(), "alice", request("alice-IDE", "shell-1", "x")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	full := min(global, perGroup)
	eventually(t, "the flood to hold its slots", func() bool { return e.Stats().Running == full })
	j := submit(t, e, "bob", request("bob-IDE", "shell-1", "x"))
	submitted := time.Now()
	got := wait(t, e, j)
	if got.State != orchestrator.Succeed {
		t.Fatalf("bob's job %v", got.State)
	}
	mu.Lock()
	delay := called[j.TaskID].Sub(submitted)
	mu.Unlock()
	// The mutation "no round-robin" makes this wait for the whole flood
	// (1,000 × 50 ms ÷ 5); the slack absorbs a loaded machine.
	if delay > runTime+100*time.Millisecond {
		t.Fatalf("bob's job waited %v behind a flood; one run is %v", delay, runTime)
	}
	if s := e.Stats(); s.Queued == 0 {
		t.Fatalf("the flood should still be queued: %+v", s)
	}
}

func TestQueuingTimeout(t *testing.T) {
	r := &fakeRunner{}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunningPerGroup = 0; c.QueueTimeout = time.Hour })
	short := submit(t, e, "alice", request("alice-IDE", "shell-1", "x", "jobQueuingTimeout", "50ms"))
	long := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	start := time.Now()
	got := wait(t, e, short)
	if got.State != orchestrator.Timeout || !strings.Contains(got.Reason, "queuing timeout") {
		t.Fatalf("job %v %q", got.State, got.Reason)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timed out after %v", d)
	}
	if j, _ := e.Job("alice", long.TaskID); j.State != orchestrator.Inited {
		t.Fatalf("the other job is %v", j.State)
	}
	if s := e.Stats(); s.Queued != 1 {
		t.Fatalf("stats %+v", s)
	}
	if len(r.startedIDs()) != 0 {
		t.Fatal("a runner was called")
	}
}

func TestRunningTimeout(t *testing.T) {
	causes := make(chan error, 1)
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Running("ec-1")
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return orchestrator.Outcome{State: orchestrator.Cancelled, Err: ctx.Err()}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	got := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x", "jobRunningTimeout", "50ms")))
	if got.State != orchestrator.Timeout || !strings.Contains(got.Reason, "running timeout") {
		t.Fatalf("job %v %q", got.State, got.Reason)
	}
	if c := <-causes; c == nil || !strings.Contains(c.Error(), "running timeout") {
		t.Fatalf("the runner saw cause %v", c)
	}
}

func TestKillQueued(t *testing.T) {
	r := &fakeRunner{}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunningPerGroup = 0 })
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	k, err := e.Kill("alice", j.ExecID)
	if err != nil || k.State != orchestrator.Cancelled || !strings.Contains(k.Reason, "killed by alice") {
		t.Fatalf("kill: %v %v %q", err, k.State, k.Reason)
	}
	if got := wait(t, e, j); got.State != orchestrator.Cancelled {
		t.Fatal(got.State)
	}
	if s := e.Stats(); s != (Stats{}) {
		t.Fatalf("stats %+v", s)
	}
	if len(r.startedIDs()) != 0 {
		t.Fatal("a killed queued job reached the runner")
	}
}

func TestKillRunning(t *testing.T) {
	causes := make(chan error, 1)
	r := &fakeRunner{calls: make(chan int64, 1), fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Running("ec-1")
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return orchestrator.Outcome{State: orchestrator.Cancelled, Err: ctx.Err()}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	<-r.calls
	if _, err := e.Kill("alice", j.ExecID); err != nil {
		t.Fatal(err)
	}
	got := wait(t, e, j)
	if got.State != orchestrator.Cancelled || !strings.Contains(got.Reason, "killed by alice") {
		t.Fatalf("job %v %q", got.State, got.Reason)
	}
	if c := <-causes; c == nil || !strings.Contains(c.Error(), "killed by alice") {
		t.Fatalf("runner saw cause %v", c)
	}
	// Killing it again answers its final state.
	k, err := e.Kill("alice", j.ExecID)
	if err != nil || k.State != orchestrator.Cancelled {
		t.Fatalf("kill ended job: %v %v", err, k.State)
	}
}

func TestKillEnded(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, nil)
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	k, err := e.Kill("alice", j.ExecID)
	if err != nil || k.State != orchestrator.Succeed || k.Reason != "" {
		t.Fatalf("kill a succeeded job: %v %v %q", err, k.State, k.Reason)
	}
}

func TestOtherUsersJob(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) { c.MaxRunningPerGroup = 0 })
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	_, err := e.Job("bob", j.TaskID)
	wantKind(t, err, linkis.ErrPermission)
	_, err = e.JobByExecID("bob", j.ExecID)
	wantKind(t, err, linkis.ErrPermission)
	_, err = e.Kill("bob", j.ExecID)
	wantKind(t, err, linkis.ErrPermission)
	_, err = e.Log("bob", j.ExecID, 0, 10)
	wantKind(t, err, linkis.ErrPermission)
	_, err = e.Wait(context.Background(), "bob", j.ExecID)
	wantKind(t, err, linkis.ErrPermission)
	if list, total, err := e.List("bob", orchestrator.ListQuery{}); err != nil || total != 0 || len(list) != 0 {
		t.Fatalf("bob lists %d of %d (%v)", len(list), total, err)
	}
	if got, err := e.Job("alice", j.TaskID); err != nil || got.State != orchestrator.Inited {
		t.Fatalf("alice's job after bob's attempts: %v %v", got.State, err)
	}
	if s := e.Stats(); s.Queued != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnknownJob(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, nil)
	_, err := e.Job("alice", 12345)
	wantKind(t, err, linkis.ErrUnknownJob)
	for _, id := range []string{"exec_1_00000000", "", "nope"} {
		_, err = e.JobByExecID("alice", id)
		wantKind(t, err, linkis.ErrUnknownJob)
		_, err = e.Kill("alice", id)
		wantKind(t, err, linkis.ErrUnknownJob)
		_, err = e.Log("alice", id, 0, 1)
		wantKind(t, err, linkis.ErrUnknownJob)
		_, err = e.Wait(context.Background(), "alice", id)
		wantKind(t, err, linkis.ErrUnknownJob)
	}
}

// Bad input is refused with the field named and changes nothing.
func TestBadInputChangesNothing(t *testing.T) {
	r := &fakeRunner{}
	e, _ := open(t, t.TempDir(), r, nil)
	cases := []struct {
		name string
		user string
		req  orchestrator.JobRequest
		kind error
		says []string
	}{
		{"no userCreator", "alice", request("", "shell-1", "x"), linkis.ErrMissingLabel, []string{"userCreator"}},
		{"no engineType", "alice", request("alice-IDE", "", "x"), linkis.ErrMissingLabel, []string{"engineType"}},
		{"another user", "alice", request("bob-IDE", "shell-1", "x"), linkis.ErrPermission, []string{"bob", "alice"}},
		{"malformed userCreator", "alice", request("alice", "shell-1", "x"), linkis.ErrInvalidLabel, []string{"userCreator"}},
		{"malformed engineType", "alice", request("alice-IDE", "Shell", "x"), linkis.ErrInvalidLabel, []string{"engineType"}},
		{"bad timeout", "alice", request("alice-IDE", "shell-1", "x", "jobRunningTimeout", "soon"), linkis.ErrInvalidLabel, []string{"jobRunningTimeout"}},
		{"bad label key", "alice", request("alice-IDE", "shell-1", "x", "9x", "v"), linkis.ErrInvalidLabel, nil},
		{"empty user", "", request("-IDE", "shell-1", "x"), linkis.ErrInvalidArgument, []string{"user"}},
		{"dots user", "..", request("..-IDE", "shell-1", "x"), linkis.ErrInvalidArgument, []string{"user"}},
	}
	for _, c := range cases {
		_, err := e.Submit(context.Background(), c.user, c.req)
		if !errors.Is(err, c.kind) {
			t.Errorf("%s: %v, want %v", c.name, err, c.kind)
			continue
		}
		for _, s := range c.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not name %q", c.name, err, s)
			}
		}
	}
	r.checkErr = linkis.Errorf(linkis.ErrUnknownEngineType, "engineType", "no plugin")
	_, err := e.Submit(context.Background(), "alice", request("alice-IDE", "nope-1", "x"))
	wantKind(t, err, linkis.ErrUnknownEngineType)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.checkErr = nil
	_, err = e.Submit(ctx, "alice", request("alice-IDE", "shell-1", "x"))
	wantKind(t, err, linkis.ErrUnavailable)
	if n := count(t, e); n != 0 {
		t.Fatalf("%d records after only bad submits", n)
	}
	if s := e.Stats(); s != (Stats{}) {
		t.Fatalf("stats %+v", s)
	}
}

func TestLogPagingAndCap(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		for i := 0; i < 250; i++ {
			l.Log([]string{fmt.Sprint("line ", i)})
		}
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.LogMaxLines = 100 })
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	e.hist.Flush()
	var all []string
	for from := 0; ; {
		p, err := e.Log("alice", j.ExecID, from, 30)
		if err != nil {
			t.Fatal(err)
		}
		if p.From != from || p.Next != from+len(p.Lines) {
			t.Fatalf("page %+v", p)
		}
		all = append(all, p.Lines...)
		from = p.Next
		if p.Complete {
			break
		}
		if len(p.Lines) == 0 {
			t.Fatal("an empty page before the end")
		}
	}
	if len(all) != 101 || all[0] != "line 0" || all[99] != "line 99" || all[100] != LogTruncated {
		t.Fatalf("%d lines: first %q, 100th %q, last %q", len(all), all[0], all[99], all[len(all)-1])
	}
	if p, _ := e.Log("alice", j.ExecID, 500, 10); len(p.Lines) != 0 || !p.Complete {
		t.Fatalf("page past the end %+v", p)
	}
	_, err := e.Log("alice", j.ExecID, -1, 10)
	wantKind(t, err, linkis.ErrInvalidArgument)
	_, err = e.Log("alice", j.ExecID, 0, 10001)
	wantKind(t, err, linkis.ErrInvalidArgument)
}

func TestLogByteCap(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Log([]string{strings.Repeat("a", 600), strings.Repeat("b", 600), "c"})
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.LogMaxBytes = 1000 })
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	e.hist.Flush()
	p, _ := e.Log("alice", j.ExecID, 0, 100)
	if len(p.Lines) != 2 || p.Lines[1] != LogTruncated {
		t.Fatalf("lines %d: %q", len(p.Lines), p.Lines)
	}
}

func TestListFilters(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		if spec.Request.ExecutionContent.Code == "fail" {
			return orchestrator.Outcome{State: orchestrator.Failed, Err: errors.New("no")}
		}
		return orchestrator.Outcome{State: orchestrator.Succeed}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	var ids []int64
	for i := 0; i < 12; i++ {
		creator, engine, code := "IDE", "shell-1", "ok"
		if i%3 == 1 {
			creator = "Batch"
		}
		if i%2 == 1 {
			engine = "python-3"
		}
		if i%4 == 3 {
			code = "fail"
		}
		j := wait(t, e, submit(t, e, "alice", request("alice-"+creator, engine, code)))
		ids = append(ids, j.TaskID)
	}
	wait(t, e, submit(t, e, "bob", request("bob-IDE", "shell-1", "ok")))
	wait(t, e, submit(t, e, "al", request("al-IDE", "shell-1", "ok")))
	wait(t, e, submit(t, e, "alicea", request("alicea-IDE", "shell-1", "ok")))
	e.hist.Flush()
	if list, total, _ := e.List("al", orchestrator.ListQuery{}); total != 1 || list[0].User != "al" {
		t.Fatalf("al lists %d", total)
	}
	list, total, err := e.List("alice", orchestrator.ListQuery{})
	if err != nil || total != 12 || len(list) != 12 || list[0].TaskID != ids[11] || list[11].TaskID != ids[0] {
		t.Fatalf("all: %d of %d, %v", len(list), total, err)
	}
	list, total, _ = e.List("alice", orchestrator.ListQuery{Page: 2, PageSize: 5})
	if total != 12 || len(list) != 5 || list[0].TaskID != ids[6] {
		t.Fatalf("page 2: %d of %d, first %d", len(list), total, list[0].TaskID)
	}
	list, total, _ = e.List("alice", orchestrator.ListQuery{Page: 3, PageSize: 5})
	if total != 12 || len(list) != 2 {
		t.Fatalf("page 3: %d of %d", len(list), total)
	}
	_, total, _ = e.List("alice", orchestrator.ListQuery{State: orchestrator.Failed})
	if total != 3 {
		t.Fatalf("failed: %d", total)
	}
	_, total, _ = e.List("alice", orchestrator.ListQuery{Creator: "Batch"})
	if total != 4 {
		t.Fatalf("Batch: %d", total)
	}
	_, total, _ = e.List("alice", orchestrator.ListQuery{EngineType: "python"})
	_, total2, _ := e.List("alice", orchestrator.ListQuery{EngineType: "python-3"})
	if total != 6 || total2 != 6 {
		t.Fatalf("python: %d, python-3: %d", total, total2)
	}
	j6, _ := e.Job("alice", ids[6])
	_, total, _ = e.List("alice", orchestrator.ListQuery{Since: j6.Created})
	if total != 6 {
		t.Fatalf("since the 7th: %d", total)
	}
	_, total, _ = e.List("alice", orchestrator.ListQuery{Until: j6.Created})
	if total != 6 {
		t.Fatalf("until the 7th: %d", total)
	}
	for _, q := range []orchestrator.ListQuery{{PageSize: 501}, {Page: -1}, {PageSize: -1}, {State: 99}} {
		_, _, err := e.List("alice", q)
		wantKind(t, err, linkis.ErrInvalidArgument)
	}
}

func TestOpenResult(t *testing.T) {
	src := t.TempDir()
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		var paths []string
		for i, ext := range []string{".csv", ""} {
			p := filepath.Join(src, fmt.Sprintf("r%d-%d%s", spec.TaskID, i, ext))
			if err := os.WriteFile(p, []byte(fmt.Sprint("result ", i)), 0o600); err != nil {
				return orchestrator.Outcome{State: orchestrator.Failed, Err: err}
			}
			paths = append(paths, p)
		}
		return orchestrator.Outcome{State: orchestrator.Succeed, Results: paths}
	}}
	dir := t.TempDir()
	e, _ := open(t, dir, r, nil)
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	if j.State != orchestrator.Succeed || len(j.Results) != 2 {
		t.Fatalf("job %v %q %v", j.State, j.Reason, j.Results)
	}
	want := filepath.Join(dir, "results", "alice", fmt.Sprint(j.TaskID), "0.csv")
	if j.Results[0] != want || j.Results[1] != filepath.Join(dir, "results", "alice", fmt.Sprint(j.TaskID), "1") {
		t.Fatalf("results %v", j.Results)
	}
	for i, p := range []string{j.Results[0], fmt.Sprint(j.TaskID, "/0.csv"), j.Results[1]} {
		f, name, err := e.OpenResult("alice", p)
		if err != nil {
			t.Fatalf("open %q: %v", p, err)
		}
		b, _ := os.ReadFile(f.Name())
		f.Close()
		if wantName := fmt.Sprint(j.TaskID, "/", []string{"0.csv", "0.csv", "1"}[i]); name != wantName || !strings.HasPrefix(string(b), "result") {
			t.Fatalf("open %q: %q %q", p, name, b)
		}
	}
	bw := wait(t, e, submit(t, e, "bob", request("bob-IDE", "shell-1", "x")))
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("secret"), 0o600)
	aliceDir := filepath.Join(dir, "results", "alice")
	os.Symlink(secret, filepath.Join(aliceDir, "link"))
	os.Symlink(filepath.Join(dir, "results", "bob"), filepath.Join(aliceDir, "bobdir"))
	for _, p := range []string{
		bw.Results[0], // another user's file
		"../bob/" + fmt.Sprint(bw.TaskID) + "/0.csv",
		filepath.Join(aliceDir, "..", "bob", fmt.Sprint(bw.TaskID), "0.csv"),
		fmt.Sprint(j.TaskID, "/../", j.TaskID, "/0.csv"),
		"/etc/passwd",
		secret,
		"link",
		"bobdir/" + fmt.Sprint(bw.TaskID) + "/0.csv",
		aliceDir,
		fmt.Sprint(j.TaskID),
		"",
		".",
	} {
		f, _, err := e.OpenResult("alice", p)
		if !errors.Is(err, linkis.ErrPermission) {
			if f != nil {
				f.Close()
			}
			t.Errorf("open %q: %v, want ErrPermission", p, err)
		}
	}
	_, _, err := e.OpenResult("bob", j.Results[0])
	wantKind(t, err, linkis.ErrPermission)
	_, _, err = e.OpenResult("..", "alice/"+fmt.Sprint(j.TaskID)+"/0.csv")
	wantKind(t, err, linkis.ErrPermission)
}

// A result file that cannot be kept fails the job with the reason.
func TestResultMissing(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		return orchestrator.Outcome{State: orchestrator.Succeed, Results: []string{"/nonexistent/result.csv"}}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	j := wait(t, e, submit(t, e, "alice", request("alice-IDE", "shell-1", "x")))
	if j.State != orchestrator.Failed || !strings.Contains(j.Reason, "keep result 0") {
		t.Fatalf("job %v %q", j.State, j.Reason)
	}
}

func TestWaitContextAndClose(t *testing.T) {
	e, _ := open(t, t.TempDir(), &fakeRunner{}, func(c *Config) { c.MaxRunningPerGroup = 0 })
	j := submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	got, err := e.Wait(ctx, "alice", j.ExecID)
	if !errors.Is(err, context.DeadlineExceeded) || got.State != orchestrator.Inited {
		t.Fatalf("wait: %v %v", got.State, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Wait(context.Background(), "alice", j.ExecID)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	e.Close()
	if err := <-done; !errors.Is(err, linkis.ErrUnavailable) {
		t.Fatalf("wait across Close: %v", err)
	}
	_, err = e.Submit(context.Background(), "alice", request("alice-IDE", "shell-1", "x"))
	wantKind(t, err, linkis.ErrUnavailable)
}

// Kills racing dispatch, runs and ends: every job ends in a final state,
// every recorded move is legal, and no slot leaks.
func TestKillStress(t *testing.T) {
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		l.Scheduled(1)
		l.Running("ec-1")
		l.Progress(0.3, "")
		select {
		case <-time.After(time.Duration(spec.TaskID%3) * time.Millisecond):
			return orchestrator.Outcome{State: orchestrator.Succeed}
		case <-ctx.Done():
			return orchestrator.Outcome{State: orchestrator.Cancelled, Err: ctx.Err()}
		}
	}}
	e, _ := open(t, t.TempDir(), r, func(c *Config) { c.MaxRunningPerGroup = 2; c.MaxRunning = 4 })
	var wg sync.WaitGroup
	var mu sync.Mutex
	var jobs []orchestrator.Job
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := fmt.Sprint("u", w)
			for i := 0; i < 50; i++ {
				j, err := e.Submit(context.Background(), user, request(user+"-IDE", "shell-1", "x"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				jobs = append(jobs, j)
				mu.Unlock()
				if i%2 == 0 {
					go e.Kill(user, j.ExecID)
				}
			}
		}()
	}
	wg.Wait()
	var cancelled int
	for _, j := range jobs {
		got := wait(t, e, j)
		switch got.State {
		case orchestrator.Cancelled:
			cancelled++
		case orchestrator.Succeed:
		default:
			t.Errorf("job %d ended %v %q", j.TaskID, got.State, got.Reason)
		}
	}
	if cancelled == 0 {
		t.Error("no kill took effect")
	}
	eventually(t, "every slot freed", func() bool { return e.Stats() == Stats{} })
	for s := orchestrator.Inited; s <= orchestrator.Running; s++ {
		if n := e.states[s].Load(); n != 0 {
			t.Errorf("%d jobs still counted %v", n, s)
		}
	}
}

// Close cancels running jobs with its own cause and waits for them.
func TestCloseCancelsRuns(t *testing.T) {
	causes := make(chan error, 1)
	r := &fakeRunner{calls: make(chan int64, 1), fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return orchestrator.Outcome{State: orchestrator.Cancelled}
	}}
	e, _ := open(t, t.TempDir(), r, nil)
	submit(t, e, "alice", request("alice-IDE", "shell-1", "x"))
	<-r.calls
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-causes:
		if !errors.Is(c, errClosing) {
			t.Fatalf("cause %v", c)
		}
	default:
		t.Fatal("Close returned before the run did")
	}
	_, err := e.Job("alice", 1)
	wantKind(t, err, linkis.ErrUnavailable)
}
