package orchestrator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// EngineAsker is what the orchestrator needs of the manager: an engine for
// a request, and giving it back.
type EngineAsker interface {
	// Ask asks for an engine and blocks until the ask is Granted (the
	// result carries the engine's address and the lock token), fails (a
	// typed error: errors.Is with the linkis kinds and linkis.IsRetryable
	// work) or ctx is done. Asking again with the same id is idempotent.
	Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error)
	// Release gives back the engine an ask holds, or withdraws an ask that
	// still waits. An ask the manager no longer knows answers
	// linkis.ErrUnknownAsk.
	Release(ctx context.Context, askID string) error
}

// EngineReporter is an EngineAsker that can tell the manager an engine it
// was granted cannot be reached: the manager stops handing it out (it
// kills it; its ECM, or the loss of its heartbeats, ends it).
type EngineReporter interface {
	Unreachable(ctx context.Context, ec, reason string) error
}

// LockRenewer is an EngineAsker that can extend the lock of a granted ask
// (the manager's LockTimeout, Linkis: 5 min). The orchestrator renews the
// lock of a task that runs past half of it, so a long job keeps its engine
// in the manager's books; with an asker that cannot renew, the lock of a
// long task expires and the manager may hand its engine to another ask.
type LockRenewer interface {
	Renew(ctx context.Context, askID string) (api.AskResult, error)
}

// TaskClient is what the orchestrator needs of one engine's task API.
type TaskClient interface {
	// Submit submits a task and waits up to wait for it to end, in one
	// round trip: the answer carries the status when it ended in time. The
	// wait may end early, at the task's first log line, so that the line
	// is not held for the whole wait.
	Submit(ctx context.Context, r api.TaskRequest, wait time.Duration) (api.TaskSubmitted, error)
	// Status returns where a task stands, waiting up to wait while it has
	// not ended and, unless logLines is negative, while its log has at
	// most logLines lines (the caller's next line ends the wait).
	Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error)
	// Log returns up to size lines of a task's log from line from.
	Log(ctx context.Context, id string, from, size int) (api.TaskLog, error)
	// Kill stops a task that has not ended.
	Kill(ctx context.Context, id string) (api.TaskStatus, error)
}

// TaskClients returns the task client of the engine serving at addr
// (host:port, as api.AskResult.Addr gives it).
type TaskClients func(addr string) TaskClient

// ClientAsker asks a manager cluster over its HTTP API.
type ClientAsker struct {
	c    *api.Client
	wait time.Duration
}

// NewClientAsker returns an EngineAsker over a manager API client. Each
// call blocks at the manager for up to wait (0: 30 s) before polling again.
func NewClientAsker(c *api.Client, wait time.Duration) *ClientAsker {
	if wait <= 0 || wait > api.MaxWait {
		wait = 30 * time.Second
	}
	return &ClientAsker{c: c, wait: wait}
}

// Ask asks with WaitMs, then polls the ask while it is Pending.
func (a *ClientAsker) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	if r.WaitMs == 0 {
		r.WaitMs = a.wait.Milliseconds()
	}
	res, err := a.c.Ask(ctx, r)
	for err == nil && res.Status == "Pending" {
		res, err = a.c.GetAsk(ctx, r.ID, a.wait)
	}
	if err != nil {
		return res, err
	}
	return res, askOutcome(res)
}

// Release releases the ask at the manager.
func (a *ClientAsker) Release(ctx context.Context, askID string) error {
	_, err := a.c.Release(ctx, askID)
	return err
}

// Renew extends the ask's lock at the manager.
func (a *ClientAsker) Renew(ctx context.Context, askID string) (api.AskResult, error) {
	return a.c.Renew(ctx, askID)
}

// Unreachable asks the manager to kill the engine.
func (a *ClientAsker) Unreachable(ctx context.Context, ec, reason string) error {
	return a.c.KillEngine(ctx, api.ECKillRequest{EC: ec, Reason: reason})
}

// askOutcome turns a decided ask into nil (Granted) or its failure.
func askOutcome(res api.AskResult) error {
	switch res.Status {
	case "Granted":
		if res.Addr == "" || res.Token == "" {
			return linkis.Errorf(linkis.ErrUnavailable, "ask", "ask %s granted without an address or token", res.AskID)
		}
		return nil
	case "Failed":
		if err := res.Err(); err != nil {
			return err
		}
		return linkis.Errorf(linkis.ErrEngineFailed, "ask", "ask %s failed without a reason", res.AskID)
	}
	return linkis.Errorf(linkis.ErrUnavailable, "ask", "ask %s is %s, not granted", res.AskID, res.Status)
}

// StoreAsker asks the manager state machine in the same process: each ask
// and release is one command through the Store's Apply, with no HTTP.
type StoreAsker struct {
	s   raftstore.Store
	now func() time.Time
}

// NewStoreAsker returns an EngineAsker over a Store (the embedded system's
// fast path). now may be nil for time.Now.
func NewStoreAsker(s raftstore.Store, now func() time.Time) *StoreAsker {
	if now == nil {
		now = time.Now
	}
	return &StoreAsker{s: s, now: now}
}

// Ask applies an AskEngine and waits for its outcome - unless the state
// holds an ask of that id already (the job's first, which the state made
// as it dispatched the job; or one an earlier run of the job made): asking
// again would answer the same, and commits nothing.
func (a *StoreAsker) Ask(ctx context.Context, r api.AskRequest) (api.AskResult, error) {
	cmd, err := r.Command(a.now().UnixNano(), raftstore.Nonce())
	if err != nil {
		return api.AskResult{}, err
	}
	res, err := a.s.WaitAsk(ctx, r.ID)
	if errors.Is(err, linkis.ErrUnknownAsk) {
		var out manager.Result
		if out, err = a.s.Apply(ctx, cmd); err == nil {
			res = out.Ask
		}
	}
	if err != nil {
		return api.AskResult{}, err
	}
	for res.Status == manager.AskPending {
		if res, err = a.s.WaitAsk(ctx, r.ID); err != nil {
			return api.FromAskResult(res), err
		}
		if res.Status == manager.AskPending {
			if err := ctx.Err(); err != nil {
				return api.FromAskResult(res), err
			}
		}
	}
	ar := api.FromAskResult(res)
	if res.Status == manager.AskFailed && res.Err != nil {
		return ar, res.Err
	}
	return ar, askOutcome(ar)
}

// Release applies a ReleaseEngine.
func (a *StoreAsker) Release(ctx context.Context, askID string) error {
	_, err := a.s.Apply(ctx, manager.ReleaseEngine{Time: a.now().UnixNano(), AskID: askID})
	return err
}

// Unreachable applies a KillEngine.
func (a *StoreAsker) Unreachable(ctx context.Context, ec, reason string) error {
	id, err := manager.ParseECID(ec)
	if err != nil {
		return err
	}
	_, err = a.s.Apply(ctx, manager.KillEngine{Time: a.now().UnixNano(), EC: id, Reason: reason})
	return err
}

// Renew applies a RenewLock.
func (a *StoreAsker) Renew(ctx context.Context, askID string) (api.AskResult, error) {
	out, err := a.s.Apply(ctx, manager.RenewLock{Time: a.now().UnixNano(), AskID: askID})
	if err != nil {
		return api.AskResult{}, err
	}
	return api.FromAskResult(out.Ask), nil
}

// maxCachedEngines bounds the engine clients kept by address; beyond it
// the cache starts again (engines come and go on fresh ports).
const maxCachedEngines = 4096

// HTTPTaskClients makes and caches task clients of engines by address, all
// sharing one keep-alive http.Client.
type HTTPTaskClients struct {
	token string
	hc    *http.Client

	mu      sync.Mutex
	clients map[string]*httpTaskClient
}

// NewHTTPTaskClients returns task clients that present the cluster token.
// hc may be nil for a client with keep-alive, 256 idle connections per
// engine and a timeout long enough for waiting calls.
func NewHTTPTaskClients(token string, hc *http.Client) *HTTPTaskClients {
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 4096
		tr.MaxIdleConnsPerHost = 256
		tr.IdleConnTimeout = 90 * time.Second
		hc = &http.Client{Transport: tr, Timeout: api.MaxWait + 30*time.Second}
	}
	return &HTTPTaskClients{token: token, hc: hc, clients: make(map[string]*httpTaskClient)}
}

// Client returns the task client of the engine at addr.
func (h *HTTPTaskClients) Client(addr string) TaskClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.clients[addr]
	if !ok {
		if len(h.clients) >= maxCachedEngines {
			clear(h.clients)
		}
		c = &httpTaskClient{EngineClient: api.NewEngineClient(addr, h.token, h.hc),
			submitURL: "http://" + addr + api.PathTasks + "?logLines=0&logSize=" + strconv.Itoa(inlineLogLines) + "&waitMs=", token: h.token, hc: h.hc}
		h.clients[addr] = c
	}
	return c
}

// httpTaskClient is an api.EngineClient plus the waiting submission it
// lacks.
type httpTaskClient struct {
	*api.EngineClient
	submitURL string
	token     string
	hc        *http.Client
}

// Status implements TaskClient.
func (c *httpTaskClient) Status(ctx context.Context, id string, wait time.Duration, logLines int) (api.TaskStatus, error) {
	return c.StatusAfter(ctx, id, wait, logLines)
}

// inlineLogLines is how many log lines a submission asks the engine to
// send with the status of a task that ended within the wait.
const inlineLogLines = 1000

// Submit posts the task with ?waitMs and ?logSize, so that a short task
// costs one round trip, its log included, and with ?logLines=0, so that
// the wait ends (soon after) the task's first line.
func (c *httpTaskClient) Submit(ctx context.Context, r api.TaskRequest, wait time.Duration) (api.TaskSubmitted, error) {
	var out api.TaskSubmitted
	body, err := json.Marshal(r)
	if err != nil {
		return out, fmt.Errorf("orchestrator: encode task: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.submitURL+strconv.FormatInt(wait.Milliseconds(), 10), bytes.NewReader(body))
	if err != nil {
		return out, fmt.Errorf("orchestrator: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	api.SetToken(req, c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return out, &unreachable{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return out, &unreachable{err: err}
	}
	if resp.StatusCode >= 300 {
		var env struct {
			Error api.ErrorBody `json:"error"`
		}
		if json.Unmarshal(data, &env) != nil || env.Error.Kind == "" {
			return out, fmt.Errorf("orchestrator: submit: HTTP %d: %.200s", resp.StatusCode, data)
		}
		return out, api.ErrorFromBody(resp.StatusCode, env.Error)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, fmt.Errorf("orchestrator: submit: bad answer: %w", err)
	}
	return out, nil
}

// unreachable is an engine that could not be reached or answered no more.
type unreachable struct{ err error }

func (e *unreachable) Error() string { return "engine unreachable: " + e.err.Error() }
func (e *unreachable) Unwrap() error { return e.err }

// neverSent reports whether err proves a request never reached the engine:
// the connection could not be made (refused, no route, dial timeout). An
// error after it was made - reset, EOF, no answer - proves nothing.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// engineGone reports whether err says the engine died or could not be
// reached (connection refused or reset, the process gone, the lock it
// was granted with no longer valid because the manager settled it), as
// opposed to an answer about the task itself.
func engineGone(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var u *unreachable
	var op *net.OpError
	if errors.As(err, &u) || errors.As(err, &op) {
		return true
	}
	// api.EngineClient wraps transport failures in its own retryable
	// error; an answer with a kind came from the engine.
	var le *linkis.Error
	if errors.As(err, &le) {
		return false
	}
	return linkis.IsRetryable(err)
}
