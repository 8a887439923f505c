package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/golinkis/golinkis/manager"
)

// RunPolicies runs one scenario under each policy with the same seed (so
// the same jobs and faults), one after another, and returns the reports in
// order, with the first error (a *Violation) if a run broke an invariant.
func RunPolicies(sc *Scenario, opts Options, policies []manager.Placement) ([]*Report, error) {
	vs := make([]Variant, len(policies))
	for i, p := range policies {
		vs[i] = Variant{Policy: p, Reclaim: opts.Reclaim}
	}
	set, err := RunSet(sc, opts, vs, []uint64{opts.Seed}, SetOptions{Parallel: 1})
	if set == nil {
		return nil, err
	}
	return set.All(), err
}

// WriteTable prints the reports side by side: one column per run.
func WriteTable(w io.Writer, rs []*Report) error {
	if len(rs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(name string, f func(r *Report) string) {
		fmt.Fprint(tw, name+"\t")
		for _, r := range rs {
			fmt.Fprint(tw, f(r)+"\t")
		}
		fmt.Fprintln(tw)
	}
	sec := func(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) + "s" }
	pct := func(x float64) string { return strconv.FormatFloat(100*x, 'f', 1, 64) + "%" }
	n := func(x int) string { return strconv.Itoa(x) }
	row("policy", func(r *Report) string { return r.Variant })
	row("jobs submitted", func(r *Report) string { return n(r.Jobs.Submitted) })
	row("jobs succeeded", func(r *Report) string { return n(r.Jobs.Succeeded) })
	row("jobs failed", func(r *Report) string { return n(r.Jobs.Failed) })
	row("jobs unfinished", func(r *Report) string { return n(r.Jobs.Unfinished) })
	row("jobs measured (after warm-up)", func(r *Report) string { return n(r.Measured) })
	row("failed: no room / quota / engine", func(r *Report) string {
		return n(r.Failures.NoRoom) + " / " + n(r.Failures.Quota) + " / " + n(r.Failures.Engine)
	})
	row("wait mean", func(r *Report) string { return sec(r.Wait.Mean) })
	row("wait p50/p95/p99", func(r *Report) string {
		return sec(r.Wait.P50) + " / " + sec(r.Wait.P95) + " / " + sec(r.Wait.P99)
	})
	row("P(wait > 0)", func(r *Report) string { return pct(r.PWait) })
	row("turnaround mean", func(r *Report) string { return sec(r.Turnaround.Mean) })
	row("turnaround p50/p95/p99", func(r *Report) string {
		return sec(r.Turnaround.P50) + " / " + sec(r.Turnaround.P95) + " / " + sec(r.Turnaround.P99)
	})
	row("engines started", func(r *Report) string { return n(r.EnginesStarted) })
	row("grants reused / new", func(r *Report) string { return n(r.GrantsReused) + " / " + n(r.GrantsNew) })
	row("asks rejected", func(r *Report) string {
		return n(r.AsksRejected) + " (" + n(r.AsksRefused) + " refused, " + n(r.AsksFailed) + " failed waiting)"
	})
	row("lock expiries", func(r *Report) string { return n(r.LockExpiries) })
	row("launch failures", func(r *Report) string { return n(r.LaunchFailures) })
	row("cores held / busy (mean)", func(r *Report) string {
		return pct(r.Held.CoresMean) + " / " + pct(r.Busy.CoresMean)
	})
	row("memory held / busy (mean)", func(r *Report) string {
		return pct(r.Held.MemoryMean) + " / " + pct(r.Busy.MemoryMean)
	})
	row("instances held / busy (mean)", func(r *Report) string {
		return pct(r.Held.InstancesMean) + " / " + pct(r.Busy.InstancesMean)
	})
	row("cores held / busy (peak)", func(r *Report) string {
		return pct(r.Held.CoresPeak) + " / " + pct(r.Busy.CoresPeak)
	})
	row("engine-hours (idle)", func(r *Report) string {
		return strconv.FormatFloat(r.EngineHours, 'f', 1, 64) + " (" + strconv.FormatFloat(r.IdleEngineHours, 'f', 1, 64) + ")"
	})
	row("Little: L vs λW", func(r *Report) string {
		return strconv.FormatFloat(r.Little.L, 'f', 2, 64) + " vs " + strconv.FormatFloat(r.Little.Lambda*r.Little.W, 'f', 2, 64)
	})
	row("peak queue", func(r *Report) string { return n(r.PeakQueue) })
	row("fairness (Jain, slowdown)", func(r *Report) string { return strconv.FormatFloat(r.Fairness, 'f', 3, 64) })
	row("faults", func(r *Report) string { return n(r.Faults) })
	row("events / commands", func(r *Report) string {
		return strconv.FormatUint(r.Events, 10) + " / " + strconv.FormatUint(r.Commands, 10)
	})
	row("full invariant checks", func(r *Report) string { return n(r.FullChecks) })
	row("run hash", func(r *Report) string { return r.RunHash })
	return tw.Flush()
}

// WriteJSON writes the reports as one JSON document: {"runs": [...]}.
func WriteJSON(w io.Writer, rs []*Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Runs []*Report `json:"runs"`
	}{rs})
}

// WriteSetJSON writes a set as one JSON document: its runs, and the
// summary of every measure per variant with its difference from the
// baseline (the first variant).
func WriteSetJSON(w io.Writer, set *Set) error {
	type est struct {
		Estimate
		Significant *bool `json:"significant,omitempty"`
	}
	type variant struct {
		Variant    string          `json:"variant"`
		Measures   map[string]est  `json:"measures"`
		VsBaseline map[string]Diff `json:"vs_baseline,omitempty"`
	}
	doc := struct {
		Scenario     string    `json:"scenario"`
		Replications int       `json:"replications"`
		Seeds        []uint64  `json:"seeds"`
		SetHash      string    `json:"set_hash"`
		Baseline     string    `json:"baseline"`
		Summary      []variant `json:"summary"`
		Runs         []*Report `json:"runs"`
	}{Scenario: set.Scenario, Replications: len(set.Seeds), Seeds: set.Seeds, SetHash: set.Hash(),
		Baseline: set.Variants[0].Name(), Runs: set.All()}
	for v, sm := range set.Summaries() {
		vv := variant{Variant: sm.Variant, Measures: map[string]est{}}
		for i, m := range Measures {
			vv.Measures[m.Name] = est{Estimate: sm.Estimates[i]}
			if v > 0 {
				if vv.VsBaseline == nil {
					vv.VsBaseline = map[string]Diff{}
				}
				vv.VsBaseline[m.Name] = sm.Diffs[i]
			}
		}
		doc.Summary = append(doc.Summary, vv)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteSummary prints a set: every measure per variant as mean ± the
// half-width of its 95% confidence interval over the replications, and
// for each variant after the first its paired difference from the first,
// starred when significant. A set of one replication prints as WriteTable.
func WriteSummary(w io.Writer, set *Set) error {
	if len(set.Seeds) < 2 {
		return WriteTable(w, set.All())
	}
	sums := set.Summaries()
	fmt.Fprintf(w, "%s: %d replications (seeds %d to %d), means ± 95%% confidence half-widths",
		set.Scenario, len(set.Seeds), set.Seeds[0], set.Seeds[len(set.Seeds)-1])
	if len(sums) > 1 {
		fmt.Fprintf(w, "; (Δ vs %s, paired over the same seeds; * = significant at 95%%)", sums[0].Variant)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "measure\t")
	for _, sm := range sums {
		fmt.Fprint(tw, sm.Variant+"\t")
	}
	fmt.Fprintln(tw)
	for i, m := range Measures {
		fmt.Fprint(tw, m.Desc+"\t")
		for v, sm := range sums {
			cell := formatEstimate(sm.Estimates[i], m.Unit)
			if v > 0 {
				d := sm.Diffs[i]
				star := ""
				if d.Significant {
					star = " *"
				}
				cell += " (Δ " + signed(formatValue(d.Mean, m.Unit)) + " ± " + formatValue(d.HalfWidth, m.Unit) + star + ")"
			}
			fmt.Fprint(tw, cell+"\t")
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "set hash %s\n", set.Hash())
	return err
}

func formatEstimate(e Estimate, unit string) string {
	if e.N < 2 {
		return formatValue(e.Mean, unit)
	}
	return formatValue(e.Mean, unit) + " ± " + formatValue(e.HalfWidth, unit)
}

// formatValue formats a measure in its unit.
func formatValue(x float64, unit string) string {
	switch unit {
	case "%":
		return strconv.FormatFloat(100*x, 'f', 2, 64) + "%"
	case "s":
		return strconv.FormatFloat(x, 'f', 2, 64) + "s"
	case "h":
		return strconv.FormatFloat(x, 'f', 1, 64) + "h"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func signed(s string) string {
	if strings.HasPrefix(s, "-") {
		return s
	}
	return "+" + s
}

// runLabel names a run's files: the variant, and the seed when the set
// has several.
func runLabel(set *Set, v, k int) string {
	l := strings.ReplaceAll(set.Variants[v].Name(), "/", "_")
	if len(set.Seeds) > 1 {
		l += "-seed" + strconv.FormatUint(set.Seeds[k], 10)
	}
	return l
}

// CheckOutputDir makes sure dir exists (creating it) and is writable, so
// that a bad --out fails before a long run rather than after it.
func CheckOutputDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return fmt.Errorf("output directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// WriteOutputs writes, into dir (created if needed):
//
//   - summary.txt and summary.json: the table and the JSON document the
//     command prints;
//   - per run: timeseries-RUN.csv (the sampled series), jobs-RUN.csv (one
//     line per job: submit, grant, start, end, key, engine reused or new,
//     outcome; for runs made with Options.Records), keys-RUN.csv and
//     users-RUN.csv (the measures per combined label and per user);
//   - charts of the first seed of every variant: utilisation.svg (cores
//     held, busy and the capacity, one panel per variant), memory.svg (the
//     same in GiB), engines.svg (engines held, idle engines, jobs running,
//     one panel per variant), queue.svg and wait.svg (asks waiting, and the
//     p95 wait of the jobs submitted in each sample window: one line per
//     variant, each with its own colour and dash pattern); faults are
//     marked on each.
func WriteOutputs(dir string, set *Set) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var text, js strings.Builder
	if err := WriteSummary(&text, set); err != nil {
		return err
	}
	if len(set.Seeds) > 1 {
		if err := WriteSetJSON(&js, set); err != nil {
			return err
		}
	} else if err := WriteJSON(&js, set.All()); err != nil {
		return err
	}
	files := map[string]string{"summary.txt": text.String(), "summary.json": js.String()}
	for v, rs := range set.Reports {
		for k, r := range rs {
			if r == nil {
				continue
			}
			l := runLabel(set, v, k)
			files["timeseries-"+l+".csv"] = seriesCSV(r)
			if r.records != nil {
				files["jobs-"+l+".csv"] = jobsCSV(r)
			}
			files["keys-"+l+".csv"] = groupsCSV("key", r.allKeys)
			files["users-"+l+".csv"] = groupsCSV("user", r.allUsers)
		}
	}
	var first []*Report
	for _, rs := range set.Reports {
		if len(rs) > 0 && rs[0] != nil {
			first = append(first, rs[0])
		}
	}
	for name, c := range runCharts(first, len(set.Seeds) > 1) {
		files[name] = c
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func seriesCSV(r *Report) string {
	var b strings.Builder
	b.WriteString("t_seconds,util_memory,util_cores,util_instances,queue,engines,jobs_running,held_cores,busy_cores,capacity_cores,held_memory_gib,busy_memory_gib,capacity_memory_gib,idle_engines\n")
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, s := range r.Series {
		b.WriteString(f(s.T) + "," + f(s.UtilMemory) + "," + f(s.UtilCores) + "," + f(s.UtilInstances) + "," +
			strconv.Itoa(s.Queue) + "," + strconv.Itoa(s.Engines) + "," + strconv.Itoa(s.Running) + "," +
			f(s.HeldCores) + "," + f(s.BusyCores) + "," + f(s.CapCores) + "," +
			f(s.HeldMemGiB) + "," + f(s.BusyMemGiB) + "," + f(s.CapMemGiB) + "," + strconv.Itoa(s.IdleEngines) + "\n")
	}
	return b.String()
}

// jobsCSV writes one line per job. Times are seconds since the start; a
// job that was never granted has empty grant and start, one that never
// ended an empty end. In the simulator a task starts when its ask is
// granted, so start equals grant.
func jobsCSV(r *Report) string {
	var b strings.Builder
	b.WriteString("job,submit,grant,start,end,wait,turnaround,user,key,ecm,engine,attempts,outcome,failure\n")
	sec := func(ns int64) string {
		if ns < 0 {
			return ""
		}
		return strconv.FormatFloat(float64(ns)/1e9, 'f', -1, 64)
	}
	name := func(names []string, i int32) string {
		if i < 0 || int(i) >= len(names) {
			return ""
		}
		return names[i]
	}
	for _, rec := range r.records {
		wait, turn := int64(-1), int64(-1)
		if rec.Grant >= 0 && rec.Outcome == jobSucceeded {
			wait = rec.Grant - rec.Submit
		}
		if rec.End >= 0 {
			turn = rec.End - rec.Submit
		}
		engine := ""
		if rec.Grant >= 0 {
			engine = "new"
			if rec.Reused {
				engine = "reused"
			}
		}
		b.WriteString(strconv.Itoa(int(rec.Job)) + "," + sec(rec.Submit) + "," + sec(rec.Grant) + "," + sec(rec.Grant) + "," + sec(rec.End) + "," +
			sec(wait) + "," + sec(turn) + "," + name(r.userNames, rec.User) + "," + csvField(name(r.keyNames, rec.Key)) + "," +
			name(r.ecmNames, rec.ECM) + "," + engine + "," + strconv.Itoa(int(rec.Attempts)) + "," +
			outcomeName(rec.Outcome) + "," + failNames[rec.Fail] + "\n")
	}
	return b.String()
}

func outcomeName(s jobState) string {
	switch s {
	case jobSucceeded:
		return "succeeded"
	case jobFailed:
		return "failed"
	}
	return "unfinished"
}

// csvField quotes a field that holds a comma (combined keys do).
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

func groupsCSV(what string, gs []GroupStats) string {
	var b strings.Builder
	b.WriteString(what + ",jobs,succeeded,failed,wait_mean,wait_p95,p_wait,turnaround_mean,turnaround_p95\n")
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, g := range gs {
		b.WriteString(csvField(g.Name) + "," + strconv.Itoa(g.Jobs) + "," + strconv.Itoa(g.Succeeded) + "," + strconv.Itoa(g.Failed) + "," +
			f(g.WaitMean) + "," + f(g.WaitP95) + "," + f(g.PWait) + "," + f(g.TurnaroundMean) + "," + f(g.TurnaroundP95) + "\n")
	}
	return b.String()
}

// runCharts draws the charts of one run per variant.
func runCharts(rs []*Report, firstSeed bool) map[string]string {
	out := map[string]string{}
	if len(rs) == 0 {
		return out
	}
	note := ""
	if firstSeed {
		note = " (first seed)"
	}
	xs := func(r *Report) []float64 {
		x := make([]float64, len(r.Series))
		for i, s := range r.Series {
			x[i] = s.T
		}
		return x
	}
	ys := func(r *Report, f func(Sample) float64) []float64 {
		y := make([]float64, len(r.Series))
		for i, s := range r.Series {
			y[i] = f(s)
		}
		return y
	}
	var faults []FaultMark
	for _, r := range rs {
		if len(r.faultMarks) > len(faults) {
			faults = r.faultMarks
		}
	}
	multiples := func(title, yLabel string, yFmt func(float64) string, series func(r *Report) []line) string {
		c := chart{title: title + note, yLabel: yLabel, yFmt: yFmt, faults: faults}
		for _, r := range rs {
			c.panels = append(c.panels, panel{title: r.Variant, lines: series(r)})
		}
		return c.svg()
	}
	gray := "#777777"
	out["utilisation.svg"] = multiples("Cores held by engines and busy running tasks, against the capacity", "cores", fmtNum, func(r *Report) []line {
		return []line{
			{name: "capacity", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.CapCores }), color: gray, dash: "2 3"},
			{name: "held", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.HeldCores }), color: palette[0]},
			{name: "busy", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.BusyCores }), color: palette[1], dash: "8 4"},
		}
	})
	out["memory.svg"] = multiples("Memory held by engines and busy running tasks, against the capacity", "GiB", fmtNum, func(r *Report) []line {
		return []line{
			{name: "capacity", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.CapMemGiB }), color: gray, dash: "2 3"},
			{name: "held", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.HeldMemGiB }), color: palette[0]},
			{name: "busy", xs: xs(r), ys: ys(r, func(s Sample) float64 { return s.BusyMemGiB }), color: palette[1], dash: "8 4"},
		}
	})
	out["engines.svg"] = multiples("Engines held by the manager, idle engines, and jobs running", "engines / jobs", fmtNum, func(r *Report) []line {
		return []line{
			{name: "engines held", xs: xs(r), ys: ys(r, func(s Sample) float64 { return float64(s.Engines) }), color: palette[0]},
			{name: "idle engines", xs: xs(r), ys: ys(r, func(s Sample) float64 { return float64(s.IdleEngines) }), color: palette[3], dash: "2 3"},
			{name: "jobs running", xs: xs(r), ys: ys(r, func(s Sample) float64 { return float64(s.Running) }), color: palette[2], dash: "8 4"},
		}
	})
	overlay := func(title, yLabel string, yFmt func(float64) string, series func(r *Report) ([]float64, []float64)) string {
		c := chart{title: title + note, yLabel: yLabel, yFmt: yFmt, faults: faults, panels: []panel{{}}}
		for i, r := range rs {
			x, y := series(r)
			c.panels[0].lines = append(c.panels[0].lines, line{name: r.Variant, xs: x, ys: y,
				color: palette[i%len(palette)], dash: dashes[i%len(dashes)], width: 2})
		}
		return c.svg()
	}
	out["queue.svg"] = overlay("Asks waiting for an engine", "asks", fmtNum, func(r *Report) ([]float64, []float64) {
		return xs(r), ys(r, func(s Sample) float64 { return float64(s.Queue) })
	})
	out["wait.svg"] = overlay("Wait of the jobs submitted in each window (p95)", "seconds", fmtNum, func(r *Report) ([]float64, []float64) {
		var x, y []float64
		for _, p := range r.waitSeries {
			if p.N > 0 {
				x, y = append(x, p.T), append(y, p.P95)
			}
		}
		return x, y
	})
	return out
}
