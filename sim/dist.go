package sim

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads from JSON as a Go duration string
// ("90s", "1h30m") or a number of seconds.
type Duration time.Duration

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := parseDuration(str)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
		return fmt.Errorf("duration %s: want a string like \"90s\" or a number of seconds", s)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// parseDuration reads a Go duration or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a Go duration like 90s or 1h30m, or a number of seconds", s)
	}
	return d, nil
}

// Dist describes a distribution of durations.
//
//	{"dist": "const", "value": "5s"}
//	{"dist": "exp", "mean": "2m"}
//	{"dist": "uniform", "min": "1s", "max": "9s"}
//	{"dist": "lognormal", "median": "2m", "sigma": 1.0}
//	{"dist": "hyperexp", "means": ["10s", "10m"], "weights": [0.9, 0.1]}
//	{"dist": "pareto", "min": "10s", "alpha": 1.5, "max": "6h"}
//	{"dist": "empirical", "values": ["12s", "40s", "3m"]}
//	{"dist": "empirical", "file": "runtimes.csv", "column": "duration"}
//
// A hyper-exponential draws an exponential of one of its means, chosen by
// weight (a heavy tail with an exponential's simplicity: its squared
// coefficient of variation exceeds 1). A Pareto has scale min and shape
// alpha (alpha ≤ 2: infinite variance; ≤ 1: infinite mean), cut at max when
// given. An empirical distribution resamples the values observed in a trace
// (a CSV file with a header, relative to the scenario file; column defaults
// to duration) or listed inline.
type Dist struct {
	Kind    string     `json:"dist"`
	Value   Duration   `json:"value,omitempty"`
	Mean    Duration   `json:"mean,omitempty"`
	Min     Duration   `json:"min,omitempty"`
	Max     Duration   `json:"max,omitempty"`
	Median  Duration   `json:"median,omitempty"`
	Sigma   float64    `json:"sigma,omitempty"`
	Means   []Duration `json:"means,omitempty"`
	Weights []float64  `json:"weights,omitempty"`
	Alpha   float64    `json:"alpha,omitempty"`
	Values  []Duration `json:"values,omitempty"`
	File    string     `json:"file,omitempty"`
	Column  string     `json:"column,omitempty"`

	cum     []float64 // hyperexp: cumulative weights
	samples []int64   // empirical: the values, from Values or File
}

// maxEmpirical bounds the values of an empirical distribution.
const maxEmpirical = 10_000_000

// validate returns the field at fault (relative to the Dist) and why.
func (d *Dist) validate() (field, msg string) {
	neg := func(name string, v Duration) (string, string) {
		if v < 0 {
			return name, fmt.Sprintf("must not be negative, got %v", time.Duration(v))
		}
		return "", ""
	}
	switch d.Kind {
	case "", "const":
		return neg("value", d.Value)
	case "exp":
		if d.Mean <= 0 {
			return "mean", fmt.Sprintf("must be positive, got %v", time.Duration(d.Mean))
		}
	case "uniform":
		if f, m := neg("min", d.Min); f != "" {
			return f, m
		}
		if d.Max < d.Min {
			return "max", fmt.Sprintf("%v is less than min %v", time.Duration(d.Max), time.Duration(d.Min))
		}
	case "lognormal":
		if d.Median <= 0 {
			return "median", fmt.Sprintf("must be positive, got %v", time.Duration(d.Median))
		}
		if d.Sigma < 0 || d.Sigma > 5 || math.IsNaN(d.Sigma) {
			return "sigma", fmt.Sprintf("must be from 0 to 5, got %v", d.Sigma)
		}
	case "hyperexp":
		if len(d.Means) == 0 || len(d.Means) > maxMixes {
			return "means", fmt.Sprintf("want 1 to %d means, got %d", maxMixes, len(d.Means))
		}
		if len(d.Weights) != len(d.Means) {
			return "weights", fmt.Sprintf("want one weight per mean (%d), got %d", len(d.Means), len(d.Weights))
		}
		for i, m := range d.Means {
			if m <= 0 {
				return fmt.Sprintf("means[%d]", i), fmt.Sprintf("must be positive, got %v", time.Duration(m))
			}
			if w := d.Weights[i]; !(w > 0) || math.IsInf(w, 0) {
				return fmt.Sprintf("weights[%d]", i), fmt.Sprintf("must be positive, got %v", w)
			}
		}
	case "pareto":
		if d.Min <= 0 {
			return "min", fmt.Sprintf("the scale must be positive, got %v", time.Duration(d.Min))
		}
		if !(d.Alpha > 0) || d.Alpha > 100 {
			return "alpha", fmt.Sprintf("the shape must be from 0 (excluded) to 100, got %v", d.Alpha)
		}
		if d.Max != 0 && d.Max < d.Min {
			return "max", fmt.Sprintf("%v is less than min %v", time.Duration(d.Max), time.Duration(d.Min))
		}
	case "empirical":
		if (len(d.Values) > 0) == (d.File != "") {
			return "values", "an empirical distribution needs values or a file, not both"
		}
		if len(d.Values) > maxEmpirical {
			return "values", fmt.Sprintf("at most %d values", maxEmpirical)
		}
		for i, v := range d.Values {
			if v < 0 {
				return fmt.Sprintf("values[%d]", i), fmt.Sprintf("must not be negative, got %v", time.Duration(v))
			}
		}
		if d.Column != "" && d.File == "" {
			return "column", "a column needs a file"
		}
	default:
		return "dist", fmt.Sprintf("unknown distribution %q; want const, exp, uniform, lognormal, hyperexp, pareto or empirical", d.Kind)
	}
	return "", ""
}

// prepare readies a valid distribution for sampling (empirical files are
// read by LoadScenario first).
func (d *Dist) prepare() {
	switch d.Kind {
	case "hyperexp":
		d.cum = cumulative(d.Weights)
	case "empirical":
		if d.File == "" {
			d.samples = make([]int64, len(d.Values))
			for i, v := range d.Values {
				d.samples[i] = int64(v)
			}
		}
	}
}

// loadEmpirical reads an empirical distribution's file: a CSV with a
// header, whose column (default duration) holds durations as a trace's
// duration column does.
func (d *Dist) loadEmpirical(r io.Reader, name string) error {
	col := d.Column
	if col == "" {
		col = "duration"
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	bad := func(line int, format string, args ...any) error {
		return &TraceError{File: name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	header, err := cr.Read()
	if err != nil {
		return bad(1, "want a header line naming the %s column: %v", col, err)
	}
	at := -1
	for i, h := range header {
		if strings.TrimSpace(h) == col {
			at = i
		}
	}
	if at < 0 {
		return bad(1, "no %s column in the header", col)
	}
	d.samples = d.samples[:0]
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return bad(line, "%v", err)
		}
		if at >= len(rec) {
			return bad(line, "the line has no %s column", col)
		}
		v, err := parseDuration(rec[at])
		if err != nil || v < 0 {
			return bad(line, "%q is not a duration", rec[at])
		}
		if len(d.samples) >= maxEmpirical {
			return bad(line, "more than %d values", maxEmpirical)
		}
		d.samples = append(d.samples, int64(v))
	}
	if len(d.samples) == 0 {
		return bad(0, "no values")
	}
	return nil
}

// maxLognormal caps lognormal draws at 1000× the median, so that one
// draw from a heavy tail cannot run a job for years.
const maxLognormal = 1000

// sample draws one duration in nanoseconds (never negative).
func (d *Dist) sample(g *rng) int64 {
	switch d.Kind {
	case "exp":
		return int64(g.exp(float64(d.Mean)))
	case "uniform":
		return int64(d.Min) + int64(g.float()*float64(d.Max-d.Min))
	case "lognormal":
		f := math.Exp(d.Sigma * g.norm())
		return int64(float64(d.Median) * min(f, maxLognormal))
	case "hyperexp":
		return int64(g.exp(float64(d.Means[g.weighted(d.cum)])))
	case "pareto":
		// Inverse transform: min / U^(1/alpha), U uniform in (0, 1].
		x := float64(d.Min) / math.Pow(1-g.float(), 1/d.Alpha)
		if d.Max > 0 {
			x = min(x, float64(d.Max))
		}
		return int64(min(x, float64(maxDuration)))
	case "empirical":
		return d.samples[g.intn(len(d.samples))]
	}
	return int64(d.Value)
}

// Moments returns the mean and second moment of the distribution in
// seconds (and seconds²), as far as they are finite; ok is false when
// they are not known in closed form (a Pareto with alpha ≤ 2 and no max).
func (d *Dist) Moments() (m1, m2 float64, ok bool) {
	sec := func(x Duration) float64 { return time.Duration(x).Seconds() }
	switch d.Kind {
	case "", "const":
		v := sec(d.Value)
		return v, v * v, true
	case "exp":
		m := sec(d.Mean)
		return m, 2 * m * m, true
	case "uniform":
		a, b := sec(d.Min), sec(d.Max)
		return (a + b) / 2, (a*a + a*b + b*b) / 3, true
	case "hyperexp":
		total := 0.0
		for _, w := range d.Weights {
			total += w
		}
		for i, m := range d.Means {
			p := d.Weights[i] / total
			m1 += p * sec(m)
			m2 += p * 2 * sec(m) * sec(m)
		}
		return m1, m2, true
	case "empirical":
		for _, v := range d.samples {
			x := time.Duration(v).Seconds()
			m1 += x
			m2 += x * x
		}
		n := float64(len(d.samples))
		return m1 / n, m2 / n, n > 0
	}
	return 0, 0, false
}

func constDist(v time.Duration) Dist { return Dist{Kind: "const", Value: Duration(v)} }
