package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// EngineClient calls the task API of one EngineConn. It is safe for
// concurrent use.
type EngineClient struct {
	base  string
	token string
	http  *http.Client
}

// NewEngineClient returns a client of the engine serving at addr
// (host:port, as AskResult.Addr gives it), using the cluster token. hc may
// be nil for a client with a timeout long enough for waiting status calls.
func NewEngineClient(addr, token string, hc *http.Client) *EngineClient {
	if hc == nil {
		hc = &http.Client{Timeout: MaxWait + 30*time.Second}
	}
	return &EngineClient{base: "http://" + addr, token: token, http: hc}
}

func (c *EngineClient) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		body = mustJSON(in)
	}
	return call(ctx, c.http, c.token, c.base, method, path, body, out)
}

// Submit submits a task and returns its id at once.
func (c *EngineClient) Submit(ctx context.Context, r TaskRequest) (TaskSubmitted, error) {
	var out TaskSubmitted
	err := c.do(ctx, http.MethodPost, PathTasks, r, &out)
	return out, err
}

// Run submits a task and waits for it to end: the first wait rides on
// the submission itself, so a short task costs one round trip.
func (c *EngineClient) Run(ctx context.Context, r TaskRequest) (TaskStatus, error) {
	var out TaskSubmitted
	if err := c.do(ctx, http.MethodPost, PathTasks+"?waitMs=10000", r, &out); err != nil {
		return TaskStatus{}, err
	}
	if out.Status != nil && TaskEnded(out.Status.State) {
		return *out.Status, nil
	}
	return c.Wait(ctx, out.ID)
}

// Status returns where a task stands, waiting up to wait while it has not
// ended (0: answer at once).
func (c *EngineClient) Status(ctx context.Context, id string, wait time.Duration) (TaskStatus, error) {
	return c.StatusAfter(ctx, id, wait, -1)
}

// StatusAfter is Status that also stops waiting as soon as the task's log
// has more than logLines lines (negative: only the task's end does).
func (c *EngineClient) StatusAfter(ctx context.Context, id string, wait time.Duration, logLines int) (TaskStatus, error) {
	var out TaskStatus
	p := waitPath(PathTasks, id, wait)
	if wait > 0 && logLines >= 0 {
		p += "&logLines=" + strconv.Itoa(logLines)
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}

// Wait polls a task until it ends or ctx is done.
func (c *EngineClient) Wait(ctx context.Context, id string) (TaskStatus, error) {
	for {
		st, err := c.Status(ctx, id, 10*time.Second)
		if err != nil || TaskEnded(st.State) {
			return st, err
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
}

// Log returns up to size lines of a task's log starting at line from.
func (c *EngineClient) Log(ctx context.Context, id string, from, size int) (TaskLog, error) {
	var out TaskLog
	p := PathTasks + "/" + url.PathEscape(id) + "/log?from=" + strconv.Itoa(from) + "&size=" + strconv.Itoa(size)
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out, err
}

// Kill stops a task that has not ended.
func (c *EngineClient) Kill(ctx context.Context, id string) (TaskStatus, error) {
	var out TaskStatus
	err := c.do(ctx, http.MethodPost, PathTasks+"/"+url.PathEscape(id)+"/kill", nil, &out)
	return out, err
}

// Lock presents a grant to the engine.
func (c *EngineClient) Lock(ctx context.Context, r LockRequest) (LockResponse, error) {
	var out LockResponse
	err := c.do(ctx, http.MethodPost, PathEngineLock, r, &out)
	return out, err
}

// Unlock ends a grant: the engine tells the manager.
func (c *EngineClient) Unlock(ctx context.Context, r LockRequest) (LockResponse, error) {
	var out LockResponse
	err := c.do(ctx, http.MethodPost, PathEngineUnlock, r, &out)
	return out, err
}

// Info returns the engine's view of itself.
func (c *EngineClient) Info(ctx context.Context) (EngineInfo, error) {
	var out EngineInfo
	err := c.do(ctx, http.MethodGet, PathEngineInfo, nil, &out)
	return out, err
}
