package sim

import (
	"testing"
)

// twoHosts runs two ECMs and a steady stream of long jobs with one fault.
func twoHosts(fault string) string {
	return `{
  "name": "two-hosts", "duration": "30m", "settle": "30m",
  "manager": {"ecm_lost_after": "2m", "ec_lost_after": "4m"},
  "engines": [{"type": "spark-3", "memory": "2g", "cores": "1"}],
  "cluster": {"ecm_heartbeat": "20s", "ec_heartbeat": "30s",
              "ecms": [{"count": 2, "memory": "16g", "cores": "8", "instances": 8}]},
  "workload": {"jobs": 120, "users": 6, "runtime": {"dist": "const", "value": "4m"}},
  "faults": [` + fault + `]
}`
}

func runTwoHosts(t *testing.T, fault string) (*Sim, *Report) {
	t.Helper()
	s, err := newSim(mustParse(t, twoHosts(fault)), Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s.run()
	r := s.report()
	if s.violation != nil {
		t.Fatal(s.violation)
	}
	if r.Jobs.Unfinished != 0 {
		t.Fatalf("jobs: %+v", r.Jobs)
	}
	return s, r
}

// A host that dies for good: its jobs fail and are retried on the other
// host, the manager declares it lost, and nothing it held stays held.
func TestECMCrashForever(t *testing.T) {
	s, r := runTwoHosts(t, `{"at": "10m", "kind": "ecm_crash", "ecm": "ecm-00001"}`)
	if r.ECMCrashes != 1 || r.Jobs.Retries == 0 {
		t.Fatalf("crashes %d, retries %d", r.ECMCrashes, r.Jobs.Retries)
	}
	if _, ok := s.st.ECM("ecm-00001"); ok {
		t.Fatal("the dead host is still registered")
	}
	for _, e := range s.st.ECs() {
		if e.ECM == "ecm-00001" {
			t.Fatalf("engine %v is still held on the dead host", e.ID)
		}
	}
}

// A host that comes back: it re-registers, empty, and takes work again.
func TestECMCrashAndRecovery(t *testing.T) {
	s, r := runTwoHosts(t, `{"at": "5m", "kind": "ecm_crash", "ecm": "ecm-00001", "for": "3m"}`)
	m, ok := s.st.ECM("ecm-00001")
	if !ok || r.EventsByKind["ECMRecover"] != 1 {
		t.Fatalf("the host did not come back: registered %v, recoveries %v", ok, r.EventsByKind)
	}
	if m.RegisteredAt <= s.start+int64(5*60e9) {
		t.Fatalf("the host was not registered afresh (registered at %d)", m.RegisteredAt-s.start)
	}
}

// Heartbeats lost for longer than ECMLostAfter: the manager declares the
// host lost; when its heartbeats resume it learns it, kills its orphan
// engines and registers again. The settle check finds no drift.
func TestLostHeartbeats(t *testing.T) {
	s, r := runTwoHosts(t, `{"at": "5m", "kind": "lost_heartbeats", "ecm": "ecm-00002", "for": "5m"}`)
	if _, ok := s.st.ECM("ecm-00002"); !ok {
		t.Fatal("the host did not register again")
	}
	if r.Commands == 0 || r.Jobs.Retries == 0 {
		t.Fatalf("the loss went unnoticed: %+v", r.Jobs)
	}
}
