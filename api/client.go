package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Client calls the manager API of a cluster. Any member can serve any
// request (writes are forwarded to the leader), so the client keeps the
// member that last answered and moves to the next one when a member cannot
// be reached or has no leader. A call the member did not answer (a timeout,
// a connection lost) goes back to the caller, but the next call starts at
// the next member: a member cut off from the network (its packets dropped,
// not refused) would otherwise take every call until the caller's deadline.
// It is safe for concurrent use.
type Client struct {
	urls  []string // base URLs, e.g. http://127.0.0.1:8080
	token string
	http  *http.Client
	cur   atomic.Uint32 // index of the member that answered last
}

// NewClient returns a client of the cluster whose members serve at urls.
// hc may be nil for a client with a 30 s timeout per call (long enough for
// asks that wait).
func NewClient(urls []string, token string, hc *http.Client) (*Client, error) {
	if len(urls) == 0 {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "urls", "at least one manager URL is required")
	}
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, "url", u, "must be http(s)://host:port")
		}
	}
	if hc == nil {
		hc = &http.Client{Timeout: MaxWait + 30*time.Second}
	}
	return &Client{urls: append([]string(nil), urls...), token: token, http: hc}, nil
}

// Do sends in (nil for none) to path with method and decodes the answer
// into out (nil to discard it). Errors from the server come back typed
// (errors.Is with the linkis kinds works). Members that cannot be reached
// or have no leader are skipped, each member tried once.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("api: encode %s: %w", path, err)
		}
	}
	start := int(c.cur.Load())
	var last error
	for i := range c.urls {
		k := (start + i) % len(c.urls)
		err := call(ctx, c.http, c.token, c.urls[k], method, path, body, out)
		if err == nil || !failover(err) {
			var ne *netError
			if errors.As(err, &ne) {
				k = (k + 1) % len(c.urls) // unanswered: the next call tries another member
			}
			c.cur.Store(uint32(k))
			return err
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return last
}

// failover reports whether another member may serve a request this one
// certainly did not apply: it could not be dialled, or it has no leader to
// forward to. Other failures (a timeout, a connection lost mid-request,
// leadership lost while the command was in flight) may have applied it,
// so they go back to the caller, who knows whether repeating is safe (an
// ask with the same id is).
func failover(err error) bool {
	var op *net.OpError
	return errors.Is(err, linkis.ErrNotLeader) || (errors.As(err, &op) && op.Op == "dial")
}

type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// Retryable: a member that could not be reached may be reachable later.
func (e *netError) Retryable() bool { return true }

// call sends one request to one server, reading at most MaxLaunchBytes of
// the answer.
func call(ctx context.Context, hc *http.Client, token, base, method, path string, body []byte, out any) error {
	return callLimit(ctx, hc, token, base, method, path, body, out, MaxLaunchBytes)
}

// callLimit is call reading at most limit bytes of the answer.
func callLimit(ctx context.Context, hc *http.Client, token, base, method, path string, body []byte, out any, limit int64) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	SetToken(req, token)
	resp, err := hc.Do(req)
	if err != nil {
		return &netError{err: fmt.Errorf("api: %s %s: %w", method, base+path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return &netError{err: fmt.Errorf("api: %s %s: reading the answer: %w", method, base+path, err)}
	}
	if resp.StatusCode >= 300 {
		var env errorEnvelope
		if json.Unmarshal(data, &env) != nil || env.Error.Kind == "" {
			return fmt.Errorf("api: %s %s: HTTP %d: %.200s", method, base+path, resp.StatusCode, data)
		}
		return ErrorFromBody(resp.StatusCode, env.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("api: %s %s: bad answer: %w", method, base+path, err)
	}
	return nil
}

// RegisterECM registers an ECM.
func (c *Client) RegisterECM(ctx context.Context, r RegisterECMRequest) error {
	return c.Do(ctx, http.MethodPost, PathRegisterECM, r, nil)
}

// ECMHeartbeat reports an ECM alive.
func (c *Client) ECMHeartbeat(ctx context.Context, r ECMHeartbeatRequest) error {
	return c.Do(ctx, http.MethodPost, PathECMHeartbeat, r, nil)
}

// DeregisterECM removes an ECM.
func (c *Client) DeregisterECM(ctx context.Context, r DeregisterECMRequest) error {
	return c.Do(ctx, http.MethodPost, PathDeregisterECM, r, nil)
}

// ECStarted reports an engine up.
func (c *Client) ECStarted(ctx context.Context, r ECStartedRequest) error {
	return c.Do(ctx, http.MethodPost, PathECStarted, r, nil)
}

// ECEnded reports an engine gone.
func (c *Client) ECEnded(ctx context.Context, r ECEndedRequest) error {
	return c.Do(ctx, http.MethodPost, PathECEnded, r, nil)
}

// ECHeartbeat reports an engine alive.
func (c *Client) ECHeartbeat(ctx context.Context, r ECHeartbeatRequest) error {
	return c.Do(ctx, http.MethodPost, PathECHeartbeat, r, nil)
}

// ECUnlock reports that an engine's lock ended on its side.
func (c *Client) ECUnlock(ctx context.Context, r ECUnlockRequest) error {
	return c.Do(ctx, http.MethodPost, PathECUnlock, r, nil)
}

// KillEngine asks the manager to stop an engine.
func (c *Client) KillEngine(ctx context.Context, r ECKillRequest) error {
	return c.Do(ctx, http.MethodPost, PathECKill, r, nil)
}

// Ask asks for an engine; see AskRequest.WaitMs.
func (c *Client) Ask(ctx context.Context, r AskRequest) (AskResult, error) {
	var out AskResult
	err := c.Do(ctx, http.MethodPost, PathAsk, r, &out)
	return out, err
}

// GetAsk returns an ask's outcome, waiting up to wait while it is Pending.
func (c *Client) GetAsk(ctx context.Context, id string, wait time.Duration) (AskResult, error) {
	var out AskResult
	err := c.Do(ctx, http.MethodGet, waitPath(PathAsk, id, wait), nil, &out)
	return out, err
}

// waitPath is the path of one item under base, asking the server to wait
// up to wait while it is unsettled.
func waitPath(base, id string, wait time.Duration) string {
	p := base + "/" + url.PathEscape(id)
	if wait > 0 {
		p += "?waitMs=" + strconv.FormatInt(wait.Milliseconds(), 10)
	}
	return p
}

// Release returns the engine an ask was given (or cancels a waiting ask).
func (c *Client) Release(ctx context.Context, askID string) (AskResult, error) {
	var out AskResult
	err := c.Do(ctx, http.MethodPost, PathRelease, AskIDRequest{AskID: askID}, &out)
	return out, err
}

// Renew extends an ask's lock.
func (c *Client) Renew(ctx context.Context, askID string) (AskResult, error) {
	var out AskResult
	err := c.Do(ctx, http.MethodPost, PathRenew, AskIDRequest{AskID: askID}, &out)
	return out, err
}

// Status returns the answering member's view of the cluster.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var out Status
	err := c.Do(ctx, http.MethodGet, PathStatus, nil, &out)
	return out, err
}

// ECMClient calls ECMs, each at its own address. It is safe for concurrent
// use.
type ECMClient struct {
	token  string
	http   *http.Client
	stream *http.Client // hc's transport without its timeout: exports last as long as their ctx
}

// NewECMClient returns a client of ECMs; hc may be nil for a 30 s timeout
// per call (streams, OpenResult, are bounded by their context only).
func NewECMClient(token string, hc *http.Client) *ECMClient {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	stream := *hc
	stream.Timeout = 0
	return &ECMClient{token: token, http: hc, stream: &stream}
}

// Launch asks the ECM at addr (host:port) to start an engine.
func (c *ECMClient) Launch(ctx context.Context, addr string, r LaunchRequest) (LaunchResponse, error) {
	var out LaunchResponse
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodPost, PathLaunch, mustJSON(r), &out)
	return out, err
}

// Kill asks the ECM at addr to stop an engine.
func (c *ECMClient) Kill(ctx context.Context, addr string, r KillRequest) (KillResponse, error) {
	var out KillResponse
	err := call(ctx, c.http, c.token, "http://"+addr, http.MethodPost, PathKill, mustJSON(r), &out)
	return out, err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // the wire types always encode
	}
	return b
}
