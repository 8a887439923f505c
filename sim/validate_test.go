package sim

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/golinkis/golinkis/manager"
)

// The validation suite: queueing systems whose answers are known in closed
// form, run through the whole simulator - the real manager's FIFO queue per
// combined label, its grants and releases, warm engines kept by a pool -
// and compared with theory. Each case runs independent replications (one
// seed each, after a warm-up) and requires every measure to lie within
// t(0.995, R-1) standard errors of the theoretical value, and that
// standard error to be small (so a biased simulator cannot pass on noise).
// sim/doc.go summarises the cases; BENCHMARKS.md the figures.

// queueCase is one single-queue system: Poisson arrivals at lambda (per
// second), c engines kept warm, service times from service.
type queueCase struct {
	name    string
	c       int
	lambda  float64
	service string // a Dist in JSON
	jobs    int    // per replication
}

// scenario builds the case: one user, one engine type of 1 core, one host
// of exactly c cores holding c engines (a warm pool of c, the key's cap
// c), and timeouts that never fire, so that the manager is an M/G/c queue.
// The full invariant check runs every 100,000 events (the per-command
// checks still run after every command): other tests check the
// invariants, these the queueing.
func (q queueCase) scenario(t *testing.T) *Scenario {
	t.Helper()
	return mustParse(t, q.src())
}

func (q queueCase) src() string {
	dur := time.Duration(float64(q.jobs) / q.lambda * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf(`{
  "name": %q, "duration": "%v", "warmup": "%v", "drain": "6h",
  "manager": {"idle_timeout": "240h", "ask_wait_timeout": "240h", "lock_timeout": "1h", "tick_interval": "1m",
              "max_tasks_per_ec": 1000000000, "max_waiters_per_key": 1000000,
              "default_quota": {"memory": "%dg", "cores": "%d", "instances": %d}},
  "engines": [{"type": "svc-1", "memory": "1g", "cores": "1"}],
  "cluster": {"ecms": [{"count": 1, "memory": "%dg", "cores": "%d", "instances": %d}]},
  "workload": {"jobs": %d, "users": 1, "runtime": %s},
  "warm_pools": [{"min_idle": %d}],
  "check": {"full_every": 100000}
}`, q.name, dur, dur/10, q.c, q.c, q.c, q.c, q.c, q.c, q.jobs, q.service, q.c)
}

// theory is what a case must give.
type theory struct {
	wq, pWait, l, rho float64
}

// erlangC is the probability that an arrival waits in M/M/c with offered
// load a = λ/μ (< c).
func erlangC(c int, a float64) float64 {
	term, sum := 1.0, 0.0
	for k := 0; k < c; k++ {
		sum += term
		term *= a / float64(k+1)
	}
	top := term * float64(c) / (float64(c) - a) // a^c/c! · c/(c-a)
	return top / (sum + top)
}

// mmc is M/M/c: Erlang C.
func mmc(c int, lambda, mu float64) theory {
	a := lambda / mu
	pw := erlangC(c, a)
	wq := pw / (float64(c)*mu - lambda)
	return theory{wq: wq, pWait: pw, l: lambda*wq + a, rho: a / float64(c)}
}

// mg1 is M/G/1: Pollaczek-Khinchine, from the service's first two moments.
func mg1(lambda, es, es2 float64) theory {
	rho := lambda * es
	wq := lambda * es2 / (2 * (1 - rho))
	return theory{wq: wq, pWait: rho, l: lambda*wq + rho, rho: rho}
}

// t995 is Student's t 0.995 quantile for 7 degrees of freedom (8
// replications).
const t995df7 = 3.499

func checkQueue(t *testing.T, q queueCase, want theory) {
	t.Helper()
	const reps = 8
	sc := q.scenario(t)
	set, err := RunSet(sc, Options{}, []Variant{{Policy: manager.PlacementRules}}, Seeds(101, reps), SetOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	measure := func(name string, theory float64, get func(*Report) float64) {
		t.Helper()
		xs := make([]float64, reps)
		for k, r := range set.Reports[0] {
			xs[k] = get(r)
		}
		e := estimate(xs)
		se := e.HalfWidth / tQuantile975(reps-1)
		t.Logf("%s %s: %.4f ± %.4f (95%%), theory %.4f", q.name, name, e.Mean, e.HalfWidth, theory)
		if math.Abs(e.Mean-theory) > t995df7*se {
			t.Errorf("%s %s: %.4f is %.1f standard errors from the theory %.4f", q.name, name, e.Mean, math.Abs(e.Mean-theory)/se, theory)
		}
		if se > 0.05*theory {
			t.Errorf("%s %s: standard error %.4f is over 5%% of %.4f: too imprecise to judge", q.name, name, se, theory)
		}
	}
	for _, r := range set.Reports[0] {
		if r.Jobs.Failed != 0 || r.Jobs.Unfinished != 0 || r.EnginesStarted != q.c {
			t.Fatalf("%s seed %d: jobs %+v, %d engines started: not a clean queue", q.name, r.Seed, r.Jobs, r.EnginesStarted)
		}
	}
	measure("mean wait Wq (s)", want.wq, func(r *Report) float64 { return r.Wait.Mean })
	measure("P(wait > 0)", want.pWait, func(r *Report) float64 { return r.PWait })
	measure("L (jobs in the system)", want.l, func(r *Report) float64 { return r.Little.L })
	measure("utilisation (busy cores)", want.rho, func(r *Report) float64 { return r.Busy.CoresMean })
}

// M/M/1 at ρ = 0.7: Wq = ρ/(μ-λ), P(wait) = ρ, L = ρ/(1-ρ).
func TestValidateMM1(t *testing.T) {
	checkQueue(t, queueCase{name: "M/M/1", c: 1, lambda: 0.7, service: `{"dist": "exp", "mean": "1s"}`, jobs: 30000},
		mmc(1, 0.7, 1))
}

// M/M/4 at ρ = 0.8: Erlang C.
func TestValidateMMc(t *testing.T) {
	checkQueue(t, queueCase{name: "M/M/4", c: 4, lambda: 3.2, service: `{"dist": "exp", "mean": "1s"}`, jobs: 40000},
		mmc(4, 3.2, 1))
}

// M/G/1 by Pollaczek-Khinchine, with deterministic service (M/D/1) and a
// hyper-exponential one (squared coefficient of variation 3).
func TestValidateMG1(t *testing.T) {
	checkQueue(t, queueCase{name: "M/D/1", c: 1, lambda: 0.7, service: `{"dist": "const", "value": "1s"}`, jobs: 30000},
		mg1(0.7, 1, 1))
	h2 := Dist{Kind: "hyperexp", Means: []Duration{Duration(500 * time.Millisecond), Duration(3 * time.Second)}, Weights: []float64{0.8, 0.2}}
	es, es2, _ := h2.Moments()
	checkQueue(t, queueCase{name: "M/H2/1", c: 1, lambda: 0.5, service: `{"dist": "hyperexp", "means": ["500ms", "3s"], "weights": [0.8, 0.2]}`, jobs: 40000},
		mg1(0.5, es, es2))
}

// Little's law, L = λW, on every shipped scenario that runs in seconds:
// the time-averaged number of jobs in the system against the arrival rate
// times the mean time in the system, measured independently (an integral
// over time; a mean over jobs).
func TestValidateLittlesLaw(t *testing.T) {
	for _, p := range []string{"scenarios/small.json", "scenarios/faults.json", "scenarios/trace.json", "scenarios/few-hosts.json"} {
		sc, err := LoadScenario(p)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Run(sc, Options{Seed: 3, FullCheckEvery: 1 << 20}) // the invariants are other tests' business
		if err != nil {
			t.Fatal(err)
		}
		lw := r.Little.Lambda * r.Little.W
		t.Logf("%s: L %.4f, λW %.4f (λ %.5f/s, W %.2fs), %d unfinished", p, r.Little.L, lw, r.Little.Lambda, r.Little.W, r.Jobs.Unfinished)
		if r.Little.L <= 0 || math.Abs(r.Little.L-lw) > 0.01*r.Little.L {
			t.Errorf("%s: L = %.4f but λW = %.4f", p, r.Little.L, lw)
		}
	}
}
