package embedded_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/raftstore"
)

// BenchmarkClusterJobs runs trivial echo-engine jobs end to end through
// the single-node durable server (what `linkis server` runs: a one-member
// Raft log with fsync) and through a 3-member cluster on loopback (Raft
// over TCP, fsync on every member, submissions spread over the members so
// that two in three are passed to the leader), in one run, so that the
// ratio of the two is measured on the same machine at the same time
// (issue "One system across hosts": the cluster at ≥ 0.5× the single
// node).
//
//	go test -run '^$' -bench 'ClusterJobs' -benchtime 3000x -count 5 ./linkis/embedded/
func BenchmarkClusterJobs(b *testing.B) {
	b.Run("single", func(b *testing.B) {
		sys := startBenchSystem(b, embedded.Config{DataDir: b.TempDir(), Durable: true})
		benchJobs(b, []*embedded.System{sys}, echoRequest(b), 64)
	})
	b.Run("cluster3", func(b *testing.B) {
		benchJobs(b, startBenchCluster(b, 3), echoRequest(b), 64)
	})
}

func echoPlugins(b *testing.B) *manager.Plugins {
	plugins := manager.DefaultPlugins()
	if err := plugins.Register(manager.Plugin{Type: "echo", Version: "*", Concurrency: 1,
		Resources: manager.StandardResources{Memory: 64 * linkis.MiB, MilliCores: 100}, Launcher: manager.StandardLauncher{}}); err != nil {
		b.Fatal(err)
	}
	return plugins
}

func startBenchSystem(b *testing.B, cfg embedded.Config) *embedded.System {
	b.Helper()
	ec := entrance.DefaultConfig()
	jc := manager.DefaultJobConfig()
	jc.GroupMaxRunning, jc.QueueCapacity = 8, 100_000
	ec.Jobs = &jc
	capacity := linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 64_000, Instances: 64}
	cfg.Entrance, cfg.Capacity, cfg.Plugins = &ec, &capacity, echoPlugins(b)
	sys, err := embedded.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sys.Close() })
	return sys
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startBenchCluster starts n members in this process: the first
// bootstraps and runs the only ECM, the others join.
func startBenchCluster(b *testing.B, n int) []*embedded.System {
	b.Helper()
	token := "bench-cluster-token-0123456789"
	var out []*embedded.System
	var first string
	for i := 0; i < n; i++ {
		m := &embedded.Member{ID: fmt.Sprintf("m%d", i+1), RaftAddr: freePort(b), HTTPAddr: freePort(b), Token: token,
			Bootstrap: i == 0, NoECM: i > 0, Raft: func(c *raftstore.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
			}}
		if i == 0 {
			first = "http://" + m.HTTPAddr
		} else {
			m.Join = []string{first}
		}
		out = append(out, startBenchSystem(b, embedded.Config{DataDir: b.TempDir(), Member: m}))
	}
	return out
}

// echoRequest is a trivial job on the echo engine's log-only mode (no
// result file), on engines that do not retire after Linkis's 50 tasks.
func echoRequest(b *testing.B) orchestrator.JobRequest {
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: "alice", Engine: "echo-1", Code: "true"})
	if err != nil {
		b.Fatal(err)
	}
	req.ExecutionContent.RunType = "log"
	req.Params.Configuration.Startup = orchestrator.Values{"engineconn.max.task.num": "1000000"}
	return req
}

// benchJobs runs warm jobs untimed, then b.N, from 32 clients, client i
// submitting to member i mod len(systems) and waiting there, and reports
// jobs/s and the p50 and p99 of a job's submit-to-end time.
func benchJobs(b *testing.B, systems []*embedded.System, req orchestrator.JobRequest, warm int) {
	ctx := context.Background()
	run := func(n int) []time.Duration {
		lat := make([]time.Duration, n)
		var next atomic.Int64
		var wg sync.WaitGroup
		for c := range 32 {
			sys := systems[c%len(systems)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					start := time.Now()
					job, err := sys.Submit(ctx, "alice", req)
					if err != nil {
						b.Error(err)
						return
					}
					if job, err = sys.Wait(ctx, "alice", job.ExecID); err != nil || job.State != orchestrator.Succeed {
						b.Errorf("job %s: %v %s", job.ExecID, err, job.Reason)
						return
					}
					lat[i] = time.Since(start)
				}
			}()
		}
		wg.Wait()
		return lat
	}
	run(warm)
	b.ResetTimer()
	start := time.Now()
	lat := run(b.N)
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
