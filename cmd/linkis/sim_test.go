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
	for _, f := range []string{"utilisation.svg", "queue.svg", "engines.svg", "timeseries-binpack.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestSimCommandRefusesBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--scenario is required"},
		{[]string{"--scenario", "x.json", "--policy", "random"}, "must be one of"},
		{[]string{"--scenario", "no-such-file.json"}, "no-such-file.json"},
		{[]string{"--scenario", "x.json", "extra"}, "unexpected argument"},
		{[]string{"--scenario", "x.json", "--check-every", "-1"}, "must not be negative"},
	} {
		var out, errs bytes.Buffer
		err := runSim(&out, &errs, c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}
