package raftstore

import (
	"context"
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

// benchClients is how many clients ask at once in the cluster benchmarks.
const benchClients = 128

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

func (l *latencies) p99() time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	return l.d[len(l.d)*99/100]
}

// runClients runs n operations spread over benchClients goroutines and
// reports throughput and p99 latency.
func runClients(b *testing.B, unit string, op func(client, i int) error) {
	var next atomic.Int64
	var lat latencies
	var failed atomic.Int64
	var firstErr atomic.Value
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < benchClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					break
				}
				t0 := time.Now()
				if err := op(c, i); err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			lat.add(mine)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d operations failed; the first: %v", f, firstErr.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit+"/s")
	b.ReportMetric(float64(lat.p99().Microseconds())/1000, "ms/p99")
}

// BenchmarkClusterAsk: 3 members on loopback, bolt with fsync, 128
// clients each asking for an engine (reused: each client's key has one)
// and releasing it. One op = one committed ask (its release is committed
// too, before the client asks again, and is not counted).
func BenchmarkClusterAsk(b *testing.B) { benchClusterAsk(b, false) }

// BenchmarkClusterAskNoSync is BenchmarkClusterAsk without fsync, to show
// how much of its time the disk takes. Not a safe configuration.
func BenchmarkClusterAskNoSync(b *testing.B) { benchClusterAsk(b, true) }

func benchClusterAsk(b *testing.B, noSync bool) {
	c := newTestCluster(b, 3, func(cfg *Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
		cfg.Manager.MaxTasksPerEC = 1 << 30 // measure the ask path, not engine retirement
		cfg.NoSync = noSync
	})
	lead := c.leader()
	ctx := context.Background()
	now := func() int64 { return time.Now().UnixNano() }
	if _, err := lead.node.Apply(ctx, manager.RegisterECM{Time: now(), ID: "ecm-1", Addr: "127.0.0.1:9",
		Max: linkis.Resource{Memory: 1 << 40, MilliCores: 1 << 30, Instances: 10000}}); err != nil {
		b.Fatal(err)
	}
	labels := make([]manager.AskEngine, benchClients)
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
	runClients(b, "asks", func(client, i int) error {
		id := "b" + fmt.Sprint(i)
		ask := labels[client]
		ask.Time, ask.ID, ask.Nonce = now(), id, Nonce()
		r, err := lead.node.Apply(ctx, ask)
		if err != nil {
			return err
		}
		if r.Ask.Status != manager.AskGranted {
			return fmt.Errorf("ask %s: %v", id, r.Ask.Status)
		}
		_, err = lead.node.Apply(ctx, manager.ReleaseEngine{Time: now(), AskID: id})
		return err
	})
	b.ReportMetric(meanBatch(b, lead.node), "cmds/entry")
}

// meanBatch returns the mean number of commands per entry a member
// applied, from its linkis_batch_commands histogram.
func meanBatch(b *testing.B, n *Node) float64 {
	mfs, err := n.Gatherer().Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "linkis_batch_commands" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum() / float64(h.GetSampleCount())
		}
	}
	return 0
}

// noopFSM is the baseline's state machine: it applies nothing.
type noopFSM struct{}

func (noopFSM) Apply(*raft.Log) any                 { return nil }
func (noopFSM) Snapshot() (raft.FSMSnapshot, error) { return snapshot(nil), nil }
func (noopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// BenchmarkRawRaft is BenchmarkClusterAsk's baseline: the same three
// members (loopback TCP, bolt with fsync, the same Raft settings) with a
// no-op state machine and one command per entry, 128 clients calling
// raft.Apply directly. One op = one committed entry.
func BenchmarkRawRaft(b *testing.B) {
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
		bolt, err := openBolt(dir, false)
		if err != nil {
			b.Fatal(err)
		}
		defer bolt.Close()
		logs, _ := raft.NewLogCache(1024, bolt)
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
		if rafts[i], err = raft.NewRaft(rc, noopFSM{}, logs, bolt, snaps, trans); err != nil {
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
	runClients(b, "entries", func(client, i int) error {
		return lead.Apply(data, 10*time.Second).Error()
	})
}
