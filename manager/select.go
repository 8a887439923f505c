package manager

import (
	"cmp"
	"math/bits"
	"sort"

	"github.com/golinkis/golinkis/linkis"
)

// Choosing the ECM for a new engine is a chain of small rules, in the order
// Linkis lists them:
//
//  1. available and healthy (filter): Running, health Healthy or WARN;
//     and the request fits in what it has left (filter);
//  2. label score (highest first): non-core labels shared with the request;
//  3. new-ECM standby: ECMs registered less than NewECMStandby ago come
//     after all others;
//  4. memory load (lowest band first): (used+locked)/max memory, in
//     MemoryLoadBuckets bands;
//  5. running tasks (fewest first): as the ECM last reported them (as in
//     Linkis; it changes only on heartbeats, so grants and releases do not
//     refile the ECM);
//  6. resource left (most first): memory, then cores;
//  7. hotspot tie-break: one of the HotspotTopK best, chosen by a hash of
//     the ask's nonce and the seed, so concurrent creations spread.
//
// Linkis applies its rules as successive stable sorts, which makes its last
// rule the most significant; we rank them in the order they are listed,
// which is what the list means, and band the memory load so that the later
// rules still decide between ECMs that are about as loaded.
//
// Rules 4-6 do not depend on the request, so they are the order of each
// group's B-tree (sortKey); rules 1, 3 and 7 are applied while walking it,
// and rule 2 only when some ECM shares a scorable label with the request.

// sortKey is an ECM's position by rules 4-6; ties fall to the ECM id.
type sortKey struct {
	loadBand  int64 // rule 4
	running   int64 // rule 5
	leftMem   int64 // rule 6, more first
	leftCores int64
}

func (s *State) sortKeyOf(m *ecm) sortKey {
	held := m.row.held()
	left := m.row.left()
	return sortKey{
		loadBand:  memoryLoadBand(held.Memory, m.row.max.Memory, s.cfg.MemoryLoadBuckets),
		running:   m.load.RunningTasks,
		leftMem:   left.Memory,
		leftCores: left.MilliCores,
	}
}

// memoryLoadBand is rule 4: the memory load in n bands, 0 = least loaded,
// n = full (or no memory at all). Computed exactly in 128 bits.
func memoryLoadBand(held, max int64, n int) int64 {
	if max <= 0 || held >= max {
		return int64(n)
	}
	hi, lo := bits.Mul64(uint64(held), uint64(n))
	q, _ := bits.Div64(hi, lo, uint64(max))
	return int64(q)
}

// ruleMemoryLoad, ruleRunningTasks and ruleResourceLeft compare two ECMs:
// negative when a ranks first, 0 when the rule cannot tell them apart.
func ruleMemoryLoad(a, b sortKey) int   { return cmp.Compare(a.loadBand, b.loadBand) }
func ruleRunningTasks(a, b sortKey) int { return cmp.Compare(a.running, b.running) }
func ruleResourceLeft(a, b sortKey) int {
	if c := cmp.Compare(b.leftMem, a.leftMem); c != 0 {
		return c
	}
	return cmp.Compare(b.leftCores, a.leftCores)
}

// ecmLess is the B-tree order: rules 4, 5, 6, then the id.
func ecmLess(a, b *ecm) bool {
	if c := ruleMemoryLoad(a.sk, b.sk); c != 0 {
		return c < 0
	}
	if c := ruleRunningTasks(a.sk, b.sk); c != 0 {
		return c < 0
	}
	if c := ruleResourceLeft(a.sk, b.sk); c != 0 {
		return c < 0
	}
	return a.id < b.id
}

// ecmEligible is rule 1's node part: Running and usable health.
func ecmEligible(m *ecm) bool {
	return m.status == linkis.StatusRunning && m.health.Usable()
}

// inStandby is rule 3.
func (s *State) inStandby(m *ecm, now int64) bool {
	return now-m.registeredAt < int64(s.cfg.NewECMStandby)
}

// hotspotPick is rule 7: one of the candidates (best first), chosen by a
// hash of the nonce and the seed.
func (s *State) hotspotPick(cands []*ecm, nonce uint64) *ecm {
	if len(cands) == 1 {
		return cands[0]
	}
	return cands[mix64(nonce^s.cfg.Seed)%uint64(len(cands))]
}

// selectECM chooses the ECM for a new engine of the given request and
// resource, or says why none can take it.
func (s *State) selectECM(now int64, req *linkis.EngineRequest, res linkis.Resource, nonce uint64) (*ecm, error) {
	g := s.groups[req.Tenant]
	if req.EMInstance != "" {
		return s.pinnedECM(g, req, res)
	}
	if g == nil {
		if req.Tenant != "" {
			return nil, linkis.ValueError(linkis.ErrNoNodeAvailable, linkis.LabelTenant, req.Tenant, "no ECM is registered for this tenant")
		}
		return nil, linkis.Errorf(linkis.ErrNoNodeAvailable, "ecm", "no ECM without a tenant label is registered")
	}
	if s.placement != PlacementRules {
		if m := s.placeAlt(g, res, nonce); m != nil {
			return m, nil
		}
	}
	k := s.cfg.HotspotTopK
	if scores := g.labelScores(req.Labels); len(scores) > 0 {
		if m := s.pickScored(now, scores, res, nonce, k); m != nil {
			return m, nil
		}
	}
	best := make([]*ecm, 0, k)
	standby := make([]*ecm, 0, k)
	seen := 0
	g.tree.Ascend(func(m *ecm) bool {
		seen++
		if !res.FitsIn(m.row.left()) {
			return true
		}
		if s.inStandby(m, now) {
			if len(standby) < k {
				standby = append(standby, m)
			}
			return true
		}
		best = append(best, m)
		return len(best) < k
	})
	if len(best) == 0 {
		best = standby
	}
	if len(best) > 0 {
		return s.hotspotPick(best, nonce), nil
	}
	if seen == 0 {
		return nil, linkis.Errorf(linkis.ErrNoNodeAvailable, "ecm", "no ECM%s is running and healthy", tenantSuffix(req.Tenant))
	}
	return nil, linkis.Errorf(linkis.ErrInsufficientResource, "ecm", "none of %d available ECMs%s has %v left", seen, tenantSuffix(req.Tenant), res)
}

// pickScored applies rules 2-7 to the ECMs that share labels with the
// request. It returns nil when none of them can take it.
func (s *State) pickScored(now int64, scores map[*ecm]int64, res linkis.Resource, nonce uint64, k int) *ecm {
	cands := make([]*ecm, 0, len(scores))
	for m := range scores {
		if ecmEligible(m) && res.FitsIn(m.row.left()) {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if scores[a] != scores[b] {
			return scores[a] > scores[b]
		}
		if sa, sb := s.inStandby(a, now), s.inStandby(b, now); sa != sb {
			return sb
		}
		return ecmLess(a, b)
	})
	top := scores[cands[0]]
	n := 1
	for n < len(cands) && n < k && scores[cands[n]] == top && s.inStandby(cands[n], now) == s.inStandby(cands[0], now) {
		n++
	}
	return s.hotspotPick(cands[:n], nonce)
}

// pinnedECM serves a request that names its ECM with the emInstance label.
func (s *State) pinnedECM(g *ecmGroup, req *linkis.EngineRequest, res linkis.Resource) (*ecm, error) {
	m := s.ecms[req.EMInstance]
	switch {
	case m == nil:
		return nil, linkis.ValueError(linkis.ErrUnknownNode, linkis.LabelEMInstance, req.EMInstance, "no such ECM")
	case m.group != g:
		return nil, linkis.ValueError(linkis.ErrNoNodeAvailable, linkis.LabelEMInstance, req.EMInstance, "the ECM's tenant does not match the request's")
	case !ecmEligible(m):
		return nil, linkis.ValueError(linkis.ErrNoNodeAvailable, linkis.LabelEMInstance, req.EMInstance, "the ECM is "+m.status.String()+"/"+m.health.String())
	case !res.FitsIn(m.row.left()):
		return nil, linkis.ValueError(linkis.ErrInsufficientResource, linkis.LabelEMInstance, req.EMInstance, "needs "+res.String()+", has "+m.row.left().String()+" left")
	}
	return m, nil
}

func tenantSuffix(t string) string {
	if t == "" {
		return ""
	}
	return " of tenant " + t
}
