//go:build linux

package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golinkis/golinkis/internal/hosts"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// Outcomes of a recorded operation.
const (
	outOK      = "ok"
	outRefused = "refused" // failed, and certainly not applied
	outUnknown = "unknown" // failed, and may or may not have been applied
)

// Op is one client operation as the client saw it: what it asked of which
// member, when it called and when the answer came (since the history
// began), and the answer.
type Op struct {
	Client  int           `json:"client"`
	Kind    string        `json:"kind"` // submit, status
	Key     string        `json:"key,omitempty"`
	Member  string        `json:"member"`
	Call    time.Duration `json:"call"`
	Return  time.Duration `json:"return"`
	Outcome string        `json:"outcome"`
	// Answered: the member answered (an error of the API, not a
	// connection or a timeout); Retryable: the error says to try again.
	Answered  bool   `json:"answered,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
	ExecID    string `json:"execId,omitempty"`
	TaskID    int64  `json:"taskId,omitempty"`
	State     string `json:"state,omitempty"`
	Err       string `json:"err,omitempty"`
}

// Fault is a fault injected, with when it began.
type Fault struct {
	At   time.Duration `json:"at"`
	What string        `json:"what"`
}

// history is every operation and fault of a test.
type history struct {
	start  time.Time
	mu     sync.Mutex
	ops    []Op
	faults []Fault
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) since() time.Duration { return time.Since(h.start) }

func (h *history) add(op Op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, op)
}

func (h *history) fault(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, Fault{At: time.Since(h.start), What: fmt.Sprintf(format, args...)})
}

// Ops returns a copy of the operations.
func (h *history) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// doc is the history as the report writes it.
func (h *history) doc() any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return struct {
		Start  time.Time `json:"start"`
		Faults []Fault   `json:"faults"`
		Ops    []Op      `json:"ops"`
	}{h.start, h.faults, h.ops}
}

// outcomeOf classifies a call's answer. Certainly not applied: the
// client got no connection to the member (nothing was sent), or the member
// answered with an error the entrance gives only for what it did not take
// (no leader to pass the call to, bad input, a full queue...: see
// entrance.Submit). Unknown: linkis.ErrUnavailable ("may or may not"), a
// timeout, a connection lost after the request went out, an answer that
// is not the API's.
func outcomeOf(err error, connected bool) string {
	var remote *restapi.RemoteError
	switch {
	case err == nil:
		return outOK
	case !connected:
		return outRefused
	case errors.Is(err, linkis.ErrUnavailable), errors.Is(err, linkis.ErrTimeout),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.As(err, &remote):
		return outUnknown
	case kindOf(err) != nil:
		return outRefused
	}
	return outUnknown
}

// kindOf returns the linkis kind of err, or nil.
func kindOf(err error) error {
	for _, k := range []error{linkis.ErrNotLeader, linkis.ErrUnavailable, linkis.ErrTimeout, linkis.ErrInvalidArgument,
		linkis.ErrInvalidLabel, linkis.ErrMissingLabel, linkis.ErrQueueFull, linkis.ErrPermission, linkis.ErrUnknownJob,
		linkis.ErrUnknownEngineType, linkis.ErrIllegalTransition} {
		if errors.Is(err, k) {
			return k
		}
	}
	var le *linkis.Error
	if errors.As(err, &le) {
		return le.Kind
	}
	return nil
}

// trace is what the HTTP client did for one call.
type trace struct{ connected, responded atomic.Bool }

// traced returns ctx with a trace of the HTTP client's call: whether it
// got a connection, and an answer.
func traced(ctx context.Context, tr *trace) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { tr.connected.Store(true) },
		GotFirstResponseByte: func() { tr.responded.Store(true) },
	})
}

// client is one client of the test: it talks to one member at a time and
// moves to the next when the member certainly did not take a call (the
// failover the REST client will have; until then the test's own), and
// records everything it does.
type client struct {
	id      int
	c       *cluster
	h       *history
	members []*node
	rest    []*restapi.Client
	cur     int
}

// newClient returns a client on the clients' host that talks to every
// member.
func (c *cluster) newClient(id int, h *history) *client {
	return c.newClientOn(id, h, c.Client, c.Members)
}

// newClientOn returns a client on host from that talks to members.
func (c *cluster) newClientOn(id int, h *history, from *hosts.Host, members []*node) *client {
	cl := &client{id: id, c: c, h: h, members: members, cur: id % len(members)}
	hc := c.hc
	if from != c.Client {
		hc = from.HTTPClient(10 * time.Second)
	}
	for _, m := range members {
		r, err := restapi.NewClient(m.URL(), jobUser, jobUserCode, hc)
		if err != nil {
			c.t.Fatal(err)
		}
		cl.rest = append(cl.rest, r)
	}
	return cl
}

// use makes the client talk to member n first.
func (cl *client) use(n *node) {
	for i, m := range cl.members {
		if m == n {
			cl.cur = i
		}
	}
}

// submit submits a job, moving to another member while the call is
// certainly not applied (up to deadline). It returns the last operation.
func (cl *client) submit(ctx context.Context, key string, req orchestrator.JobRequest, deadline time.Time) Op {
	for try := 0; ; try++ {
		m := cl.cur
		op := Op{Client: cl.id, Kind: "submit", Key: key, Member: cl.members[m].Name, Call: cl.h.since()}
		var tr trace
		d, err := cl.rest[m].Submit(traced(ctx, &tr), req)
		op.Return, op.Outcome = cl.h.since(), outcomeOf(err, tr.connected.Load())
		if err != nil {
			op.Err, op.Retryable = err.Error(), linkis.IsRetryable(err)
			op.Answered = tr.responded.Load() && kindOf(err) != nil
		} else {
			op.ExecID, op.TaskID = d.ExecID, d.TaskID
		}
		cl.h.add(op)
		if op.Outcome != outRefused || time.Now().After(deadline) || ctx.Err() != nil {
			return op
		}
		if !tr.connected.Load() || linkis.IsRetryable(err) {
			cl.cur = (cl.cur + 1) % len(cl.members)
			sleepCtx(ctx, time.Duration(min(try, 10))*20*time.Millisecond)
			continue
		}
		return op // refused for what it is: no other member takes it either
	}
}

// status reads a job's state from the current member, moving on after an
// error (a read changes nothing); every read is recorded.
func (cl *client) status(ctx context.Context, execID string) (orchestrator.State, bool) {
	m := cl.cur
	op := Op{Client: cl.id, Kind: "status", Member: cl.members[m].Name, ExecID: execID, Call: cl.h.since()}
	d, err := cl.rest[m].Status(ctx, execID)
	op.Return, op.Outcome = cl.h.since(), outcomeOf(err, true)
	if err != nil {
		op.Err = err.Error()
		cl.h.add(op)
		cl.cur = (cl.cur + 1) % len(cl.members)
		return 0, false
	}
	op.State, op.TaskID = d.Status, d.TaskID
	cl.h.add(op)
	st, err := orchestrator.ParseState(d.Status)
	return st, err == nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
