package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/manager"
)

// TestSimProperty generates small clusters, workloads and fault schedules
// (pgregory.net/rapid) and runs each through the simulator with the full
// invariant check after every event. Properties:
//
//   - every invariant holds after every event (manager.CheckInvariants, the
//     local ledger checks, legal status transitions);
//   - no ask starts an engine while a free engine of its key could serve it;
//   - no key holds more engines than its instance cap;
//   - every job that starts holds the manager's grant on an engine with
//     room for it;
//   - every job reaches a final state;
//   - after the run settles, the manager's engines and ledger are exactly
//     the simulated processes alive: no ledger drift after any crash.
//
// A failing case is shrunk by rapid and saved as a scenario under
// testdata/failures, which `linkis sim --scenario` replays. Longer runs:
// make soak (-rapid.checks=N).
func TestSimProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		checkScenario(t, genScenario(t), bugNone)
	})
}

// checkScenario runs a generated scenario under a random policy and
// checks the properties; a failure saves the case.
func checkScenario(t *rapid.T, sc *Scenario, bug plantedBug) {
	if bug != bugNone {
		sc.Settle = 0 // the planted bug shows at once; settling only slows the shrinking
	}
	policy := rapid.SampledFrom(manager.Placements()).Draw(t, "policy")
	seed := rapid.Uint64Range(1, 1<<20).Draw(t, "seed")
	r, err := Run(sc, Options{Seed: seed, Policy: policy, bug: bug})
	fail := ""
	switch {
	case err != nil:
		fail = err.Error()
	case r.Jobs.Unfinished != 0:
		fail = fmt.Sprintf("%d of %d jobs never reached a final state", r.Jobs.Unfinished, r.Jobs.Submitted)
	}
	if fail == "" {
		return
	}
	path := saveFailure(sc, seed, policy, bug)
	var v *Violation
	if errors.As(err, &v) {
		t.Fatalf("%s\n(%d events; replay: linkis sim --scenario %s --seed %d --policy %v)", fail, v.Event, path, seed, policy)
	}
	t.Fatalf("%s\n(replay: linkis sim --scenario %s --seed %d --policy %v)", fail, path, seed, policy)
}

// saveFailure writes a failing case where it can be replayed. rapid runs
// the minimal case last, so the file ends up holding it.
func saveFailure(sc *Scenario, seed uint64, p manager.Placement, bug plantedBug) string {
	dir := filepath.Join("testdata", "failures")
	if bug != bugNone {
		dir = filepath.Join(os.TempDir(), "sim-planted")
	}
	_ = os.MkdirAll(dir, 0o755)
	cp := *sc
	cp.Seed = seed
	cp.Name = fmt.Sprintf("failure-seed%d-%v", seed, p)
	data, _ := json.MarshalIndent(&cp, "", "  ")
	path := filepath.Join(dir, cp.Name+".json")
	_ = os.WriteFile(path, data, 0o644)
	return path
}

// genScenario draws a small world: 1-4 ECMs, two engine types (serial and
// concurrent), up to 25 jobs and up to 4 faults, with short timeouts so
// that expiries, losses and reclamation happen within the run.
func genScenario(t *rapid.T) *Scenario {
	ecms := rapid.IntRange(1, 4).Draw(t, "ecms")
	var groups []ECMGroupSpec
	for i := 0; i < ecms; i++ {
		groups = append(groups, ECMGroupSpec{
			Name: fmt.Sprintf("m%d", i), Count: 1,
			Memory:         fmt.Sprintf("%dg", rapid.IntRange(2, 16).Draw(t, "mem")),
			Cores:          fmt.Sprint(rapid.IntRange(2, 16).Draw(t, "cores")),
			Instances:      int64(rapid.IntRange(1, 6).Draw(t, "instances")),
			LaunchLatency:  constDist(time.Duration(rapid.IntRange(0, 30).Draw(t, "latency")) * time.Second),
			LaunchFailRate: rapid.SampledFrom([]float64{0, 0, 0.2}).Draw(t, "failRate"),
		})
	}
	engines := []EngineSpec{
		{Type: "spark-3", Memory: "2g", Cores: "1"},
		{Type: "trino-4", Concurrency: rapid.IntRange(2, 3).Draw(t, "concurrency"), Memory: "2g", Cores: "1"},
	}
	n := rapid.IntRange(1, 25).Draw(t, "jobs")
	var jobs []InlineJob
	at := time.Duration(0)
	for i := 0; i < n; i++ {
		at += time.Duration(rapid.IntRange(0, 120).Draw(t, "gap")) * time.Second
		jobs = append(jobs, InlineJob{
			At: Duration(at), User: fmt.Sprintf("u%d", rapid.IntRange(1, 3).Draw(t, "user")), Creator: "IDE",
			Engine:  rapid.SampledFrom([]string{"spark-3", "trino-4"}).Draw(t, "engine"),
			Memory:  rapid.SampledFrom([]string{"", "1g", "3g"}).Draw(t, "size"),
			Runtime: Duration(time.Duration(rapid.IntRange(0, 600).Draw(t, "runtime")) * time.Second),
		})
	}
	var faults []FaultSpec
	kinds := []string{FaultECMCrash, FaultECCrash, FaultLostHeartbeats, FaultLaunchFailures, FaultLeaderChange, FaultNetworkDelay}
	for i, nf := 0, rapid.IntRange(0, 4).Draw(t, "faults"); i < nf; i++ {
		f := FaultSpec{
			At:    Duration(time.Duration(rapid.IntRange(0, 1800).Draw(t, "faultAt")) * time.Second),
			Kind:  rapid.SampledFrom(kinds).Draw(t, "kind"),
			Count: 1,
			For:   Duration(time.Duration(rapid.IntRange(1, 900).Draw(t, "for")) * time.Second),
		}
		switch f.Kind {
		case FaultECMCrash:
			if rapid.Bool().Draw(t, "forever") {
				f.For = 0
			}
		case FaultLaunchFailures:
			f.Rate = 0.7
		case FaultLeaderChange:
			f.For = Duration(time.Duration(rapid.IntRange(1, 10).Draw(t, "election")) * time.Second)
		case FaultNetworkDelay:
			f.Delay = Dist{Kind: "uniform", Min: 0, Max: Duration(time.Duration(rapid.IntRange(1, 30).Draw(t, "delay")) * time.Second)}
		}
		faults = append(faults, f)
	}
	// Warm pools (reclaimable by other keys) and idle reclaim on or off.
	var pools []WarmPoolSpec
	capN := rapid.IntRange(1, 4).Draw(t, "cap")
	if rapid.Bool().Draw(t, "pools") {
		pools = append(pools, WarmPoolSpec{User: rapid.SampledFrom([]string{"u1", "*"}).Draw(t, "poolUser"),
			Engine: rapid.SampledFrom([]string{"spark-3", "trino-4", "*"}).Draw(t, "poolEngine"), MinIdle: rapid.IntRange(1, capN).Draw(t, "minIdle")})
	}
	reclaim := rapid.Bool().Draw(t, "reclaim")
	engines[0].Stop = Dist{Kind: "uniform", Min: 0, Max: Duration(time.Duration(rapid.IntRange(0, 20).Draw(t, "stop")) * time.Second)}
	standby := Duration(0)
	sc := &Scenario{
		Name: "generated", Duration: Duration(at + time.Minute), Drain: Duration(4 * time.Hour), Settle: Duration(15 * time.Minute),
		Manager: ManagerSpec{
			LockTimeout: Duration(3 * time.Minute), AskWaitTimeout: Duration(4 * time.Minute), IdleTimeout: Duration(5 * time.Minute),
			ResourceLockTimeout: Duration(4 * time.Minute), ECLostAfter: Duration(5 * time.Minute), ECMLostAfter: Duration(3 * time.Minute),
			NewECMStandby: &standby, MaxTasksPerEC: rapid.IntRange(1, 5).Draw(t, "maxTasks"), TickInterval: Duration(5 * time.Second),
			DefaultQuota: &ResourceSpec{Memory: "64g", Cores: "64", Instances: int64(capN)},
			ReclaimIdle:  &reclaim,
		},
		WarmPools:   pools,
		Engines:     engines,
		Cluster:     ClusterSpec{ECMs: groups, ECMHeartbeat: Duration(time.Minute), ECHeartbeat: Duration(time.Minute)},
		SampleEvery: Duration(time.Minute),
		Workload:    WorkloadSpec{Inline: jobs},
		Faults:      faults,
	}
	if f, m := sc.validate(); f != "" || m != "" {
		t.Fatalf("generated an invalid scenario: %s: %s", f, m)
	}
	sc.applyDefaults()
	sc.loadInline()
	for _, nd := range sc.dists() {
		nd.d.prepare()
	}
	return sc
}

// Saved failures are regression cases: each must now run clean.
func TestSavedFailures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "failures", "*.json"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := LoadScenario(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(sc, Options{Seed: sc.Seed, Policy: policyOf(t, f)})
			if err != nil {
				t.Fatal(err)
			}
			if r.Jobs.Unfinished != 0 {
				t.Fatalf("%d jobs unfinished", r.Jobs.Unfinished)
			}
		})
	}
}

func policyOf(t *testing.T, file string) manager.Placement {
	for _, p := range manager.Placements() {
		if strings.HasSuffix(strings.TrimSuffix(file, ".json"), "-"+p.String()) {
			return p
		}
	}
	return manager.PlacementRules
}
