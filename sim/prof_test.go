package sim

import (
	"os"
	"testing"
)

func TestProfScenario(t *testing.T) {
	p := os.Getenv("SIM_PROF")
	if p == "" {
		return
	}
	sc, err := LoadScenario(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(sc, Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("events %d jobs %+v wait %+v kinds %v", r.Events, r.Jobs, r.Wait, r.EventsByKind)
}
