package manager

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/golinkis/golinkis/linkis"
)

// Placement is an ECM-choice policy: how the manager chooses the ECM on
// which a new engine starts. The zero value, PlacementRules, is the Linkis
// rule chain of select.go and what a production manager uses; the others
// exist so that the simulator can compare policies on the same workload.
//
// A Placement is code, not state: like the engine plugins, every replica
// must be given the same one before it applies a command, it is not part of
// a snapshot, and each policy is a pure function of the state and the ask's
// nonce, so replicas still agree byte for byte.
//
// The alternative policies apply rule 1 (available, healthy, fits) and an
// emInstance pin as the rules do, but not the label score, the new-ECM
// standby or the hotspot tie-break. When a policy finds no ECM the rule
// chain runs, so an ask is refused for the same reasons under every policy.
type Placement uint8

// The placements.
const (
	// PlacementRules is the Linkis rule chain (select.go).
	PlacementRules Placement = iota
	// PlacementBinPack starts the engine on the most loaded ECM that still
	// fits it (highest memory-load band, then most running tasks, then
	// least memory left): it fills ECMs one after another.
	PlacementBinPack
	// PlacementSpread starts the engine on the least loaded ECM that fits
	// it (lowest band, fewest running tasks, most left), deterministically:
	// the rule chain without its label score, standby and random top-K.
	PlacementSpread
	// PlacementTwoChoices draws two ECMs of the group uniformly (by a hash
	// of the nonce and the seed) and takes the less loaded one that fits
	// (power of two choices; Mitzenmacher 2001).
	PlacementTwoChoices
)

var placementNames = [...]string{"rules", "binpack", "spread", "two-choices"}

// String returns the placement's name, as ParsePlacement reads it.
func (p Placement) String() string {
	if int(p) < len(placementNames) {
		return placementNames[p]
	}
	return "Placement(" + strconv.Itoa(int(p)) + ")"
}

// Placements lists every placement, the default first.
func Placements() []Placement {
	return []Placement{PlacementRules, PlacementBinPack, PlacementSpread, PlacementTwoChoices}
}

// ParsePlacement parses a placement name (rules, binpack, spread,
// two-choices), ignoring case; "default" and "linkis" name the rules.
func ParsePlacement(s string) (Placement, error) {
	switch strings.ToLower(s) {
	case "default", "linkis":
		return PlacementRules, nil
	}
	for i, n := range placementNames {
		if strings.EqualFold(s, n) {
			return Placement(i), nil
		}
	}
	return 0, linkis.ValueError(linkis.ErrInvalidArgument, "placement", s, "must be one of "+strings.Join(placementNames[:], ", "))
}

// SetPlacement installs an ECM-choice policy. Call it before applying any
// command, with the same policy on every replica (see Placement).
func (s *State) SetPlacement(p Placement) { s.placement = p }

// Placement returns the ECM-choice policy in use.
func (s *State) Placement() Placement { return s.placement }

// placeAlt applies an alternative policy; nil means it found no ECM.
func (s *State) placeAlt(g *ecmGroup, res linkis.Resource, nonce uint64) *ecm {
	fits := func(m *ecm) bool { return res.FitsIn(m.row.left()) }
	var found *ecm
	switch s.placement {
	case PlacementBinPack:
		// Start below the full band: ECMs with no memory left cannot fit.
		pivot := &ecm{sk: sortKey{loadBand: int64(s.cfg.MemoryLoadBuckets) - 1, running: math.MaxInt64, leftMem: math.MinInt64, leftCores: math.MinInt64}}
		g.tree.DescendLessOrEqual(pivot, func(m *ecm) bool {
			if fits(m) {
				found = m
				return false
			}
			return true
		})
		if found == nil && res.Memory == 0 { // a memoryless engine fits a memory-full ECM
			g.tree.Descend(func(m *ecm) bool {
				if fits(m) {
					found = m
					return false
				}
				return true
			})
		}
	case PlacementSpread:
		g.tree.Ascend(func(m *ecm) bool {
			if fits(m) {
				found = m
				return false
			}
			return true
		})
	case PlacementTwoChoices:
		n := uint64(len(g.byID))
		if n == 0 {
			return nil
		}
		h := mix64(nonce ^ s.cfg.Seed ^ 0x7f4a7c159e3779b9)
		for range 2 {
			m := g.byID[h%n]
			h = mix64(h)
			if ecmEligible(m) && fits(m) && (found == nil || ecmLess(m, found)) {
				found = m
			}
		}
	}
	return found
}

// addByID and removeByID keep a group's ECMs ordered by id, the order in
// which two-choices draws them (the same on every replica, restored or not).
func (g *ecmGroup) addByID(m *ecm) {
	i, _ := slices.BinarySearchFunc(g.byID, m.id, func(x *ecm, id string) int { return strings.Compare(x.id, id) })
	g.byID = slices.Insert(g.byID, i, m)
}

func (g *ecmGroup) removeByID(m *ecm) {
	if i, ok := slices.BinarySearchFunc(g.byID, m.id, func(x *ecm, id string) int { return strings.Compare(x.id, id) }); ok {
		g.byID = slices.Delete(g.byID, i, i+1)
	}
}
