package sim

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// tiny is a scenario small enough to run in milliseconds, with every fault
// kind, checked in full after every event.
const tiny = `{
  "name": "tiny",
  "duration": "40m",
  "settle": "20m",
  "manager": {"idle_timeout": "5m", "default_quota": {"instances": 3}},
  "engines": [
    {"type": "spark-3", "memory": "2g", "cores": "1", "start": {"dist": "exp", "mean": "3s"}},
    {"type": "trino-4", "concurrency": 3, "memory": "4g", "cores": "2"}
  ],
  "cluster": {
    "ecms": [{"count": 3, "memory": "16g", "cores": "8", "instances": 6, "launch_fail_rate": 0.05,
              "launch_latency": {"dist": "uniform", "min": "1s", "max": "4s"}}]
  },
  "workload": {
    "jobs": 300, "users": 4, "user_skew": 1.0, "creators": ["IDE", "batch"],
    "runtime": {"dist": "lognormal", "median": "30s", "sigma": 0.8}
  },
  "faults": [
    {"at": "5m", "kind": "ecm_crash", "count": 1, "for": "4m"},
    {"at": "10m", "kind": "ec_crash", "count": 2},
    {"at": "12m", "kind": "lost_heartbeats", "count": 1, "for": "7m"},
    {"at": "15m", "kind": "launch_failures", "rate": 0.6, "for": "2m"},
    {"at": "20m", "kind": "leader_change", "for": "4s"},
    {"at": "25m", "kind": "network_delay", "delay": {"dist": "uniform", "min": "10ms", "max": "2s"}, "for": "5m"}
  ]
}`

func mustParse(t testing.TB, src string) *Scenario {
	t.Helper()
	sc, err := ParseScenario([]byte(src), "test.json")
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestParseScenarioDefaults(t *testing.T) {
	sc := mustParse(t, tiny)
	if sc.Client.MaxAttempts != 3 || time.Duration(sc.Cluster.ECHeartbeat) != time.Minute || sc.Workload.Arrival != "poisson" {
		t.Fatalf("defaults not applied: %+v %+v %+v", sc.Client, sc.Cluster.ECHeartbeat, sc.Workload.Arrival)
	}
	if len(sc.Workload.EngineMix) != 2 || sc.Engines[0].Concurrency != 1 || sc.Engines[1].Concurrency != 3 {
		t.Fatalf("engine defaults: %+v %+v", sc.Workload.EngineMix, sc.Engines)
	}
	if sc.ECMCount() != 3 {
		t.Fatalf("ECMCount = %d", sc.ECMCount())
	}
}

// Every example shipped in the repository must load (and its trace too).
func TestShippedScenariosLoad(t *testing.T) {
	for _, p := range []string{"scenarios/small.json", "scenarios/day-10k.json", "scenarios/faults.json", "scenarios/trace.json", "scenarios/events-bench.json", "scenarios/few-hosts.json", "scenarios/warm-pool.json"} {
		if _, err := LoadScenario(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// Bad scenarios get an error naming the line and the field.
func TestParseScenarioErrors(t *testing.T) {
	for _, c := range []struct {
		name, edit, from, want string
		line                   int
	}{
		{"negative duration", `"runtime": {"dist": "lognormal", "median": "30s"`, `"runtime": {"dist": "lognormal", "median": "-30s"`, "workload.runtime.median: must be positive", 16},
		{"negative fault time", `{"at": "10m", "kind": "ec_crash"`, `{"at": "-10m", "kind": "ec_crash"`, "faults[1].at: must not be negative", 20},
		{"unknown engine type in mix", `"jobs": 300,`, `"jobs": 300, "engine_mix": [{"type": "flink-1", "weight": 1}],`, `workload.engine_mix[0].type: unknown engine type "flink-1"`, 15},
		{"unknown fault", `"kind": "leader_change"`, `"kind": "meteor"`, `faults[4].kind: unknown fault "meteor"`, 23},
		{"unknown field", `"name": "tiny",`, `"name": "tiny", "colour": "red",`, "colour: unknown field", 2},
		{"wrong type", `"jobs": 300`, `"jobs": "many"`, "want a int", 15},
		{"syntax", `"duration": "40m",`, `"duration": "40m"`, "invalid JSON", 4},
		{"bad distribution", `{"dist": "exp", "mean": "3s"}`, `{"dist": "weibull", "mean": "3s"}`, `engines[0].start.dist: unknown distribution "weibull"`, 7},
		{"probability", `"launch_fail_rate": 0.05`, `"launch_fail_rate": 1.5`, "cluster.ecms[0].launch_fail_rate: must be a probability", 11},
		{"bad memory", `"memory": "16g"`, `"memory": "lots"`, `cluster.ecms[0].memory: "lots" is not a memory size`, 11},
		{"no ECMs", `"count": 3,`, `"count": 0,`, "cluster.ecms[0].count: must be from 1", 11},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(tiny, c.edit) {
				t.Fatalf("test edit %q not found", c.edit)
			}
			src := strings.Replace(tiny, c.edit, c.from, 1)
			_, err := ParseScenario([]byte(src), "bad.json")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q lacks %q", err, c.want)
			}
			var se *ScenarioError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *ScenarioError", err)
			}
			if se.Line != c.line {
				t.Fatalf("error %q names line %d, want %d", err, se.Line, c.line)
			}
			if !strings.HasPrefix(err.Error(), "bad.json:") {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

const goodTrace = `submit_time,user,creator,engine_type,memory,cores,duration
0,alice,IDE,spark-3,2g,1,30s
1.5,bob,IDE,trino-4,,,10
# a comment
90s,alice,batch,spark-3,4g,2,2m
`

func TestParseTrace(t *testing.T) {
	sc := mustParse(t, strings.Replace(tiny, `"jobs": 300,`, `"trace": "x.csv",`, 1))
	if err := sc.LoadTrace(strings.NewReader(goodTrace), "t.csv"); err != nil {
		t.Fatal(err)
	}
	if len(sc.trace) != 3 {
		t.Fatalf("%d jobs", len(sc.trace))
	}
	j := sc.trace[1]
	if j.submit != int64(1500*time.Millisecond) || j.runtime != int64(10*time.Second) || j.engine != 1 || j.res != -1 {
		t.Fatalf("line 3 parsed as %+v", j)
	}
	if j := sc.trace[2]; sc.traceTables.users[j.user] != "alice" || sc.traceTables.creators[j.creator] != "batch" || sc.traceTables.resources[j.res].memory != 4<<30 {
		t.Fatalf("line 5 parsed as %+v", j)
	}
	r, err := Run(sc, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs.Submitted != 3 || r.Jobs.Succeeded != 3 {
		t.Fatalf("trace replay: %+v", r.Jobs)
	}
}

// Bad traces get an error naming the line and the column.
func TestParseTraceErrors(t *testing.T) {
	engines := map[string]int{"spark-3": 0}
	header := "submit_time,user,creator,engine_type,memory,cores,duration\n"
	for _, c := range []struct{ name, csv, want string }{
		{"negative duration", header + "0,a,IDE,spark-3,1g,1,30s\n5,a,IDE,spark-3,1g,1,-3s\n", "t.csv:3: column duration: negative duration -3s"},
		{"unknown engine type", header + "0,a,IDE,flink-1,1g,1,30s\n", `t.csv:2: column engine_type: unknown engine type "flink-1"`},
		{"unsorted", header + "10,a,IDE,spark-3,1g,1,1s\n5,a,IDE,spark-3,1g,1,1s\n", "t.csv:3: column submit_time: 5s is before the previous line's 10s"},
		{"missing columns", "submit_time,user,engine_type,duration\n0,a,spark-3,1s\n", "t.csv:1: the header lacks the column(s) creator, memory, cores"},
		{"short line", header + "0,a,IDE,spark-3\n", "t.csv:2: column memory: missing"},
		{"bad time", header + "soon,a,IDE,spark-3,1g,1,1s\n", "t.csv:2: column submit_time"},
		{"bad memory", header + "0,a,IDE,spark-3,huge,1,1s\n", `t.csv:2: column memory: "huge"`},
		{"bad user", header + "0,a-b,IDE,spark-3,1g,1,1s\n", `t.csv:2: column user: "a-b"`},
		{"after the horizon", header + "7200,a,IDE,spark-3,1g,1,1s\n", "is after the scenario's duration"},
		{"empty", "", "empty trace"},
		{"no jobs", header, "no jobs"},
		{"bad quoting", header + "0,\"a,IDE,spark-3,1g,1,1s\n", "malformed CSV"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseTrace(strings.NewReader(c.csv), "t.csv", engines, time.Hour)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q lacks %q", err, c.want)
			}
		})
	}
}

// A scenario whose trace is missing names the field.
func TestLoadScenarioMissingTrace(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/s.json"
	writeFile(t, p, strings.Replace(tiny, `"jobs": 300,`, `"trace": "nope.csv",`, 1))
	_, err := LoadScenario(p)
	if err == nil || !strings.Contains(err.Error(), "workload.trace") || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("err = %v", err)
	}
}
