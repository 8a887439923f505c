package manager_test

import (
	"fmt"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// A driver's view of one engine's life: register an ECM, ask, execute the
// launch effect, report the start, use the engine, release it, and reuse it.
func Example() {
	s, _ := manager.New(manager.DefaultConfig(), nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	s.Apply(manager.RegisterECM{Time: now, ID: "host-a", Addr: "127.0.0.1:9101"})

	now += int64(2 * time.Minute) // past the new-ECM standby
	ls, _ := linkis.NewLabels(linkis.LabelUserCreator, "alice-IDE", linkis.LabelEngineType, "python-3")
	r, _ := s.Apply(manager.AskEngine{Time: now, ID: "job-1", Nonce: 42, Labels: ls})
	fmt.Println("ask:", r.Ask.Status, "created:", r.Ask.Created)

	for _, eff := range s.EffectsDue(now) {
		if eff.Kind == manager.EffectLaunch { // an ECM would start the process here
			r, _ = s.Apply(manager.EngineStarted{Time: now, EC: eff.EC, Addr: "127.0.0.1:20001"})
		}
	}
	fmt.Println("granted:", r.Notices[0].Status, "on", r.Notices[0].Addr)

	s.Apply(manager.ReleaseEngine{Time: now, AskID: "job-1"})
	r, _ = s.Apply(manager.AskEngine{Time: now, ID: "job-2", Nonce: 43, Labels: ls})
	fmt.Println("second ask:", r.Ask.Status, "reused:", r.Ask.Reused)
	fmt.Println("invariants:", manager.CheckInvariants(s))
	// Output:
	// ask: Pending created: true
	// granted: Granted on 127.0.0.1:20001
	// second ask: Granted reused: true
	// invariants: <nil>
}
