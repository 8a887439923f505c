package sim

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// BenchmarkSimEvents is the simulator's throughput with the real manager
// in the loop: scenarios/events-bench.json (200 ECMs, 100,000 jobs over six
// virtual hours, random faults of every kind), local checks after every
// command and a full check every million events. It reports events/s (see
// the package doc for what counts as an event).
func BenchmarkSimEvents(b *testing.B) {
	sc, err := LoadScenario("scenarios/events-bench.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var events uint64
	for i := 0; i < b.N; i++ {
		r, err := Run(sc, Options{Seed: uint64(i) + 1})
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}

// BenchmarkSimDay10k is the figure: a day of a 10,000-ECM cluster
// receiving a million jobs (scenarios/day-10k.json). It reports how many
// times faster than real time the day ran, events/s, and the peak memory
// obtained from the OS.
func BenchmarkSimDay10k(b *testing.B) {
	sc, err := LoadScenario("scenarios/day-10k.json")
	if err != nil {
		b.Fatal(err)
	}
	var events uint64
	var virtual float64
	for i := 0; i < b.N; i++ {
		r, err := Run(sc, Options{Seed: sc.Seed})
		if err != nil {
			b.Fatal(err)
		}
		events += r.Events
		virtual += r.VirtualSeconds
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(virtual/b.Elapsed().Seconds(), "x-realtime")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "MiB-sys")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/day")
}

// BenchmarkSimDay10kReplications is the parallel figure: the day of
// BenchmarkSimDay10k once, then 8 replications (seeds 7-14) through RunSet
// with GOMAXPROCS runs at once, in the same invocation. It reports the wall
// time of each and their ratio (the ideal on 2 cores is 4).
func BenchmarkSimDay10kReplications(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent)) // as linkis sim runs
	sc, err := LoadScenario("scenarios/day-10k.json")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := Run(sc, Options{Seed: sc.Seed}); err != nil {
			b.Fatal(err)
		}
		one := time.Since(start)
		start = time.Now()
		set, err := RunSet(sc, Options{}, []Variant{{}}, Seeds(sc.Seed, 8), SetOptions{Parallel: runtime.GOMAXPROCS(0)})
		if err != nil {
			b.Fatal(err)
		}
		eight := time.Since(start)
		b.ReportMetric(one.Seconds(), "s/replication")
		b.ReportMetric(eight.Seconds(), "s/8-replications")
		b.ReportMetric(eight.Seconds()/one.Seconds(), "x-one-replication")
		b.Logf("set hash %s; one replication %v, eight %v on %d cores", set.Hash(), one.Round(time.Millisecond), eight.Round(time.Millisecond), runtime.GOMAXPROCS(0))
	}
}
