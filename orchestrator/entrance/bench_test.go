package entrance

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/orchestrator"
)

// BenchmarkQueuedJobMemory queues 100,000 trivial jobs that never run
// (running cap 0) and reports the heap they hold: bytes/job, the growth of
// HeapInuse after a GC divided by the jobs. Target ≤ 1024.
func BenchmarkQueuedJobMemory(b *testing.B) {
	const jobs, groups, submitters = 100_000, 20, 64
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		cfg := DefaultConfig()
		cfg.DataDir = dir
		cfg.NoSync = true
		cfg.MaxRunningPerGroup = 0
		cfg.QueueCapacity = jobs
		e, err := Open(cfg, &fakeRunner{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		reqs := make([]orchestrator.JobRequest, groups)
		for g := range reqs {
			reqs[g] = request(fmt.Sprintf("alice-C%d", g), "shell-1", "echo hello")
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= jobs {
						return
					}
					if _, err := e.Submit(context.Background(), "alice", reqs[i%groups]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		e.hist.Flush()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if s := e.Stats(); s.Queued != jobs {
			b.Fatalf("queued %d", s.Queued)
		}
		b.ReportMetric(float64(int64(after.HeapInuse)-int64(before.HeapInuse))/jobs, "bytes/job")
		runtime.KeepAlive(e)
		e.Close()
	}
}

// BenchmarkEntranceOverhead pushes b.N jobs through Submit → final with a
// runner that returns at once, from 64 concurrent clients over 16 groups.
// It reports the entrance's overhead per job - from leaving the queue to
// runner.Run being called - as p50-µs and p99-µs (target p50 ≤ 100), and
// jobs/s end to end. fsync and nosync: jobs mostly dispatch from their own
// Submit; queued: a global cap of 2 makes most jobs wait in their queue,
// so each dispatch reads the job back from the history.
func BenchmarkEntranceOverhead(b *testing.B) {
	b.Run("fsync", func(b *testing.B) { benchOverhead(b, false, 0) })
	b.Run("nosync", func(b *testing.B) { benchOverhead(b, true, 0) })
	b.Run("queued-fsync", func(b *testing.B) { benchOverhead(b, false, 2) })
}

func benchOverhead(b *testing.B, noSync bool, maxRunning int) {
	const clients, groups = 64, 16
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	r := &fakeRunner{fn: func(ctx context.Context, spec orchestrator.Spec, l orchestrator.Listener) orchestrator.Outcome {
		d := time.Since(l.(*run).dispatched)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
		l.Scheduled(1)
		l.Running("ec-1")
		return orchestrator.Outcome{State: orchestrator.Succeed, EC: "ec-1"}
	}}
	cfg := DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.NoSync = noSync
	if maxRunning > 0 {
		cfg.MaxRunning = maxRunning
	}
	e, err := Open(cfg, r, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	reqs := make([]orchestrator.JobRequest, groups)
	users := make([]string, groups)
	for g := range reqs {
		users[g] = fmt.Sprint("user", g)
		reqs[g] = request(users[g]+"-IDE", "shell-1", "echo hello")
	}
	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if next.Add(1) > int64(b.N) {
					return
				}
				j, err := e.Submit(context.Background(), users[c%groups], reqs[c%groups])
				if err != nil {
					b.Error(err)
					return
				}
				if j, err = e.Wait(context.Background(), j.User, j.ExecID); err != nil || j.State != orchestrator.Succeed {
					b.Errorf("job %v %v", j.State, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}
