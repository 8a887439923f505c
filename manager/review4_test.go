package manager

import (
	"testing"

	"github.com/golinkis/golinkis/linkis"
)

// Regression, found in review: A launch builder that refuses one ask's params (non-retryably) must not
// fail a later waiter of the same key whose params it accepts: serveKey's
// placement cache is keyed by resource only, but createEC's outcome also
// depends on the ask's params (the launch request is built from them).
func TestLaunchErrorOfOneWaiterIsNotAnothers(t *testing.T) {
	p := DefaultPlugins()
	if err := p.Register(Plugin{
		Type: "svc", Version: "*", Concurrency: 2,
		Resources: StandardResources{Memory: linkis.GiB, MilliCores: 1000},
		Launcher: LaunchFunc(func(c LaunchContext) (LaunchRequest, error) {
			if c.Params["svc.script"] == "bad" {
				return LaunchRequest{}, linkis.ValueError(linkis.ErrInvalidArgument, "svc.script", "bad", "no such script")
			}
			return StandardLauncher{}.Build(c)
		}),
	}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.NewECMStandby = 0
	s, err := New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: t0, checker: &TransitionChecker{}}
	s.SetObserver(h.checker)

	h.addECM("ecm1", res(1, 1, 10)) // room for one engine
	a1 := h.ask("a1", "u-IDE", "svc-1")
	if a1.Status != AskPending || !a1.Created {
		t.Fatalf("a1: %+v", a1)
	}
	// a2 is covered by a1's engine (two slots): it waits without trying.
	c2 := h.askCmd("a2", "u-IDE", "svc-1")
	c2.Params = map[string]string{"svc.script": "bad"}
	if r := h.apply(c2).Ask; r.Status != AskPending {
		t.Fatalf("a2: %+v", r)
	}
	// a3 (valid params, same resource) finds no room and waits.
	if r := h.ask("a3", "u-IDE", "svc-1"); r.Status != AskPending || r.Created {
		t.Fatalf("a3: %+v", r)
	}
	if r := h.ask("a4", "u-IDE", "svc-1"); r.Status != AskPending || r.Created {
		t.Fatalf("a4: %+v", r)
	}
	// Room appears: a2 fails with its own launch error; a3 must get an engine.
	r := h.apply(RegisterECM{ID: "ecm2", Addr: "ecm2:9101", Labels: labels(t), Max: res(8, 8, 10)})
	if n, ok := noticeFor(r, "a2"); !ok || n.Status != AskFailed {
		t.Fatalf("a2 should fail with its launch error: %+v (%v)", n, ok)
	}
	if n, ok := noticeFor(r, "a3"); ok && n.Status == AskFailed {
		t.Fatalf("a3 was failed with a2's launch error: %+v", n)
	}
	if a3 := h.askState("a3"); a3.Status != AskPending || !a3.Created {
		t.Fatalf("a3 should wait for an engine started for it: %+v", a3)
	}
}
