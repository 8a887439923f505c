package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/golinkis/golinkis/manager"
)

// RunPolicies runs one scenario under each policy with the same seed (so
// the same jobs and faults) and returns the reports in order. It stops at
// the first run that breaks an invariant, returning the reports so far and
// the *Violation.
func RunPolicies(sc *Scenario, opts Options, policies []manager.Placement) ([]*Report, error) {
	var out []*Report
	for _, p := range policies {
		o := opts
		o.Policy = p
		r, err := Run(sc, o)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, fmt.Errorf("policy %v: %w", p, err)
		}
	}
	return out, nil
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
	row("policy", func(r *Report) string { return r.Policy })
	row("jobs submitted", func(r *Report) string { return n(r.Jobs.Submitted) })
	row("jobs succeeded", func(r *Report) string { return n(r.Jobs.Succeeded) })
	row("jobs failed", func(r *Report) string { return n(r.Jobs.Failed) })
	row("jobs unfinished", func(r *Report) string { return n(r.Jobs.Unfinished) })
	row("wait p50/p95/p99", func(r *Report) string {
		return sec(r.Wait.P50) + " / " + sec(r.Wait.P95) + " / " + sec(r.Wait.P99)
	})
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
	row("utilisation mem mean/peak", func(r *Report) string {
		return pct(r.Utilisation.MemoryMean) + " / " + pct(r.Utilisation.MemoryPeak)
	})
	row("utilisation cores mean/peak", func(r *Report) string {
		return pct(r.Utilisation.CoresMean) + " / " + pct(r.Utilisation.CoresPeak)
	})
	row("utilisation instances mean/peak", func(r *Report) string {
		return pct(r.Utilisation.InstancesMean) + " / " + pct(r.Utilisation.InstancesPeak)
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

// WriteOutputs writes, into dir (created if needed), one CSV time series
// per run (timeseries-POLICY.csv) and three SVG charts with one line per
// run: utilisation.svg, queue.svg and engines.svg.
func WriteOutputs(dir string, rs []*Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, r := range rs {
		if err := writeCSV(filepath.Join(dir, "timeseries-"+r.Policy+".csv"), r); err != nil {
			return err
		}
	}
	charts := []struct {
		file, title, unit string
		percent           bool
		lines             func(r *Report) []series
	}{
		{"utilisation.svg", "Utilisation of the cluster (held by engines)", "%", true, func(r *Report) []series {
			return []series{
				{r.Policy + " memory", pick(r, func(s Sample) float64 { return s.UtilMemory })},
				{r.Policy + " cores", pick(r, func(s Sample) float64 { return s.UtilCores })},
			}
		}},
		{"queue.svg", "Asks waiting for an engine", "asks", false, func(r *Report) []series {
			return []series{{r.Policy, pick(r, func(s Sample) float64 { return float64(s.Queue) })}}
		}},
		{"engines.svg", "Engines held by the manager, and jobs running", "", false, func(r *Report) []series {
			return []series{
				{r.Policy + " engines", pick(r, func(s Sample) float64 { return float64(s.Engines) })},
				{r.Policy + " jobs running", pick(r, func(s Sample) float64 { return float64(s.Running) })},
			}
		}},
	}
	for _, c := range charts {
		var all []series
		for _, r := range rs {
			all = append(all, c.lines(r)...)
		}
		var xs []float64
		if len(rs) > 0 {
			xs = pick(rs[0], func(s Sample) float64 { return s.T / 3600 })
		}
		svg := lineChart(c.title, c.unit, c.percent, xs, all)
		if err := os.WriteFile(filepath.Join(dir, c.file), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeCSV(path string, r *Report) error {
	var b strings.Builder
	b.WriteString("t_seconds,util_memory,util_cores,util_instances,queue,engines,jobs_running\n")
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, s := range r.Series {
		b.WriteString(f(s.T) + "," + f(s.UtilMemory) + "," + f(s.UtilCores) + "," + f(s.UtilInstances) + "," +
			strconv.Itoa(s.Queue) + "," + strconv.Itoa(s.Engines) + "," + strconv.Itoa(s.Running) + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

type series struct {
	name string
	ys   []float64
}

func pick(r *Report, f func(Sample) float64) []float64 {
	out := make([]float64, len(r.Series))
	for i, s := range r.Series {
		out[i] = f(s)
	}
	return out
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// lineChart draws a hand-written SVG line chart: hours on x, one line per
// series, a legend, gridlines and labelled axes.
func lineChart(title, unit string, percent bool, xs []float64, ss []series) string {
	const W, H, left, right, top, bottom = 900.0, 420.0, 70.0, 230.0, 40.0, 50.0
	pw, ph := W-left-right, H-top-bottom
	xmax, ymax := 0.0, 0.0
	for _, x := range xs {
		xmax = max(xmax, x)
	}
	for _, s := range ss {
		for _, y := range s.ys {
			ymax = max(ymax, y)
		}
	}
	if percent {
		ymax = max(ymax, 0.01)
	}
	ymax = niceCeil(ymax)
	xmax = max(xmax, 1e-9)
	X := func(x float64) float64 { return left + pw*x/xmax }
	Y := func(y float64) float64 { return top + ph*(1-y/ymax) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, xmlEscape(title))
	for i := 0; i <= 5; i++ {
		y := ymax * float64(i) / 5
		label := strconv.FormatFloat(y, 'g', 4, 64)
		if percent {
			label = strconv.FormatFloat(100*y, 'f', 0, 64) + "%"
		}
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, Y(y), left+pw, Y(y))
		fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, Y(y)+4, label)
	}
	for i := 0; i <= 6; i++ {
		x := xmax * float64(i) / 6
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>`+"\n", X(x), top, X(x), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", X(x), top+ph+16, strconv.FormatFloat(x, 'f', 1, 64))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">virtual time (hours)</text>`+"\n", left+pw/2, H-10)
	if unit != "" && !percent {
		fmt.Fprintf(&b, `<text x="14" y="%g" transform="rotate(-90 14 %g)" text-anchor="middle">%s</text>`+"\n", top+ph/2, top+ph/2, xmlEscape(unit))
	}
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	for i, s := range ss {
		color := palette[i%len(palette)]
		var pts strings.Builder
		for k, y := range s.ys {
			if k >= len(xs) || math.IsNaN(y) {
				break
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", X(xs[k]), Y(y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", color, strings.TrimSpace(pts.String()))
		ly := top + 10 + float64(i)*18
		fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3"/>`+"\n", left+pw+12, ly, left+pw+32, ly, color)
		fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", left+pw+38, ly+4, xmlEscape(s.name))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
