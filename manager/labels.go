package manager

import (
	"math"

	"github.com/google/btree"

	"github.com/golinkis/golinkis/linkis"
)

// ecmGroup holds the ECMs that share one CORE label signature. For ECMs the
// only CORE label is tenant, so a group is "every untagged ECM" or "every
// ECM of tenant T"; a request reaches exactly the group of its own tenant
// (exact CORE key-set equality, as in Linkis).
//
// Within a group, the ECMs that are available and healthy are kept in a
// B-tree ordered by the load rules (see sortKey), so choosing where to start
// an engine walks a few of the best nodes instead of scanning them all.
// Non-core labels are indexed in postings for the label scorer.
type ecmGroup struct {
	tenant   string
	tree     *btree.BTreeG[*ecm]
	members  int                              // ECMs in the group, whatever their status
	postings map[linkis.Label]map[string]*ecm // non-core label → ECMs carrying it
	byID     []*ecm                           // members ordered by id (placement.go)
}

func newECMGroup(tenant string) *ecmGroup {
	return &ecmGroup{
		tenant:   tenant,
		tree:     btree.NewG(16, func(a, b *ecm) bool { return ecmLess(a, b) }),
		postings: map[linkis.Label]map[string]*ecm{},
	}
}

// scorable reports whether a label may rank ECMs: any label but the CORE
// ones and those that only steer engine reuse.
func scorable(key string) bool {
	switch key {
	case linkis.LabelEMInstance, linkis.LabelEngineInstance, linkis.LabelReuseExclusion,
		linkis.LabelEngineConnMode, linkis.LabelExecuteOnce, linkis.LabelConcurrentEngineConn:
		return false
	}
	return linkis.FeatureOf(key) != linkis.FeatureCore
}

// addECM files a new ECM in its group.
func (s *State) addECM(m *ecm) {
	tenant, _ := m.labels.Get(linkis.LabelTenant)
	g := s.groups[tenant]
	if g == nil {
		g = newECMGroup(tenant)
		s.groups[tenant] = g
	}
	m.group = g
	g.members++
	g.addByID(m)
	for _, l := range m.labels {
		if !scorable(l.Key) {
			continue
		}
		p := g.postings[l]
		if p == nil {
			p = map[string]*ecm{}
			g.postings[l] = p
		}
		p[m.id] = m
	}
	s.ecms[m.id] = m
	s.ecmDues.add(m, s.ecmDue(m))
	s.reindexECM(m)
}

// removeECM forgets an ECM that holds no engine.
func (s *State) removeECM(m *ecm) {
	g := m.group
	if m.inTree {
		g.tree.Delete(m)
		m.inTree = false
	}
	for _, l := range m.labels {
		if p := g.postings[l]; p != nil {
			delete(p, m.id)
			if len(p) == 0 {
				delete(g.postings, l)
			}
		}
	}
	g.members--
	g.removeByID(m)
	if g.members == 0 {
		delete(s.groups, g.tenant)
	}
	delete(s.ecms, m.id)
	s.ecmDues.remove(m)
}

// reindexECM refiles an ECM after anything its order or eligibility depends
// on changed: ledger, reported running tasks, status, health.
func (s *State) reindexECM(m *ecm) {
	if m.inTree {
		m.group.tree.Delete(m) // must find it under its old key
		m.inTree = false
	}
	m.sk = s.sortKeyOf(m)
	if ecmEligible(m) {
		m.group.tree.ReplaceOrInsert(m)
		m.inTree = true
	}
}

// labelScores ranks the ECMs of a group for a request by the non-core labels
// they share with it. Each shared label adds its feature's weight times an
// inverse-frequency factor ln(1 + members/carriers), so a label carried by
// few ECMs says more about them than one carried by all (Linkis's scorer
// penalises widely shared labels the same way, but Linkis never calls it).
// ECMs sharing nothing are absent (score 0).
//
// Scores are integers (thousandths) so that every replica, whatever its CPU,
// ranks the same way.
func (g *ecmGroup) labelScores(req linkis.Labels) map[*ecm]int64 {
	var scores map[*ecm]int64
	for _, l := range req {
		if !scorable(l.Key) {
			continue
		}
		p := g.postings[l]
		if len(p) == 0 {
			continue
		}
		idf := math.Log1p(float64(g.members) / float64(len(p)))
		w := int64(math.Round(linkis.FeatureOf(l.Key).Weight() * 1000 * idf))
		if scores == nil {
			scores = map[*ecm]int64{}
		}
		for _, m := range p {
			scores[m] += w
		}
	}
	return scores
}
