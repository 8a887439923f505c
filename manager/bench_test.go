package manager

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// The benchmark state of the issue: 10,000 ECMs, 100,000 engines over
// 1,000 userCreator+engineType keys (100 each). 90 of each key's engines
// are held by asks and 10 are free, as in a busy cluster.
const (
	benchECMs       = 10_000
	benchKeys       = 1_000
	benchPerKey     = 100
	benchFreePerKey = 10
)

type benchState struct {
	s       *State
	now     int64
	keys    []linkis.Labels // per key: userCreator, engineType
	dedic   []linkis.Labels // per key, with reuseExclusion=*
	engines []ECID
	nonce   uint64
}

func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.NewECMStandby = 0
	cfg.MaxTasksPerEC = 1 << 30
	cfg.DefaultQuota = linkis.Resource{Memory: 1 << 50, MilliCores: 1 << 40, Instances: 1000}
	cfg.LockTimeout = 24 * time.Hour
	cfg.IdleTimeout = 24 * time.Hour
	cfg.ECLostAfter = 24 * time.Hour
	cfg.ECMLostAfter = 24 * time.Hour
	cfg.ResourceLockTimeout = 24 * time.Hour
	cfg.AskWaitTimeout = 24 * time.Hour
	return cfg
}

func newBenchState(tb testing.TB) *benchState {
	tb.Helper()
	s, err := New(benchConfig(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	b := &benchState{s: s, now: t0}
	must := func(c Command) Result {
		r, err := s.Apply(c)
		if err != nil {
			tb.Fatalf("%v: %v", c.Type(), err)
		}
		return r
	}
	for i := 0; i < benchECMs; i++ {
		must(RegisterECM{Time: b.now, ID: fmt.Sprintf("ecm-%05d", i), Addr: fmt.Sprintf("10.%d.%d.%d:9101", i>>16, (i>>8)&255, i&255)})
	}
	types := []string{"shell-1", "python-3", "sql-1"}
	for k := 0; k < benchKeys; k++ {
		uc, et := fmt.Sprintf("user%04d-IDE", k), types[k%3]
		b.keys = append(b.keys, labels(tb, linkis.LabelUserCreator, uc, linkis.LabelEngineType, et))
		b.dedic = append(b.dedic, labels(tb, linkis.LabelUserCreator, uc, linkis.LabelEngineType, et, linkis.LabelReuseExclusion, "*"))
	}
	for k := 0; k < benchKeys; k++ {
		for j := 0; j < benchPerKey; j++ {
			id := fmt.Sprintf("hold-%d-%d", k, j)
			r := must(AskEngine{Time: b.now, ID: id, Nonce: b.next(), Labels: b.dedic[k]})
			must(EngineStarted{Time: b.now, EC: r.Ask.EC, Addr: fmt.Sprintf("e%d:%d", r.Ask.EC/60000, 1+r.Ask.EC%60000)})
			b.engines = append(b.engines, r.Ask.EC)
			if j < benchFreePerKey {
				must(ReleaseEngine{Time: b.now, AskID: id})
			}
		}
	}
	return b
}

func (b *benchState) next() uint64 { b.nonce++; return mix64(b.nonce) }

// askIDs are reused: each is released before it is used again.
var askIDs = func() []string {
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%04d", i)
	}
	return ids
}()

func BenchmarkAskReuse(b *testing.B) {
	st := newBenchState(b)
	s := st.s
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := askIDs[i&4095]
		r, err := s.Apply(AskEngine{Time: st.now, ID: id, Nonce: uint64(i), Labels: st.keys[i%benchKeys]})
		if err != nil || r.Ask.Status != AskGranted || !r.Ask.Reused {
			b.Fatalf("ask did not reuse: %+v %v", r.Ask, err)
		}
		if _, err := s.Apply(ReleaseEngine{Time: st.now, AskID: id}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAskCreate(b *testing.B) {
	st := newBenchState(b)
	s := st.s
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := askIDs[i&4095]
		r, err := s.Apply(AskEngine{Time: st.now, ID: id, Nonce: uint64(i), Labels: st.dedic[i%benchKeys]})
		if err != nil || !r.Ask.Created {
			b.Fatalf("ask did not create: %+v %v", r.Ask, err)
		}
		if _, err := s.Apply(EngineEnded{Time: st.now, EC: r.Ask.EC, Failed: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// mixedLog is a realistic stream, encoded as the Raft log holds it: per
// round of 20 commands, 8 engine heartbeats, 4 ECM heartbeats, 3 asks that
// reuse and their 3 releases, and one engine created, started and ended.
func mixedLog(st *benchState, rounds int) [][]byte {
	var log [][]byte
	add := func(c Command) { log = append(log, EncodeCommand(c)) }
	ec := st.s.nextEC
	for r := 0; r < rounds; r++ {
		t := st.now + int64(r)*int64(time.Millisecond)
		for j := 0; j < 8; j++ {
			add(ECHeartbeat{Time: t, EC: st.engines[(r*8+j)*7919%len(st.engines)], Status: linkis.StatusIdle})
		}
		for j := 0; j < 4; j++ {
			add(ECMHeartbeat{Time: t, ID: fmt.Sprintf("ecm-%05d", (r*4+j)*7919%benchECMs), Load: linkis.NodeLoad{RunningTasks: int64(j)}})
		}
		for j := 0; j < 3; j++ {
			add(AskEngine{Time: t, ID: askIDs[(r*3+j)&4095], Nonce: uint64(r*3 + j), Labels: st.keys[(r*3+j)*31%benchKeys]})
		}
		for j := 0; j < 3; j++ {
			add(ReleaseEngine{Time: t, AskID: askIDs[(r*3+j)&4095]})
		}
		add(AskEngine{Time: t, ID: fmt.Sprintf("mix-%d", r), Nonce: uint64(r), Labels: st.dedic[r*17%benchKeys]})
		add(EngineStarted{Time: t, EC: ec, Addr: fmt.Sprintf("m%d:%d", ec/60000, 1+ec%60000)})
		add(EngineEnded{Time: t, EC: ec})
		ec++
	}
	return log
}

func BenchmarkApplyMixed(b *testing.B) {
	st := newBenchState(b)
	const rounds = 5000 // 100,000 commands, replayed against a fresh copy each pass
	log := mixedLog(st, rounds)
	snap := st.s.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	applied := 0
	for applied < b.N {
		b.StopTimer()
		s, err := Restore(snap, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, raw := range log {
			c, err := DecodeCommand(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Apply(c); err != nil {
				b.Fatalf("%v: %v", c.Type(), err)
			}
			applied++
			if applied == b.N {
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

func BenchmarkSnapshotRestore(b *testing.B) {
	st := newBenchState(b)
	var size int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		data := st.s.Snapshot()
		size = len(data)
		if _, err := Restore(data, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size)/float64(len(st.engines)), "snapshotB/EC")
}

// BenchmarkSnapshotOnly and BenchmarkRestoreOnly split
// BenchmarkSnapshotRestore in its two halves.
func BenchmarkSnapshotOnly(b *testing.B) {
	st := newBenchState(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st.s.Snapshot()
	}
}

func BenchmarkRestoreOnly(b *testing.B) {
	st := newBenchState(b)
	data := st.s.Snapshot()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Restore(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeapPerEC reports the live heap of the benchmark state per
// engine (ECMs, keys and asks included).
func BenchmarkHeapPerEC(b *testing.B) {
	var before, after runtime.MemStats
	for i := 0; i < b.N; i++ {
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := newBenchState(b)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(st.engines)), "heapB/EC")
		runtime.KeepAlive(st)
	}
}

// BenchmarkTick is one tick on the benchmark state when nothing is due:
// the price of time passing, paid once per TickInterval by the leader and
// once per simulated tick by the simulator.
func BenchmarkTick(b *testing.B) {
	st := newBenchState(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.s.Apply(Tick{Time: st.now + int64(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
