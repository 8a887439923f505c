package sim

import (
	"math"
	"math/rand/v2"
	"sort"
)

// rng is xoshiro256** seeded through SplitMix64: fast, small, and the same
// stream on every platform. It is a rand.Source, so math/rand/v2 supplies
// the normal and exponential variates on top of it.
type rng struct {
	s [4]uint64
	r *rand.Rand
}

// The independent streams of one run. Each consumer draws from its own, so
// that a policy that makes the cluster draw more launch latencies does not
// change the workload: policies compared under one seed see the same jobs.
const (
	streamWorkload uint64 = iota + 1
	streamCluster
	streamFaults
	streamNonces
	streamClient
)

func newRNG(seed, stream uint64) *rng {
	g := &rng{}
	x := seed ^ stream*0x9e3779b97f4a7c15
	for i := range g.s {
		x += 0x9e3779b97f4a7c15
		g.s[i] = splitmix(x)
	}
	g.r = rand.New(g)
	return g
}

func splitmix(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Uint64 implements rand.Source.
func (g *rng) Uint64() uint64 {
	s := &g.s
	result := bitsRotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bitsRotl(s[3], 45)
	return result
}

func bitsRotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

// float returns a uniform float in [0, 1).
func (g *rng) float() float64 { return float64(g.Uint64()>>11) / (1 << 53) }

// intn returns a uniform int in [0, n); n > 0.
func (g *rng) intn(n int) int { return int((g.Uint64() >> 1) % uint64(n)) }

// exp returns an exponential variate with the given mean.
func (g *rng) exp(mean float64) float64 { return g.r.ExpFloat64() * mean }

// norm returns a standard normal variate.
func (g *rng) norm() float64 { return g.r.NormFloat64() }

// weighted picks an index from a cumulative weight table (last = total).
func (g *rng) weighted(cum []float64) int {
	if len(cum) == 1 {
		return 0
	}
	u := g.float() * cum[len(cum)-1]
	i := sort.SearchFloat64s(cum, u)
	if i < len(cum) && cum[i] == u {
		i++
	}
	return min(i, len(cum)-1)
}

// zipfTable returns the cumulative weights of ranks 1..n under a Zipf law
// with exponent s (0 = uniform): weight(k) = 1/k^s.
func zipfTable(n int, s float64) []float64 {
	cum := make([]float64, n)
	total := 0.0
	for k := 1; k <= n; k++ {
		total += 1 / math.Pow(float64(k), s)
		cum[k-1] = total
	}
	return cum
}

// cumulative turns weights into a cumulative table.
func cumulative(ws []float64) []float64 {
	cum := make([]float64, len(ws))
	total := 0.0
	for i, w := range ws {
		total += w
		cum[i] = total
	}
	return cum
}
