package sim

import (
	"strings"
	"testing"
	"time"
)

// The decoders must never panic, and what they accept must be usable: a
// scenario that parses has a valid manager configuration and at least one
// engine and ECM; a trace that parses is sorted with non-negative times.

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(tiny))
	f.Add([]byte(`{"duration": "1h", "engines": [{"type": "a-1"}], "cluster": {"ecms": [{"count": 1}]}, "workload": {"jobs": 1, "runtime": {"value": 1}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"duration": 5, "faults": [{"kind": "ecm_crash", "at": -1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ParseScenario(data, "fuzz.json")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if _, err := sc.Manager.config(); err != nil {
			t.Fatalf("accepted a scenario whose manager config is invalid: %v", err)
		}
		if len(sc.Engines) == 0 || sc.ECMCount() == 0 || sc.Duration <= 0 {
			t.Fatalf("accepted an empty scenario: %+v", sc)
		}
	})
}

func FuzzParseTrace(f *testing.F) {
	f.Add(goodTrace)
	f.Add("submit_time,user,creator,engine_type,memory,cores,duration\n0,a,IDE,spark-3,1g,1,30s\n")
	f.Add("duration,cores,memory,engine_type,creator,user,submit_time\n1s,,,trino-4,x,y,0\n")
	f.Fuzz(func(t *testing.T, src string) {
		jobs, tables, err := ParseTrace(strings.NewReader(src), "fuzz.csv", map[string]int{"spark-3": 0, "trino-4": 1}, 24*time.Hour)
		if err != nil {
			return
		}
		var prev int64
		for i, j := range jobs {
			if j.submit < prev || j.runtime < 0 || j.engine < 0 || j.engine > 1 {
				t.Fatalf("job %d accepted with %+v", i, j)
			}
			if int(j.user) >= len(tables.users) || int(j.creator) >= len(tables.creators) || int(j.res) >= len(tables.resources) {
				t.Fatalf("job %d refers outside the tables", i)
			}
			prev = j.submit
		}
	})
}
