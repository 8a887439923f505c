package raftstore

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// benchClientCounts are the client counts of the cluster benchmarks: one
// caller alone (its commit latency), and many at once (throughput).
var benchClientCounts = []int{1, 128}

// benchStores are the log stores the cluster benchmarks compare.
var benchStores = []LogStore{LogStoreWAL, LogStoreBolt}

// benchInflight measures another MaxInflight than the default, e.g.
// go test -bench ClusterAsk ./raftstore/ -args -bench.inflight=2
var benchInflight = flag.Int("bench.inflight", 0, "Config.MaxInflight of the cluster benchmarks (0: the default)")

// latencies collects per-operation latencies from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// quantile returns the q-quantile in milliseconds.
func (l *latencies) quantile(q float64) float64 {
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	return float64(l.d[int(float64(len(l.d)-1)*q)].Microseconds()) / 1000
}

// runClients runs b.N operations spread over clients goroutines and
// reports throughput, the p50 and p99 of what each op says is its commit
// latency (ms/p50, ms/p99) and the p99 of whole ops (op-ms/p99).
func runClients(b *testing.B, clients int, unit string, op func(client, i int) (commit time.Duration, err error)) {
	var next atomic.Int64
	var commits, ops latencies
	var failed atomic.Int64
	var firstErr atomic.Value
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine, whole []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				t0 := time.Now()
				d, err := op(c, i)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					failed.Add(1)
					continue
				}
				whole = append(whole, time.Since(t0))
				mine = append(mine, d)
			}
			commits.add(mine)
			ops.add(whole)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d operations failed; the first: %v", f, firstErr.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(commits.quantile(0.5), "ms/p50")
	b.ReportMetric(commits.quantile(0.99), "ms/p99")
	b.ReportMetric(ops.quantile(0.99), "op-ms/p99")
}

// BenchmarkClusterAsk: 3 members on loopback (members=1: one, as the
// embedded server runs), each log with fsync in its store, clients each
// asking for an engine (reused: each client's key has one) and releasing
// it. One op = one committed ask (its release is committed too, before
// the client asks again, and is not counted); ms/p50 and ms/p99 are the
// ask's commit (Apply to result), op-ms/p99 the ask and its release.
func BenchmarkClusterAsk(b *testing.B) { benchClusterAsks(b, false) }

// BenchmarkClusterAskNoSync is BenchmarkClusterAsk without fsync, to show
// how much of its time the disk takes. Not a safe configuration.
func BenchmarkClusterAskNoSync(b *testing.B) { benchClusterAsks(b, true) }

func benchClusterAsks(b *testing.B, noSync bool) {
	for _, members := range []int{3, 1} {
		for _, store := range benchStores {
			for _, clients := range benchClientCounts {
				b.Run(fmt.Sprintf("members=%d/store=%s/clients=%d", members, store, clients), func(b *testing.B) {
					benchClusterAsk(b, members, store, clients, noSync)
				})
			}
		}
	}
}

func benchClusterAsk(b *testing.B, members int, store LogStore, clients int, noSync bool) {
	c := newTestCluster(b, members, func(cfg *Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
		cfg.Manager.MaxTasksPerEC = 1 << 30 // measure the ask path, not engine retirement
		cfg.NoSync = noSync
		cfg.LogStore = store
		if *benchInflight > 0 {
			cfg.MaxInflight = *benchInflight
		}
	})
	lead := c.leader()
	ctx := context.Background()
	now := func() int64 { return time.Now().UnixNano() }
	if _, err := lead.node.Apply(ctx, manager.RegisterECM{Time: now(), ID: "ecm-1", Addr: "127.0.0.1:9",
		Max: linkis.Resource{Memory: 1 << 40, MilliCores: 1 << 30, Instances: 10000}}); err != nil {
		b.Fatal(err)
	}
	labels := make([]manager.AskEngine, clients)
	for i := range labels {
		ls := mustLabels(b, "userCreator", fmt.Sprintf("u%d-bench", i), "engineType", "shell-1")
		labels[i] = manager.AskEngine{Labels: ls}
		// Warm up: the first ask creates the client's engine.
		id := fmt.Sprintf("warm-%d", i)
		if _, err := lead.node.Apply(ctx, manager.AskEngine{Time: now(), ID: id, Nonce: Nonce(), Labels: ls}); err != nil {
			b.Fatal(err)
		}
		if a, err := lead.node.WaitAsk(ctx, id); err != nil || a.Status != manager.AskGranted {
			b.Fatalf("warm-up ask %d: %+v, %v", i, a, err)
		}
		if _, err := lead.node.Apply(ctx, manager.ReleaseEngine{Time: now(), AskID: id}); err != nil {
			b.Fatal(err)
		}
	}
	before := memberTotals(b, c, lead)
	var retries atomic.Int64
	runClients(b, clients, "asks", func(client, i int) (time.Duration, error) {
		id := "b" + fmt.Sprint(i)
		ask := labels[client]
		ask.Time, ask.ID, ask.Nonce = now(), id, Nonce()
		t0 := time.Now()
		r, err := c.applyRetrying(ctx, &retries, ask)
		commit := time.Since(t0)
		if err != nil {
			return 0, err
		}
		if r.Ask.Status != manager.AskGranted {
			return 0, fmt.Errorf("ask %s: %v", id, r.Ask.Status)
		}
		_, err = c.applyRetrying(ctx, &retries, manager.ReleaseEngine{Time: now(), AskID: id})
		return commit, err
	})
	b.ReportMetric(float64(retries.Load()), "retries")
	lead = c.leader()
	after := memberTotals(b, c, lead)
	b.ReportMetric((after.cmds-before.cmds)/(after.entries-before.entries), "cmds/entry")
	b.ReportMetric(1000*(after.leadAppend-before.leadAppend)/(after.leadAppends-before.leadAppends), "lead-append-ms")
	if members > 1 {
		b.ReportMetric(1000*(after.followAppend-before.followAppend)/(after.followAppends-before.followAppends), "follow-append-ms")
	}
}

// applyRetrying applies cmd on whichever member leads, again with the
// same command while the outcome says to try again, as a client does (a
// leadership change on a loaded machine: "may or may not be applied";
// asks and releases are idempotent by id). retries counts the repeats.
func (c *testCluster) applyRetrying(ctx context.Context, retries *atomic.Int64, cmd manager.Command) (manager.Result, error) {
	deadline := time.Now().Add(10 * time.Second)
	for tries := 0; ; tries++ {
		var r manager.Result
		var err error = linkis.Errorf(linkis.ErrUnavailable, "leader", "none")
		for _, m := range c.live() {
			if self, _ := m.node.Leader(); self {
				r, err = m.node.Apply(ctx, cmd)
				break
			}
		}
		if _, ok := cmd.(manager.ReleaseEngine); ok && tries > 0 && errors.Is(err, linkis.ErrUnknownAsk) {
			return r, nil // the first try released it
		}
		if err == nil || !linkis.IsRetryable(err) || time.Now().After(deadline) {
			return r, err
		}
		retries.Add(1)
		time.Sleep(5 * time.Millisecond)
	}
}

// totals are sums from the members' histograms: commands and entries the
// leader applied, and the time and number of appends to the leader's log
// and to the followers' logs.
type totals struct {
	cmds, entries               float64
	leadAppend, leadAppends     float64
	followAppend, followAppends float64
}

// memberTotals reads linkis_batch_commands and linkis_raft_append_seconds
// from every member.
func memberTotals(b *testing.B, c *testCluster, lead *testMember) totals {
	var t totals
	for _, m := range c.live() {
		mfs, err := m.node.Gatherer().Gather()
		if err != nil {
			b.Fatal(err)
		}
		for _, mf := range mfs {
			h := mf.GetMetric()[0].GetHistogram()
			switch {
			case mf.GetName() == "linkis_batch_commands" && m == lead:
				t.cmds, t.entries = h.GetSampleSum(), float64(h.GetSampleCount())
			case mf.GetName() == "linkis_raft_append_seconds" && m == lead:
				t.leadAppend, t.leadAppends = h.GetSampleSum(), float64(h.GetSampleCount())
			case mf.GetName() == "linkis_raft_append_seconds":
				t.followAppend += h.GetSampleSum()
				t.followAppends += float64(h.GetSampleCount())
			}
		}
	}
	return t
}

// noopFSM is the baseline's state machine: it applies nothing.
type noopFSM struct{}

func (noopFSM) Apply(*raft.Log) any                 { return nil }
func (noopFSM) Snapshot() (raft.FSMSnapshot, error) { return snapshot(nil), nil }
func (noopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// BenchmarkRawRaft is BenchmarkClusterAsk's baseline: the same three
// members (loopback TCP, the same log store with fsync, the same Raft
// settings) with a no-op state machine and one command per entry, clients
// calling raft.Apply directly. One op = one committed entry; ms/p50 and
// ms/p99 are its Apply.
func BenchmarkRawRaft(b *testing.B) {
	for _, store := range benchStores {
		for _, clients := range benchClientCounts {
			b.Run(fmt.Sprintf("store=%s/clients=%d", store, clients), func(b *testing.B) { benchRawRaft(b, store, clients) })
		}
	}
}

func benchRawRaft(b *testing.B, store LogStore, clients int) {
	const n = 3
	rafts := make([]*raft.Raft, n)
	var servers []raft.Server
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = freeAddr(b)
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint(i)), Address: raft.ServerAddress(addrs[i])})
	}
	hlog := hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: io.Discard})
	for i := range rafts {
		dir := b.TempDir()
		files, err := openLogFiles(dir, store, false, hlog, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer files.close()
		logs, _ := raft.NewLogCache(1024, files.log)
		snaps, _ := raft.NewFileSnapshotStoreWithLogger(dir, 1, hlog)
		tcp, _ := net.ResolveTCPAddr("tcp", addrs[i])
		trans, err := raft.NewTCPTransportWithLogger(addrs[i], tcp, 3, 10*time.Second, hlog)
		if err != nil {
			b.Fatal(err)
		}
		defer trans.Close()
		rc := raft.DefaultConfig()
		rc.LocalID = servers[i].ID
		rc.CommitTimeout = 5 * time.Millisecond
		rc.MaxAppendEntries = 256
		rc.Logger = hlog
		if rafts[i], err = raft.NewRaft(rc, noopFSM{}, logs, files.stable, snaps, trans); err != nil {
			b.Fatal(err)
		}
		defer rafts[i].Shutdown()
	}
	if err := rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		b.Fatal(err)
	}
	var lead *raft.Raft
	for lead == nil {
		for _, r := range rafts {
			if r.State() == raft.Leader {
				lead = r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The same bytes an ask carries.
	ask := manager.AskEngine{Time: time.Now().UnixNano(), ID: "b123456", Nonce: 42,
		Labels: mustLabels(b, "userCreator", "u1-bench", "engineType", "shell-1")}
	data, _ := appendEntry(nil, nil, 1, 1, []*proposal{{kind: itemCommand, cmd: ask}})
	var leader atomic.Pointer[raft.Raft]
	leader.Store(lead)
	var retries atomic.Int64
	runClients(b, clients, "entries", func(client, i int) (time.Duration, error) {
		t0 := time.Now()
		for {
			err := leader.Load().Apply(data, 10*time.Second).Error()
			if err == nil || time.Since(t0) > 10*time.Second {
				return time.Since(t0), err
			}
			// Leadership moved (a loaded machine): try the new leader.
			retries.Add(1)
			time.Sleep(5 * time.Millisecond)
			for _, r := range rafts {
				if r.State() == raft.Leader {
					leader.Store(r)
				}
			}
		}
	})
	b.ReportMetric(float64(retries.Load()), "retries")
}
