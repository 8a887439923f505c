package entrancetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/raftstore"
)

// ECM is the id of the ECM the fake tasks run on; its address is ECMAddr.
const (
	ECM     = "ecm-test"
	ECMAddr = "127.0.0.1:9"
)

// NewStore returns a replicated state in memory with ECM registered; the
// test closes it.
func NewStore(t testing.TB) *raftstore.Memory {
	t.Helper()
	m, err := raftstore.OpenMemory(raftstore.DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if _, err := m.Apply(context.Background(), manager.RegisterECM{Time: time.Now().UnixNano(), ID: ECM, Addr: ECMAddr}); err != nil {
		t.Fatal(err)
	}
	return m
}

// Engine is a Runner and HostData in one: a job's code decides what its
// one task does - "sleep" runs until the job is cancelled (or detached),
// "fail" fails in the user's code, "lines N" prints N lines, anything
// else prints it and succeeds with a one-row result set holding the code.
// Every task runs on engine ec-1 of ECM under Dir.
type Engine struct {
	Dir string

	mu      sync.Mutex
	logs    map[string][]string // by task id
	started map[string]int      // runs by attempt key (more than one: run twice)
	next    int
	// Running receives each task as it starts (buffered; dropped when full).
	Running chan orchestrator.Task
}

// NewEngine returns an Engine writing under dir.
func NewEngine(dir string) *Engine {
	return &Engine{Dir: dir, logs: map[string][]string{}, started: map[string]int{}, Running: make(chan orchestrator.Task, 64)}
}

var _ orchestrator.Runner = (*Engine)(nil)

// Check implements orchestrator.Runner.
func (e *Engine) Check(orchestrator.Spec) error { return nil }

// Starts returns how many times the task of key was started.
func (e *Engine) Starts(key string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started[key]
}

// Run implements orchestrator.Runner.
func (e *Engine) Run(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
	key := spec.ExecID + "-1.0"
	e.mu.Lock()
	var t orchestrator.Task
	if spec.Resume != nil && len(spec.Resume.Tasks) > 0 {
		t = spec.Resume.Tasks[0] // re-attach: not started again
	} else {
		e.next++
		t = orchestrator.Task{Key: key, AskID: key, EC: "ec-1", ECM: ECM, Addr: "127.0.0.1:10", ID: fmt.Sprint(e.next)}
		e.started[key]++
	}
	e.mu.Unlock()
	l.Scheduled(1)
	l.Log([]string{"INFO running " + spec.ExecID})
	l.Running(t)
	select {
	case e.Running <- t:
	default:
	}
	code := spec.Request.ExecutionContent.Code
	out := func(lines ...string) {
		e.mu.Lock()
		e.logs[t.ID] = append(e.logs[t.ID], lines...)
		e.mu.Unlock()
		l.Output(t.Key, lines)
	}
	switch {
	case code == "sleep":
		out("sleeping")
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), orchestrator.ErrDetached) {
			return orchestrator.Outcome{State: orchestrator.Cancelled, Err: orchestrator.ErrDetached}
		}
		l.TaskEnded(t.Key, 1)
		return orchestrator.Outcome{State: orchestrator.Cancelled, Err: context.Cause(ctx), EC: t.EC}
	case code == "fail":
		out("oops")
		l.TaskEnded(t.Key, 1)
		return orchestrator.Outcome{State: orchestrator.Failed, Err: errors.New("the code failed"), EC: t.EC}
	case strings.HasPrefix(code, "lines "):
		var n int
		fmt.Sscan(strings.TrimPrefix(code, "lines "), &n)
		for i := 0; i < n; i++ {
			out(fmt.Sprintf("line %d", i))
		}
		l.TaskEnded(t.Key, n)
		return orchestrator.Outcome{State: orchestrator.Succeed, EC: t.EC}
	}
	out(code)
	l.TaskEnded(t.Key, 1)
	dir := filepath.Join(e.Dir, t.EC, "results")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return orchestrator.Outcome{State: orchestrator.Failed, Err: err}
	}
	p := filepath.Join(dir, "t-"+t.ID+"-0"+api.ResultSetExt)
	body := `{"type":"table","columns":[{"name":"code","type":"TEXT"}]}` + "\n" + `["` + code + `"]` + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		return orchestrator.Outcome{State: orchestrator.Failed, Err: err}
	}
	return orchestrator.Outcome{State: orchestrator.Succeed, Results: []string{p}, EC: t.EC}
}

// Stop implements entrance.TaskStopper: nothing runs for real.
func (e *Engine) Stop(ctx context.Context, tasks []orchestrator.Task) map[string]int {
	out := map[string]int{}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range tasks {
		out[t.Key] = len(e.logs[t.ID])
	}
	return out
}

func (e *Engine) check(addr, ec string) error {
	if addr != ECMAddr {
		return linkis.ValueError(linkis.ErrUnknownNode, "ecm", addr, "not the test ECM")
	}
	if ec != "ec-1" {
		return linkis.ValueError(linkis.ErrUnknownNode, "ec", ec, "no such engine")
	}
	return nil
}

// TaskLog implements entrance.HostData.
func (e *Engine) TaskLog(ctx context.Context, addr, ec, task string, from, size int) (api.TaskLog, error) {
	if err := e.check(addr, ec); err != nil {
		return api.TaskLog{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	lines, ok := e.logs[task]
	if !ok {
		return api.TaskLog{}, linkis.ValueError(linkis.ErrUnknownNode, "task", task, "no such task")
	}
	lo := min(from, len(lines))
	hi := min(len(lines), lo+size)
	return api.TaskLog{ID: task, From: from, Lines: append([]string{}, lines[lo:hi]...), Next: hi, Complete: hi == len(lines)}, nil
}

// ResultPage implements entrance.HostData.
func (e *Engine) ResultPage(ctx context.Context, addr, ec, name string, from, size int) (api.ResultPage, error) {
	rc, _, err := e.OpenResult(ctx, addr, ec, name)
	if err != nil {
		return api.ResultPage{}, err
	}
	defer rc.Close()
	rs, err := api.ReadResultSet(rc, 0)
	if err != nil {
		return api.ResultPage{}, err
	}
	p := api.ResultPage{EC: ec, Name: name, Header: rs.ResultSetHeader, From: from, Total: len(rs.Rows), Rows: []json.RawMessage{}}
	for i := from; i < len(rs.Rows) && i < from+size; i++ {
		b, err := json.Marshal(rs.Rows[i])
		if err != nil {
			return api.ResultPage{}, err
		}
		p.Rows = append(p.Rows, b)
	}
	p.Next = from + len(p.Rows)
	return p, nil
}

// OpenResult implements entrance.HostData.
func (e *Engine) OpenResult(ctx context.Context, addr, ec, name string) (io.ReadCloser, int64, error) {
	if err := e.check(addr, ec); err != nil {
		return nil, 0, err
	}
	if err := api.ValidResultName(name); err != nil {
		return nil, 0, err
	}
	f, err := os.Open(filepath.Join(e.Dir, ec, "results", name))
	if err != nil {
		return nil, 0, linkis.ValueError(linkis.ErrUnknownNode, "result", name, "no such result")
	}
	fi, _ := f.Stat()
	return f, fi.Size(), nil
}
