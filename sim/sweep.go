package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/golinkis/golinkis/manager"
)

// Sweeps: what-if runs over one setting. `linkis sim --sweep key=v1,v2,...`
// runs the scenario once per value (each with the set's replications and
// variants) and reports every measure against the value.
//
// The keys:
//
//	hosts         the number of ECMs of every group (hosts.NAME: of group NAME)
//	rate          the arrival rate, in jobs per hour (a generated workload)
//	cap           every combined label's instance cap (default_quota.instances)
//	pool          the min_idle of every warm pool the scenario lists
//	idle_timeout  the engines' idle timeout, in seconds
//	reclaim       idle reclaim: 0 (off) or 1 (on)
//	policy        the ECM-choice policy: rules, binpack, spread, two-choices
var sweepKeys = []string{"hosts", "hosts.NAME", "rate", "cap", "pool", "idle_timeout", "reclaim", "policy"}

// Sweep is one setting and the values it takes.
type Sweep struct {
	Key    string
	Values []string
}

// ParseSweep reads "key=v1,v2,...". Values must be numbers (whole numbers
// where the setting counts something), except for policy.
func ParseSweep(s string) (Sweep, error) {
	key, list, ok := strings.Cut(s, "=")
	key = strings.TrimSpace(key)
	if !ok || key == "" {
		return Sweep{}, fmt.Errorf("sweep %q: want key=v1,v2,... (keys: %s)", s, strings.Join(sweepKeys, ", "))
	}
	sw := Sweep{Key: key}
	switch {
	case key == "hosts", strings.HasPrefix(key, "hosts.") && len(key) > len("hosts."), key == "rate", key == "cap",
		key == "pool", key == "idle_timeout", key == "reclaim", key == "policy":
	default:
		return Sweep{}, fmt.Errorf("sweep: unknown key %q; want one of %s", key, strings.Join(sweepKeys, ", "))
	}
	if strings.TrimSpace(list) == "" {
		return Sweep{}, fmt.Errorf("sweep %s: the value list is empty", key)
	}
	seen := map[string]bool{}
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return Sweep{}, fmt.Errorf("sweep %s: an empty value in %q", key, list)
		}
		if seen[v] {
			return Sweep{}, fmt.Errorf("sweep %s: %s is listed twice", key, v)
		}
		seen[v] = true
		if key == "policy" {
			if _, err := manager.ParsePlacement(v); err != nil {
				return Sweep{}, fmt.Errorf("sweep policy: %w", err)
			}
		} else if err := checkSweepNumber(key, v); err != nil {
			return Sweep{}, err
		}
		sw.Values = append(sw.Values, v)
	}
	if len(sw.Values) > 1000 {
		return Sweep{}, fmt.Errorf("sweep %s: %d values, at most 1000", key, len(sw.Values))
	}
	return sw, nil
}

func checkSweepNumber(key, v string) error {
	switch key {
	case "rate", "idle_timeout":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || math.IsInf(f, 0) {
			return fmt.Errorf("sweep %s: %q is not a positive number", key, v)
		}
	case "reclaim":
		if v != "0" && v != "1" {
			return fmt.Errorf("sweep reclaim: %q: want 0 (off) or 1 (on)", v)
		}
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || key != "pool" && n < 1 {
			return fmt.Errorf("sweep %s: %q is not a whole number of at least %d", key, v, map[bool]int{true: 0, false: 1}[key == "pool"])
		}
	}
	return nil
}

// Numeric reports whether the swept values are numbers (all but policy).
func (sw Sweep) Numeric() bool { return sw.Key != "policy" }

// Point returns the scenario and options of one value, checked as a
// scenario file would be: a pool above the instance cap, a rate on a
// trace or hosts of a group that does not exist are refused.
func (sw Sweep) Point(sc *Scenario, opts Options, value string) (*Scenario, Options, error) {
	cp := sc.clone()
	bad := func(format string, args ...any) (*Scenario, Options, error) {
		return nil, opts, fmt.Errorf("sweep %s=%s: %s", sw.Key, value, fmt.Sprintf(format, args...))
	}
	n, _ := strconv.Atoi(value)
	f, _ := strconv.ParseFloat(value, 64)
	switch key := sw.Key; {
	case key == "hosts":
		for i := range cp.Cluster.ECMs {
			cp.Cluster.ECMs[i].Count = n
		}
	case strings.HasPrefix(key, "hosts."):
		name, found := strings.TrimPrefix(key, "hosts."), false
		for i := range cp.Cluster.ECMs {
			if cp.Cluster.ECMs[i].Name == name {
				cp.Cluster.ECMs[i].Count, found = n, true
			}
		}
		if !found {
			return bad("the scenario has no ECM group named %q", name)
		}
	case key == "rate":
		if cp.trace != nil {
			return bad("the workload is a trace or inline jobs: its arrivals cannot be swept")
		}
		cp.Workload.Jobs = int(math.Round(f * time.Duration(cp.Duration).Hours()))
		if cp.Workload.Jobs < 1 {
			return bad("fewer than one job over %v", time.Duration(cp.Duration))
		}
	case key == "cap":
		q := ResourceSpec{}
		if cp.Manager.DefaultQuota != nil {
			q = *cp.Manager.DefaultQuota
		}
		q.Instances = int64(n)
		cp.Manager.DefaultQuota = &q
	case key == "pool":
		if len(cp.WarmPools) == 0 {
			return bad("the scenario lists no warm_pools to size")
		}
		for i := range cp.WarmPools {
			cp.WarmPools[i].MinIdle = n
		}
	case key == "idle_timeout":
		cp.Manager.IdleTimeout = Duration(f * float64(time.Second))
	case key == "reclaim":
		opts.Reclaim = map[string]Toggle{"0": ReclaimOff, "1": ReclaimOn}[value]
	case key == "policy":
		opts.Policy, _ = manager.ParsePlacement(value)
	}
	if field, msg := cp.validate(); field != "" || msg != "" {
		return bad("%s: %s", field, msg)
	}
	return cp, opts, nil
}

// clone copies a scenario deeply enough for a sweep to change it.
func (sc *Scenario) clone() *Scenario {
	cp := *sc
	cp.Cluster.ECMs = slices.Clone(sc.Cluster.ECMs)
	cp.WarmPools = slices.Clone(sc.WarmPools)
	if q := sc.Manager.DefaultQuota; q != nil {
		qq := *q
		cp.Manager.DefaultQuota = &qq
	}
	return &cp
}

// SweepPoint is one value of a sweep and its set of runs.
type SweepPoint struct {
	Value string
	Set   *Set
}

// SweepResult is a whole sweep.
type SweepResult struct {
	Sweep  Sweep
	Points []SweepPoint
}

// RunSweep runs every point of a sweep: each value with every variant
// under every seed. Every point is checked before any runs. Variants
// must not also vary what the sweep varies (policy, reclaim).
func RunSweep(sc *Scenario, opts Options, sw Sweep, variants []Variant, seeds []uint64, so SetOptions) (*SweepResult, error) {
	if (sw.Key == "policy" || sw.Key == "reclaim") && len(variants) > 1 {
		return nil, fmt.Errorf("sweep %s: compare variants or sweep %s, not both", sw.Key, sw.Key)
	}
	type point struct {
		sc   *Scenario
		opts Options
	}
	var pts []point
	for _, v := range sw.Values {
		psc, popts, err := sw.Point(sc, opts, v)
		if err != nil {
			return nil, err
		}
		pts = append(pts, point{psc, popts})
	}
	res := &SweepResult{Sweep: sw}
	total := len(pts) * len(variants) * len(seeds)
	for i, p := range pts {
		vs := variants
		if sw.Key == "policy" || sw.Key == "reclaim" {
			vs = []Variant{{Policy: p.opts.Policy, Reclaim: p.opts.Reclaim}}
		}
		pso := so
		if so.Done != nil {
			base := i * len(variants) * len(seeds)
			pso.Done = func(done, _ int) { so.Done(base+done, total) }
		}
		set, err := RunSet(p.sc, p.opts, vs, seeds, pso)
		res.Points = append(res.Points, SweepPoint{Value: sw.Values[i], Set: set})
		if err != nil {
			return res, fmt.Errorf("sweep %s=%s: %w", sw.Key, sw.Values[i], err)
		}
	}
	return res, nil
}

// WriteSweepTable prints one line per value and variant: the value, and
// each of the measures as mean ± 95% half-width.
func WriteSweepTable(w io.Writer, res *SweepResult, measures []Measure) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, res.Sweep.Key+"\tvariant\t")
	for _, m := range measures {
		fmt.Fprint(tw, m.Desc+"\t")
	}
	fmt.Fprintln(tw, "set hash\t")
	for _, p := range res.Points {
		sums := p.Set.Summaries()
		for v, sm := range sums {
			fmt.Fprint(tw, p.Value+"\t"+sm.Variant+"\t")
			for _, m := range measures {
				fmt.Fprint(tw, formatEstimate(sm.Estimates[measureIndex(m.Name)], m.Unit)+"\t")
			}
			hash := ""
			if v == 0 {
				hash = p.Set.Hash()
			}
			fmt.Fprintln(tw, hash+"\t")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Points) > 0 && len(res.Points[0].Set.Seeds) > 1 {
		_, err := fmt.Fprintf(w, "%d replications per point: means ± 95%% confidence half-widths\n", len(res.Points[0].Set.Seeds))
		return err
	}
	return nil
}

func measureIndex(name string) int {
	for i, m := range Measures {
		if m.Name == name {
			return i
		}
	}
	return -1
}

// WriteSweepJSON writes the sweep: for each value, each variant's
// estimates and the point's set hash.
func WriteSweepJSON(w io.Writer, res *SweepResult) error {
	type variant struct {
		Variant  string              `json:"variant"`
		Measures map[string]Estimate `json:"measures"`
	}
	type point struct {
		Value    string    `json:"value"`
		SetHash  string    `json:"set_hash"`
		Variants []variant `json:"variants"`
	}
	doc := struct {
		Key    string  `json:"key"`
		Points []point `json:"points"`
	}{Key: res.Sweep.Key}
	for _, p := range res.Points {
		pt := point{Value: p.Value, SetHash: p.Set.Hash()}
		for _, sm := range p.Set.Summaries() {
			v := variant{Variant: sm.Variant, Measures: map[string]Estimate{}}
			for i, m := range Measures {
				v.Measures[m.Name] = sm.Estimates[i]
			}
			pt.Variants = append(pt.Variants, v)
		}
		doc.Points = append(doc.Points, pt)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// sweepCSV is the sweep's table as CSV: value, variant, then the mean and
// half-width of every measure.
func sweepCSV(res *SweepResult) string {
	var b strings.Builder
	b.WriteString(res.Sweep.Key + ",variant")
	for _, m := range Measures {
		b.WriteString("," + m.Name + "," + m.Name + "_ci95")
	}
	b.WriteString(",set_hash\n")
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	for _, p := range res.Points {
		for _, sm := range p.Set.Summaries() {
			b.WriteString(csvField(p.Value) + "," + csvField(sm.Variant))
			for i := range Measures {
				b.WriteString("," + f(sm.Estimates[i].Mean) + "," + f(sm.Estimates[i].HalfWidth))
			}
			b.WriteString("," + p.Set.Hash() + "\n")
		}
	}
	return b.String()
}

// sweepChart draws a measure against the swept value: one line per
// variant, with its 95% confidence band.
func sweepChart(res *SweepResult, m Measure) string {
	c := chart{
		title:  m.Desc + " against " + res.Sweep.Key,
		yLabel: m.Desc + unitSuffix(m.Unit), yFmt: func(y float64) string { return formatAxis(y, m.Unit) },
		xLabel: res.Sweep.Key, panels: []panel{{}},
	}
	idx := measureIndex(m.Name)
	xs := make([]float64, len(res.Points))
	for i, p := range res.Points {
		xs[i] = float64(i)
		if res.Sweep.Numeric() {
			xs[i], _ = strconv.ParseFloat(p.Value, 64)
		}
	}
	c.xTicks = slices.Clone(xs)
	labels := map[float64]string{}
	for i, p := range res.Points {
		labels[xs[i]] = p.Value
	}
	c.xFmt = func(x float64) string { return labels[x] }
	if len(res.Points) == 0 {
		return c.svg()
	}
	for v := range res.Points[0].Set.Variants {
		l := line{xs: xs, color: palette[v%len(palette)], dash: dashes[v%len(dashes)], width: 2}
		for _, p := range res.Points {
			sums := p.Set.Summaries()
			if v >= len(sums) {
				continue
			}
			l.name = sums[v].Variant
			e := sums[v].Estimates[idx]
			l.ys = append(l.ys, e.Mean)
			l.band = append(l.band, e.HalfWidth)
		}
		if len(res.Points[0].Set.Seeds) > 1 {
			l.name += " (95% CI band)"
		}
		c.panels[0].lines = append(c.panels[0].lines, l)
	}
	return c.svg()
}

func unitSuffix(unit string) string {
	switch unit {
	case "s":
		return " (s)"
	case "%":
		return " (%)"
	case "h":
		return " (h)"
	}
	return ""
}

func formatAxis(y float64, unit string) string {
	if unit == "%" {
		return strconv.FormatFloat(100*y, 'g', 4, 64)
	}
	return fmtNum(y)
}

// WriteSweepOutputs writes sweep.txt, sweep.csv, sweep.json and
// sweep.svg (the measure against the value) into dir.
func WriteSweepOutputs(dir string, res *SweepResult, m Measure, table []Measure) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var text, js strings.Builder
	if err := WriteSweepTable(&text, res, table); err != nil {
		return err
	}
	if err := WriteSweepJSON(&js, res); err != nil {
		return err
	}
	for name, data := range map[string]string{
		"sweep.txt": text.String(), "sweep.json": js.String(), "sweep.csv": sweepCSV(res), "sweep.svg": sweepChart(res, m),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}
