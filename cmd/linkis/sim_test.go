package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// linkis sim prints a table by default, JSON with run_hash on --json, and
// writes charts and series with --out; the same seed gives the same hash.
func TestSimCommand(t *testing.T) {
	scenario := filepath.Join("..", "..", "sim", "scenarios", "trace.json")
	var out, errs bytes.Buffer
	if err := runSim(&out, &errs, []string{"--scenario", scenario, "--seed", "4"}); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	for _, want := range []string{"policy", "rules", "wait p50/p95/p99", "engines started", "run hash"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, out.String())
		}
	}
	if errs.Len() != 0 {
		t.Fatalf("progress written to a non-terminal: %q", errs.String())
	}
	hash := func(args ...string) (string, int) {
		var js bytes.Buffer
		if err := runSim(&js, &errs, append([]string{"--scenario", scenario, "--json"}, args...)); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Runs []struct {
				RunHash string `json:"run_hash"`
				Policy  string `json:"policy"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil || len(doc.Runs) == 0 || doc.Runs[0].RunHash == "" {
			t.Fatalf("bad JSON (%v):\n%s", err, js.String())
		}
		return doc.Runs[0].RunHash, len(doc.Runs)
	}
	a, _ := hash("--seed", "9")
	b, _ := hash("--seed", "9")
	c, _ := hash("--seed", "10")
	if a != b || a == c {
		t.Fatalf("hashes: seed 9 %s and %s, seed 10 %s", a, b, c)
	}
	dir := t.TempDir()
	if _, n := hash("--policy", "all", "--out", dir); n != 4 {
		t.Fatalf("--policy all ran %d policies", n)
	}
	for _, f := range []string{"utilisation.svg", "memory.svg", "queue.svg", "engines.svg", "wait.svg", "timeseries-binpack.csv",
		"jobs-spread.csv", "keys-rules.csv", "users-two-choices.csv", "summary.txt", "summary.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestSimCommandRefusesBadFlags(t *testing.T) {
	trace := filepath.Join("..", "..", "sim", "scenarios", "trace.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--scenario is required"},
		{[]string{"--scenario", "x.json", "--policy", "random"}, "must be one of"},
		{[]string{"--scenario", "no-such-file.json"}, "no-such-file.json"},
		{[]string{"--scenario", "x.json", "extra"}, "unexpected argument"},
		{[]string{"--scenario", "x.json", "--check-every", "-1"}, "must not be negative"},
		{[]string{"--scenario", "x.json", "--replications", "0"}, "--replications must be from 1"},
		{[]string{"--scenario", "x.json", "--replications", "-2"}, "--replications must be from 1"},
		{[]string{"--scenario", "x.json", "--parallel", "0"}, "--parallel must be at least 1"},
		{[]string{"--scenario", "x.json", "--reclaim", "maybe"}, "want on, off or both"},
		{[]string{"--scenario", "x.json", "--measure", "happiness"}, "want one of wait_mean"},
		{[]string{"--scenario", "x.json", "--sweep", "colour=1,2"}, `unknown key "colour"`},
		{[]string{"--scenario", "x.json", "--sweep", "hosts="}, "the value list is empty"},
		{[]string{"--scenario", "x.json", "--sweep", "hosts=a,b"}, `"a" is not a whole number`},
		{[]string{"--scenario", trace, "--warmup", "24h"}, "--warmup 24h0m0s must be shorter than the scenario's duration"},
		{[]string{"--scenario", trace, "--sweep", "pool=1,2"}, "no warm_pools to size"},
	} {
		var out, errs bytes.Buffer
		err := runSim(&out, &errs, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

// --replications runs several seeds and prints means with confidence
// intervals and the set hash; the same seeds give the same set hash.
func TestSimCommandReplications(t *testing.T) {
	scenario := filepath.Join("..", "..", "sim", "scenarios", "few-hosts.json")
	var out, errs bytes.Buffer
	if err := runSim(&out, &errs, []string{"--scenario", scenario, "--replications", "3", "--reclaim", "both", "--parallel", "2"}); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	for _, want := range []string{"3 replications (seeds 1 to 3)", "rules/reclaim", "rules/no-reclaim", "jobs failed for lack of room", " ± ", "set hash "} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, out.String())
		}
	}
	setHash := func() string {
		var js bytes.Buffer
		if err := runSim(&js, &errs, []string{"--scenario", scenario, "--replications", "2", "--json", "--parallel", "1"}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SetHash string `json:"set_hash"`
			Runs    []any  `json:"runs"`
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.SetHash == "" || len(doc.Runs) != 2 {
			t.Fatalf("JSON (%v): %.300s", err, js.String())
		}
		return doc.SetHash
	}
	if a, b := setHash(), setHash(); a != b {
		t.Fatalf("set hashes %s and %s for the same seeds", a, b)
	}
}

// --sweep prints one line per value and writes its table and chart.
func TestSimCommandSweep(t *testing.T) {
	scenario := filepath.Join("..", "..", "sim", "scenarios", "few-hosts.json")
	dir := t.TempDir()
	var out, errs bytes.Buffer
	if err := runSim(&out, &errs, []string{"--scenario", scenario, "--sweep", "hosts=2,3", "--replications", "2", "--measure", "failed_no_room", "--out", dir}); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "hosts") || !strings.HasPrefix(lines[1], "2 ") || !strings.HasPrefix(lines[2], "3 ") {
		t.Fatalf("sweep table:\n%s", out.String())
	}
	for _, f := range []string{"sweep.txt", "sweep.csv", "sweep.json", "sweep.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// --out is checked before the run: the plan of a command line (every check
// done, nothing run yet) refuses a directory that cannot be made, and a good
// one is made and left empty until the run.
func TestSimCommandChecksOutFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The day at 10,000 ECMs: a minute of running if anything ran.
	scenario := filepath.Join("..", "..", "sim", "scenarios", "day-10k.json")
	var errs bytes.Buffer
	if _, err := planSim(&errs, []string{"--scenario", scenario, "--out", filepath.Join(file, "out")}); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("a bad --out: %v", err)
	}
	out := filepath.Join(dir, "out")
	p, err := planSim(&errs, []string{"--scenario", scenario, "--out", out, "--replications", "8"})
	if err != nil || p.out != out || len(p.seeds) != 8 {
		t.Fatalf("plan: %+v, %v", p, err)
	}
	if entries, err := os.ReadDir(out); err != nil || len(entries) != 0 {
		t.Fatalf("--out after planning: %v, %v (want an empty directory)", entries, err)
	}
}
