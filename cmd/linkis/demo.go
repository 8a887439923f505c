package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// runDemo drives the manager state machine through a short scenario: three
// ECMs, a burst of asks for one key that share its instance cap, reuse after
// release, a tenant-isolated ask, and an ECM that goes silent.
func runDemo(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	asks := fs.Int("asks", 12, "asks in the burst for one key")
	if _, err := parseArgs(fs, args, 0, ""); err != nil {
		return err
	}
	cfg := manager.DefaultConfig()
	cfg.NewECMStandby = 0
	cfg.DefaultQuota.Instances = 3
	s, err := manager.New(cfg, nil)
	if err != nil {
		return err
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	apply := func(c manager.Command) (manager.Result, error) { return s.Apply(c) }
	must := func(c manager.Command) manager.Result {
		r, err := apply(c)
		if err != nil {
			fmt.Fprintf(w, "  %v refused: %v\n", c.Type(), err)
		}
		return r
	}
	lbl := func(kv ...string) linkis.Labels { ls, _ := linkis.NewLabels(kv...); return ls }

	fmt.Fprintln(w, "== three ECMs register (one for tenant acme)")
	for i, id := range []string{"host-a", "host-b", "host-acme"} {
		var ls linkis.Labels
		if id == "host-acme" {
			ls = lbl(linkis.LabelTenant, "acme")
		}
		must(manager.RegisterECM{Time: now, ID: id, Addr: fmt.Sprintf("127.0.0.1:%d", 9101+i), Labels: ls})
	}
	fmt.Fprintf(w, "== %d asks for alice-IDE shell arrive at once; the key's instance cap is %d\n", *asks, cfg.DefaultQuota.Instances)
	for i := 0; i < *asks; i++ {
		r := must(manager.AskEngine{Time: now, ID: fmt.Sprintf("job-%02d", i), Nonce: uint64(i + 1),
			Labels: lbl(linkis.LabelUserCreator, "alice-IDE", linkis.LabelEngineType, "shell-1")})
		if r.Ask.Created {
			fmt.Fprintf(w, "  %s: starts %v on %s\n", r.Ask.AskID, r.Ask.EC, r.Ask.ECM)
		}
	}
	st := s.Stats()
	fmt.Fprintf(w, "  -> %d engines starting for %d waiting asks (Linkis #5318 would start %d)\n", st.Starting, st.Waiting, *asks)

	fmt.Fprintln(w, "== engines start; each serves the queue in turn")
	served := 0
	for round := 0; served < *asks && round < 2**asks; round++ {
		now += int64(time.Second)
		var granted []string
		for _, eff := range s.EffectsDue(now) {
			if eff.Kind == manager.EffectLaunch {
				r := must(manager.EngineStarted{Time: now, EC: eff.EC, Addr: fmt.Sprintf("127.0.0.1:%d", 20000+int(eff.EC))})
				for _, n := range r.Notices {
					granted = append(granted, n.AskID)
				}
			}
		}
		for _, e := range s.ECs() {
			granted = append(granted, e.Holders...)
		}
		seen := map[string]bool{}
		for _, id := range granted {
			if seen[id] {
				continue
			}
			seen[id] = true
			if a, ok := s.Ask(id); ok && a.Status == manager.AskGranted {
				fmt.Fprintf(w, "  %s runs on %v (reused=%v)\n", id, a.EC, a.Reused)
				must(manager.ReleaseEngine{Time: now, AskID: id})
				served++
			}
		}
	}
	for _, k := range s.Keys() {
		fmt.Fprintf(w, "  ledger %s: used %v, locked %v, max %v\n", k.Key, k.Ledger.Used, k.Ledger.Locked, k.Ledger.Max)
	}

	fmt.Fprintln(w, "== a tenant ask goes only to the tenant's ECM; an unknown tenant is refused")
	r := must(manager.AskEngine{Time: now, ID: "acme-1", Nonce: 99, Labels: lbl(linkis.LabelUserCreator, "bob-IDE", linkis.LabelEngineType, "python-3", linkis.LabelTenant, "acme")})
	fmt.Fprintf(w, "  acme-1 -> %s\n", r.Ask.ECM)
	must(manager.AskEngine{Time: now, ID: "other-1", Nonce: 100, Labels: lbl(linkis.LabelUserCreator, "bob-IDE", linkis.LabelEngineType, "python-3", linkis.LabelTenant, "globex")})

	fmt.Fprintln(w, "== host-a and host-acme go silent for 6 minutes; ticks declare them lost")
	for i := 0; i < 6; i++ {
		now += int64(time.Minute)
		must(manager.ECMHeartbeat{Time: now, ID: "host-b"})
		for _, e := range s.ECs() {
			if e.ECM == "host-b" {
				must(manager.ECHeartbeat{Time: now, EC: e.ID, Status: linkis.StatusUnlock})
			}
		}
		r := must(manager.Tick{Time: now})
		for _, n := range r.Notices {
			fmt.Fprintf(w, "  %s: %v (%v)\n", n.AskID, n.Status, n.Err)
		}
	}
	for _, m := range s.ECMs() {
		fmt.Fprintf(w, "  %s %v: %d engines, used %v\n", m.ID, m.Status, m.Engines, m.Ledger.Used)
	}
	if err := manager.CheckInvariants(s); err != nil {
		return fmt.Errorf("invariant broken: %w", err)
	}
	fmt.Fprintf(w, "== invariants hold; snapshot is %d bytes\n", len(s.Snapshot()))
	return nil
}
