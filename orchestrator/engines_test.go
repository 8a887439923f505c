package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// fakeManager is an in-memory EngineAsker: it grants engines of a
// fakeEngines by route (emInstance picks the engine's address), keeps the
// books of every ask and release, and lets a test fail or block asks.
type fakeManager struct {
	engines *fakeEngines

	mu       sync.Mutex
	asked    []string       // ask ids, in order
	released map[string]int // releases per ask id
	held     map[string]bool
	// refuse, when set, decides an ask's failure before it is granted.
	refuse func(r api.AskRequest) error
	// block, when set, makes asks wait until it is closed or ctx ends.
	block   chan struct{}
	blocked chan string // receives the ask id of each blocked ask
}

func newFakeManager() *fakeManager {
	return &fakeManager{engines: newFakeEngines(), released: map[string]int{}, held: map[string]bool{}}
}

func (m *fakeManager) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	if _, err := parseEngineLabels(r.Labels); err != nil {
		return api.AskResult{}, err
	}
	for k := range r.Labels {
		if ownLabels[k] {
			return api.AskResult{}, fmt.Errorf("the manager was asked with the orchestrator's own label %s", k)
		}
	}
	m.mu.Lock()
	m.asked = append(m.asked, r.ID)
	m.held[r.ID] = true
	refuse, block, blocked := m.refuse, m.block, m.blocked
	m.mu.Unlock()
	if block != nil {
		if blocked != nil {
			blocked <- r.ID
		}
		select {
		case <-block:
		case <-ctx.Done():
			return api.AskResult{AskID: r.ID, Status: "Pending"}, ctx.Err()
		}
	}
	if refuse != nil {
		if err := refuse(r); err != nil {
			return api.AskResult{AskID: r.ID, Status: "Failed"}, err
		}
	}
	addr := "engine-default"
	if em := r.Labels[linkis.LabelEMInstance]; em != "" {
		addr = "engine-" + em
	}
	ec := m.engines.engine(addr)
	return api.AskResult{AskID: r.ID, Status: "Granted", EC: ec.name, Addr: addr, Token: "0123456789abcdef"}, nil
}

func (m *fakeManager) Release(ctx context.Context, askID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.released[askID]++
	if !m.held[askID] {
		return linkis.ValueError(linkis.ErrUnknownAsk, "askID", askID, "no such ask")
	}
	delete(m.held, askID)
	return nil
}

// books checks that every ask was released exactly once and no task still
// runs on any engine.
func (m *fakeManager) books(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for _, id := range m.asked {
		if seen[id] {
			t.Errorf("ask id %s used twice", id)
		}
		seen[id] = true
		if n := m.released[id]; n != 1 {
			t.Errorf("ask %s released %d times, want 1", id, n)
		}
	}
	for id := range m.released {
		if !seen[id] {
			t.Errorf("released %s, never asked", id)
		}
	}
	if running := m.engines.running(); len(running) > 0 {
		t.Errorf("tasks still running: %v", running)
	}
}

// reset forgets the books and the engines' ended tasks (benchmarks call it
// so that what the fake keeps does not weigh on the measure).
func (m *fakeManager) reset() {
	m.mu.Lock()
	m.asked, m.released, m.held = m.asked[:0], map[string]int{}, map[string]bool{}
	m.mu.Unlock()
	m.engines.mu.Lock()
	defer m.engines.mu.Unlock()
	for _, e := range m.engines.byID {
		e.mu.Lock()
		for id, t := range e.tasks {
			if api.TaskEnded(t.state) {
				delete(e.tasks, id)
			}
		}
		e.mu.Unlock()
	}
}

func (m *fakeManager) askIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.asked...)
}

// fakeEngines are in-memory engines by address. What a task does depends
// on its code:
//
//	"echo X"  succeeds with one result "X" and two log lines
//	"error"   ends ERROR (the user's code failed)
//	"block"   runs until killed (or the engine's gate is closed: then it succeeds)
//	"crash"   is accepted; then the engine is unreachable
//	"refuse"  submission refused as the engine is unreachable
type fakeEngines struct {
	mu   sync.Mutex
	byID map[string]*fakeEngine
}

func newFakeEngines() *fakeEngines { return &fakeEngines{byID: map[string]*fakeEngine{}} }

func (f *fakeEngines) engine(addr string) *fakeEngine {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.byID[addr]
	if !ok {
		e = &fakeEngine{name: "ec-" + strings.TrimPrefix(addr, "engine-"), tasks: map[string]*fakeTask{},
			gate: make(chan struct{}), started: make(chan string, 16)}
		f.byID[addr] = e
	}
	return e
}

// client is the TaskClients of the fake engines.
func (f *fakeEngines) client(addr string) TaskClient { return f.engine(addr) }

func (f *fakeEngines) running() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.byID {
		e.mu.Lock()
		for id, t := range e.tasks {
			if !api.TaskEnded(t.state) && !e.dead {
				out = append(out, e.name+"/"+id)
			}
		}
		e.mu.Unlock()
	}
	return out
}

type fakeEngine struct {
	name    string
	gate    chan struct{} // closed: blocking tasks succeed
	started chan string   // task ids of blocking tasks, as they start

	mu      sync.Mutex
	seq     int
	tasks   map[string]*fakeTask
	dead    bool
	killed  []string
	submits int
}

type fakeTask struct {
	code    string
	state   string
	errText string
	results []string
	log     []string
	done    chan struct{}
}

var errUnreachable = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}

func (e *fakeEngine) Submit(ctx context.Context, r api.TaskRequest, wait time.Duration) (api.TaskSubmitted, error) {
	if err := r.Validate(); err != nil {
		return api.TaskSubmitted{}, err
	}
	e.mu.Lock()
	e.submits++
	if e.dead || r.Code == "refuse" {
		e.mu.Unlock()
		return api.TaskSubmitted{}, &unreachable{err: errUnreachable}
	}
	e.seq++
	id := fmt.Sprintf("t-%d", e.seq)
	t := &fakeTask{code: r.Code, state: api.TaskRunning, done: make(chan struct{})}
	e.tasks[id] = t
	switch {
	case strings.HasPrefix(r.Code, "echo "):
		t.state, t.results = api.TaskSuccess, []string{strings.TrimPrefix(r.Code, "echo ")}
		t.log = []string{"line 1 of " + id, "line 2 of " + id}
		close(t.done)
	case r.Code == "error":
		t.state, t.errText = api.TaskError, "boom: the user's code failed"
		t.log = []string{"Traceback: boom"}
		close(t.done)
	case r.Code == "crash":
		e.dead = true
	case r.Code == "block":
		e.started <- id
		go func() {
			select {
			case <-e.gate:
				e.mu.Lock()
				if !api.TaskEnded(t.state) {
					t.state, t.results = api.TaskSuccess, []string{"from " + e.name}
					close(t.done)
				}
				e.mu.Unlock()
			case <-t.done:
			}
		}()
	}
	e.mu.Unlock()
	out := api.TaskSubmitted{ID: id, State: api.TaskRunning}
	if wait > 0 {
		st, err := e.Status(ctx, id, wait, -1)
		if err != nil {
			return out, nil
		}
		out.State, out.Status = st.State, &st
	}
	return out, nil
}

func (e *fakeEngine) status(id string) (api.TaskStatus, *fakeTask, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead {
		return api.TaskStatus{}, nil, &unreachable{err: errUnreachable}
	}
	t, ok := e.tasks[id]
	if !ok {
		return api.TaskStatus{}, nil, linkis.ValueError(linkis.ErrUnknownJob, "task", id, "no such task")
	}
	st := api.TaskStatus{ID: id, State: t.state, Error: t.errText, Results: t.results, LogLines: len(t.log)}
	if api.TaskEnded(t.state) {
		st.Progress = 1
	}
	return st, t, nil
}

func (e *fakeEngine) Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error) {
	st, t, err := e.status(id)
	if err != nil || api.TaskEnded(st.State) || wait <= 0 || logLines >= 0 && st.LogLines > logLines {
		return st, err
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-t.done:
	case <-tm.C:
	case <-ctx.Done():
		return st, ctx.Err()
	}
	st, _, err = e.status(id)
	return st, err
}

func (e *fakeEngine) Log(ctx context.Context, id string, from, size int) (api.TaskLog, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tasks[id]
	if !ok {
		return api.TaskLog{}, linkis.ValueError(linkis.ErrUnknownJob, "task", id, "no such task")
	}
	end := min(len(t.log), from+size)
	lines := append([]string(nil), t.log[min(from, end):end]...)
	return api.TaskLog{ID: id, From: from, Lines: lines, Next: end, Complete: api.TaskEnded(t.state) && end == len(t.log)}, nil
}

func (e *fakeEngine) Kill(ctx context.Context, id string) (api.TaskStatus, error) {
	e.mu.Lock()
	t, ok := e.tasks[id]
	if ok && !api.TaskEnded(t.state) {
		t.state, t.errText = api.TaskCancel, "killed"
		close(t.done)
		e.killed = append(e.killed, id)
	}
	e.mu.Unlock()
	if !ok {
		return api.TaskStatus{}, linkis.ValueError(linkis.ErrUnknownJob, "task", id, "no such task")
	}
	st, _, err := e.status(id)
	return st, err
}

func (e *fakeEngine) kills() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.killed...)
}

// recorder is a Listener that records what it heard.
type recorder struct {
	mu      sync.Mutex
	events  []string
	lines   []string
	waits   []time.Duration
	running chan string // receives each Running ec (buffered)
}

func newRecorder() *recorder { return &recorder{running: make(chan string, 16)} }

func (r *recorder) add(ev string) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) Scheduled(attempt int) { r.add(fmt.Sprintf("scheduled %d", attempt)) }
func (r *recorder) Running(t Task) {
	r.add("running " + t.EC)
	r.running <- t.EC
}
func (r *recorder) Progress(p float64, info string) {}
func (r *recorder) Log(lines []string) {
	r.mu.Lock()
	r.lines = append(r.lines, lines...)
	r.mu.Unlock()
}
func (r *recorder) Output(key string, lines []string) { r.Log(lines) }
func (r *recorder) TaskEnded(key string, lines int)   {}
func (r *recorder) Retrying(attempt, round int, wait time.Duration, reason error) {
	r.mu.Lock()
	r.waits = append(r.waits, wait)
	r.mu.Unlock()
	r.add(fmt.Sprintf("retrying %d", attempt))
}

func (r *recorder) Events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// legal checks that the recorded moves follow the job state machine from
// Inited.
func (r *recorder) legal(t *testing.T) {
	t.Helper()
	cur := Inited
	for _, ev := range r.Events() {
		var next State
		switch strings.Fields(ev)[0] {
		case "scheduled":
			next = Scheduled
		case "running":
			next = Running
		case "retrying":
			next = WaitForRetry
		}
		if next != cur && !CanMove(cur, next) {
			t.Errorf("listener heard %q in state %v: %v", ev, cur, r.Events())
		}
		cur = next
	}
}

// testOrchestrator is an orchestrator over a fake manager with short waits.
func testOrchestrator(t testing.TB, m *fakeManager, tune func(*Config)) *Orchestrator {
	t.Helper()
	cfg := DefaultConfig()
	cfg.RetryWait = time.Millisecond
	cfg.SubmitWait = 50 * time.Millisecond
	cfg.PollWait = 50 * time.Millisecond
	cfg.KillWait = time.Second
	if tune != nil {
		tune(&cfg)
	}
	o, err := New(cfg, m, m.engines.client)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var testSubmitted = time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC)

// spec is a job of alice-IDE on engineType with code and extra labels.
func spec(engineType, code string, kv ...string) Spec {
	ls := map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: engineType}
	for i := 0; i+1 < len(kv); i += 2 {
		ls[kv[i]] = kv[i+1]
	}
	return Spec{TaskID: 1, ExecID: "exec_1", User: "alice", Submitted: testSubmitted,
		Request: JobRequest{ExecutionContent: ExecutionContent{Code: code}, Labels: ls}}
}

func TestEngineGoneClassification(t *testing.T) {
	cases := []struct {
		err  error
		gone bool
	}{
		{&unreachable{err: errors.New("x")}, true},
		{fmt.Errorf("api: %w", errUnreachable), true},
		{linkis.Errorf(linkis.ErrEngineBusy, "", "busy"), false},
		{linkis.Errorf(linkis.ErrInvalidArgument, "code", "bad"), false},
		{context.Canceled, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := engineGone(c.err); got != c.gone {
			t.Errorf("engineGone(%v) = %v, want %v", c.err, got, c.gone)
		}
	}
}

func TestAskOutcome(t *testing.T) {
	if err := askOutcome(api.AskResult{AskID: "a", Status: "Granted", Addr: "h:1", Token: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	body := api.BodyOf(linkis.Errorf(linkis.ErrNoNodeAvailable, "emInstance", "no such ECM"))
	err := askOutcome(api.AskResult{AskID: "a", Status: "Failed", Error: &body})
	if !errors.Is(err, linkis.ErrNoNodeAvailable) || !linkis.IsRetryable(err) {
		t.Fatalf("failed ask: %v", err)
	}
	if err := askOutcome(api.AskResult{AskID: "a", Status: "Granted"}); err == nil {
		t.Fatal("a grant without an address passed")
	}
}

func TestHTTPTaskClientsCachePerAddress(t *testing.T) {
	h := NewHTTPTaskClients("tok", nil)
	a, b := h.Client("127.0.0.1:1"), h.Client("127.0.0.1:1")
	if a != b {
		t.Fatal("two clients for one address")
	}
	if h.Client("127.0.0.1:2") == a {
		t.Fatal("one client for two addresses")
	}
	// A refused connection is an engine that is gone.
	_, err := h.Client("127.0.0.1:1").Submit(context.Background(), api.TaskRequest{AskID: "a", Token: "0123456789abcdef", Code: "x"}, time.Millisecond)
	if !engineGone(err) {
		t.Fatalf("submit to a closed port: %v, want the engine gone", err)
	}
	_, err = h.Client("127.0.0.1:1").Status(context.Background(), "t-1", 0, -1)
	if !engineGone(err) {
		t.Fatalf("status from a closed port: %v, want the engine gone", err)
	}
}
