package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/identity"
)

// Jobs is what the handler needs of the Entrance. Every call names the
// user it acts for; Jobs decides what belongs to that user and answers
// another user's job or file with linkis.ErrPermission, a job it does not
// know with linkis.ErrUnknownJob. The *Any, ListAll and KillBy calls read
// or kill every user's jobs: the handler makes them for administrators
// only.
type Jobs interface {
	// Submit validates and accepts a job; the job is persisted when it
	// returns.
	Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error)
	// Job returns the record of a task id.
	Job(ctx context.Context, user string, taskID int64) (orchestrator.Job, error)
	// JobByExecID returns the record of an exec id.
	JobByExecID(ctx context.Context, user, execID string) (orchestrator.Job, error)
	// JobAny and JobByExecIDAny return any user's job.
	JobAny(ctx context.Context, taskID int64) (orchestrator.Job, error)
	JobByExecIDAny(ctx context.Context, execID string) (orchestrator.Job, error)
	// Log returns up to size lines of a job's log from line from.
	Log(ctx context.Context, user, execID string, from, size int) (orchestrator.LogPage, error)
	// Kill cancels a job at any stage and returns its record after;
	// KillBy cancels any user's job, recording who did.
	Kill(ctx context.Context, user, execID string) (orchestrator.Job, error)
	KillBy(ctx context.Context, by, execID string) (orchestrator.Job, error)
	// List returns a page of the user's jobs, newest first, and how many
	// match in all; ListAll the same over every user's jobs (user "") or
	// one user's.
	List(ctx context.Context, user string, q orchestrator.ListQuery) (jobs []orchestrator.Job, total int, err error)
	ListAll(ctx context.Context, user string, q orchestrator.ListQuery) (jobs []orchestrator.Job, total int, err error)
	// OpenResult opens one of the user's result-set files (where it is
	// kept: on another host, read through its ECM); anything else is
	// linkis.ErrPermission. The string is a name for the file the handler
	// may log; it never shows it.
	OpenResult(ctx context.Context, user, path string) (io.ReadCloser, string, error)
	// ResultPage reads rows [from, from+size) of one of the user's result
	// sets (at most about maxBytes of them).
	ResultPage(ctx context.Context, user, path string, from, size, maxBytes int) (api.ResultPage, error)
	// Locations: how the Jobs name a job's whole log and result
	// directory, and a user's root of result directories.
	Locations
}

// Locations names a job's whole log (Linkis's logPath), its result
// directory (resultLocation) and a user's root of them, and reads those
// names back; a name that is not one of them (or not in the one spelling
// they write) is linkis.ErrPermission.
type Locations interface {
	LogLocation(user string, taskID int64) string
	ParseLogLocation(p string) (user string, taskID int64, err error)
	ResultLocation(user string, taskID int64) string
	ResultRoot(user string) string
	ParseResultLocation(p string) (user string, taskID int64, err error)
}

// Authenticator checks who calls: password logins and their sessions,
// and Linkis auth tokens (identity.Service is one).
type Authenticator interface {
	Login(ctx context.Context, user, password, addr string) (identity.Session, error)
	Check(ctx context.Context, sessionID string) (user string, err error)
	Logout(ctx context.Context, sessionID string) error
	Token(user, code, addr string) error
	SessionTimeout() time.Duration
}

var _ Authenticator = (*identity.Service)(nil)

// Limits of query parameters.
const (
	DefaultLogSize      = 1000  // log lines per page when size is absent
	MaxLogSize          = 10000 // a larger size is cut to this; size=-1 asks for it
	DefaultListPageSize = 20
	MaxListPageSize     = 500
	DefaultFilePageSize = 5000 // openFile rows per page, as in Linkis
	MaxFilePageSize     = 50000
	MaxPageBytes        = 64 << 20 // the rows of one openFile page, as stored
	MaxOpenLogBytes     = 32 << 20 // a whole log openLog answers with
	maxIDBytes          = 256      // exec ids and paths in the URL
	maxPathBytes        = 4096
)

// The API's paths below Prefix that the Go client uses.
const (
	PathSubmit   = "/entrance/submit"
	PathHistory  = "/jobhistory/list"
	PathOpenFile = "/filesystem/openFile"
	PathLogin    = "/user/login"
)

type handler struct {
	jobs   Jobs
	cfg    Config
	auth   Authenticator
	routes []route
	now    func() time.Time
}

// NewHandler returns the REST API over jobs, after validating cfg (zero
// limits take their defaults).
func NewHandler(jobs Jobs, cfg Config) (http.Handler, error) {
	if jobs == nil {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "jobs", "nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	h := &handler{jobs: jobs, cfg: cfg, auth: cfg.Auth, now: time.Now}
	if h.auth == nil {
		a, err := tokenOnly(cfg.Users)
		if err != nil {
			return nil, err
		}
		h.auth = a
	}
	h.routes = slices.Concat(userRoutes, entranceRoutes, historyRoutes, filesystemRoutes, manageRoutes())
	return h, nil
}

// tokenOnly is an Authenticator of users' own token codes (Config.Users).
func tokenOnly(users map[string]string) (Authenticator, error) {
	d := identity.NewDirectory()
	for u, code := range users {
		if err := d.AddToken(identity.Token{Hash: identity.HashCode(code), Users: []string{u}, AnyHost: true}); err != nil {
			return nil, err
		}
	}
	return identity.New(identity.Config{Directory: d, SessionTimeout: time.Hour, SessionMaxAge: time.Hour})
}

// reply is what a request's handling produced.
type reply struct {
	data any
	err  error
	// status and code override the classification of err.
	status, code int
	msg          string
	allow        string // the Allow header of a 405
	written      bool   // the handler wrote the answer itself (a download)
	cookie       *http.Cookie
}

// apiCall is one request being served.
type apiCall struct {
	w     http.ResponseWriter
	r     *http.Request
	user  string // the authenticated user ("" on a public route)
	admin bool
	args  []string // the values of the route's {…} segments
}

// ServeHTTP authenticates, routes and answers one request, with an
// envelope unless it is a download.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	method := r.URL.Path
	if len(method) > maxPathBytes || !utf8.ValidString(method) {
		method = "(path not shown)"
	}
	c := &apiCall{w: w, r: r}
	rep := h.serveSafely(c)
	if rep.written {
		h.cfg.Logger.Debug("restapi", "method", r.Method, "path", method, "user", c.user, "took", time.Since(start))
		return
	}
	env := Envelope{Method: method, Status: StatusOK, Message: "OK"}
	if rep.msg != "" && rep.err == nil && rep.status == 0 {
		env.Message = rep.msg
	}
	code := http.StatusOK
	data := rep.data
	switch {
	case rep.err != nil:
		var d ErrorData
		var internal bool
		env.Status, code, env.Message, d, internal = classify(rep.err)
		if internal {
			h.cfg.Logger.Error("restapi: internal error", "method", r.Method, "path", method, "user", c.user, "err", rep.err)
		}
		if rep.status != 0 {
			env.Status, code = rep.status, rep.code
		}
		if rep.msg != "" {
			env.Message = rep.msg
		}
		data = d
	case rep.status != 0:
		env.Status, code, env.Message = rep.status, rep.code, rep.msg
		data = ErrorData{ErrorKind: "permission", Field: "token", Reason: rep.msg}
	case rep.msg != "":
		env.Message = rep.msg // a success's own words, as Linkis gives some
	}
	b, err := json.Marshal(data)
	if err != nil {
		h.cfg.Logger.Error("restapi: cannot encode an answer", "path", method, "err", err)
		env.Status, code, env.Message = StatusError, http.StatusInternalServerError, "internal error; the server's log has the details"
		b, _ = json.Marshal(ErrorData{ErrorKind: "internal"})
	}
	env.Data = b
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if rep.allow != "" {
		w.Header().Set("Allow", rep.allow)
	}
	if rep.cookie != nil {
		http.SetCookie(w, rep.cookie)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(env)
	h.cfg.Logger.Debug("restapi", "method", r.Method, "path", method, "user", c.user,
		"status", env.Status, "http", code, "took", time.Since(start))
}

// serveSafely is serve with a panic turned into an internal error, so
// that even then the answer is an envelope (http.ErrAbortHandler is
// re-raised: it means abort).
func (h *handler) serveSafely(c *apiCall) (rep *reply) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			rep = &reply{err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	return h.serve(c)
}

// serve routes a request, authenticating it unless its route is public.
func (h *handler) serve(c *apiCall) *reply {
	rest, ok := strings.CutPrefix(c.r.URL.Path, Prefix)
	if !ok {
		return h.unrouted(c)
	}
	rt, args := h.match(rest)
	if rt == nil {
		return h.unrouted(c)
	}
	if !rt.public {
		user, byCookie, rep := h.authenticate(c.r)
		if rep != nil {
			return rep
		}
		if rep := crossSite(c.r, rt); byCookie && rep != nil {
			return rep
		}
		c.user, c.admin = user, h.cfg.IsAdmin(user)
	}
	if rep := allow(c.r, rt.methods...); rep != nil {
		return rep
	}
	for _, a := range args {
		if err := checkID(rt.argName, a); err != nil {
			return &reply{err: err}
		}
	}
	c.args = args
	return rt.handle(h, c)
}

// unrouted answers a path of no route: unauthenticated callers hear that
// they are not logged in (as before any route existed), others that there
// is no such API.
func (h *handler) unrouted(c *apiCall) *reply {
	if _, _, rep := h.authenticate(c.r); rep != nil {
		return rep
	}
	return notFound(c.r)
}

// readCtx is a read's context: it may be served stale when the request
// says stale=true (faster; may lag the cluster's leader by a few
// commands). Reads are current (linearizable) otherwise.
func readCtx(r *http.Request) context.Context {
	if r.URL.Query().Get("stale") == "true" {
		return orchestrator.AllowStale(r.Context())
	}
	return r.Context()
}

func notFound(r *http.Request) *reply {
	return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "path", clip(r.URL.Path), "no such API"),
		status: StatusError, code: http.StatusNotFound}
}

// clip shortens a value echoed in a message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.ToValidUTF8(s, "?")
}

func checkID(field, id string) error {
	if id == "" || len(id) > maxIDBytes {
		return linkis.Errorf(linkis.ErrInvalidArgument, field, "must be 1-%d bytes", maxIDBytes)
	}
	for _, c := range id {
		if c < 0x21 || c == 0x7f || c == utf8.RuneError {
			return linkis.ValueError(linkis.ErrInvalidArgument, field, clip(id), "must be printable, without spaces")
		}
	}
	return nil
}

// readBody reads a request body of at most Config.MaxBodyBytes.
func (h *handler) readBody(c *apiCall) ([]byte, *reply) {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "larger than %d bytes; nothing was done", h.cfg.MaxBodyBytes),
				status: StatusValidation, code: http.StatusRequestEntityTooLarge}
		}
		return nil, &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "cannot be read")}
	}
	return body, nil
}

// intParam reads an integer query parameter; def when absent.
func intParam(r *http.Request, name string, def, min int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "must be an integer")
	}
	if n < min {
		return 0, linkis.Errorf(linkis.ErrInvalidArgument, name, "must be at least %d, got %d", min, n)
	}
	return n, nil
}

// boolParam reads a boolean query parameter (true/false); def when absent.
func boolParam(r *http.Request, name string, def bool) (bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "must be true or false")
	}
	return b, nil
}
