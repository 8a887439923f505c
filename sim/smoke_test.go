package sim

import (
	"testing"
)

func TestSmall(t *testing.T) {
	sc, err := LoadScenario("scenarios/small.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(sc, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
}
