package manager

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func TestMemoryLoadBand(t *testing.T) {
	for _, c := range []struct {
		held, max int64
		n         int
		want      int64
	}{
		{0, 100, 10, 0},
		{9, 100, 10, 0},
		{10, 100, 10, 1},
		{55, 100, 10, 5},
		{99, 100, 10, 9},
		{100, 100, 10, 10},
		{150, 100, 10, 10}, // over max: the worst band
		{0, 0, 10, 10},     // no memory at all: the worst band
		{1 << 61, 1 << 62, 10, 5},
		{(1 << 62) - 1, 1 << 62, 1000, 999}, // no overflow near the top
	} {
		if got := memoryLoadBand(c.held, c.max, c.n); got != c.want {
			t.Errorf("memoryLoadBand(%d, %d, %d) = %d, want %d", c.held, c.max, c.n, got, c.want)
		}
	}
}

func TestRuleComparators(t *testing.T) {
	base := sortKey{loadBand: 3, running: 2, leftMem: 100, leftCores: 10}
	with := func(f func(*sortKey)) sortKey { k := base; f(&k); return k }
	for _, c := range []struct {
		name string
		rule func(a, b sortKey) int
		a, b sortKey
		want int
	}{
		{"memory load: lower band first", ruleMemoryLoad, with(func(k *sortKey) { k.loadBand = 1 }), base, -1},
		{"memory load: ties", ruleMemoryLoad, with(func(k *sortKey) { k.running = 9 }), base, 0},
		{"running tasks: fewer first", ruleRunningTasks, with(func(k *sortKey) { k.running = 0 }), base, -1},
		{"running tasks: more last", ruleRunningTasks, with(func(k *sortKey) { k.running = 5 }), base, 1},
		{"resource left: more memory first", ruleResourceLeft, with(func(k *sortKey) { k.leftMem = 200 }), base, -1},
		{"resource left: then more cores", ruleResourceLeft, with(func(k *sortKey) { k.leftCores = 5 }), base, 1},
		{"resource left: ties", ruleResourceLeft, base, base, 0},
	} {
		if got := c.rule(c.a, c.b); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

// single makes selection deterministic: the hotspot rule picks among one.
func single(c *Config) { c.HotspotTopK = 1; c.DefaultQuota = res(1000, 1000, 100) }

func TestSelectFiltersUnavailableAndUnhealthy(t *testing.T) {
	h := newHarness(t, single)
	h.addECM("sick", res(64, 32, 20))
	h.addECM("warn", res(8, 8, 20))
	h.addECM("gone", res(64, 32, 20))
	h.apply(ECMHeartbeat{ID: "sick", Health: linkis.HealthUnHealthy})
	h.apply(ECMHeartbeat{ID: "warn", Health: linkis.HealthWarn})
	h.apply(DeregisterECM{ID: "gone"})
	if a := h.ask("a", "alice-IDE", "shell-1"); a.ECM != "warn" {
		t.Fatalf("only the WARN ECM is usable, got %q", a.ECM)
	}
	h.apply(ECMHeartbeat{ID: "warn", Health: linkis.HealthStockUnavailable})
	h.refuse(h.askCmd("b", "alice-IDE", "shell-1", "reuseExclusion", "*"), linkis.ErrNoNodeAvailable)
	h.apply(ECMHeartbeat{ID: "sick", Health: linkis.HealthHealthy})
	if a := h.ask("c", "alice-IDE", "shell-1", "reuseExclusion", "*"); a.ECM != "sick" {
		t.Fatalf("a recovered ECM is usable again, got %q", a.ECM)
	}
}

func TestSelectFitsResource(t *testing.T) {
	h := newHarness(t, single)
	h.addECM("small", linkis.Resource{Memory: linkis.GiB, MilliCores: 32000, Instances: 20})
	h.addECM("big", res(8, 1, 20))
	a := h.apply(AskEngine{ID: "a", Labels: labels(t, "userCreator", "u-c", "engineType", "shell-1"), Params: map[string]string{ParamMemory: "4g", ParamCores: "1"}}).Ask
	if a.ECM != "big" {
		t.Fatalf("4g only fits on big, got %q", a.ECM)
	}
	err := h.refuse(AskEngine{ID: "b", Labels: labels(t, "userCreator", "u-c", "engineType", "python-3"), Params: map[string]string{ParamMemory: "6g"}}, linkis.ErrInsufficientResource)
	if !linkis.IsRetryable(err) {
		t.Fatalf("insufficient resource must be retryable: %v", err)
	}
	h.refuse(AskEngine{ID: "c", Labels: labels(t, "userCreator", "u-c", "engineType", "python-3"), Params: map[string]string{ParamMemory: "1g", ParamExtraPref + "gpu": "1"}}, linkis.ErrInsufficientResource)
	h.addECM("gpu", linkis.Resource{Memory: 4 * linkis.GiB, MilliCores: 4000, Instances: 4, Extra: []linkis.Quantity{{Name: "gpu", Value: 2}}})
	if a := h.apply(AskEngine{ID: "c", Labels: labels(t, "userCreator", "u-c", "engineType", "python-3"), Params: map[string]string{ParamMemory: "1g", ParamExtraPref + "gpu": "1"}}).Ask; a.ECM != "gpu" {
		t.Fatalf("a GPU request goes to the ECM with GPUs, got %q", a.ECM)
	}
}

func TestSelectLabelScoreRanksFirst(t *testing.T) {
	h := newHarness(t, single)
	h.addECM("a-busy", res(64, 32, 20), "yarnCluster", "A")
	h.addECM("b-empty", res(64, 32, 20), "yarnCluster", "B")
	// Load a-busy so that every later rule prefers b-empty.
	h.apply(AskEngine{ID: "load", Labels: labels(t, "userCreator", "x-y", "engineType", "shell-1", "emInstance", "a-busy"), Params: map[string]string{ParamMemory: "40g"}})
	a := h.ask("a", "alice-IDE", "shell-1", "yarnCluster", "A")
	if a.ECM != "a-busy" {
		t.Fatalf("the label score outranks load: want a-busy, got %q", a.ECM)
	}
	b := h.ask("b", "alice-IDE", "python-3")
	if b.ECM != "b-empty" {
		t.Fatalf("without a shared label, load decides: want b-empty, got %q", b.ECM)
	}
}

func TestSelectLabelScorePrefersRareLabels(t *testing.T) {
	h := newHarness(t, single)
	// nine ECMs in zone z1, one of them and one other on rack r1... the
	// rack label is rare, so sharing it says more than sharing the zone.
	for i := 0; i < 9; i++ {
		h.addECM(fmt.Sprintf("z%d", i), res(64, 32, 20), "zone", "z1")
	}
	h.addECM("rack", res(64, 32, 20), "rack", "r1")
	a := h.ask("a", "alice-IDE", "shell-1", "zone", "z1", "rack", "r1")
	if a.ECM != "rack" {
		t.Fatalf("the rare label must outweigh the common one, got %q", a.ECM)
	}
	g := h.s.groups[""]
	scores := g.labelScores(labels(t, "zone", "z1", "rack", "r1"))
	if scores[h.s.ecms["rack"]] <= scores[h.s.ecms["z0"]] {
		t.Fatalf("scores: rack %d, z0 %d", scores[h.s.ecms["rack"]], scores[h.s.ecms["z0"]])
	}
	if len(g.labelScores(labels(t, "userCreator", "alice-IDE", "engineType", "shell-1", "emInstance", "z1"))) != 0 {
		t.Fatal("CORE and pinning labels must not score")
	}
}

func TestSelectNewECMStandsBy(t *testing.T) {
	h := newHarness(t, single, func(c *Config) { c.NewECMStandby = time.Minute })
	h.addECM("old", res(4, 32, 20))
	h.advance(2 * time.Minute)
	h.apply(ECMHeartbeat{ID: "old"})
	h.addECM("new", res(64, 32, 20))
	if a := h.ask("a", "alice-IDE", "shell-1"); a.ECM != "old" {
		t.Fatalf("an ECM younger than a minute stands by, got %q", a.ECM)
	}
	// When the old ECM cannot take it, the new one does.
	if a := h.apply(AskEngine{ID: "b", Labels: labels(t, "userCreator", "u-c", "engineType", "shell-1"), Params: map[string]string{ParamMemory: "6g"}}).Ask; a.ECM != "new" {
		t.Fatalf("a new ECM serves when no other can, got %q", a.ECM)
	}
	h.advance(time.Minute)
	if a := h.ask("c", "bob-IDE", "shell-1"); a.ECM != "new" {
		t.Fatalf("after the standby the emptier ECM wins, got %q", a.ECM)
	}
}

func TestSelectLoadRulesInOrder(t *testing.T) {
	h := newHarness(t, single)
	for _, id := range []string{"m1", "m2", "m3"} {
		h.addECM(id, res(100, 100, 50))
	}
	p := func(mem string) map[string]string { return map[string]string{ParamMemory: mem} }
	pin := func(id, ecm, mem string) {
		h.apply(AskEngine{ID: id, Labels: labels(t, "userCreator", "x-y", "engineType", "shell-1", "emInstance", ecm, "reuseExclusion", "*"), Params: p(mem)})
	}
	// Memory load: m1 at 30%, m2 and m3 in the 0-9% band. m3 holds more
	// than m2, so resource left alone would pick m2.
	pin("x1", "m1", "30g")
	pin("x2", "m3", "2g")
	// Running tasks (as reported) outrank resource left: m2 is busier.
	h.apply(ECMHeartbeat{ID: "m2", Load: linkis.NodeLoad{RunningTasks: 4}})
	if got := h.ask("a", "alice-IDE", "sql-1"); got.ECM != "m3" {
		t.Fatalf("fewest running tasks: want m3, got %q", got.ECM)
	}
	// With equal running tasks, resource left decides: m2 has more.
	h.apply(ECMHeartbeat{ID: "m2"})
	if got := h.ask("b", "bob-IDE", "sql-1"); got.ECM != "m2" {
		t.Fatalf("most resource left: want m2, got %q", got.ECM)
	}
	// Memory load outranks running tasks: fill m2 to 30%; m3 reports more
	// tasks than m1 but m1 is at 30% as well, so m3 (band 0) still wins.
	pin("x3", "m2", "30g")
	h.apply(ECMHeartbeat{ID: "m3", Load: linkis.NodeLoad{RunningTasks: 9}})
	if got := h.ask("c", "carol-IDE", "sql-1"); got.ECM != "m3" {
		t.Fatalf("lowest memory load band: want m3, got %q", got.ECM)
	}
}

func TestSelectHotspotSpreadsAmongTopK(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DefaultQuota = res(1000, 1000, 100) })
	for i := 0; i < 6; i++ {
		h.addECM(fmt.Sprintf("m%d", i), res(100, 100, 50))
	}
	// Make m3-m5 clearly worse (more loaded) than m0-m2.
	for i := 3; i < 6; i++ {
		h.apply(AskEngine{ID: fmt.Sprintf("load%d", i), Labels: labels(t, "userCreator", "x-y", "engineType", "shell-1", "emInstance", fmt.Sprintf("m%d", i)), Params: map[string]string{ParamMemory: "50g"}})
	}
	g := h.s.groups[""]
	req, _ := linkis.ParseEngineRequest(labels(t, "userCreator", "u-c", "engineType", "shell-1"))
	picked := map[string]int{}
	for nonce := uint64(0); nonce < 300; nonce++ {
		m, err := h.s.selectECM(h.now, &req, res(1, 1, 1), nonce)
		if err != nil {
			t.Fatal(err)
		}
		picked[m.id]++
		again, _ := h.s.selectECM(h.now, &req, res(1, 1, 1), nonce)
		if again != m {
			t.Fatal("the tie-break must be deterministic for a nonce")
		}
	}
	if len(picked) != 3 || picked["m0"] == 0 || picked["m1"] == 0 || picked["m2"] == 0 {
		t.Fatalf("creations must spread over the 3 best ECMs only: %v", picked)
	}
	if g.tree.Len() != 6 {
		t.Fatalf("selection must not change the tree: %d", g.tree.Len())
	}
}

func TestSelectErrorsNameTheProblem(t *testing.T) {
	h := newHarness(t)
	err := h.refuse(h.askCmd("a", "alice-IDE", "shell-1"), linkis.ErrNoNodeAvailable)
	var le *linkis.Error
	if !errors.As(err, &le) || !linkis.IsRetryable(err) {
		t.Fatalf("want a retryable typed error, got %v", err)
	}
	h.addECM("m", res(1, 1, 1))
	h.ask("a", "alice-IDE", "shell-1", "reuseExclusion", "*")
	h.refuse(h.askCmd("b", "alice-IDE", "shell-1", "reuseExclusion", "*"), linkis.ErrInsufficientResource)
}
