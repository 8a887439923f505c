package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/sim"
)

// runSim is `linkis sim`: it loads a scenario, runs it (under one policy
// or all, with idle reclaim as the scenario says, on, off or both, over
// one or several seeds, or over a sweep of one setting) and prints a
// summary table (or JSON), optionally writing the summary, series, job
// records and charts.
func runSim(stdout, stderr io.Writer, args []string) error {
	p, err := planSim(stderr, args)
	if err != nil {
		return err
	}
	return p.run(stdout)
}

// simPlan is a checked `linkis sim` command line: everything planSim
// accepted, ready to run.
type simPlan struct {
	sc       *sim.Scenario
	opts     sim.Options
	variants []sim.Variant
	seeds    []uint64
	so       sim.SetOptions
	sweep    *sim.Sweep
	measure  sim.Measure
	asJSON   bool
	out      string
}

// planSim parses and checks every flag, loads the scenario and checks the
// output directory: all that can be wrong is found before anything runs.
func planSim(stderr io.Writer, args []string) (*simPlan, error) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario file (JSON; see sim/scenarios)")
	seed := fs.Uint64("seed", 0, "seed of every random draw; replications use seed, seed+1, ... (default: the scenario's seed, else 1)")
	policy := fs.String("policy", "rules", "ECM-choice policy: rules, binpack, spread, two-choices, or all to compare them")
	reclaim := fs.String("reclaim", "", "idle reclaim: on, off, or both to compare them (default: the scenario's, else on)")
	replications := fs.Int("replications", 1, "independent runs (seeds) per variant; with 2 or more, measures come as mean ± 95% confidence half-width and variants are compared seed by seed")
	parallel := fs.Int("parallel", runtime.GOMAXPROCS(0), "runs at once (each run is single-threaded)")
	warmup := fs.Duration("warmup", -1, "leave the first part of the run out of the measures (default: the scenario's warmup)")
	sweep := fs.String("sweep", "", "run once per value: hosts|hosts.GROUP|rate|cap|pool|idle_timeout|reclaim|policy=v1,v2,...")
	measure := fs.String("measure", "wait_p95", "the measure a sweep's chart plots (see sim.Measures)")
	asJSON := fs.Bool("json", false, "print the results as JSON (with run_hash, and set_hash for replications) instead of a table")
	out := fs.String("out", "", "directory for the summary (text, JSON), series and job records (CSV) and charts (SVG)")
	checkEvery := fs.Int("check-every", 0, "run the full O(size) invariant check every N events (default: every event up to 64 ECMs, else about one per virtual hour); what each command touched is checked after every command regardless")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: linkis sim --scenario FILE [--seed N] [--policy P|all] [--reclaim on|off|both] [--replications N] [--sweep KEY=V1,V2,...] [--json] [--out DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *scenario == "" {
		fs.Usage()
		return nil, errors.New("sim: --scenario is required")
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("sim: unexpected argument %q", fs.Arg(0))
	}
	// Every flag is checked before anything runs.
	if *checkEvery < 0 {
		return nil, fmt.Errorf("sim: --check-every must not be negative, got %d", *checkEvery)
	}
	if *replications < 1 || *replications > 10_000 {
		return nil, fmt.Errorf("sim: --replications must be from 1 to 10000, got %d", *replications)
	}
	if *parallel < 1 {
		return nil, fmt.Errorf("sim: --parallel must be at least 1, got %d", *parallel)
	}
	policies := manager.Placements()
	if *policy != "all" {
		p, err := manager.ParsePlacement(*policy)
		if err != nil {
			return nil, fmt.Errorf("sim: --policy: %w", err)
		}
		policies = []manager.Placement{p}
	}
	var toggles []sim.Toggle
	switch strings.ToLower(*reclaim) {
	case "":
		toggles = []sim.Toggle{sim.ScenarioDefault}
	case "on":
		toggles = []sim.Toggle{sim.ReclaimOn}
	case "off":
		toggles = []sim.Toggle{sim.ReclaimOff}
	case "both":
		toggles = []sim.Toggle{sim.ReclaimOn, sim.ReclaimOff}
	default:
		return nil, fmt.Errorf("sim: --reclaim %q: want on, off or both", *reclaim)
	}
	var variants []sim.Variant
	for _, p := range policies {
		for _, t := range toggles {
			variants = append(variants, sim.Variant{Policy: p, Reclaim: t})
		}
	}
	m, ok := sim.MeasureNamed(*measure)
	if !ok {
		var names []string
		for _, m := range sim.Measures {
			names = append(names, m.Name)
		}
		return nil, fmt.Errorf("sim: --measure %q: want one of %s", *measure, strings.Join(names, ", "))
	}
	var sw *sim.Sweep
	if *sweep != "" {
		s, err := sim.ParseSweep(*sweep)
		if err != nil {
			return nil, fmt.Errorf("sim: --%w", err)
		}
		sw = &s
	}
	sc, err := sim.LoadScenario(*scenario)
	if err != nil {
		return nil, err
	}
	if *warmup >= 0 {
		if *warmup >= time.Duration(sc.Duration) {
			return nil, fmt.Errorf("sim: --warmup %v must be shorter than the scenario's duration %v", *warmup, time.Duration(sc.Duration))
		}
		sc.Warmup = sim.Duration(*warmup)
	}
	if *out != "" {
		if err := sim.CheckOutputDir(*out); err != nil {
			return nil, fmt.Errorf("sim: --out: %w", err)
		}
	}
	opts := sim.Options{Seed: *seed, FullCheckEvery: *checkEvery, Records: *out != ""}
	if opts.Seed == 0 {
		opts.Seed = max(sc.Seed, 1)
	}
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(sim.GCPercent))
	}
	seeds := sim.Seeds(opts.Seed, *replications)
	so := sim.SetOptions{Parallel: *parallel}
	if isTerminal(stderr) {
		so.Done = func(done, total int) {
			fmt.Fprintf(stderr, "\rsim: %d/%d runs done   ", done, total)
			if done == total {
				fmt.Fprintln(stderr)
			}
		}
		if sw == nil && len(variants) == 1 && len(seeds) == 1 {
			so.Parallel, so.Done = 1, nil
			opts.Progress = progressPrinter(stderr)
		}
	}
	return &simPlan{sc: sc, opts: opts, variants: variants, seeds: seeds, so: so, sweep: sw, measure: m, asJSON: *asJSON, out: *out}, nil
}

// run runs the plan and prints (and writes) what it gives.
func (p *simPlan) run(stdout io.Writer) error {
	if p.sweep != nil {
		return runSweep(stdout, p.sc, p.opts, *p.sweep, p.variants, p.seeds, p.so, p.measure, p.asJSON, p.out)
	}
	set, runErr := sim.RunSet(p.sc, p.opts, p.variants, p.seeds, p.so)
	if set == nil {
		return runErr
	}
	var err error
	if p.asJSON {
		if len(p.seeds) > 1 {
			err = sim.WriteSetJSON(stdout, set)
		} else {
			err = sim.WriteJSON(stdout, set.All())
		}
	} else {
		err = sim.WriteSummary(stdout, set)
	}
	if err != nil {
		return err
	}
	if p.out != "" && len(set.All()) > 0 {
		if err := sim.WriteOutputs(p.out, set); err != nil {
			return err
		}
	}
	return runErr
}

func runSweep(stdout io.Writer, sc *sim.Scenario, opts sim.Options, sw sim.Sweep, variants []sim.Variant, seeds []uint64, so sim.SetOptions, m sim.Measure, asJSON bool, out string) error {
	table := []sim.Measure{m}
	for _, name := range []string{"wait_mean", "wait_p95", "p_wait", "failed_no_room", "held_cores", "busy_cores", "idle_engine_hours"} {
		if x, _ := sim.MeasureNamed(name); x.Name != m.Name {
			table = append(table, x)
		}
	}
	res, runErr := sim.RunSweep(sc, opts, sw, variants, seeds, so)
	if res == nil {
		return runErr
	}
	var err error
	if asJSON {
		err = sim.WriteSweepJSON(stdout, res)
	} else {
		err = sim.WriteSweepTable(stdout, res, table)
	}
	if err != nil {
		return err
	}
	if out != "" {
		if err := sim.WriteSweepOutputs(out, res, m, table); err != nil {
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
