package sim

import (
	"math"
	"strings"
	"testing"
)

// Generated workloads deliver the expected number of jobs, in order,
// whatever the arrival process and daily cycle; Zipf skews users.
func TestGeneratorCounts(t *testing.T) {
	for _, c := range []struct{ name, arrival string }{
		{"poisson", `"arrival": "poisson"`},
		{"poisson diurnal", `"arrival": "poisson", "diurnal": 0.8, "diurnal_peak": "3h"`},
		{"bursty", `"arrival": "bursty", "burst_size": 20`},
		{"bursty diurnal", `"arrival": "bursty", "burst_size": 20, "diurnal": 0.5`},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(tiny, `"jobs": 300, "users": 4, "user_skew": 1.0,`, `"jobs": 20000, "users": 50, "user_skew": 1.2, `+c.arrival+`,`, 1)
			sc := mustParse(t, src)
			total, first := 0, 0
			for seed := uint64(1); seed <= 5; seed++ {
				g := newGenerator(sc, newRNG(seed, streamWorkload))
				var prev int64 = -1
				perUser := map[int32]int{}
				for {
					j, ok := g.next()
					if !ok {
						break
					}
					if j.submit < prev || j.submit >= int64(sc.Duration) || j.runtime < 0 {
						t.Fatalf("job out of order or range: %+v after %d", j, prev)
					}
					prev = j.submit
					perUser[j.user]++
					total++
				}
				first += perUser[0]
			}
			mean := float64(total) / 5
			if math.Abs(mean-20000)/20000 > 0.05 {
				t.Fatalf("%.0f jobs per run on average, want about 20000", mean)
			}
			// Zipf 1.2 over 50 users: the first has about 28% of the jobs.
			if share := float64(first) / float64(total); share < 0.22 || share > 0.34 {
				t.Fatalf("user 1 has %.2f of the jobs", share)
			}
		})
	}
}
