package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/manager"
)

// Replications: the same seeds give the same set hash, the set hash is a
// hash of the run hashes, and runs in parallel give exactly what runs one
// at a time give.
func TestReplicationsAreDeterministic(t *testing.T) {
	sc := mustParse(t, tiny)
	variants := []Variant{{Policy: manager.PlacementRules}, {Policy: manager.PlacementSpread}}
	serial, err := RunSet(sc, Options{}, variants, Seeds(5, 4), SetOptions{Parallel: 1})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	parallel, err := RunSet(sc, Options{}, variants, Seeds(5, 4), SetOptions{Parallel: 3, Done: func(done, total int) {
		calls++
		if done != calls || total != 8 {
			t.Errorf("Done(%d, %d) on call %d", done, total, calls)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 8 {
		t.Fatalf("Done was called %d times for 8 runs", calls)
	}
	if serial.Hash() != parallel.Hash() {
		t.Fatalf("set hash %s serial, %s parallel", serial.Hash(), parallel.Hash())
	}
	for v := range variants {
		for k := range serial.Seeds {
			a, _ := json.Marshal(serial.Reports[v][k])
			b, _ := json.Marshal(parallel.Reports[v][k])
			if !bytes.Equal(a, b) {
				t.Fatalf("variant %d seed %d: serial and parallel reports differ", v, k)
			}
		}
	}
	// The hash covers every run: another seed set, or one run's hash
	// changed, changes it.
	other, err := RunSet(sc, Options{}, variants, Seeds(6, 4), SetOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if other.Hash() == serial.Hash() {
		t.Fatal("seeds 5-8 and 6-9 gave the same set hash")
	}
	saved := serial.Reports[1][3].RunHash
	serial.Reports[1][3].RunHash = "x"
	if serial.Hash() == parallel.Hash() {
		t.Fatal("the set hash ignores a run's hash")
	}
	serial.Reports[1][3].RunHash = saved
	// Different seeds are different runs.
	if serial.Reports[0][0].RunHash == serial.Reports[0][1].RunHash {
		t.Fatal("two seeds gave one run")
	}
}

// Confidence intervals: Student's t, and the paired comparison of
// variants on common random numbers.
func TestEstimates(t *testing.T) {
	e := estimate([]float64{1, 2, 3, 4})
	// mean 2.5, sd 1.2910, se 0.6455, t(0.975, 3) = 3.182
	if math.Abs(e.Mean-2.5) > 1e-12 || math.Abs(e.HalfWidth-3.182*1.2909944/2) > 1e-3 || e.N != 4 {
		t.Fatalf("estimate %+v", e)
	}
	if e := estimate([]float64{7}); e.Mean != 7 || e.HalfWidth != 0 {
		t.Fatalf("one replication: %+v", e)
	}
	for df, want := range map[int]float64{1: 12.706, 10: 2.228, 30: 2.042, 60: 2.000, 120: 1.980, 1000: 1.962} {
		if got := tQuantile975(df); math.Abs(got-want) > 0.002 {
			t.Errorf("t(0.975, %d) = %.4f, want %.3f", df, got, want)
		}
	}
}

// The issue 15 scenario in the simulator: many users on few hosts. With
// idle reclaim, jobs no longer fail for lack of room; without it, they do.
// One run compares both (--reclaim both), and the difference is
// significant over replications.
func TestReclaimComparison(t *testing.T) {
	sc, err := LoadScenario("scenarios/few-hosts.json")
	if err != nil {
		t.Fatal(err)
	}
	variants := []Variant{{Policy: manager.PlacementRules, Reclaim: ReclaimOn}, {Policy: manager.PlacementRules, Reclaim: ReclaimOff}}
	set, err := RunSet(sc, Options{FullCheckEvery: 5000}, variants, Seeds(1, 3), SetOptions{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	sums := set.Summaries()
	i := measureIndex("failed_no_room")
	with, without := sums[0].Estimates[i], sums[1].Estimates[i]
	t.Logf("jobs failed for lack of room: %.1f with reclaim, %.1f without (Δ %+.1f ± %.1f)", with.Mean, without.Mean, sums[1].Diffs[i].Mean, sums[1].Diffs[i].HalfWidth)
	if with.Mean > 0.01*without.Mean || without.Mean < 100 || !sums[1].Diffs[i].Significant {
		t.Fatalf("failed for lack of room: with reclaim %+v, without %+v, diff %+v", with, without, sums[1].Diffs[i])
	}
	var table bytes.Buffer
	if err := WriteSummary(&table, set); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"rules/reclaim", "rules/no-reclaim", "jobs failed for lack of room", "Δ", " *)", "set hash " + set.Hash()} {
		if !strings.Contains(table.String(), want) {
			t.Fatalf("summary lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := WriteSetJSON(&js, set); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SetHash string `json:"set_hash"`
		Summary []struct {
			Variant    string `json:"variant"`
			VsBaseline map[string]struct {
				Mean        float64 `json:"mean"`
				Significant bool    `json:"significant"`
			} `json:"vs_baseline"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.SetHash != set.Hash() || len(doc.Summary) != 2 ||
		!doc.Summary[1].VsBaseline["failed_no_room"].Significant {
		t.Fatalf("set JSON (%v): %.600s", err, js.String())
	}
}

// queueScenario is a small open system for the measure tests: one key,
// c engines kept warm, Poisson arrivals.
func queueScenario(t *testing.T, c int, lambda float64, jobs int) *Scenario {
	t.Helper()
	return queueCase{name: "q", c: c, lambda: lambda, service: `{"dist": "exp", "mean": "1s"}`, jobs: jobs}.scenario(t)
}

// Held is not busy: four warm engines at half load hold all of their
// cores but are busy half the time.
func TestHeldAndBusyUtilisation(t *testing.T) {
	r, err := Run(queueScenario(t, 4, 2, 20000), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Held.CoresMean < 0.999 || math.Abs(r.Busy.CoresMean-0.5) > 0.02 || r.Held.CoresPeak < 0.999 {
		t.Fatalf("held %+v, busy %+v: want held 100%%, busy about 50%%", r.Held, r.Busy)
	}
	if math.Abs(r.IdleEngineHours/r.EngineHours-0.5) > 0.03 {
		t.Fatalf("idle %.2f of %.2f engine-hours: want about half", r.IdleEngineHours, r.EngineHours)
	}
}

// The warm-up is left out: the measured jobs are those submitted after
// it, and the breakdowns add up to them.
func TestWarmupAndBreakdowns(t *testing.T) {
	sc := mustParse(t, strings.Replace(tiny, `"duration": "40m",`, `"duration": "40m", "warmup": "10m",`, 1))
	r, err := Run(sc, Options{Seed: 4, Records: true})
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, rec := range r.records {
		if rec.Submit >= int64(10*time.Minute) {
			after++
		}
	}
	if r.Measured != after || after == 0 || after >= r.Jobs.Submitted {
		t.Fatalf("measured %d, submitted after the warm-up %d, all %d", r.Measured, after, r.Jobs.Submitted)
	}
	sum := func(gs []GroupStats) (jobs, ok int) {
		for _, g := range gs {
			jobs += g.Jobs
			ok += g.Succeeded
		}
		return
	}
	kj, kok := sum(r.allKeys)
	uj, uok := sum(r.allUsers)
	f := r.Failures
	if kj != r.Measured || uj != r.Measured || kok != uok || kok+f.NoRoom+f.Quota+f.Engine+f.Other > r.Measured {
		t.Fatalf("breakdowns: keys %d/%d, users %d/%d, measured %d, failures %+v", kj, kok, uj, uok, r.Measured, f)
	}
	if r.UsersTotal != 4 || len(r.Users) != 4 || r.KeysTotal < 4 || r.Keys[0].Jobs < r.Keys[len(r.Keys)-1].Jobs {
		t.Fatalf("users %d (%d listed), keys %d: %+v", r.UsersTotal, len(r.Users), r.KeysTotal, r.Keys)
	}
	if r.Wait.Mean <= 0 || r.Wait.P50 > r.Wait.P90 || r.Wait.P90 > r.Wait.P95 || r.Wait.P99 > r.Wait.Max || r.PWait <= 0 || r.PWait > 1 {
		t.Fatalf("wait %+v, P(wait > 0) %v", r.Wait, r.PWait)
	}
	bad := strings.Replace(tiny, `"duration": "40m",`, `"duration": "40m", "warmup": "40m",`, 1)
	if _, err := ParseScenario([]byte(bad), "w.json"); err == nil || !strings.Contains(err.Error(), "warmup") {
		t.Fatalf("a warm-up as long as the run: %v", err)
	}
}

// A warm pool trades idle engine-hours for wait: with engines kept warm,
// jobs stop waiting for cold starts.
func TestWarmPoolTrade(t *testing.T) {
	src := `{
  "name": "pool", "duration": "4h", "settle": "10m",
  "manager": {"idle_timeout": "2m", "default_quota": {"instances": 4}},
  "engines": [{"type": "spark-3", "memory": "2g", "cores": "1", "start": {"dist": "const", "value": "30s"}}],
  "cluster": {"ecms": [{"count": 2, "memory": "32g", "cores": "16", "instances": 16}]},
  "workload": {"jobs": 400, "users": 2, "runtime": {"dist": "exp", "mean": "20s"}},
  "warm_pools": [{"user": "user1", "min_idle": POOL}]
}`
	run := func(pool int) *Report {
		r, err := Run(mustParse(t, strings.Replace(src, "POOL", fmt.Sprint(pool), 1)), Options{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cold, warm := run(0), run(2)
	coldU1, warmU1 := cold.Users[0], warm.Users[0]
	if coldU1.Name != "user1" {
		coldU1, warmU1 = cold.Users[1], warm.Users[1]
	}
	t.Logf("user1 wait mean %.1fs → %.1fs, idle engine-hours %.1f → %.1f", coldU1.WaitMean, warmU1.WaitMean, cold.IdleEngineHours, warm.IdleEngineHours)
	if warmU1.WaitMean > coldU1.WaitMean/3 || warm.IdleEngineHours <= cold.IdleEngineHours+4*2*0.5 {
		t.Fatalf("pool of 2 for user1: wait %.1fs vs %.1fs, idle engine-hours %.1f vs %.1f", warmU1.WaitMean, coldU1.WaitMean, warm.IdleEngineHours, cold.IdleEngineHours)
	}
	bad := strings.Replace(src, "POOL", "5", 1)
	if _, err := ParseScenario([]byte(bad), "p.json"); err == nil || !strings.Contains(err.Error(), "warm_pools[0].min_idle") {
		t.Fatalf("a pool above the instance cap: %v", err)
	}
	bad = strings.Replace(strings.Replace(src, "POOL", "3", 1), `"instances": 4}`, `"memory": "4g", "instances": 4}`, 1)
	if _, err := ParseScenario([]byte(bad), "p.json"); err == nil || !strings.Contains(err.Error(), "3 engines of spark-3 (2GiB, 1 cores each) exceed the default quota (4GiB") {
		t.Fatalf("a pool above the quota's memory: %v", err)
	}
}

// An engine's stop time holds its room: an ask that reclaims an idle
// engine waits for it to stop.
func TestStopTimeHoldsTheRoom(t *testing.T) {
	src := `{
  "name": "stop", "duration": "30m", "settle": "5m",
  "manager": {"idle_timeout": "1h"},
  "engines": [{"type": "spark-3", "memory": "1g", "cores": "1", "start": {"dist": "const", "value": "1s"}, "stop": STOP}],
  "cluster": {"ecms": [{"count": 1, "memory": "8g", "cores": "1", "instances": 4, "launch_latency": {"dist": "const", "value": "1s"}}]},
  "workload": {"inline": [
    {"at": "0s", "user": "alice", "creator": "IDE", "engine": "spark-3", "runtime": "10s"},
    {"at": "5m", "user": "bob", "creator": "IDE", "engine": "spark-3", "runtime": "10s"}]}
}`
	waitOfBob := func(stop string) float64 {
		r, err := Run(mustParse(t, strings.Replace(src, "STOP", stop, 1)), Options{Seed: 1, Records: true})
		if err != nil {
			t.Fatal(err)
		}
		if r.Jobs.Succeeded != 2 {
			t.Fatalf("stop %s: jobs %+v", stop, r.Jobs)
		}
		for _, rec := range r.records {
			if r.userNames[rec.User] == "bob" {
				return float64(rec.Grant-rec.Submit) / 1e9
			}
		}
		t.Fatal("no job of bob")
		return 0
	}
	fast, slow := waitOfBob(`{"dist": "const", "value": "100ms"}`), waitOfBob(`{"dist": "const", "value": "45s"}`)
	if fast > 5 || slow < 45 || slow > 50 {
		t.Fatalf("bob waited %.1fs with a 100ms stop and %.1fs with a 45s stop", fast, slow)
	}
}

// The run-time distributions: hyper-exponential, Pareto and empirical
// (resampled from values or a trace file) draw what they describe.
func TestDistributions(t *testing.T) {
	g := newRNG(9, 1)
	draw := func(d Dist, n int) (mean float64, xs []int64) {
		d.prepare()
		for range n {
			x := d.sample(g)
			xs = append(xs, x)
			mean += float64(x) / 1e9
		}
		return mean / float64(n), xs
	}
	h2 := Dist{Kind: "hyperexp", Means: []Duration{Duration(time.Second), Duration(10 * time.Second)}, Weights: []float64{3, 1}}
	m, _ := draw(h2, 200000)
	if want := 0.75*1 + 0.25*10; math.Abs(m-want) > 0.03*want {
		t.Errorf("hyperexp mean %.3f, want %.3f", m, want)
	}
	p := Dist{Kind: "pareto", Min: Duration(time.Second), Alpha: 3}
	m, xs := draw(p, 200000)
	if want := 3.0 / 2; math.Abs(m-want) > 0.03*want {
		t.Errorf("pareto mean %.3f, want %.3f", m, want)
	}
	for _, x := range xs {
		if x < int64(time.Second) {
			t.Fatalf("pareto drew %v below its scale", time.Duration(x))
		}
	}
	capped := Dist{Kind: "pareto", Min: Duration(time.Second), Alpha: 0.5, Max: Duration(time.Minute)}
	if _, xs := draw(capped, 10000); func() bool {
		for _, x := range xs {
			if x > int64(time.Minute) {
				return true
			}
		}
		return false
	}() {
		t.Error("a capped pareto drew above its max")
	}
	emp := Dist{Kind: "empirical", Values: []Duration{Duration(time.Second), Duration(5 * time.Second)}}
	_, xs = draw(emp, 1000)
	seen := map[int64]int{}
	for _, x := range xs {
		seen[x]++
	}
	if len(seen) != 2 || seen[int64(time.Second)] < 400 || seen[int64(5*time.Second)] < 400 {
		t.Errorf("empirical drew %v", seen)
	}
	// From a trace file, through a scenario.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "runs.csv"), "user,duration\na,2s\nb,4s\nc,90\n")
	writeFile(t, filepath.Join(dir, "s.json"), strings.Replace(tiny, `"runtime": {"dist": "lognormal", "median": "30s", "sigma": 0.8}`,
		`"runtime": {"dist": "empirical", "file": "runs.csv"}`, 1))
	sc, err := LoadScenario(filepath.Join(dir, "s.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Workload.Runtime.samples; len(got) != 3 || got[2] != int64(90*time.Second) {
		t.Fatalf("empirical samples %v", got)
	}
	if m1, _, ok := sc.Workload.Runtime.Moments(); !ok || math.Abs(m1-32) > 1e-9 {
		t.Fatalf("empirical mean %v", m1)
	}
	// ParseScenario alone cannot read the file: the run says so.
	sc2 := mustParse(t, strings.Replace(tiny, `"runtime": {"dist": "lognormal", "median": "30s", "sigma": 0.8}`, `"runtime": {"dist": "empirical", "file": "runs.csv"}`, 1))
	if _, err := Run(sc2, Options{Seed: 1}); err == nil || !strings.Contains(err.Error(), "workload.runtime") {
		t.Fatalf("an unloaded empirical file: %v", err)
	}
	for _, c := range []struct{ dist, want string }{
		{`{"dist": "hyperexp", "means": ["1s"], "weights": [1, 2]}`, "weights"},
		{`{"dist": "hyperexp", "means": ["0s"], "weights": [1]}`, "means[0]"},
		{`{"dist": "pareto", "min": "1s", "alpha": 0}`, "alpha"},
		{`{"dist": "pareto", "min": "1s", "alpha": 2, "max": "10ms"}`, "max"},
		{`{"dist": "empirical"}`, "values"},
		{`{"dist": "empirical", "values": ["1s"], "file": "x.csv"}`, "values"},
		{`{"dist": "empirical", "values": ["-1s"]}`, "values[0]"},
	} {
		src := strings.Replace(tiny, `{"dist": "lognormal", "median": "30s", "sigma": 0.8}`, c.dist, 1)
		if _, err := ParseScenario([]byte(src), "d.json"); err == nil || !strings.Contains(err.Error(), "workload.runtime."+c.want) {
			t.Errorf("%s: %v, want an error about workload.runtime.%s", c.dist, err, c.want)
		}
	}
	writeFile(t, filepath.Join(dir, "bad.csv"), "user,duration\na,soon\n")
	writeFile(t, filepath.Join(dir, "b.json"), strings.Replace(tiny, `"runtime": {"dist": "lognormal", "median": "30s", "sigma": 0.8}`,
		`"runtime": {"dist": "empirical", "file": "bad.csv"}`, 1))
	if _, err := LoadScenario(filepath.Join(dir, "b.json")); err == nil || !strings.Contains(err.Error(), "bad.csv:2") {
		t.Fatalf("a bad empirical file: %v", err)
	}
}

// The busy peaks count the levels as they stand when the warm-up ends:
// the host's capacity is set at the start, inside the warm-up, and the
// one host of an M/M/1 queue is fully busy for much of the measured window
// (its one engine holds all of it), so every busy peak is 1 - they read 0
// when only changes after the warm-up counted.
func TestBusyPeakWithWarmup(t *testing.T) {
	q := queueCase{name: "M/M/1", c: 1, lambda: 0.7, service: `{"dist": "exp", "mean": "1s"}`, jobs: 2000}
	r, err := Run(q.scenario(t), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.WarmupSeconds <= 0 {
		t.Fatal("the scenario has no warm-up: nothing to test")
	}
	b := r.Busy
	if b.MemoryPeak < 1-1e-9 || b.CoresPeak < 1-1e-9 || b.InstancesPeak < 1-1e-9 || b.CoresMean > b.CoresPeak {
		t.Fatalf("busy %+v after a warm-up of %.0f s: want every peak 1, above the mean", b, r.WarmupSeconds)
	}
}

// A busy peak is the highest busy/capacity at one moment: when a host is
// down, the share is of the capacity still up - not the highest busy over
// the highest capacity, taken at different moments. A state that lasts no
// time (a failing host's capacity gone, its engines not yet) is not one.
func TestBusyPeakIsOfTheCapacityUpAtTheMoment(t *testing.T) {
	const from = 10
	l := levels{from: from}
	l.add(0, lvCapCores, 2000) // two hosts of 1 core, up from the start
	l.add(5, lvBusyCores, 500) // busy from inside the warm-up
	if l.advance(15); l.busyPeak[1] != 0.25 {
		t.Fatalf("a busy level set in the warm-up, unchanged after: peak %v, want 0.25", l.busyPeak[1])
	}
	l.add(20, lvBusyCores, 500)   // 1 core of 2 busy
	l.add(25, lvCapCores, -1000)  // the idle host fails: 1 of 1
	l.add(30, lvBusyCores, -1000) // done
	l.advance(50)
	if l.busyPeak[1] != 1 {
		t.Fatalf("busy cores peak %v; want 1 (all of the capacity up from 25 to 30)", l.busyPeak[1])
	}
	// A share below 1 while a host is down: the peak is what was busy of
	// what was up, not of what had once been up.
	l = levels{from: from}
	l.add(0, lvCapCores, 4000)
	l.add(20, lvCapCores, -2000)
	l.add(20, lvBusyCores, 1500)
	l.add(30, lvBusyCores, -1500)
	l.add(30, lvCapCores, 2000)
	l.add(35, lvBusyCores, 2000)  // 2 of 4 cores busy, on one host ...
	l.add(45, lvCapCores, -2000)  // ... which fails: its capacity goes,
	l.add(45, lvBusyCores, -2000) // then its engines, at the same instant
	l.advance(60)
	if l.busyPeak[1] != 0.75 {
		t.Fatalf("busy cores peak %v; want 0.75 (1.5 of the 2 cores up from 20 to 30)", l.busyPeak[1])
	}
}
