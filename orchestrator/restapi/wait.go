package restapi

import (
	"context"
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

// maxDrainPages bounds the log pages Wait reads in one round.
const maxDrainPages = 100

// Wait follows a job from log line 0 until it ends; see Follow.
func (c *Client) Wait(ctx context.Context, execID string, onUpdate func(Update)) (StatusData, error) {
	return c.Follow(ctx, execID, 0, onUpdate)
}

// Follow polls a job's status, progress and log (from line from) until
// the job ends, calling onUpdate (if not nil) whenever one of them
// changed and once at the end, with the whole remaining log. The poll
// interval starts at PollMin and doubles up to PollMax while nothing
// changes. A retryable error (the server unavailable, say) is retried;
// any other error, or ctx ending, stops it.
func (c *Client) Follow(ctx context.Context, execID string, from int, onUpdate func(Update)) (StatusData, error) {
	interval := max(c.PollMin, time.Millisecond)
	var last Update
	first := true
	for {
		u, final, err := c.poll(ctx, execID, &from)
		switch {
		case err != nil && ctx.Err() != nil:
			return last.Status, ctx.Err()
		case err != nil && !linkis.IsRetryable(err):
			return last.Status, err
		case err == nil:
			changed := first || final || len(u.Lines) > 0 || u.Status != last.Status || u.Progress != last.Progress || u.Info != last.Info
			first = false
			last = u
			if changed && onUpdate != nil {
				onUpdate(u)
			}
			if final {
				return u.Status, nil
			}
			if changed {
				interval = max(c.PollMin, time.Millisecond)
			} else {
				interval = min(2*interval, max(c.PollMax, c.PollMin))
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return last.Status, ctx.Err()
		case <-t.C:
		}
	}
}

// poll reads status, progress and the new log lines once; once the job
// has ended it reads the log to its end.
func (c *Client) poll(ctx context.Context, execID string, from *int) (Update, bool, error) {
	st, err := c.Status(ctx, execID)
	if err != nil {
		return Update{}, false, err
	}
	state, _ := orchestrator.ParseState(st.Status)
	final := state.Final()
	pr, err := c.Progress(ctx, execID)
	if err != nil {
		return Update{}, false, err
	}
	u := Update{Status: st, Progress: pr.Progress, Final: final}
	if len(pr.ProgressInfo) > 0 {
		u.Info = pr.ProgressInfo[0].Info
	}
	for range maxDrainPages {
		page, err := c.Log(ctx, execID, *from, 0)
		if err != nil {
			return Update{}, false, err
		}
		u.Lines = append(u.Lines, page.Lines...)
		progressed := page.Next > *from
		*from = max(*from, page.Next)
		if page.Complete || !progressed || (!final && len(u.Lines) >= MaxLogSize) {
			break
		}
	}
	return u, final, nil
}
