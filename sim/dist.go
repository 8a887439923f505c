package sim

import (
	"encoding/json"
	"fmt"
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
type Dist struct {
	Kind   string   `json:"dist"`
	Value  Duration `json:"value,omitempty"`
	Mean   Duration `json:"mean,omitempty"`
	Min    Duration `json:"min,omitempty"`
	Max    Duration `json:"max,omitempty"`
	Median Duration `json:"median,omitempty"`
	Sigma  float64  `json:"sigma,omitempty"`
}

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
	default:
		return "dist", fmt.Sprintf("unknown distribution %q; want const, exp, uniform or lognormal", d.Kind)
	}
	return "", ""
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
	}
	return int64(d.Value)
}

func constDist(v time.Duration) Dist { return Dist{Kind: "const", Value: Duration(v)} }
