//go:build linux

package clustertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// workload is the load a test puts on the cluster: Jobs shell jobs
// submitted by Clients clients, every LongEvery-th one sleeping Long (the
// rest end at once), spread over two consumer groups (creators IDE and
// nb). Each client reads the state of its oldest jobs between its
// submissions, then follows all of its jobs until each has ended.
type workload struct {
	Jobs      int
	Clients   int
	LongEvery int
	Long      time.Duration
	// Deadline bounds the whole load (submits retried, jobs followed).
	Deadline time.Duration
	// First is the number of the first job's key (jobKey); Members are
	// the members the clients talk to (nil: all).
	First   int
	Members []*node
	// Pace is the pause of a client between two submissions; SubmitFor,
	// when set, ends the submissions after that long (Jobs is then a
	// bound).
	Pace      time.Duration
	SubmitFor time.Duration
}

// jobKey names the i-th job of a test; the job writes it into its host's
// record of runs.
func jobKey(i int) string { return fmt.Sprintf("j%04d", i) }

// jobRequest is the job of key: it appends "start KEY" to the record of
// runs of the host that runs it ($HOME/ran.log), sleeps, appends "end
// KEY" and prints "out KEY" (its result). jobRetryCount=0: a job is never
// run again, so a second start in any host's record is a job run twice.
func jobRequest(key, creator string, sleep time.Duration) orchestrator.JobRequest {
	code := fmt.Sprintf(`echo "start %s" >> "$HOME/ran.log"; `, key)
	if sleep > 0 {
		code += fmt.Sprintf("sleep %g; ", sleep.Seconds())
	}
	code += fmt.Sprintf(`echo "end %s" >> "$HOME/ran.log"; echo "out %s"`, key, key)
	return orchestrator.JobRequest{
		ExecutionContent: orchestrator.ExecutionContent{Code: code, RunType: "sh"},
		Labels: map[string]string{linkis.LabelUserCreator: jobUser + "-" + creator, linkis.LabelEngineType: "shell-1",
			linkis.LabelJobRetryCount: "0"},
	}
}

// traffic is a workload running: how far it got, for faults to wait on.
type traffic struct {
	submitted    atomic.Int64 // jobs submitted (whatever the answer)
	acked, ended atomic.Int64 // jobs acknowledged; acknowledged jobs seen ended
	done         chan struct{}
	unended      atomic.Int64 // acknowledged jobs not seen ended by the deadline
}

// run starts the workload on c, recording into h; done is closed when it
// is over.
func (w workload) run(ctx context.Context, c *cluster, h *history) *traffic {
	tr := &traffic{done: make(chan struct{})}
	var next atomic.Int64
	deadline := time.Now().Add(w.Deadline)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	submitUntil := deadline
	if w.SubmitFor > 0 {
		submitUntil = time.Now().Add(w.SubmitFor)
	}
	var wg sync.WaitGroup
	for id := range w.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			members := w.Members
			if members == nil {
				members = c.Members
			}
			cl := c.newClientOn(id, h, c.Client, members)
			var mine []string // exec ids acknowledged to this client, not seen ended
			for submitting := true; ctx.Err() == nil; {
				i := -1
				if submitting {
					i = int(next.Add(1)) - 1
					submitting = i < w.Jobs && time.Now().Before(submitUntil)
				}
				if submitting {
					var sleep time.Duration
					if w.LongEvery > 0 && i%w.LongEvery == w.LongEvery-1 {
						sleep = w.Long
					}
					creator := [...]string{"IDE", "nb"}[i%2]
					key := jobKey(w.First + i)
					op := cl.submit(ctx, key, jobRequest(key, creator, sleep), deadline)
					tr.submitted.Add(1)
					if op.Outcome == outOK {
						mine = append(mine, op.ExecID)
						tr.acked.Add(1)
					}
				}
				// The oldest few while it submits, then all of them.
				n := len(mine)
				if submitting {
					n = min(n, 4)
				}
				left := mine[:0:0]
				for k, id := range mine {
					if k < n {
						if st, ok := cl.status(ctx, id); ok && st.Final() {
							tr.ended.Add(1)
							continue
						}
					}
					left = append(left, id)
				}
				mine = left
				if !submitting && len(mine) == 0 {
					break
				}
				if submitting {
					sleepCtx(ctx, w.Pace)
				} else {
					sleepCtx(ctx, 100*time.Millisecond)
				}
			}
			tr.unended.Add(int64(len(mine)))
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		close(tr.done)
	}()
	return tr
}

// check fails t when less than share of the jobs submitted were
// acknowledged (a majority stayed up: a client retries what was refused,
// so only calls in flight at a fault may be lost) or an acknowledged job
// was not seen ended by the deadline.
func (tr *traffic) check(t testing.TB, share float64) {
	t.Helper()
	if n, of := tr.acked.Load(), tr.submitted.Load(); float64(n) < share*float64(of) || of == 0 {
		t.Errorf("the load did not get through: %d of %d jobs acknowledged", n, of)
	}
	if n := tr.unended.Load(); n > 0 {
		t.Errorf("%d acknowledged jobs not seen ended by their clients within the deadline", n)
	}
}

// waitUntil waits until cond holds or the traffic is over.
func (tr *traffic) waitUntil(cond func() bool) {
	for !cond() {
		select {
		case <-tr.done:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}
