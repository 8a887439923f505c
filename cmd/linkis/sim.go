package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/sim"
)

// runSim is `linkis sim`: it loads a scenario, runs it under one policy or
// all of them, and prints a summary table (or JSON), optionally writing
// CSV time series and SVG charts.
func runSim(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario file (JSON; see sim/scenarios)")
	seed := fs.Uint64("seed", 0, "seed of every random draw (default: the scenario's seed, else 1)")
	policy := fs.String("policy", "rules", "ECM-choice policy: rules, binpack, spread, two-choices, or all to compare them")
	asJSON := fs.Bool("json", false, "print the results as JSON (with run_hash) instead of a table")
	out := fs.String("out", "", "directory for CSV time series and SVG charts (utilisation, queue, engines)")
	checkEvery := fs.Int("check-every", 0, "run the full O(size) invariant check every N events (default: every event up to 64 ECMs, else about one per virtual hour); what each command touched is checked after every command regardless")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: linkis sim --scenario FILE [--seed N] [--policy P|all] [--json] [--out DIR] [--check-every N]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *scenario == "" {
		fs.Usage()
		return errors.New("sim: --scenario is required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sim: unexpected argument %q", fs.Arg(0))
	}
	if *checkEvery < 0 {
		return fmt.Errorf("sim: --check-every must not be negative, got %d", *checkEvery)
	}
	policies := manager.Placements()
	if *policy != "all" {
		p, err := manager.ParsePlacement(*policy)
		if err != nil {
			return fmt.Errorf("sim: --policy: %w", err)
		}
		policies = []manager.Placement{p}
	}
	sc, err := sim.LoadScenario(*scenario)
	if err != nil {
		return err
	}
	opts := sim.Options{Seed: *seed, FullCheckEvery: *checkEvery}
	if opts.Seed == 0 {
		opts.Seed = max(sc.Seed, 1)
	}
	if isTerminal(stderr) {
		opts.Progress = progressPrinter(stderr)
	}
	reports, runErr := sim.RunPolicies(sc, opts, policies)
	if *asJSON {
		if err := sim.WriteJSON(stdout, reports); err != nil {
			return err
		}
	} else if err := sim.WriteTable(stdout, reports); err != nil {
		return err
	}
	if *out != "" && len(reports) > 0 {
		if err := sim.WriteOutputs(*out, reports); err != nil {
			return err
		}
	}
	return runErr
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressPrinter redraws one status line at most five times a second.
func progressPrinter(w io.Writer) func(sim.Progress) {
	var last time.Time
	start := time.Now()
	return func(p sim.Progress) {
		now := time.Now()
		if !p.Done && now.Sub(last) < 200*time.Millisecond {
			return
		}
		last = now
		pct := 100.0
		if p.Horizon > 0 {
			pct = min(100, 100*float64(p.Virtual)/float64(p.Horizon))
		}
		fmt.Fprintf(w, "\rsim: %5.1f%%  virtual %v  events %d  jobs %d/%d  %.0f events/s   ",
			pct, p.Virtual.Round(time.Second), p.Events, p.JobsDone, p.Jobs, float64(p.Events)/max(now.Sub(start).Seconds(), 1e-9))
		if p.Done {
			fmt.Fprintln(w)
			start = time.Now()
		}
	}
}
