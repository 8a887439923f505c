package sim

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The tester is tested with a planted bug: bugClientCache, a client
// wrapper that runs a job on the engine its key used last without asking
// the manager, skipping the manager's lock and ledger. The properties must
// catch it, and rapid must shrink the case to a handful of events.
//
// rapid cannot be told that a property is expected to fail, so the test
// runs itself as a child process with SIM_PLANTED_CHILD set, in which role
// it runs the property with the bug planted; the parent requires the child
// to fail, reads the shrunk case from its output, and replays the case it
// saved.
func TestPlantedBugIsCaught(t *testing.T) {
	if os.Getenv("SIM_PLANTED_CHILD") != "" {
		rapid.Check(t, func(t *rapid.T) {
			checkScenario(t, genScenario(t), bugClientCache)
		})
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPlantedBugIsCaught$", "-test.count=1",
		"-rapid.checks=2000", "-rapid.seed=1", "-rapid.nofailfile", "-rapid.shrinktime=60s")
	cmd.Env = append(os.Environ(), "SIM_PLANTED_CHILD=1", "TMPDIR="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("the property passed (or did not run) with the bug planted: %v\n%s", err, out)
	}
	text := string(out)
	if !strings.Contains(text, "holds no ask") {
		t.Fatalf("the bug was not caught by the grant check:\n%s", text)
	}
	m := regexp.MustCompile(`\((\d+) events; replay: linkis sim --scenario (\S+) --seed (\d+) --policy (\S+)\)`).FindAllStringSubmatch(text, -1)
	if len(m) == 0 {
		t.Fatalf("no shrunk case in the output:\n%s", text)
	}
	last := m[len(m)-1] // rapid reports the minimal case last
	events, _ := strconv.Atoi(last[1])
	if events > 12 {
		t.Fatalf("the shrunk case still takes %d events:\n%s", events, text)
	}
	t.Logf("caught and shrunk to %d events (%s)", events, filepath.Base(last[2]))
	replayPlanted(t, last[2])
}

// The shrunk case kept in testdata fails with the bug and runs clean
// without it.
func TestPlantedCaseReplays(t *testing.T) {
	replayPlanted(t, filepath.Join("testdata", "planted", "client-cache-two-choices.json"))
}

func replayPlanted(t *testing.T, path string) {
	t.Helper()
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	p := policyOf(t, path)
	_, err = Run(sc, Options{Seed: sc.Seed, Policy: p, bug: bugClientCache})
	var v *Violation
	if !errors.As(err, &v) {
		t.Fatalf("%s with the bug planted: want a violation, got %v", path, err)
	}
	if v.Event > 12 || len(v.History) == 0 || !strings.Contains(v.Error(), "holds no ask") {
		t.Fatalf("%s: violation at event %d: %v", path, v.Event, v)
	}
	r, err := Run(sc, Options{Seed: sc.Seed, Policy: p})
	if err != nil || r.Jobs.Unfinished != 0 {
		t.Fatalf("%s without the bug: %v, %+v", path, err, r.Jobs)
	}
}

// The drift check is tested with bugZombieEngines: an ECM that neither
// reports an engine's crash nor stops heartbeating for it. The engine's
// resources stay held for a process that is gone; the check at the end of
// the settled run must say so, and the same run without the bug is clean.
func TestPlantedDriftIsCaught(t *testing.T) {
	src := `{
  "name": "zombie", "duration": "10m", "settle": "20m",
  "manager": {"idle_timeout": "2h"},
  "engines": [{"type": "spark-3", "memory": "2g", "cores": "1"}],
  "cluster": {"ecms": [{"count": 1, "memory": "8g", "cores": "4", "instances": 4}]},
  "workload": {"inline": [
    {"at": "0s", "user": "alice", "creator": "IDE", "engine": "spark-3", "runtime": "5m"},
    {"at": "6m", "user": "bob", "creator": "IDE", "engine": "spark-3", "runtime": "1m"}
  ]},
  "faults": [{"at": "1m", "kind": "ec_crash", "count": 1}]
}`
	_, err := Run(mustParse(t, src), Options{Seed: 1, bug: bugZombieEngines})
	var v *Violation
	if !errors.As(err, &v) || !strings.Contains(v.Error(), "ledger drift") {
		t.Fatalf("zombie engines: want a ledger drift violation, got %v", err)
	}
	r, err := Run(mustParse(t, src), Options{Seed: 1})
	if err != nil || r.Jobs.Unfinished != 0 || r.ECCrashes != 1 {
		t.Fatalf("without the bug: %v, %+v, %d crashes", err, r.Jobs, r.ECCrashes)
	}
}
