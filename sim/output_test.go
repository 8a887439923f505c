package sim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/manager"
)

// svgElements parses an SVG and returns its elements by name.
func svgElements(t *testing.T, path string) map[string][]xml.StartElement {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	out := map[string][]xml.StartElement{}
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("%s is not well-formed XML: %v", path, err)
			}
			return out
		}
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = append(out[se.Name.Local], se.Copy())
		}
	}
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// --out writes the summary (text and JSON), per-run series, job records and
// breakdowns, and well-formed charts: small multiples or distinct line
// styles per variant, round time ticks, absolute capacity, fault markers.
func TestWriteOutputs(t *testing.T) {
	variants := []Variant{{Policy: manager.PlacementRules}, {Policy: manager.PlacementTwoChoices}, {Policy: manager.PlacementBinPack}}
	set, err := RunSet(mustParse(t, tiny), Options{Records: true}, variants, Seeds(1, 1), SetOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteOutputs(dir, set); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"utilisation.svg", "memory.svg", "queue.svg", "engines.svg", "wait.svg"} {
		els := svgElements(t, filepath.Join(dir, f))
		lines := els["polyline"]
		if len(lines) < 3 {
			t.Fatalf("%s has %d lines", f, len(lines))
		}
		// Fault markers: the tiny scenario has six faults, four with windows.
		if n := len(els["rect"]); n < 4+2 {
			t.Errorf("%s: %d rects, want the fault windows shaded", f, n)
		}
		var ticks []string
		for _, tx := range els["text"] {
			if attr(tx, "text-anchor") == "middle" {
				ticks = append(ticks, attr(tx, "x"))
			}
		}
		if len(ticks) < 3 {
			t.Errorf("%s: %d x labels", f, len(ticks))
		}
		if f == "queue.svg" || f == "wait.svg" {
			styles := map[string]bool{}
			for _, l := range lines {
				styles[attr(l, "stroke")+"|"+attr(l, "stroke-dasharray")] = true
			}
			if len(styles) != 3 {
				t.Errorf("%s: %d distinct line styles for 3 variants", f, len(styles))
			}
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "utilisation.svg"))
	for _, want := range []string{"capacity", "held", "busy", "rules", "two-choices", "binpack", ">cores<", "ecm crash", "0:00", "0:10"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("utilisation.svg lacks %q", want)
		}
	}
	// Round ticks: every x label of a time axis is h:mm on a multiple of
	// the step.
	if labels := regexp.MustCompile(`>(\d+:\d\d)<`).FindAllStringSubmatch(string(svg), -1); len(labels) < 3 {
		t.Errorf("utilisation.svg has %d time labels", len(labels))
	}
	sum, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if err != nil || !strings.Contains(string(sum), "wait p50/p95/p99") || !strings.Contains(string(sum), "binpack") {
		t.Fatalf("summary.txt: %v\n%s", err, sum)
	}
	js, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	var doc struct {
		Runs []map[string]any `json:"runs"`
	}
	if err != nil || json.Unmarshal(js, &doc) != nil || len(doc.Runs) != 3 || doc.Runs[0]["run_hash"] != set.Reports[0][0].RunHash {
		t.Fatalf("summary.json: %v\n%.300s", err, js)
	}
	// Per-run files: the series, and one record per job.
	r := set.Reports[1][0]
	series, err := os.ReadFile(filepath.Join(dir, "timeseries-two-choices.csv"))
	if err != nil || strings.Count(string(series), "\n") != len(r.Series)+1 || !strings.HasPrefix(string(series), "t_seconds,util_memory") {
		t.Fatalf("series: %v, %d lines for %d samples", err, strings.Count(string(series), "\n"), len(r.Series))
	}
	f, err := os.Open(filepath.Join(dir, "jobs-two-choices.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) != r.Jobs.Submitted+1 {
		t.Fatalf("jobs CSV: %v, %d lines for %d jobs", err, len(recs), r.Jobs.Submitted)
	}
	head := strings.Join(recs[0], ",")
	if head != "job,submit,grant,start,end,wait,turnaround,user,key,ecm,engine,attempts,outcome,failure" {
		t.Fatalf("jobs CSV header %s", head)
	}
	outcomes := map[string]int{}
	for _, rec := range recs[1:] {
		outcomes[rec[12]]++
		if rec[12] == "succeeded" && (rec[2] == "" || rec[4] == "" || (rec[10] != "new" && rec[10] != "reused") || !strings.Contains(rec[8], ",")) {
			t.Fatalf("succeeded job record %v", rec)
		}
	}
	if outcomes["succeeded"] != r.Jobs.Succeeded || outcomes["failed"] != r.Jobs.Failed {
		t.Fatalf("records %v, report %+v", outcomes, r.Jobs)
	}
	for _, name := range []string{"keys-rules.csv", "users-binpack.csv"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || strings.Count(string(data), "\n") < 3 {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
	}
}

// --out is checked before a run: a directory that cannot be made fails at
// once.
func TestCheckOutputDir(t *testing.T) {
	dir := t.TempDir()
	if err := CheckOutputDir(filepath.Join(dir, "a", "b")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	writeFile(t, file, "x")
	if err := CheckOutputDir(filepath.Join(file, "sub")); err == nil {
		t.Fatal("an output directory under a file was accepted")
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if err := CheckOutputDir(ro); err == nil {
			t.Fatal("a read-only output directory was accepted")
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "a", "b"))
	if len(entries) != 0 {
		t.Fatalf("the probe was left behind: %v", entries)
	}
}

// Round time ticks: at most ten, on round steps.
func TestTimeTicks(t *testing.T) {
	for _, c := range []struct {
		xmax float64
		step float64
	}{{40 * 60, 300}, {2 * 3600, 900}, {26 * 3600, 3 * 3600}, {24 * 3600, 3 * 3600}, {7 * 86400, 86400}, {30, 60}} {
		ts := timeTicks(c.xmax)
		if len(ts) > 11 || len(ts) < 1 || len(ts) > 1 && ts[1] != c.step {
			t.Errorf("ticks to %v: %v, want step %v", c.xmax, ts, c.step)
		}
	}
	if clock(5400) != "1:30" || clock(0) != "0:00" || clock(26*3600) != "26:00" {
		t.Fatalf("clock: %s %s %s", clock(5400), clock(0), clock(26*3600))
	}
}
