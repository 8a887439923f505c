package raftstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// HandlerConfig configures the manager's HTTP API.
type HandlerConfig struct {
	// Token is the shared cluster token every request must carry.
	Token string
	// Metrics is served at /metrics (nil: not served).
	Metrics prometheus.Gatherer
	// Forward carries requests a follower passes to the leader (nil: a
	// client with a timeout of api.MaxWait plus 30 s).
	Forward *http.Client
	Logger  *slog.Logger
}

// headerForwarded marks a request a member forwarded, so that it is never
// forwarded twice (two members that each believe the other leads).
const headerForwarded = "X-Linkis-Forwarded"

// handler serves the manager API over a Store.
type handler struct {
	s   Store
	cfg HandlerConfig
	mux *http.ServeMux
}

// NewHandler returns the manager's HTTP API over s. Writes and current
// reads reaching a replica that does not lead are forwarded to the leader;
// every request must carry the cluster token.
func NewHandler(s Store, cfg HandlerConfig) (http.Handler, error) {
	if cfg.Token == "" {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "Token", "a cluster token is required")
	}
	if cfg.Forward == nil {
		cfg.Forward = &http.Client{Timeout: api.MaxWait + 30*time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &handler{s: s, cfg: cfg, mux: http.NewServeMux()}
	write := func(path string, limit int64, conv func([]byte, int64) (manager.Command, error), answer func(http.ResponseWriter, *http.Request, []byte, manager.Result)) {
		h.mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) { h.write(w, r, limit, conv, answer) })
	}
	write(api.PathRegisterECM, api.MaxBodyBytes, decode[api.RegisterECMRequest], h.ok)
	write(api.PathECMHeartbeat, api.MaxBodyBytes, decode[api.ECMHeartbeatRequest], h.ok)
	write(api.PathDeregisterECM, api.MaxBodyBytes, decode[api.DeregisterECMRequest], h.ok)
	write(api.PathECStarted, api.MaxBodyBytes, decode[api.ECStartedRequest], h.ok)
	write(api.PathECEnded, api.MaxBodyBytes, decode[api.ECEndedRequest], h.ok)
	write(api.PathECHeartbeat, api.MaxBodyBytes, decode[api.ECHeartbeatRequest], h.ok)
	write(api.PathECUnlock, api.MaxBodyBytes, decode[api.ECUnlockRequest], h.ok)
	write(api.PathECKill, api.MaxBodyBytes, decode[api.ECKillRequest], h.ok)
	write(api.PathAsk, api.MaxBodyBytes, decodeAsk, h.ask)
	write(api.PathRelease, api.MaxBodyBytes, decodeAskID(func(now int64, id string) manager.Command { return manager.ReleaseEngine{Time: now, AskID: id} }), h.askResult)
	write(api.PathRenew, api.MaxBodyBytes, decodeAskID(func(now int64, id string) manager.Command { return manager.RenewLock{Time: now, AskID: id} }), h.askResult)
	h.mux.HandleFunc("GET "+api.PathAsk+"/{id}", h.getAsk)
	h.mux.HandleFunc("POST "+api.PathCommands, h.commands)
	h.mux.HandleFunc("GET "+api.PathReadIndex, h.readIndex)
	h.mux.HandleFunc("GET "+api.PathStatus, h.status)
	h.mux.HandleFunc("GET "+api.PathMembers, h.members)
	h.mux.HandleFunc("POST "+api.PathMembers, h.join)
	h.mux.HandleFunc("DELETE "+api.PathMembers+"/{id}", h.remove)
	if cfg.Metrics != nil {
		h.mux.Handle("GET "+api.PathMetrics, promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		err := linkis.ValueError(linkis.ErrUnknownCommand, "path", r.Method+" "+r.URL.Path, "no such endpoint")
		api.WriteJSON(w, http.StatusNotFound, map[string]api.ErrorBody{"error": api.BodyOf(err)})
	})
	return api.RequireToken(cfg.Token, h.mux), nil
}

// decode turns a JSON body into the command its type converts to.
func decode[T interface {
	Command(int64) (manager.Command, error)
}](body []byte, now int64) (manager.Command, error) {
	var req T
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return req.Command(now)
}

func decodeAsk(body []byte, now int64) (manager.Command, error) {
	var req api.AskRequest
	if err := api.Decode(body, &req); err != nil {
		return nil, err
	}
	return req.Command(now, Nonce())
}

func decodeAskID(mk func(now int64, id string) manager.Command) func([]byte, int64) (manager.Command, error) {
	return func(body []byte, now int64) (manager.Command, error) {
		var req api.AskIDRequest
		if err := api.Decode(body, &req); err != nil {
			return nil, err
		}
		if req.AskID == "" {
			return nil, linkis.Errorf(linkis.ErrInvalidArgument, "askId", "required")
		}
		return mk(now, req.AskID), nil
	}
}

// write serves a command: refused when it does not decode (by whichever
// member it reaches), forwarded when this member does not lead, otherwise
// applied.
func (h *handler) write(w http.ResponseWriter, r *http.Request, limit int64,
	conv func([]byte, int64) (manager.Command, error), answer func(http.ResponseWriter, *http.Request, []byte, manager.Result)) {
	body, err := api.ReadBody(w, r, limit)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	cmd, err := conv(body, time.Now().UnixNano())
	if err != nil {
		api.WriteError(w, err)
		return
	}
	if h.forwarded(w, r, body) {
		return // the leader decodes it again, with its own clock and nonce
	}
	res, err := h.s.Apply(r.Context(), cmd)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	answer(w, r, body, res)
}

// applied is the answer to a command that returns nothing but the engine
// it concerned.
type applied struct {
	EC string `json:"ec,omitempty"`
}

func (h *handler) ok(w http.ResponseWriter, _ *http.Request, _ []byte, res manager.Result) {
	var a applied
	if res.EC != 0 {
		a.EC = res.EC.String()
	}
	api.WriteJSON(w, http.StatusOK, a)
}

func (h *handler) askResult(w http.ResponseWriter, _ *http.Request, _ []byte, res manager.Result) {
	api.WriteJSON(w, http.StatusOK, api.FromAskResult(res.Ask))
}

// ask answers an AskEngine, waiting for its outcome up to the request's
// waitMs when the engine must start first.
func (h *handler) ask(w http.ResponseWriter, r *http.Request, body []byte, res manager.Result) {
	a := res.Ask
	if a.Status == manager.AskPending {
		var req api.AskRequest
		_ = api.Decode(body, &req) // it decoded before the ask was applied
		if wait, _ := req.Wait(); wait > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), wait)
			defer cancel()
			if got, err := h.s.WaitAsk(ctx, a.AskID); err == nil {
				a = got
			}
		}
	}
	api.WriteJSON(w, http.StatusOK, api.FromAskResult(a))
}

// getAsk serves GET /v1/asks/{id}?waitMs=N&stale=true.
func (h *handler) getAsk(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	wait, err := queryWait(q.Get("waitMs"))
	if err != nil {
		api.WriteError(w, err)
		return
	}
	stale := q.Get("stale") == "true"
	if !stale && h.forwarded(w, r, nil) {
		return
	}
	if !stale {
		if err := h.s.Read(r.Context(), true, func(*manager.State) {}); err != nil {
			api.WriteError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	a, err := h.s.WaitAsk(ctx, r.PathValue("id"))
	if err != nil {
		api.WriteError(w, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, api.FromAskResult(a))
}

func queryWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 || time.Duration(ms)*time.Millisecond > api.MaxWait {
		return 0, linkis.ValueError(linkis.ErrInvalidArgument, "waitMs", v, "must be milliseconds from 0 to "+api.MaxWait.String())
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (h *handler) status(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusOK, h.s.Status(r.Context()))
}

func (h *handler) members(w http.ResponseWriter, r *http.Request) {
	api.WriteJSON(w, http.StatusOK, h.s.Status(r.Context()).Members)
}

func (h *handler) join(w http.ResponseWriter, r *http.Request) {
	body, err := api.ReadBody(w, r, api.MaxBodyBytes)
	if err != nil {
		api.WriteError(w, err)
		return
	}
	if h.forwarded(w, r, body) {
		return
	}
	var req api.JoinRequest
	if err := api.Decode(body, &req); err != nil {
		api.WriteError(w, err)
		return
	}
	m, ok := h.s.(Membership)
	if !ok {
		api.WriteError(w, linkis.Errorf(linkis.ErrInvalidArgument, "members", "this store has a single member"))
		return
	}
	if err := m.Join(r.Context(), req); err != nil {
		api.WriteError(w, err)
		return
	}
	h.members(w, r)
}

func (h *handler) remove(w http.ResponseWriter, r *http.Request) {
	if h.forwarded(w, r, nil) {
		return
	}
	m, ok := h.s.(Membership)
	if !ok {
		api.WriteError(w, linkis.Errorf(linkis.ErrInvalidArgument, "members", "this store has a single member"))
		return
	}
	if err := m.Remove(r.Context(), r.PathValue("id")); err != nil {
		api.WriteError(w, err)
		return
	}
	h.members(w, r)
}

// forwarded passes the request to the leader when this replica does not
// lead, copies the leader's answer back and reports true. A request that
// was already forwarded once is refused instead.
func (h *handler) forwarded(w http.ResponseWriter, r *http.Request, body []byte) bool {
	self, leader := h.s.Leader()
	if self {
		return false
	}
	if leader == "" || r.Header.Get(headerForwarded) != "" {
		api.WriteError(w, &api.NotLeaderError{Leader: leader})
		return true
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, "http://"+leader+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		api.WriteError(w, err)
		return true
	}
	req.Header.Set(api.HeaderToken, r.Header.Get(api.HeaderToken))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerForwarded, "1")
	resp, err := h.cfg.Forward.Do(req)
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "dial":
		// The leader this member knows is gone: the request certainly
		// was not applied, and the caller may try another member.
		api.WriteError(w, &api.NotLeaderError{Reason: "the last known leader at " + leader + " cannot be reached"})
		return true
	case err != nil:
		api.WriteError(w, linkis.Errorf(linkis.ErrUnavailable, "leader", "forwarding to %s: %v; the request may or may not have been applied", leader, err))
		return true
	}
	defer resp.Body.Close()
	for _, k := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		h.cfg.Logger.Debug("forward: copying the leader's answer", "err", err)
	}
	return true
}
