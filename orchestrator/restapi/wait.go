package restapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// Update is what Wait reports when something about a job changed.
type Update struct {
	Status   StatusData
	Progress float64  // 0..1
	Info     string   // the engine's words for the progress
	Lines    []string // log lines new since the last update
	Final    bool     // the job has ended; this is the last update
}

// maxDrainPages bounds the log pages Wait reads in one round while the
// job runs; once it has ended, the log is read to its end.
const maxDrainPages = 100

// endGrace is how long Follow keeps reading the log of an ended job
// whose server has not yet said the log is complete (its last lines may
// still be on their way to the history; a server that never says
// "complete", as Linkis's, costs this much at the end).
const endGrace = 2 * time.Second

// Wait follows a job from log line 0 until it ends; see Follow.
func (c *Client) Wait(ctx context.Context, execID string, onUpdate func(Update)) (StatusData, error) {
	return c.Follow(ctx, execID, 0, onUpdate)
}

// Follow polls a job's status, progress and log (from line from) until
// the job ends, calling onUpdate (if not nil) whenever one of them
// changed and once at the end, with the whole remaining log (Final set on
// that update only). The job's end is when its state is final and the
// server says its log is complete, or endGrace after the state became
// final. The poll interval starts at PollMin and doubles up to PollMax
// while nothing changes. Each poll's calls get callTimeout. A server that
// does not answer (unavailable, a timeout, a proxy's 502/503/504) is
// tried again with backoff (see Reconnect, OnConnection) and no line is
// lost or repeated across the gap; after Reconnect without an answer, or
// on any other error, or when ctx ends, Follow stops with the error.
func (c *Client) Follow(ctx context.Context, execID string, from int, onUpdate func(Update)) (StatusData, error) {
	interval := max(c.PollMin, time.Millisecond)
	var last Update
	var ended time.Time     // when the job was first seen ended with its log incomplete
	var lostSince time.Time // when the server stopped answering
	backoff := reconnectMin
	first := true
	for {
		pctx, cancel := context.WithTimeout(ctx, callTimeout)
		u, final, complete, err := c.poll(pctx, execID, &from)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return last.Status, ctx.Err()
		case err != nil && serverLost(err):
			now := time.Now()
			if lostSince.IsZero() {
				lostSince, backoff = now, reconnectMin
			}
			bound := c.Reconnect
			if bound <= 0 {
				bound = 2 * time.Minute
			}
			left := bound - now.Sub(lostSince)
			if left <= 0 {
				return last.Status, linkis.Errorf(linkis.ErrUnavailable, "server", "no answer from %s for %v, giving up: %v",
					c.base, now.Sub(lostSince).Round(time.Second), err)
			}
			wait := min(backoff, left)
			backoff = min(2*backoff, reconnectMax)
			if c.OnConnection != nil {
				c.OnConnection(err, wait)
			}
			if !linkis.Sleep(ctx, wait) {
				return last.Status, ctx.Err()
			}
			continue
		case err != nil:
			return last.Status, err
		}
		if !lostSince.IsZero() {
			lostSince = time.Time{}
			if c.OnConnection != nil {
				c.OnConnection(nil, 0)
			}
		}
		if final && !complete {
			if ended.IsZero() {
				ended = time.Now()
			}
			if time.Since(ended) < endGrace {
				final, u.Final = false, false
			}
		}
		changed := first || final || len(u.Lines) > 0 || u.Status != last.Status || u.Progress != last.Progress || u.Info != last.Info
		first = false
		last = u
		if changed && onUpdate != nil {
			onUpdate(u)
		}
		if final {
			return u.Status, nil
		}
		if changed || !ended.IsZero() {
			interval = max(c.PollMin, time.Millisecond)
		} else {
			interval = min(2*interval, max(c.PollMax, c.PollMin))
		}
		if !linkis.Sleep(ctx, interval) {
			return last.Status, ctx.Err()
		}
	}
}

// Follow's timing: each poll's calls share callTimeout; a lost server is
// tried again after reconnectMin, backing off to reconnectMax.
const (
	callTimeout  = 30 * time.Second
	reconnectMin = 200 * time.Millisecond
	reconnectMax = 5 * time.Second
)

// serverLost reports whether err says the server did not answer (as
// opposed to answering no): it may answer again.
func serverLost(err error) bool {
	var re *RemoteError
	switch {
	case linkis.IsRetryable(err), errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &re):
		return re.HTTPStatus == http.StatusBadGateway || re.HTTPStatus == http.StatusServiceUnavailable || re.HTTPStatus == http.StatusGatewayTimeout
	}
	return false
}

// poll reads status, progress and the new log lines once; once the job
// has ended it reads the log as far as the server has it, and complete
// says the server called it complete. *from moves only when poll
// succeeds: after an error the same lines are read again, none is lost.
func (c *Client) poll(ctx context.Context, execID string, from *int) (u Update, final, complete bool, err error) {
	st, err := c.Status(ctx, execID)
	if err != nil {
		return Update{}, false, false, err
	}
	state, _ := orchestrator.ParseState(st.Status)
	final = state.Final()
	pr, err := c.Progress(ctx, execID)
	if err != nil {
		return Update{}, false, false, err
	}
	u = Update{Status: st, Progress: pr.Progress, Final: final}
	if len(pr.ProgressInfo) > 0 {
		u.Info = pr.ProgressInfo[0].Info
	}
	next := *from
	for i := 0; final || i < maxDrainPages; i++ {
		page, err := c.Log(ctx, execID, next, 0)
		if err != nil {
			return Update{}, false, false, err
		}
		u.Lines = append(u.Lines, page.Lines...)
		complete = page.Complete
		progressed := page.Next > next
		next = max(next, page.Next)
		if page.Complete || !progressed || (!final && len(u.Lines) >= MaxLogSize) {
			break
		}
	}
	*from = next
	return u, final, complete, nil
}
