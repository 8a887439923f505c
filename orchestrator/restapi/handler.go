package restapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// Jobs is what the handler needs of the Entrance. Every call names the
// authenticated user; Jobs decides what belongs to that user and answers
// another user's job or file with linkis.ErrPermission, a job it does not
// know with linkis.ErrUnknownJob.
type Jobs interface {
	// Submit validates and accepts a job; the job is persisted when it
	// returns.
	Submit(ctx context.Context, user string, req orchestrator.JobRequest) (orchestrator.Job, error)
	// Job returns the record of a task id.
	Job(ctx context.Context, user string, taskID int64) (orchestrator.Job, error)
	// JobByExecID returns the record of an exec id.
	JobByExecID(ctx context.Context, user, execID string) (orchestrator.Job, error)
	// Log returns up to size lines of a job's log from line from.
	Log(ctx context.Context, user, execID string, from, size int) (orchestrator.LogPage, error)
	// Kill cancels a job at any stage and returns its record after.
	Kill(ctx context.Context, user, execID string) (orchestrator.Job, error)
	// List returns a page of the user's jobs, newest first, and how many
	// match in all.
	List(ctx context.Context, user string, q orchestrator.ListQuery) (jobs []orchestrator.Job, total int, err error)
	// OpenResult opens one of the user's result-set files (where it is
	// kept: on another host, read through its ECM); anything else is
	// linkis.ErrPermission. The string is a name for the file the handler
	// may log; it never shows it.
	OpenResult(ctx context.Context, user, path string) (io.ReadCloser, string, error)
}

// Limits of query parameters.
const (
	DefaultLogSize      = 1000  // log lines per page when size is absent
	MaxLogSize          = 10000 // a larger size is cut to this
	DefaultListPageSize = 20
	MaxListPageSize     = 500
	DefaultFilePageSize = 5000 // openFile rows per page, as in Linkis
	MaxFilePageSize     = 50000
	MaxPageBytes        = 64 << 20 // the rows of one openFile page, as stored
	maxIDBytes          = 256      // exec ids and paths in the URL
	maxPathBytes        = 4096
)

// The API's paths below Prefix.
const (
	PathSubmit   = "/entrance/submit"
	PathHistory  = "/jobhistory/list"
	PathOpenFile = "/filesystem/openFile"
)

type handler struct {
	jobs  Jobs
	cfg   Config
	codes map[string][sha256.Size]byte
	now   func() time.Time
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
	h := &handler{jobs: jobs, cfg: cfg, codes: make(map[string][sha256.Size]byte, len(cfg.Users)), now: time.Now}
	for u, c := range cfg.Users {
		h.codes[u] = sha256.Sum256([]byte(c))
	}
	return h, nil
}

// reply is what a request's handling produced.
type reply struct {
	data any
	err  error
	// status and code override the classification of err.
	status, code int
	msg          string
	allow        string // the Allow header of a 405
}

// ServeHTTP authenticates, routes and answers one request, always with
// an envelope.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.now()
	method := r.URL.Path
	if len(method) > maxPathBytes || !utf8.ValidString(method) {
		method = "(path not shown)"
	}
	user, rep := h.authenticate(r)
	if rep == nil {
		rep = h.serveSafely(w, r, user)
	}
	env := Envelope{Method: method, Status: StatusOK, Message: "OK"}
	code := http.StatusOK
	data := rep.data
	switch {
	case rep.err != nil:
		var d ErrorData
		var internal bool
		env.Status, code, env.Message, d, internal = classify(rep.err)
		if internal {
			h.cfg.Logger.Error("restapi: internal error", "method", r.Method, "path", method, "user", user, "err", rep.err)
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(env)
	h.cfg.Logger.Debug("restapi", "method", r.Method, "path", method, "user", user,
		"status", env.Status, "http", code, "took", time.Since(start))
}

// authenticate checks the token headers. It returns the user, or the
// reply refusing the request.
func (h *handler) authenticate(r *http.Request) (string, *reply) {
	user, code := r.Header.Get(HeaderTokenUser), r.Header.Get(HeaderTokenCode)
	if user == "" && code == "" {
		return "", &reply{status: StatusNotLoggedIn, code: http.StatusUnauthorized,
			msg: "not logged in: send the " + HeaderTokenUser + " and " + HeaderTokenCode + " headers"}
	}
	got := sha256.Sum256([]byte(code))
	want, known := h.codes[user]
	ok := subtle.ConstantTimeCompare(got[:], want[:]) == 1
	if !known || !ok || code == "" {
		return "", &reply{status: StatusAuthFailed, code: http.StatusForbidden,
			msg: "auth failed: wrong " + HeaderTokenUser + " or " + HeaderTokenCode}
	}
	return user, nil
}

// serveSafely is serve with a panic turned into an internal error, so
// that even then the answer is an envelope (http.ErrAbortHandler is
// re-raised: it means abort).
func (h *handler) serveSafely(w http.ResponseWriter, r *http.Request, user string) (rep *reply) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			rep = &reply{err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
		}
	}()
	return h.serve(w, r, user)
}

// serve routes an authenticated request.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, user string) *reply {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		return notFound(r)
	}
	seg := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == PathSubmit:
		if rep := allow(r, http.MethodPost); rep != nil {
			return rep
		}
		return h.submit(w, r, user)
	case rest == PathHistory:
		if rep := allow(r, http.MethodGet); rep != nil {
			return rep
		}
		return h.list(r, user)
	case rest == PathOpenFile:
		if rep := allow(r, http.MethodGet); rep != nil {
			return rep
		}
		return h.openFile(r, user)
	case len(seg) == 3 && seg[0] == "entrance":
		execID := seg[1]
		if err := checkID("execID", execID); err != nil {
			return &reply{err: err}
		}
		switch seg[2] {
		case "status", "progress", "log":
			if rep := allow(r, http.MethodGet); rep != nil {
				return rep
			}
		case "kill":
			if rep := allow(r, http.MethodGet, http.MethodPost); rep != nil {
				return rep
			}
		default:
			return notFound(r)
		}
		switch seg[2] {
		case "status":
			return h.status(r, user, execID)
		case "progress":
			return h.progress(r, user, execID)
		case "log":
			return h.log(r, user, execID)
		default:
			return h.kill(r, user, execID)
		}
	case len(seg) == 3 && seg[0] == "jobhistory" && seg[2] == "get":
		if rep := allow(r, http.MethodGet); rep != nil {
			return rep
		}
		id, err := strconv.ParseInt(seg[1], 10, 64)
		if err != nil || id <= 0 {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "taskID", clip(seg[1]), "must be a positive integer")}
		}
		return h.history(r, user, id)
	}
	if rep, ok := h.manage(w, r, user, rest); ok { // the management API (manage.go)
		return rep
	}
	return notFound(r)
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

// allow refuses a request whose method is not one of methods.
func allow(r *http.Request, methods ...string) *reply {
	for _, m := range methods {
		if r.Method == m {
			return nil
		}
	}
	return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "method", clip(r.Method), "use "+strings.Join(methods, " or ")),
		status: StatusValidation, code: http.StatusMethodNotAllowed, allow: strings.Join(methods, ", ")}
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

func (h *handler) submit(w http.ResponseWriter, r *http.Request, user string) *reply {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "larger than %d bytes; nothing was submitted", h.cfg.MaxBodyBytes),
				status: StatusValidation, code: http.StatusRequestEntityTooLarge}
		}
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "body", "cannot be read")}
	}
	var req orchestrator.JobRequest
	if err := api.Decode(body, &req); err != nil {
		return &reply{err: err}
	}
	job, err := h.jobs.Submit(r.Context(), user, req)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: SubmitData{ExecID: job.ExecID, TaskID: job.TaskID}}
}

func (h *handler) status(r *http.Request, user, execID string) *reply {
	job, err := h.jobs.JobByExecID(readCtx(r), user, execID)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: StatusData{Status: stateName(job.State), ExecID: job.ExecID, TaskID: job.TaskID}}
}

func (h *handler) progress(r *http.Request, user, execID string) *reply {
	job, err := h.jobs.JobByExecID(readCtx(r), user, execID)
	if err != nil {
		return &reply{err: err}
	}
	info := ProgressInfo{ID: job.ExecID, TotalTasks: 1, Info: job.ProgressInfo}
	switch job.State {
	case orchestrator.Running:
		info.RunningTasks = 1
	case orchestrator.Succeed:
		info.SucceedTasks = 1
	case orchestrator.Failed, orchestrator.Cancelled, orchestrator.Timeout:
		info.FailedTasks = 1
	}
	return &reply{data: ProgressData{Progress: job.Progress, ProgressInfo: []ProgressInfo{info}, ExecID: job.ExecID}}
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

func (h *handler) log(r *http.Request, user, execID string) *reply {
	from, err := intParam(r, "fromLine", 0, 0)
	if err != nil {
		return &reply{err: err}
	}
	// Linkis clients send size=-1 (or nothing) for "as much as you give".
	size, err := intParam(r, "size", DefaultLogSize, -1)
	if err != nil {
		return &reply{err: err}
	}
	if size <= 0 {
		size = DefaultLogSize
	}
	size = min(size, MaxLogSize)
	page, err := h.jobs.Log(readCtx(r), user, execID, from, size)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: LogData{Log: SplitLog(page.Lines), FromLine: page.Next, ExecID: execID, Complete: page.Complete}}
}

// SplitLog sorts log lines into Linkis's four strings [error, warn, info,
// all]: a line goes to error if it contains "ERROR", to warn if "WARN",
// to info if "INFO", and always to all. Each line ends with "\n".
func SplitLog(lines []string) [4]string {
	var b [4]strings.Builder
	for _, l := range lines {
		l = strings.ReplaceAll(l, "\n", " ")
		for i, word := range [3]string{"ERROR", "WARN", "INFO"} {
			if strings.Contains(l, word) {
				b[i].WriteString(l)
				b[i].WriteByte('\n')
			}
		}
		b[LogAll].WriteString(l)
		b[LogAll].WriteByte('\n')
	}
	return [4]string{b[0].String(), b[1].String(), b[2].String(), b[3].String()}
}

func (h *handler) kill(r *http.Request, user, execID string) *reply {
	job, err := h.jobs.Kill(r.Context(), user, execID)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: StatusData{Status: stateName(job.State), ExecID: job.ExecID, TaskID: job.TaskID}}
}

func (h *handler) history(r *http.Request, user string, taskID int64) *reply {
	job, err := h.jobs.Job(readCtx(r), user, taskID)
	if err != nil {
		return &reply{err: err}
	}
	return &reply{data: TaskData{Task: TaskOf(job, h.cfg.Instance, h.now())}}
}

// parseTime reads a date bound: Unix milliseconds (as Linkis clients
// send), RFC 3339 or YYYY-MM-DD (UTC).
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 1<<53 {
			return time.Time{}, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "out of range")
		}
		return time.UnixMilli(ms), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, linkis.ValueError(linkis.ErrInvalidArgument, name, clip(s), "must be Unix milliseconds, RFC 3339 or YYYY-MM-DD")
}

func (h *handler) list(r *http.Request, user string) *reply {
	q := r.URL.Query()
	var lq orchestrator.ListQuery
	var err error
	if s := q.Get("status"); s != "" {
		if lq.State, err = orchestrator.ParseState(s); err != nil {
			return &reply{err: linkis.ValueError(linkis.ErrInvalidArgument, "status", clip(s), "not a job state (Inited, WaitForRetry, Scheduled, Running, Succeed, Failed, Cancelled, Timeout)")}
		}
	}
	lq.Creator = q.Get("creator")
	lq.EngineType = q.Get("engineType")
	if lq.EngineType == "" {
		// Linkis's own clients (the console, the SDK) name the engine
		// type filter executeApplicationName.
		lq.EngineType = q.Get("executeApplicationName")
	}
	if len(lq.Creator) > maxIDBytes || len(lq.EngineType) > maxIDBytes {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "creator", "creator and engineType must be at most %d bytes", maxIDBytes)}
	}
	if lq.Since, err = parseTime("startDate", q.Get("startDate")); err != nil {
		return &reply{err: err}
	}
	if lq.Until, err = parseTime("endDate", q.Get("endDate")); err != nil {
		return &reply{err: err}
	}
	if lq.Page, err = intParam(r, "pageNow", 1, 1); err != nil {
		return &reply{err: err}
	}
	if lq.PageSize, err = intParam(r, "pageSize", DefaultListPageSize, 1); err != nil {
		return &reply{err: err}
	}
	if lq.PageSize > MaxListPageSize {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "at most %d, got %d", MaxListPageSize, lq.PageSize)}
	}
	jobs, total, err := h.jobs.List(readCtx(r), user, lq)
	if err != nil {
		return &reply{err: err}
	}
	now := h.now()
	d := ListData{Tasks: make([]Task, 0, len(jobs)), TotalPage: total}
	for _, j := range jobs {
		d.Tasks = append(d.Tasks, TaskOf(j, h.cfg.Instance, now))
	}
	return &reply{data: d}
}

// checkResultPath refuses a path that cannot name a result file: empty,
// too long, with a NUL byte or a ".." element.
func checkResultPath(p string) error {
	if p == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, "path", "required: one of your result-set files")
	}
	if len(p) > maxPathBytes || !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return linkis.Errorf(linkis.ErrInvalidArgument, "path", "must be valid UTF-8 of at most %d bytes, without NUL", maxPathBytes)
	}
	for _, el := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if el == ".." {
			return linkis.ValueError(linkis.ErrPermission, "path", clip(p), "\"..\" is not allowed; name one of your result-set files")
		}
	}
	return nil
}

func (h *handler) openFile(r *http.Request, user string) *reply {
	q := r.URL.Query()
	p := q.Get("path")
	if err := checkResultPath(p); err != nil {
		return &reply{err: err}
	}
	page, err := intParam(r, "page", 1, 1)
	if err != nil {
		return &reply{err: err}
	}
	pageSize, err := intParam(r, "pageSize", DefaultFilePageSize, 1)
	if err != nil {
		return &reply{err: err}
	}
	if pageSize > MaxFilePageSize {
		return &reply{err: linkis.Errorf(linkis.ErrInvalidArgument, "pageSize", "at most %d, got %d", MaxFilePageSize, pageSize)}
	}
	f, name, err := h.jobs.OpenResult(readCtx(r), user, p)
	if err != nil {
		switch {
		case errors.Is(err, linkis.ErrPermission):
			// Whatever the reason, say only that this is not one of the
			// user's result files: the path is the user's own input.
			return &reply{err: linkis.ValueError(linkis.ErrPermission, "path", clip(p), "not one of your result-set files")}
		case errors.Is(err, linkis.ErrUnknownJob):
			return &reply{err: linkis.ValueError(linkis.ErrUnknownJob, "path", clip(p), "no job of yours has this result")}
		}
		return &reply{err: err}
	}
	defer f.Close()
	d, err := readPage(f, page, pageSize, h.cfg.MaxResultRows, MaxPageBytes)
	if err != nil {
		if errors.Is(err, linkis.ErrMalformed) {
			return &reply{err: err}
		}
		return &reply{err: fmt.Errorf("read result set %s: %w", name, err)}
	}
	return &reply{data: d}
}
