package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// BenchmarkShellLineToLogAPI measures how long a line a shell task prints
// takes to be visible through the REST API's log (GET
// /entrance/{execID}/log): engine → orchestrator → entrance (bbolt,
// fsynced) → REST. One op is a job on a warm shell engine printing
// benchLines lines 20 ms apart, each carrying the time bash printed it
// ($EPOCHREALTIME); a reader polls the log API every millisecond and
// takes, for each line, the time it first saw it minus the time in it.
// Reported: p50, p99 and max over every line of every op (ms), which
// include up to 1 ms of the reader's polling.
func BenchmarkShellLineToLogAPI(b *testing.B) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer sys.Close()
	base, stop, err := serveLoopback(sys, map[string]string{"alice": "a-code"})
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	c, err := restapi.NewClient(base, "alice", "a-code", nil)
	if err != nil {
		b.Fatal(err)
	}
	const benchLines = 100
	code := fmt.Sprintf(`for i in $(seq %d); do echo "L $EPOCHREALTIME"; sleep 0.02; done`, benchLines)
	ctx := context.Background()
	job := func() []time.Duration {
		req, err := orchestrator.NewRequest(orchestrator.RequestSpec{Engine: "shell", User: "alice", Code: code})
		if err != nil {
			b.Fatal(err)
		}
		sub, err := c.Submit(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		from := 0
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			p, err := c.Log(ctx, sub.ExecID, from, 0)
			if err != nil {
				b.Fatal(err)
			}
			seen := time.Now()
			for _, l := range p.Lines {
				at, ok := strings.CutPrefix(l, "L ")
				if !ok {
					continue
				}
				sec, err := strconv.ParseFloat(strings.Replace(at, ",", ".", 1), 64)
				if err != nil {
					b.Fatalf("line %q: %v", l, err)
				}
				lat = append(lat, seen.Sub(time.Unix(0, int64(sec*1e9))))
			}
			from = max(from, p.Next)
			if p.Complete {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the job did not end within a minute")
			}
		}
		if len(lat) != benchLines {
			b.Fatalf("%d lines seen, want %d", len(lat), benchLines)
		}
		return lat
	}
	job() // start the engine: the figure is for a warm one
	var all []time.Duration
	b.ResetTimer()
	for b.Loop() {
		all = append(all, job()...)
	}
	b.StopTimer()
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
