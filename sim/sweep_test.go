package sim

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/manager"
)

// A sweep's table matches separate runs of each point: the same scenario
// edited by hand and run with the same seeds gives the same set hash and
// the same estimates.
func TestSweepMatchesSeparateRuns(t *testing.T) {
	sc := mustParse(t, tiny)
	sw, err := ParseSweep("cap=1,3")
	if err != nil {
		t.Fatal(err)
	}
	variants := []Variant{{Policy: manager.PlacementRules}}
	seeds := Seeds(3, 2)
	res, err := RunSweep(sc, Options{}, sw, variants, seeds, SetOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	m, _ := MeasureNamed("wait_p95")
	if err := WriteSweepTable(&table, res, []Measure{m}); err != nil {
		t.Fatal(err)
	}
	for i, cap := range []string{"1", "3"} {
		src := strings.Replace(tiny, `"default_quota": {"instances": 3}`, `"default_quota": {"instances": `+cap+`}`, 1)
		set, err := RunSet(mustParse(t, src), Options{}, variants, seeds, SetOptions{Parallel: 1})
		if err != nil {
			t.Fatal(err)
		}
		p := res.Points[i]
		if p.Value != cap || p.Set.Hash() != set.Hash() {
			t.Fatalf("cap=%s: the sweep's set hash %s, a separate run's %s", cap, p.Set.Hash(), set.Hash())
		}
		want := formatEstimate(set.Summaries()[0].Estimates[measureIndex("wait_p95")], "s")
		line := ""
		for _, l := range strings.Split(table.String(), "\n") {
			if strings.HasPrefix(l, cap+" ") {
				line = l
			}
		}
		if !strings.Contains(line, want) || !strings.Contains(line, set.Hash()) {
			t.Fatalf("cap=%s: table line %q lacks %q and the set hash %s\n%s", cap, line, want, set.Hash(), table.String())
		}
	}
	if res.Points[0].Set.Hash() == res.Points[1].Set.Hash() {
		t.Fatal("the swept value changed nothing")
	}
	dir := t.TempDir()
	if err := WriteSweepOutputs(dir, res, m, []Measure{m}); err != nil {
		t.Fatal(err)
	}
	els := svgElements(t, filepath.Join(dir, "sweep.svg"))
	if len(els["polyline"]) != 1 || len(els["polygon"]) != 1 {
		t.Fatalf("sweep.svg: %d lines, %d confidence bands", len(els["polyline"]), len(els["polygon"]))
	}
	js, _ := os.ReadFile(filepath.Join(dir, "sweep.json"))
	var doc struct {
		Key    string `json:"key"`
		Points []struct {
			Value   string `json:"value"`
			SetHash string `json:"set_hash"`
		} `json:"points"`
	}
	if err := json.Unmarshal(js, &doc); err != nil || doc.Key != "cap" || len(doc.Points) != 2 || doc.Points[1].SetHash != res.Points[1].Set.Hash() {
		t.Fatalf("sweep.json (%v): %s", err, js)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "sweep.csv"))
	if lines := strings.Count(string(csv), "\n"); lines != 3 || !strings.HasPrefix(string(csv), "cap,variant,wait_mean,wait_mean_ci95") {
		t.Fatalf("sweep.csv:\n%s", csv)
	}
}

// Each sweep key changes what it names.
func TestSweepKeys(t *testing.T) {
	sc := mustParse(t, strings.Replace(tiny, `"faults"`, `"warm_pools": [{"min_idle": 1}], "faults"`, 1))
	for _, c := range []struct {
		sweep, value string
		check        func(*Scenario, Options) bool
	}{
		{"hosts", "7", func(s *Scenario, _ Options) bool { return s.ECMCount() == 7 }},
		{"hosts.ecm", "2", func(s *Scenario, _ Options) bool { return s.ECMCount() == 2 }},
		{"rate", "900", func(s *Scenario, _ Options) bool { return s.Workload.Jobs == 600 }}, // 900/h over 40m
		{"cap", "2", func(s *Scenario, _ Options) bool { return s.Manager.DefaultQuota.Instances == 2 }},
		{"pool", "3", func(s *Scenario, _ Options) bool { return s.WarmPools[0].MinIdle == 3 }},
		{"idle_timeout", "90", func(s *Scenario, _ Options) bool { return s.Manager.IdleTimeout == Duration(90e9) }},
		{"reclaim", "0", func(_ *Scenario, o Options) bool { return o.Reclaim == ReclaimOff }},
		{"policy", "spread", func(_ *Scenario, o Options) bool { return o.Policy == manager.PlacementSpread }},
	} {
		sw, err := ParseSweep(c.sweep + "=" + c.value)
		if err != nil {
			t.Fatalf("%s: %v", c.sweep, err)
		}
		p, o, err := sw.Point(sc, Options{}, c.value)
		if err != nil || !c.check(p, o) {
			t.Fatalf("%s=%s: %v", c.sweep, c.value, err)
		}
	}
	if sc.ECMCount() != 3 || sc.WarmPools[0].MinIdle != 1 || sc.Manager.DefaultQuota.Instances != 3 {
		t.Fatal("a sweep point changed the scenario it was made from")
	}
}

// Bad sweeps are refused before anything runs, naming the problem.
func TestSweepBadInput(t *testing.T) {
	for _, c := range []struct{ sweep, want string }{
		{"hosts", "want key=v1,v2"},
		{"=1,2", "want key=v1,v2"},
		{"colour=1,2", `unknown key "colour"`},
		{"hosts=", "the value list is empty"},
		{"hosts=1,,2", "an empty value"},
		{"hosts=two", `"two" is not a whole number`},
		{"hosts=0", "at least 1"},
		{"rate=-3", "not a positive number"},
		{"rate=NaN", "not a positive number"},
		{"pool=1.5", "not a whole number"},
		{"reclaim=yes", "want 0 (off) or 1 (on)"},
		{"policy=random", "must be one of"},
		{"cap=2,2", "listed twice"},
	} {
		if _, err := ParseSweep(c.sweep); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.sweep, err, c.want)
		}
	}
	sc := mustParse(t, strings.Replace(tiny, `"faults"`, `"warm_pools": [{"min_idle": 2}], "faults"`, 1))
	for _, c := range []struct{ sweep, want string }{
		{"pool=1,4", "pool=4: warm_pools[0].min_idle: 4: a pool must be from 0 to the instance cap 3"},
		{"hosts.gpu=1", `no ECM group named "gpu"`},
		{"cap=5,1", "cap=1: warm_pools[0].min_idle: 2: a pool must be from 0 to the instance cap 1"},
	} {
		sw, err := ParseSweep(c.sweep)
		if err != nil {
			t.Fatal(err)
		}
		ran := false
		_, err = RunSweep(sc, Options{}, sw, []Variant{{}}, Seeds(1, 1), SetOptions{Parallel: 1, Done: func(int, int) { ran = true }})
		if err == nil || !strings.Contains(err.Error(), c.want) || ran {
			t.Errorf("%s: %v (ran %v), want %q before any run", c.sweep, err, ran, c.want)
		}
	}
	trace, err := LoadScenario("scenarios/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	sw, _ := ParseSweep("rate=100")
	if _, _, err := sw.Point(trace, Options{}, "100"); err == nil || !strings.Contains(err.Error(), "cannot be swept") {
		t.Errorf("rate on a trace: %v", err)
	}
	sw, _ = ParseSweep("pool=1")
	if _, _, err := sw.Point(mustParse(t, tiny), Options{}, "1"); err == nil || !strings.Contains(err.Error(), "no warm_pools") {
		t.Errorf("pool without pools: %v", err)
	}
	sw, _ = ParseSweep("policy=rules,spread")
	if _, err := RunSweep(sc, Options{}, sw, []Variant{{}, {Policy: manager.PlacementBinPack}}, Seeds(1, 1), SetOptions{}); err == nil {
		t.Error("a policy sweep over several policies was accepted")
	}
}
