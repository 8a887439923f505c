//go:build linux

package clustertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// BenchmarkLeaderFailover is the failover figure of BENCHMARKS.md: three
// members with 200 ms Raft timeouts and an ECM host; each iteration kills
// (kill -9) the leader while a job runs and a client submits again and
// again, then restarts it. It reports, over the kills, how long after the
// kill a submission was accepted again (p50, p99, max: from the kill to
// the answer of the first accepted submission made after it), and what the
// client following the running job from a surviving member saw: errors of
// its own status polls (every 50 ms) and errors from restapi's Wait. Run
// with -benchtime 20x for 20 kills.
func BenchmarkLeaderFailover(b *testing.B) {
	c := newCluster(b, clusterConfig{Members: 3, ECMHosts: 1, Heartbeat: 200 * time.Millisecond})
	h := newHistory()
	ctx := context.Background()
	var recover []time.Duration
	pollErrs, waitErrs, notSucceed := 0, 0, 0
	var lastPollErr string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, f := c.leader(), c.follower()
		follow := c.newClient(1, h)
		follow.use(f)
		op := follow.submit(ctx, jobKey(1000+i), jobRequest(jobKey(1000+i), "IDE", 3*time.Second), time.Now().Add(time.Minute))
		if op.Outcome != outOK {
			b.Fatalf("submit: %s", op.Err)
		}
		c.waitFor("the job to run", time.Minute, func() bool {
			st, ok := follow.status(ctx, op.ExecID)
			return ok && st == linkis.JobRunning
		})

		// The follower's view of the running job: raw polls, and Wait.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var polled int
		var pollErr string
		wg.Add(1)
		go func() {
			defer wg.Done()
			rest := c.rest(f)
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				st, err := rest.Status(ctx, op.ExecID)
				if err != nil {
					polled++
					pollErr = err.Error()
				} else if s, _ := linkis.ParseJobState(st.Status); s.Final() {
					return
				}
			}
		}()
		var waited error
		var final string
		waitDone := make(chan struct{})
		go func() {
			defer close(waitDone)
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			st, err := c.rest(f).Wait(wctx, op.ExecID, nil)
			waited, final = err, st.Status
		}()

		// A client submitting again and again (one at a time, to any
		// member, moving on from one that takes nothing).
		prober := c.newClient(2, h)
		prober.use(f)
		type try struct {
			call, ret time.Duration
			ok        bool
		}
		var tries []try
		probeCtx, stopProbe := context.WithCancel(ctx)
		probed := make(chan struct{})
		go func() {
			defer close(probed)
			for n := 0; probeCtx.Err() == nil; n++ {
				cctx, cancel := context.WithTimeout(probeCtx, 5*time.Second)
				key := fmt.Sprintf("p%04d-%d", i, n)
				op := prober.submit(cctx, key, jobRequest(key, "nb", 0), time.Time{})
				cancel()
				tries = append(tries, try{op.Call, op.Return, op.Outcome == outOK})
				if op.Outcome != outOK {
					prober.cur = (prober.cur + 1) % len(prober.members)
					sleepCtx(probeCtx, 10*time.Millisecond)
				} else {
					sleepCtx(probeCtx, 20*time.Millisecond)
				}
			}
		}()
		time.Sleep(300 * time.Millisecond)
		killed := h.since()
		h.fault("kill -9 %s (leader)", l.Name)
		c.kill(l)
		<-waitDone
		close(stop)
		wg.Wait()
		stopProbe()
		<-probed
		var back time.Duration = -1
		for _, tr := range tries {
			if tr.ok && tr.call >= killed {
				back = tr.ret - killed
				break
			}
		}
		if back < 0 {
			b.Fatalf("kill %d: no submission accepted after the kill", i+1)
		}
		recover = append(recover, back)
		pollErrs += polled
		if pollErr != "" {
			lastPollErr = pollErr
		}
		if waited != nil {
			waitErrs++
		}
		if final != "Succeed" {
			notSucceed++
		}
		c.restart(l)
		c.waitRejoined(l)
	}
	b.StopTimer()
	if len(recover) == 0 {
		return
	}
	slices.Sort(recover)
	rank := func(p float64) time.Duration { // nearest rank
		k := int(p*float64(len(recover)) + 0.999999)
		return recover[max(k, 1)-1]
	}
	b.ReportMetric(rank(0.5).Seconds(), "p50-accept-s")
	b.ReportMetric(rank(0.99).Seconds(), "p99-accept-s")
	b.ReportMetric(recover[len(recover)-1].Seconds(), "max-accept-s")
	b.ReportMetric(float64(pollErrs)/float64(len(recover)), "poll-errors/kill")
	b.ReportMetric(float64(waitErrs), "wait-errors")
	b.ReportMetric(float64(notSucceed), "jobs-not-succeed")
	b.Logf("%d kills: submissions accepted again after p50 %v, p99 %v, max %v; the follower's client: %d status polls failed (the last: %q), Wait failed %d times, %d jobs did not Succeed",
		len(recover), rank(0.5), rank(0.99), recover[len(recover)-1], pollErrs, lastPollErr, waitErrs, notSucceed)
}
