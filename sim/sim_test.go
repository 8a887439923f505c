package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

func runTiny(t testing.TB, seed uint64, edit ...string) *Report {
	t.Helper()
	src := tiny
	for i := 0; i+1 < len(edit); i += 2 {
		src = strings.Replace(src, edit[i], edit[i+1], 1)
	}
	r, err := Run(mustParse(t, src), Options{Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The same seed gives the same run, event for event; other seeds give
// other runs.
func TestSameSeedSameHash(t *testing.T) {
	a, b := runTiny(t, 42), runTiny(t, 42)
	if a.RunHash != b.RunHash || a.Events != b.Events || a.Commands != b.Commands {
		t.Fatalf("seed 42 ran twice: %s/%d/%d vs %s/%d/%d", a.RunHash, a.Events, a.Commands, b.RunHash, b.Events, b.Commands)
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("same seed, different reports:\n%s\n%s", ja, jb)
	}
	seen := map[string]uint64{a.RunHash: 42}
	for _, seed := range []uint64{1, 2, 3, 43} {
		r := runTiny(t, seed)
		if prev, dup := seen[r.RunHash]; dup {
			t.Fatalf("seeds %d and %d gave the same hash %s", prev, seed, r.RunHash)
		}
		seen[r.RunHash] = seed
	}
}

// A run under faults completes: every job reaches a final state, engines
// are reused, and every kind of fault happened.
func TestTinyRunUnderFaults(t *testing.T) {
	r := runTiny(t, 7)
	if r.Jobs.Unfinished != 0 || r.Jobs.Succeeded+r.Jobs.Failed != r.Jobs.Submitted {
		t.Fatalf("jobs: %+v", r.Jobs)
	}
	if r.Jobs.Submitted < 200 || r.Jobs.Succeeded < r.Jobs.Submitted*8/10 {
		t.Fatalf("too few jobs ran: %+v", r.Jobs)
	}
	if r.GrantsReused == 0 || r.EnginesStarted == 0 || r.GrantsNew == 0 {
		t.Fatalf("no reuse or no starts: %+v", r)
	}
	if r.Faults != 6 || r.ECMCrashes != 1 || r.ECCrashes == 0 {
		t.Fatalf("faults: %d, ECM crashes %d, EC crashes %d", r.Faults, r.ECMCrashes, r.ECCrashes)
	}
	if r.FullChecks < int(r.Events)/2 {
		t.Fatalf("a small cluster must be checked in full after every event: %d checks for %d events", r.FullChecks, r.Events)
	}
	if r.Held.MemoryPeak <= 0 || r.Held.MemoryPeak > 1 || r.Busy.MemoryMean <= 0 || r.Busy.MemoryMean > r.Held.MemoryMean || len(r.Series) == 0 {
		t.Fatalf("utilisation held %+v busy %+v over %d samples", r.Held, r.Busy, len(r.Series))
	}
	if r.Wait.P50 > r.Wait.P95 || r.Wait.P95 > r.Wait.P99 || r.Turnaround.P50 <= 0 {
		t.Fatalf("percentiles out of order: %+v %+v", r.Wait, r.Turnaround)
	}
}

// Policies compared under one seed see the same workload.
func TestPoliciesSeeTheSameWorkload(t *testing.T) {
	rs, err := RunPolicies(mustParse(t, tiny), Options{Seed: 5}, manager.Placements())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d reports", len(rs))
	}
	hashes := map[string]bool{}
	for _, r := range rs {
		if r.Jobs.Submitted != rs[0].Jobs.Submitted {
			t.Fatalf("policy %s saw %d jobs, %s %d", r.Policy, r.Jobs.Submitted, rs[0].Policy, rs[0].Jobs.Submitted)
		}
		hashes[r.RunHash] = true
	}
	if len(hashes) < 2 {
		t.Fatal("every policy gave the same run: the policy is not plugged in")
	}
	var table bytes.Buffer
	if err := WriteTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rules", "binpack", "spread", "two-choices", "wait p50/p95/p99", "fairness", "run hash"} {
		if !strings.Contains(table.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, table.String())
		}
	}
}

// Bin-packing fills ECMs one after another; spreading uses them all. The
// run is stepped by hand for its first 20 minutes, averaging the number of
// ECMs that hold an engine.
func TestBinPackConcentrates(t *testing.T) {
	src := tiny[:strings.Index(tiny, `,
  "faults"`)] + "\n}"
	src = strings.Replace(src, `"count": 3,`, `"count": 6,`, 1)
	used := func(p manager.Placement) float64 {
		s, err := newSim(mustParse(t, src), Options{Seed: 9, Policy: p})
		if err != nil {
			t.Fatal(err)
		}
		sum, n := 0, 0
		for s.pending() && s.now < s.start+int64(20*time.Minute) && s.violation == nil {
			e := s.next()
			s.now = e.at
			if e.kind == evSample {
				continue
			}
			s.handle(e)
			s.reconcile()
			for _, m := range s.st.ECMs() {
				if m.Engines > 0 {
					sum++
				}
			}
			n++
		}
		if s.violation != nil {
			t.Fatal(s.violation)
		}
		return float64(sum) / float64(n)
	}
	bin, spread := used(manager.PlacementBinPack), used(manager.PlacementSpread)
	if bin >= spread*0.8 {
		t.Fatalf("bin-packing kept engines on %.2f ECMs on average, spreading on %.2f", bin, spread)
	}
	t.Logf("ECMs holding engines, on average: bin-packing %.2f, spreading %.2f", bin, spread)
}

// A leader change in the middle of launches: the new leader's reconciler
// starts from EffectsDue alone, relaunches what was in flight (the ECMs
// launch each ticket once) and the run completes.
func TestLeaderChangeMidLaunch(t *testing.T) {
	src := tiny[:strings.Index(tiny, `,
  "faults"`)] + `,
  "faults": [{"at": "10s", "kind": "leader_change", "for": "3s"}, {"at": "11m", "kind": "leader_change", "for": "1s"}]
}`
	src = strings.Replace(src, `"launch_latency": {"dist": "uniform", "min": "1s", "max": "4s"}`, `"launch_latency": {"dist": "const", "value": "20s"}`, 1)
	r, err := Run(mustParse(t, src), Options{Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.Jobs.Unfinished != 0 || r.Jobs.Succeeded < r.Jobs.Submitted*9/10 {
		t.Fatalf("jobs after leader changes: %+v", r.Jobs)
	}
	if r.EventsByKind["LeaderUp"] != 2 {
		t.Fatalf("leader ups: %v", r.EventsByKind)
	}
}

func TestAskIDRoundTrip(t *testing.T) {
	for _, c := range []struct {
		j int32
		a uint8
	}{{0, 1}, {123456, 3}, {1<<31 - 1, 255}} {
		j, a, ok := parseAskID(askID(c.j, c.a))
		if !ok || j != c.j || a != c.a {
			t.Fatalf("%d.%d → %v %d %d", c.j, c.a, ok, j, a)
		}
	}
	for _, bad := range []string{"", "j", "j1", "j.1", "x1.1", "j1.", "j1.256", "j99999999999.1", "j1.2.3"} {
		if _, _, ok := parseAskID(bad); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

// A violation names the seed, the event and a history that leads there.
func TestViolationReport(t *testing.T) {
	s, err := newSim(mustParse(t, tiny), Options{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400 && s.pending(); i++ {
		e := s.next()
		s.now = e.at
		if e.kind != evSample {
			s.handle(e)
			s.reconcile()
		}
	}
	s.violate(linkis.Errorf(linkis.ErrInvalidArgument, "test", "planted"))
	v := s.violation
	if v == nil || v.Seed != 11 || v.Event != s.events || len(v.History) == 0 || !errors.Is(v, linkis.ErrInvalidArgument) {
		t.Fatalf("violation: %+v", v)
	}
	if !strings.Contains(v.Error(), "seed 11") || !strings.Contains(v.Error(), "history") {
		t.Fatalf("violation text: %s", v.Error())
	}
}
