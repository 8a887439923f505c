package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/golinkis/golinkis/manager"
)

// Replications and comparisons. A set runs every variant (policy and
// reclaim setting) under every seed: seeds are independent replications,
// and the variants of one seed see the same jobs and faults (each consumer
// draws from its own random stream: common random numbers), so their
// differences can be judged seed by seed (a paired comparison).
//
// Runs go to a pool of goroutines, one run per goroutine at a time, each
// single-threaded and deterministic; the results do not depend on how
// many run at once.

// Variant is one configuration a set compares.
type Variant struct {
	Policy  manager.Placement
	Reclaim Toggle
}

func (v Variant) options(base Options, seed uint64) Options {
	o := base
	o.Policy, o.Reclaim, o.Seed = v.Policy, v.Reclaim, seed
	return o
}

// Name is the variant's label in tables.
func (v Variant) Name() string { return Options{Policy: v.Policy, Reclaim: v.Reclaim}.variant() }

// Set is the outcome of a set of runs: Reports[v][k] is variant v under
// seed k.
type Set struct {
	Scenario string
	Variants []Variant
	Seeds    []uint64
	Reports  [][]*Report
}

// Seeds returns n consecutive seeds from base.
func Seeds(base uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + uint64(i)
	}
	return out
}

// SetOptions are the choices of RunSet beyond a run's Options.
type SetOptions struct {
	// Parallel is how many runs go at once (at least 1).
	Parallel int
	// Done, when set, is called after each run, one call at a time.
	Done func(done, total int)
}

// GCPercent is the garbage collector's setting `linkis sim` runs with
// (debug.SetGCPercent; GOGC in the environment wins). A run is a batch job
// that keeps its state to the end (~0.6 GB for the 10k-ECM day), so less
// collection for more memory pays, most when runs go in parallel: 8
// replications of that day on 2 cores took 4.69x one run with Go's default
// of 100 and 4.16x with 300, in the same quiet minutes (BENCHMARKS.md).
const GCPercent = 300

// RunSet runs every variant under every seed. A run that breaks an
// invariant does not stop the others: RunSet returns every report and the
// first error in (variant, seed) order, wrapping the *Violation.
// opts.Progress is used only when runs go one at a time (Parallel 1);
// SetOptions.Done reports progress across runs.
func RunSet(sc *Scenario, opts Options, variants []Variant, seeds []uint64, so SetOptions) (*Set, error) {
	if len(variants) == 0 || len(seeds) == 0 {
		return nil, errors.New("sim: a set needs at least one variant and one seed")
	}
	set := &Set{Scenario: sc.Name, Variants: variants, Seeds: seeds, Reports: make([][]*Report, len(variants))}
	for v := range set.Reports {
		set.Reports[v] = make([]*Report, len(seeds))
	}
	if so.Parallel > 1 {
		opts.Progress = nil // it runs on the simulator's goroutine
	}
	errs := make([]error, len(variants)*len(seeds))
	runs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range max(min(so.Parallel, len(errs)), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range runs {
				v, k := i/len(seeds), i%len(seeds)
				r, err := Run(sc, variants[v].options(opts, seeds[k]))
				set.Reports[v][k], errs[i] = r, err
				if so.Done != nil {
					mu.Lock()
					done++
					so.Done(done, len(errs))
					mu.Unlock()
				}
			}
		}()
	}
	for i := range errs {
		runs <- i
	}
	close(runs)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return set, fmt.Errorf("%s, seed %d: %w", variants[i/len(seeds)].Name(), seeds[i%len(seeds)], err)
		}
	}
	return set, nil
}

// Hash is the set's hash: a hash of its runs' hashes, in order. The same
// scenario, variants and seeds give the same hash, however many runs went
// at once.
func (set *Set) Hash() string {
	h := sha256.New()
	for _, rs := range set.Reports {
		for _, r := range rs {
			if r != nil {
				h.Write([]byte(r.RunHash))
			}
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// All returns every report, variant by variant.
func (set *Set) All() []*Report {
	var out []*Report
	for _, rs := range set.Reports {
		for _, r := range rs {
			if r != nil {
				out = append(out, r)
			}
		}
	}
	return out
}

// Measure is one number a report gives, summarised across replications.
type Measure struct {
	Name string // as in JSON and --measure
	Desc string
	Unit string // "s", "%" (a share), "" (a count), "h"
	Get  func(*Report) float64
}

// Measures lists what summaries, comparisons and sweeps report.
var Measures = []Measure{
	{"wait_mean", "wait mean", "s", func(r *Report) float64 { return r.Wait.Mean }},
	{"wait_p50", "wait p50", "s", func(r *Report) float64 { return r.Wait.P50 }},
	{"wait_p95", "wait p95", "s", func(r *Report) float64 { return r.Wait.P95 }},
	{"wait_p99", "wait p99", "s", func(r *Report) float64 { return r.Wait.P99 }},
	{"p_wait", "P(wait > 0)", "%", func(r *Report) float64 { return r.PWait }},
	{"turnaround_mean", "turnaround mean", "s", func(r *Report) float64 { return r.Turnaround.Mean }},
	{"turnaround_p95", "turnaround p95", "s", func(r *Report) float64 { return r.Turnaround.P95 }},
	{"jobs_failed", "jobs failed (measured)", "", func(r *Report) float64 {
		f := r.Failures
		return float64(f.NoRoom + f.Quota + f.Engine + f.Other)
	}},
	{"failed_no_room", "jobs failed for lack of room", "", func(r *Report) float64 { return float64(r.Failures.NoRoom) }},
	{"held_cores", "cores held (mean)", "%", func(r *Report) float64 { return r.Held.CoresMean }},
	{"busy_cores", "cores busy (mean)", "%", func(r *Report) float64 { return r.Busy.CoresMean }},
	{"held_memory", "memory held (mean)", "%", func(r *Report) float64 { return r.Held.MemoryMean }},
	{"busy_memory", "memory busy (mean)", "%", func(r *Report) float64 { return r.Busy.MemoryMean }},
	{"engine_hours", "engine-hours", "h", func(r *Report) float64 { return r.EngineHours }},
	{"idle_engine_hours", "idle engine-hours", "h", func(r *Report) float64 { return r.IdleEngineHours }},
	{"engines_started", "engines started", "", func(r *Report) float64 { return float64(r.EnginesStarted) }},
	{"jobs_in_system", "jobs in the system (mean)", "", func(r *Report) float64 { return r.Little.L }},
	{"fairness", "fairness (Jain)", "", func(r *Report) float64 { return r.Fairness }},
}

// MeasureNamed returns the measure of that name.
func MeasureNamed(name string) (Measure, bool) {
	for _, m := range Measures {
		if m.Name == name {
			return m, true
		}
	}
	return Measure{}, false
}

// Estimate is a mean across replications with the half-width of its 95%
// confidence interval (Student's t; 0 with one replication).
type Estimate struct {
	Mean      float64 `json:"mean"`
	HalfWidth float64 `json:"ci95"`
	N         int     `json:"n"`
}

// Diff is a variant's paired difference from the baseline across seeds.
type Diff struct {
	Estimate
	// Significant: the 95% interval of the difference excludes 0.
	Significant bool `json:"significant"`
}

// estimate returns the mean and 95% half-width of xs.
func estimate(xs []float64) Estimate {
	e := Estimate{N: len(xs)}
	if len(xs) == 0 {
		return e
	}
	for _, x := range xs {
		e.Mean += x
	}
	e.Mean /= float64(len(xs))
	if len(xs) < 2 {
		return e
	}
	var ss float64
	for _, x := range xs {
		ss += (x - e.Mean) * (x - e.Mean)
	}
	sd := math.Sqrt(ss / float64(len(xs)-1))
	e.HalfWidth = tQuantile975(len(xs)-1) * sd / math.Sqrt(float64(len(xs)))
	return e
}

// t975 are Student's t 0.975 quantiles for 1 to 30 degrees of freedom.
var t975 = [...]float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
	2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
	2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042}

// tQuantile975 returns Student's t 0.975 quantile for df degrees of
// freedom (the table to 30; beyond it a Cornish-Fisher expansion about
// the normal 1.96, within 0.001 of the exact value).
func tQuantile975(df int) float64 {
	if df >= 1 && df <= len(t975) {
		return t975[df-1]
	}
	z := 1.959964
	n := float64(df)
	return z + (z*z*z+z)/(4*n) + (5*math.Pow(z, 5)+16*z*z*z+3*z)/(96*n*n)
}

// Summary is one variant's estimates, measure by measure (in the order of
// Measures), and its differences from the baseline (the set's first
// variant; nil for the baseline itself).
type Summary struct {
	Variant   string
	Estimates []Estimate
	Diffs     []Diff
}

// Summaries estimates every measure for every variant, and each variant's
// paired difference from the first.
func (set *Set) Summaries() []Summary {
	out := make([]Summary, len(set.Variants))
	for v, rs := range set.Reports {
		out[v].Variant = set.Variants[v].Name()
		for _, m := range Measures {
			xs := make([]float64, 0, len(rs))
			var ds []float64
			for k, r := range rs {
				if r == nil {
					continue
				}
				xs = append(xs, m.Get(r))
				if v > 0 && set.Reports[0][k] != nil {
					ds = append(ds, m.Get(r)-m.Get(set.Reports[0][k]))
				}
			}
			out[v].Estimates = append(out[v].Estimates, estimate(xs))
			if v > 0 {
				d := Diff{Estimate: estimate(ds)}
				d.Significant = d.N >= 2 && math.Abs(d.Mean) > d.HalfWidth
				out[v].Diffs = append(out[v].Diffs, d)
			}
		}
	}
	return out
}
