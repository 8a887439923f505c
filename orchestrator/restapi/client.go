package restapi

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
	"strings"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// MaxAnswerBytes bounds an answer the Client reads (an openFile page can
// be large).
const MaxAnswerBytes = 256 << 20

// Client talks to the REST API as one user. Its methods decode the
// envelope and turn a status other than 0 into an error carrying the
// server's message: a *linkis.Error of the server's kind when the answer
// names one (errors.Is(err, linkis.ErrUnknownJob) and linkis.ErrPermission
// work across the wire), a *RemoteError otherwise. A Client is safe for
// concurrent use; set the exported fields before the first Wait.
type Client struct {
	base       string   // every server, as given (for messages)
	bases      []string // the servers, any of which serves every call
	cur        atomic.Int32
	user, code string
	session    atomic.Pointer[string] // a login's session id (Login)
	hc         *http.Client
	// PollMin and PollMax bound Wait's polling interval: it starts at
	// PollMin after a change and doubles up to PollMax while nothing
	// changes (defaults 100 ms and 2 s).
	PollMin, PollMax time.Duration
	// Reconnect is how long Wait and Follow keep trying a server that
	// does not answer (down, restarting, hung) before they give up with
	// ErrUnavailable (default 2 min). They try again after 200 ms, then
	// back off to 5 s between tries.
	Reconnect time.Duration
	// OnConnection, if set, hears Wait and Follow lose the server (err,
	// and when they try next) and find it again (err nil), so a caller
	// can say so rather than look hung.
	OnConnection func(err error, retryIn time.Duration)
}

// NewClient returns a client of the API at baseURL (scheme and host, e.g.
// http://127.0.0.1:8088; Prefix is added) for user with its token code.
// baseURL may list the members of a cluster, comma-separated: every member
// serves every call, and the client moves to the next when one cannot be
// reached (a read whatever happened to it; a write only when it certainly
// was not sent). A nil hc means http.DefaultClient.
func NewClient(baseURL, user, tokenCode string, hc *http.Client) (*Client, error) {
	var bases []string
	for _, b := range strings.Split(baseURL, ",") {
		b = strings.TrimSpace(b)
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			shown := b // a URL without '@' holds no password
			if strings.Contains(b, "@") {
				shown = "(not shown: it may hold a password)"
			}
			return nil, linkis.ValueError(linkis.ErrInvalidArgument, "server", shown, "want http://HOST:PORT or https://HOST:PORT")
		}
		bases = append(bases, strings.TrimSuffix(b, "/"))
	}
	if user == "" || tokenCode == "" {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "token", "a user and its token code are required")
	}
	return newClient(bases, user, tokenCode, hc), nil
}

// NewLoginClient returns a client of the API at baseURL (as NewClient)
// that authenticates with a login session: call Login before anything
// else.
func NewLoginClient(baseURL string, hc *http.Client) (*Client, error) {
	c, err := NewClient(baseURL, "-", "-", hc)
	if err != nil {
		return nil, err
	}
	c.user, c.code = "", ""
	return c, nil
}

// Login logs user in with password (POST user/login) and authenticates
// every later call with the session it opens, on any member of the
// cluster. Call it before the Client is used concurrently.
func (c *Client) Login(ctx context.Context, user, password string) (LoginData, error) {
	var d LoginData
	if err := c.do(ctx, http.MethodPost, PathLogin, nil, LoginBody{UserName: user, Password: password}, &d); err != nil {
		return d, err
	}
	c.user = d.UserName
	return d, nil
}

func newClient(bases []string, user, tokenCode string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.Join(bases, ","), bases: bases, user: user, code: tokenCode, hc: hc,
		PollMin: 100 * time.Millisecond, PollMax: 2 * time.Second, Reconnect: 2 * time.Minute}
}

// do sends one request - to the server it used last, or the next when
// that one cannot be reached or answers that it knows no leader - and
// decodes the answer's data into out.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return linkis.Errorf(linkis.ErrInvalidArgument, "body", "cannot be encoded: %v", err)
		}
	}
	first := int(c.cur.Load())
	var err error
	for i := range c.bases {
		at := (first + i) % len(c.bases)
		var sent bool
		if sent, err = c.once(ctx, c.bases[at], method, path, q, b, out); err == nil || ctx.Err() != nil {
			return err
		}
		var lost *lostServer
		if !errors.Is(err, linkis.ErrNotLeader) && (!errors.As(err, &lost) || sent && method != http.MethodGet) {
			return err // an answer, or a write that may have been applied
		}
		// Moving on: the member could not be reached, or it knows no
		// leader (an election, or it is cut off) and so did nothing.
		c.cur.CompareAndSwap(int32(first), int32((at+1)%len(c.bases)))
	}
	return err
}

// lostServer is a server that could not be reached or did not answer.
type lostServer struct{ err error }

func (e *lostServer) Error() string { return e.err.Error() }
func (e *lostServer) Unwrap() error { return e.err }

// once sends one request to base; sent reports whether it may have
// reached the server (false: it certainly did not, e.g. the connection was
// refused).
func (c *Client) once(ctx context.Context, base, method, path string, q url.Values, body []byte, out any) (sent bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	u := base + Prefix + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return false, linkis.Errorf(linkis.ErrInvalidArgument, "request", "%v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.code != "" {
		req.Header.Set(HeaderTokenUser, c.user)
		req.Header.Set(HeaderTokenCode, c.code)
	} else if id := c.session.Load(); id != nil {
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: *id})
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
		var op *net.OpError
		sent := !(errors.As(err, &op) && op.Op == "dial")
		return sent, &lostServer{linkis.Errorf(linkis.ErrUnavailable, "server", "%v", err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	if err != nil {
		return true, &lostServer{linkis.Errorf(linkis.ErrUnavailable, "server", "reading the answer: %v", err)}
	}
	if len(data) > MaxAnswerBytes {
		return true, linkis.Errorf(linkis.ErrMalformed, "answer", "larger than %d bytes", MaxAnswerBytes)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Method == "" && env.Message == "" && env.Data == nil {
		return true, &RemoteError{HTTPStatus: resp.StatusCode, Status: StatusError,
			Message: fmt.Sprintf("the server at %s answered HTTP %d without a Linkis envelope", base, resp.StatusCode)}
	}
	if env.Status != StatusOK {
		return true, errorFromEnvelope(resp.StatusCode, env)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie && ck.Value != "" {
			id := ck.Value
			c.session.Store(&id)
		}
	}
	if out == nil {
		return true, nil
	}
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return true, linkis.Errorf(linkis.ErrMalformed, "data", "of %s: %v", path, err)
	}
	return true, nil
}

func entrancePath(execID, what string) string {
	return "/entrance/" + url.PathEscape(execID) + "/" + what
}

// Submit submits a job; its execID and taskID come back.
func (c *Client) Submit(ctx context.Context, req orchestrator.JobRequest) (SubmitData, error) {
	var d SubmitData
	err := c.do(ctx, http.MethodPost, PathSubmit, nil, req, &d)
	return d, err
}

// Status returns a job's state.
func (c *Client) Status(ctx context.Context, execID string) (StatusData, error) {
	var d StatusData
	err := c.do(ctx, http.MethodGet, entrancePath(execID, "status"), nil, nil, &d)
	return d, err
}

// Progress returns a job's progress.
func (c *Client) Progress(ctx context.Context, execID string) (ProgressData, error) {
	var d ProgressData
	err := c.do(ctx, http.MethodGet, entrancePath(execID, "progress"), nil, nil, &d)
	return d, err
}

// Log returns up to size lines (≤ 0: the server's default) of a job's
// log from line from (0 is the first).
func (c *Client) Log(ctx context.Context, execID string, from, size int) (orchestrator.LogPage, error) {
	q := url.Values{"fromLine": {strconv.Itoa(from)}}
	if size > 0 {
		q.Set("size", strconv.Itoa(size))
	}
	var d LogData
	if err := c.do(ctx, http.MethodGet, entrancePath(execID, "log"), q, nil, &d); err != nil {
		return orchestrator.LogPage{}, err
	}
	p := orchestrator.LogPage{From: from, Next: d.FromLine, Complete: d.Complete}
	if all := d.Log[LogAll]; all != "" {
		p.Lines = strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	}
	return p, nil
}

// Kill cancels a job; the state after the kill comes back.
func (c *Client) Kill(ctx context.Context, execID string) (StatusData, error) {
	var d StatusData
	err := c.do(ctx, http.MethodGet, entrancePath(execID, "kill"), nil, nil, &d)
	return d, err
}

// Job returns a job's history record.
func (c *Client) Job(ctx context.Context, taskID int64) (Task, error) {
	var d TaskData
	err := c.do(ctx, http.MethodGet, "/jobhistory/"+strconv.FormatInt(taskID, 10)+"/get", nil, nil, &d)
	return d.Task, err
}

// List returns a page of the user's jobs, newest first, and how many
// match in all. Zero fields of q select everything; Page and PageSize
// default to the server's (1 and 20).
func (c *Client) List(ctx context.Context, q orchestrator.ListQuery) ([]Task, int, error) {
	v := url.Values{}
	if q.State != 0 {
		v.Set("status", q.State.String())
	}
	if q.Creator != "" {
		v.Set("creator", q.Creator)
	}
	if q.EngineType != "" {
		v.Set("engineType", q.EngineType)
	}
	if !q.Since.IsZero() {
		v.Set("startDate", strconv.FormatInt(q.Since.UnixMilli(), 10))
	}
	if !q.Until.IsZero() {
		v.Set("endDate", strconv.FormatInt(q.Until.UnixMilli(), 10))
	}
	if q.Page > 0 {
		v.Set("pageNow", strconv.Itoa(q.Page))
	}
	if q.PageSize > 0 {
		v.Set("pageSize", strconv.Itoa(q.PageSize))
	}
	var d ListData
	err := c.do(ctx, http.MethodGet, PathHistory, v, nil, &d)
	return d.Tasks, d.TotalPage, err
}

// OpenFile returns page (from 1) of pageSize rows (≤ 0: the server's
// default) of one of the user's result-set files. Numbers in the rows
// are json.Number, as api.ReadResultSet gives them.
func (c *Client) OpenFile(ctx context.Context, path string, page, pageSize int) (FileData, error) {
	q := url.Values{"path": {path}, "nullValue": {LinkisNull}}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	if pageSize > 0 {
		q.Set("pageSize", strconv.Itoa(pageSize))
	}
	var d FileData
	err := c.do(ctx, http.MethodGet, PathOpenFile, q, nil, &d)
	return d, err
}

// ResultSet returns the page as a result set (the rows of this page
// only), for WriteTable: cells of numeric columns as json.Number again.
func (d FileData) ResultSet() api.ResultSet {
	rs := api.ResultSet{ResultSetHeader: api.ResultSetHeader{Type: "table"}, Rows: d.FileContent}
	if d.Type == FileTypeText {
		rs.Type = "text"
		rs.Columns = []api.ResultColumn{{Name: "output", Type: "TEXT"}}
		return rs
	}
	cols := d.Columns()
	for _, c := range cols {
		rs.Columns = append(rs.Columns, api.ResultColumn{Name: c.ColumnName, Type: c.DataType})
	}
	for _, row := range rs.Rows {
		for i, v := range row {
			if s, ok := v.(string); ok && i < len(cols) && numericType(cols[i].DataType) && fitsType(cols[i].DataType, s) {
				row[i] = json.Number(s)
			}
		}
	}
	return rs
}
