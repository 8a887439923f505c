package sim

import (
	"math"
	"slices"
	"sort"
	"time"
)

// jobSpec is one job as the workload produces it.
type jobSpec struct {
	submit  int64 // ns since the start
	runtime int64 // ns
	user    int32
	creator int32
	engine  int32 // index in Scenario.Engines
	res     int32 // index in the size table, -1 = the engine's default
}

// workload yields jobs in order of submission.
type workload interface {
	next() (jobSpec, bool)
}

// traceWorkload replays a loaded trace (or inline jobs).
type traceWorkload struct {
	jobs []jobSpec
	i    int
}

func (w *traceWorkload) next() (jobSpec, bool) {
	if w.i >= len(w.jobs) {
		return jobSpec{}, false
	}
	w.i++
	return w.jobs[w.i-1], true
}

// generator draws jobs: arrivals from a Poisson or bursty process whose
// rate follows a daily cycle (thinning: candidates at the peak rate are
// kept with probability rate(t)/peak), users and creators from Zipf laws,
// engine types and sizes from weighted mixes, runtimes from a distribution.
type generator struct {
	g               *rng
	end             float64   // ns
	t               float64   // time of the last candidate, ns
	base            float64   // bursty: start of the next burst
	haveNext        bool      // base is drawn and not yet used
	pending         []float64 // bursty: members of started bursts, in time order
	peak            float64   // peak rate, jobs per ns
	amp, phase      float64
	bursty          bool
	burstSize       float64
	burstSpread     float64 // mean gap inside a burst, ns
	users, creators []float64
	engines, sizes  []float64
	engineIdx       []int32
	runtime         Dist
	sizeless        bool
	diurnalPeriodNs float64
}

const day = float64(24 * time.Hour)

func newGenerator(sc *Scenario, g *rng) *generator {
	w := &sc.Workload
	dur := float64(sc.Duration)
	mean := float64(w.Jobs) / dur // jobs per ns, averaged over the run
	gen := &generator{
		g: g, end: dur, amp: w.Diurnal, bursty: w.Arrival == "bursty",
		burstSize: w.BurstSize, burstSpread: float64(w.BurstSpread),
		users: zipfTable(w.Users, w.UserSkew), creators: zipfTable(len(w.Creators), w.CreatorSkew),
		runtime: w.Runtime, diurnalPeriodNs: day,
	}
	gen.phase = float64(w.DiurnalPeak)
	// Scale the base rate so that the cycle averages to the mean over the
	// run, whatever its length: mean = base × avg(1 + amp·cos(...)).
	avg := 1.0
	if gen.amp > 0 {
		avg = 1 + gen.amp*cycleMean(gen.phase, dur)
	}
	gen.peak = mean / avg * (1 + gen.amp)
	idx := sc.engineIndex()
	var ws []float64
	for _, e := range w.EngineMix {
		gen.engineIdx = append(gen.engineIdx, int32(idx[e.Type]))
		ws = append(ws, e.Weight)
	}
	gen.engines = cumulative(ws)
	ws = ws[:0]
	for _, r := range w.ResourceMix {
		ws = append(ws, r.Weight)
	}
	gen.sizes = cumulative(ws)
	gen.sizeless = len(w.ResourceMix) == 0
	return gen
}

// cycleMean is the mean of cos(2π(t−phase)/day) over [0, dur].
func cycleMean(phase, dur float64) float64 {
	w := 2 * math.Pi / day
	return (math.Sin(w*(dur-phase)) - math.Sin(-w*phase)) / (w * dur)
}

// accept keeps a candidate at time t with probability rate(t)/peak.
func (gen *generator) accept() bool {
	if gen.amp == 0 {
		return true
	}
	r := (1 + gen.amp*math.Cos(2*math.Pi*(gen.t-gen.phase)/gen.diurnalPeriodNs)) / (1 + gen.amp)
	return gen.g.float() < r
}

func (gen *generator) next() (jobSpec, bool) {
	g := gen.g
	switch {
	case gen.bursty:
		// Bursts start as a thinned Poisson process; each brings a
		// geometric number of jobs spread after its start. Bursts may
		// overlap: their members wait, in time order, in pending.
		if !gen.haveNext {
			for {
				gen.base += g.exp(gen.burstSize / gen.peak)
				if gen.base >= gen.end {
					break
				}
				gen.t = gen.base
				if gen.accept() {
					break
				}
			}
			gen.haveNext = true
		}
		switch {
		case len(gen.pending) > 0 && (gen.pending[0] <= gen.base || gen.base >= gen.end):
			gen.t = gen.pending[0]
			gen.pending = gen.pending[1:]
		case gen.base < gen.end:
			gen.t = gen.base
			gen.haveNext = false
			p := 1 / gen.burstSize
			n := int(math.Floor(math.Log(1-g.float()) / math.Log(1-min(p, 0.999999))))
			at := gen.base
			for ; n > 0; n-- {
				at += g.exp(gen.burstSpread)
				if at >= gen.end {
					break
				}
				i := sort.SearchFloat64s(gen.pending, at)
				gen.pending = slices.Insert(gen.pending, i, at)
			}
		default:
			return jobSpec{}, false
		}
	default:
		for {
			gen.t += g.exp(1 / gen.peak)
			if gen.t >= gen.end || gen.accept() {
				break
			}
		}
	}
	if gen.t >= gen.end {
		return jobSpec{}, false
	}
	j := jobSpec{
		submit:  int64(gen.t),
		user:    int32(g.weighted(gen.users)),
		creator: int32(g.weighted(gen.creators)),
		engine:  gen.engineIdx[g.weighted(gen.engines)],
		res:     -1,
	}
	if !gen.sizeless {
		j.res = int32(g.weighted(gen.sizes))
	}
	j.runtime = gen.runtime.sample(g)
	return j, true
}
