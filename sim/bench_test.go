package sim

import (
	"runtime"
	"testing"
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
