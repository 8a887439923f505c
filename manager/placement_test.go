package manager

import (
	"fmt"
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// Each placement chooses as documented on the same ECMs: bin-packing the
// most loaded ECM that fits, spreading the least loaded, two-choices one of
// two drawn ECMs; all fall back to the rules (and their errors) when they
// find none, and a restored State places like the original.
func TestPlacements(t *testing.T) {
	build := func(p Placement) *harness {
		h := newHarness(t, bigQuota)
		h.s.SetPlacement(p)
		h.addECM("a", res(10, 10, 10))
		h.addECM("b", res(10, 10, 10))
		h.addECM("c", res(10, 10, 10))
		// Load b with 4 GiB and c with 2 GiB.
		for i, on := range []string{"b", "b", "b", "b", "c", "c"} {
			r := h.ask(fmt.Sprintf("pin%d", i), "u-IDE", "shell-1", linkis.LabelEMInstance, on, linkis.LabelReuseExclusion, "*")
			h.start(r.EC)
		}
		return h
	}
	placeOne := func(h *harness, id string) string {
		r := h.ask(id, "v-IDE", "python-3", linkis.LabelReuseExclusion, "*")
		return r.ECM
	}
	if got := placeOne(build(PlacementBinPack), "x"); got != "b" {
		t.Fatalf("bin-packing chose %s, want the most loaded b", got)
	}
	if got := placeOne(build(PlacementSpread), "x"); got != "a" {
		t.Fatalf("spreading chose %s, want the empty a", got)
	}
	h := build(PlacementTwoChoices)
	seen := map[string]int{}
	for i := 0; i < 60; i++ {
		r := h.ask(fmt.Sprintf("x%d", i), "v-IDE", "python-3", linkis.LabelReuseExclusion, "*")
		seen[r.ECM]++
		h.apply(EngineEnded{EC: r.EC})
	}
	if len(seen) < 2 {
		t.Fatalf("two-choices always chose the same ECM: %v", seen)
	}
	// Nothing fits: every policy gives the rules' error.
	for _, p := range Placements() {
		h := build(p)
		c := h.askCmd("huge", "w-IDE", "python-3", linkis.LabelReuseExclusion, "*")
		c.Params = map[string]string{ParamMemory: "64g"}
		h.refuse(c, linkis.ErrInsufficientResource)
	}
}

// A restored state keeps placing with the policy its owner sets, and in
// the same way: two-choices draws from the ECMs in id order, which a
// restore rebuilds.
func TestTwoChoicesSurvivesRestore(t *testing.T) {
	h := newHarness(t, bigQuota)
	h.s.SetPlacement(PlacementTwoChoices)
	for i := 0; i < 8; i++ {
		h.addECM(fmt.Sprintf("m%d", 7-i), res(10, 10, 10))
	}
	r, err := Restore(h.s.Snapshot(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.SetPlacement(PlacementTwoChoices)
	for i := 0; i < 20; i++ {
		c := h.askCmd(fmt.Sprintf("a%d", i), "u-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
		c.Time = h.now
		x, err1 := h.s.Apply(c)
		y, err2 := r.Apply(c)
		if err1 != nil || err2 != nil || x.Ask.ECM != y.Ask.ECM {
			t.Fatalf("ask %d: original %s (%v), restored %s (%v)", i, x.Ask.ECM, err1, y.Ask.ECM, err2)
		}
	}
}

func bigQuota(c *Config) { c.DefaultQuota = res(1000, 1000, 1000) }

func TestParsePlacement(t *testing.T) {
	for in, want := range map[string]Placement{"rules": PlacementRules, "default": PlacementRules, "BinPack": PlacementBinPack, "spread": PlacementSpread, "two-choices": PlacementTwoChoices} {
		if got, err := ParsePlacement(in); err != nil || got != want {
			t.Errorf("%q → %v, %v", in, got, err)
		}
	}
	if _, err := ParsePlacement("random"); err == nil {
		t.Error("accepted random")
	}
	if PlacementTwoChoices.String() != "two-choices" || Placement(9).String() != "Placement(9)" {
		t.Error("names")
	}
}
