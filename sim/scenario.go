package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Scenario is what a run simulates: the manager's configuration, the engine
// types, the cluster, the workload, the client's behaviour and the faults.
// It is read from a JSON file (see LoadScenario and the examples under
// sim/scenarios); every field but the cluster and the workload has a
// default.
type Scenario struct {
	Name string `json:"name"`
	// Seed is the default seed; the CLI's --seed overrides it.
	Seed uint64 `json:"seed"`
	// Duration is how long jobs arrive (a generated workload spreads its
	// jobs over it; a trace's jobs must fall inside it).
	Duration Duration `json:"duration"`
	// Drain is how long the run may continue after Duration for the jobs
	// in flight to reach a final state (default 2h).
	Drain Duration `json:"drain"`
	// Settle keeps simulating this long after the last job ended, with no
	// new faults, so that crashed nodes are declared lost before the final
	// checks compare the manager's ledger with the simulated world.
	Settle Duration `json:"settle"`
	// SampleEvery is the period of the time series (default: Duration/288).
	SampleEvery Duration     `json:"sample_every"`
	Manager     ManagerSpec  `json:"manager"`
	Engines     []EngineSpec `json:"engines"`
	Cluster     ClusterSpec  `json:"cluster"`
	Workload    WorkloadSpec `json:"workload"`
	Client      ClientSpec   `json:"client"`
	Faults      []FaultSpec  `json:"faults"`
	// RandomFaults adds faults drawn from the seed (Poisson, per hour).
	RandomFaults RandomFaultSpec `json:"random_faults"`
	// Check sets how often the full invariant check runs.
	Check CheckSpec `json:"check"`
	// Warmup is the start of the run left out of the measures: jobs
	// submitted before it, and the time-averaged levels before it (the
	// counts of jobs are totals). It must be shorter than Duration.
	Warmup Duration `json:"warmup,omitempty"`
	// WarmPools keep started idle engines ready for some combined labels
	// (manager.SetWarmPool), from the start of the run.
	WarmPools []WarmPoolSpec `json:"warm_pools,omitempty"`

	dir         string       // the scenario file's directory, for the trace path
	trace       []jobSpec    // loaded trace, if any
	traceTables *traceTables // its names and sizes
}

// ManagerSpec overrides manager.DefaultConfig; zero fields keep the default.
type ManagerSpec struct {
	LockTimeout         Duration      `json:"lock_timeout"`
	ResourceLockTimeout Duration      `json:"resource_lock_timeout"`
	AskWaitTimeout      Duration      `json:"ask_wait_timeout"`
	IdleTimeout         Duration      `json:"idle_timeout"`
	ECLostAfter         Duration      `json:"ec_lost_after"`
	ECMLostAfter        Duration      `json:"ecm_lost_after"`
	NewECMStandby       *Duration     `json:"new_ecm_standby"`
	TickInterval        Duration      `json:"tick_interval"`
	MaxTasksPerEC       int           `json:"max_tasks_per_ec"`
	MaxWaitersPerKey    int           `json:"max_waiters_per_key"`
	HotspotTopK         int           `json:"hotspot_top_k"`
	DefaultQuota        *ResourceSpec `json:"default_quota"`
	// ReclaimIdle lets an ask that fits nowhere stop the longest-idle
	// engines of other keys (manager.Config.ReclaimIdle; default true).
	ReclaimIdle *bool `json:"reclaim_idle,omitempty"`
}

// WarmPoolSpec keeps MinIdle idle engines for the combined labels it
// names; "*" (or empty) in User, Creator or Engine names every user,
// creator or engine type of the workload.
type WarmPoolSpec struct {
	User    string `json:"user"`
	Creator string `json:"creator"`
	Engine  string `json:"engine"`
	MinIdle int    `json:"min_idle"`
}

// ResourceSpec is an amount of resource: memory like "2g", cores like "1"
// or "500m", and engine instances.
type ResourceSpec struct {
	Memory    string `json:"memory"`
	Cores     string `json:"cores"`
	Instances int64  `json:"instances"`
}

// EngineSpec is one engine type the cluster runs.
type EngineSpec struct {
	// Type is "type-version", e.g. "spark-3".
	Type string `json:"type"`
	// Concurrency is how many tasks one engine runs at once (1 = serial).
	Concurrency int `json:"concurrency"`
	// Memory and Cores are what one engine needs unless a job asks for
	// other amounts.
	Memory string `json:"memory"`
	Cores  string `json:"cores"`
	// Start is how long the engine process takes to come up once its ECM
	// has launched it (added to the ECM's launch latency).
	Start Dist `json:"start"`
	// Stop is how long the engine takes to stop once its ECM was asked to
	// kill it: it holds its resources until then (default 100ms).
	Stop Dist `json:"stop"`
}

// ClusterSpec is the set of ECMs and how they talk to the manager.
type ClusterSpec struct {
	ECMs []ECMGroupSpec `json:"ecms"`
	// ECMHeartbeat and ECHeartbeat are the heartbeat periods (defaults
	// 30s and 60s).
	ECMHeartbeat Duration `json:"ecm_heartbeat"`
	ECHeartbeat  Duration `json:"ec_heartbeat"`
	// NetDelay is the delay of every manager call (default none).
	NetDelay Dist `json:"net_delay"`
}

// ECMGroupSpec is Count identical ECMs.
type ECMGroupSpec struct {
	// Name prefixes the ECM ids: name-00001 (default "ecm").
	Name      string            `json:"name"`
	Count     int               `json:"count"`
	Memory    string            `json:"memory"`
	Cores     string            `json:"cores"`
	Instances int64             `json:"instances"`
	Labels    map[string]string `json:"labels"`
	// LaunchLatency is how long the ECM takes to launch an engine
	// process (default 2s).
	LaunchLatency Dist `json:"launch_latency"`
	// LaunchFailRate is the probability that a launch fails.
	LaunchFailRate float64 `json:"launch_fail_rate"`
}

// WorkloadSpec generates jobs, or replays them from a trace.
type WorkloadSpec struct {
	// Trace is a CSV file (relative to the scenario file) replayed instead
	// of generating jobs; see ParseTrace for its columns.
	Trace string `json:"trace"`
	// Inline lists the jobs in the scenario itself (as a trace would),
	// for small hand-written cases and the cases the property tests save.
	Inline []InlineJob `json:"inline,omitempty"`
	// Jobs is the expected number of jobs over Duration.
	Jobs int `json:"jobs"`
	// Arrival is "poisson" (default) or "bursty".
	Arrival string `json:"arrival"`
	// BurstSize is the mean number of jobs in a burst (bursty; default 10).
	BurstSize float64 `json:"burst_size"`
	// BurstSpread is the mean time between jobs of one burst (default 2s).
	BurstSpread Duration `json:"burst_spread"`
	// Diurnal is the amplitude of the daily cycle, from 0 (flat) to 0.95;
	// the rate peaks at DiurnalPeak after the start (default 14h).
	Diurnal     float64  `json:"diurnal"`
	DiurnalPeak Duration `json:"diurnal_peak"`
	// Users is the number of users (default 10), chosen with a Zipf law of
	// exponent UserSkew (0 = uniform).
	Users    int     `json:"users"`
	UserSkew float64 `json:"user_skew"`
	// Creators are the applications jobs come from (default ["IDE"]),
	// chosen with a Zipf law of exponent CreatorSkew.
	Creators    []string `json:"creators"`
	CreatorSkew float64  `json:"creator_skew"`
	// EngineMix weighs the engine types (default: every type, equally).
	EngineMix []WeightedEngine `json:"engine_mix"`
	// ResourceMix weighs per-job engine sizes (default: the engine's own).
	ResourceMix []WeightedResource `json:"resource_mix"`
	// Runtime is how long a job runs once it holds an engine.
	Runtime Dist `json:"runtime"`
}

// InlineJob is one job of an inline workload: the columns of a trace.
type InlineJob struct {
	At      Duration `json:"at"`
	User    string   `json:"user"`
	Creator string   `json:"creator"`
	Engine  string   `json:"engine"`
	Memory  string   `json:"memory,omitempty"`
	Cores   string   `json:"cores,omitempty"`
	Runtime Duration `json:"runtime"`
}

// WeightedEngine is one entry of an engine mix.
type WeightedEngine struct {
	Type   string  `json:"type"`
	Weight float64 `json:"weight"`
}

// WeightedResource is one entry of a resource mix.
type WeightedResource struct {
	Memory string  `json:"memory"`
	Cores  string  `json:"cores"`
	Weight float64 `json:"weight"`
}

// ClientSpec is how the simulated entrance behaves.
type ClientSpec struct {
	// MaxAttempts is how many times a job asks for an engine before it
	// fails, when the failures are retryable (default 3).
	MaxAttempts int `json:"max_attempts"`
	// RetryBackoff is the wait before the second attempt; it doubles
	// after each (default 10s).
	RetryBackoff Duration `json:"retry_backoff"`
}

// FaultSpec is one fault at a given time.
//
// Kinds: ecm_crash (the host dies with its engines; it comes back after
// For unless For is 0), ec_crash (Count running engines die), lost_heartbeats
// (the ECMs' heartbeats and their engines' are lost for For), launch_failures
// (every launch fails with probability Rate for For), leader_change (the
// reconciler loses its in-flight state; no leader for For, default 2s),
// network_delay (manager calls are delayed by Delay for For).
type FaultSpec struct {
	At    Duration `json:"at"`
	Kind  string   `json:"kind"`
	ECM   string   `json:"ecm"`   // a given ECM; else Count drawn from the seed
	Count int      `json:"count"` // default 1
	For   Duration `json:"for"`
	Rate  float64  `json:"rate"`
	Delay Dist     `json:"delay"`
}

// RandomFaultSpec draws faults from the seed: each field is a mean number
// per hour of a Poisson process.
type RandomFaultSpec struct {
	ECMCrash       float64  `json:"ecm_crash"`
	ECCrash        float64  `json:"ec_crash"`
	LostHeartbeats float64  `json:"lost_heartbeats"`
	LeaderChange   float64  `json:"leader_change"`
	NetworkDelay   float64  `json:"network_delay"`
	LaunchFailures float64  `json:"launch_failures"`
	Outage         Duration `json:"outage"` // how long each lasts (default 5m)
}

// CheckSpec sets the invariant checking; see the package doc.
type CheckSpec struct {
	// FullEvery runs manager.CheckInvariants and the simulator's global
	// checks after every FullEvery events; 0 chooses: 1 for clusters of up
	// to 64 ECMs, else about one per virtual hour of the expected run.
	FullEvery int `json:"full_every"`
}

// The fault kinds.
const (
	FaultECMCrash       = "ecm_crash"
	FaultECCrash        = "ec_crash"
	FaultLostHeartbeats = "lost_heartbeats"
	FaultLaunchFailures = "launch_failures"
	FaultLeaderChange   = "leader_change"
	FaultNetworkDelay   = "network_delay"
)

// ScenarioError is a problem in a scenario file, naming the file, the line
// (when known) and the field.
type ScenarioError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error returns "file:line: field: message".
func (e *ScenarioError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("scenario")
	}
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Limits on what a scenario may ask for, so that a typo cannot exhaust the
// machine before the run starts.
const (
	MaxECMs      = 1_000_000
	MaxJobs      = 100_000_000
	MaxUsers     = 1_000_000
	maxDuration  = 366 * 24 * time.Hour
	maxMixes     = 1000
	maxFaults    = 100_000
	maxPerHour   = 10_000
	maxInstances = 1_000_000
)

// LoadScenario reads and checks a scenario file, and the trace it names.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := ParseScenario(data, path)
	if err != nil {
		return nil, err
	}
	if sc.Workload.Trace != "" {
		tp := sc.Workload.Trace
		if !filepath.IsAbs(tp) {
			tp = filepath.Join(sc.dir, tp)
		}
		f, err := os.Open(tp)
		if err != nil {
			return nil, &ScenarioError{File: path, Line: locate(data, "workload.trace"), Field: "workload.trace", Msg: err.Error()}
		}
		defer f.Close()
		if err := sc.LoadTrace(f, tp); err != nil {
			return nil, err
		}
	}
	for _, nd := range sc.dists() {
		if nd.d.Kind != "empirical" || nd.d.File == "" {
			continue
		}
		fp := nd.d.File
		if !filepath.IsAbs(fp) {
			fp = filepath.Join(sc.dir, fp)
		}
		f, err := os.Open(fp)
		if err != nil {
			return nil, &ScenarioError{File: path, Line: locate(data, nd.path+".file"), Field: nd.path + ".file", Msg: err.Error()}
		}
		err = nd.d.loadEmpirical(f, fp)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return sc, nil
}

// namedDist is a distribution of the scenario and its field path.
type namedDist struct {
	path string
	d    *Dist
}

// dists lists every distribution of the scenario.
func (sc *Scenario) dists() []namedDist {
	var out []namedDist
	for i := range sc.Engines {
		out = append(out, namedDist{fmt.Sprintf("engines[%d].start", i), &sc.Engines[i].Start},
			namedDist{fmt.Sprintf("engines[%d].stop", i), &sc.Engines[i].Stop})
	}
	for i := range sc.Cluster.ECMs {
		out = append(out, namedDist{fmt.Sprintf("cluster.ecms[%d].launch_latency", i), &sc.Cluster.ECMs[i].LaunchLatency})
	}
	out = append(out, namedDist{"cluster.net_delay", &sc.Cluster.NetDelay}, namedDist{"workload.runtime", &sc.Workload.Runtime})
	for i := range sc.Faults {
		out = append(out, namedDist{fmt.Sprintf("faults[%d].delay", i), &sc.Faults[i].Delay})
	}
	return out
}

// unloaded names a distribution whose file was not read (a scenario made
// by ParseScenario alone), or returns "".
func (sc *Scenario) unloaded() string {
	for _, nd := range sc.dists() {
		if nd.d.Kind == "empirical" && len(nd.d.samples) == 0 {
			return nd.path
		}
	}
	return ""
}

// maxPoolKeys bounds the combined labels warm pools may name.
const maxPoolKeys = 100_000

// validatePools checks the warm pools against the engines and the instance
// cap.
func (sc *Scenario) validatePools(engines map[string]bool) (string, string) {
	cfg, _ := sc.Manager.config() // checked already
	quota := cfg.DefaultQuota
	capN := quota.Instances
	if len(sc.WarmPools) > maxMixes {
		return "warm_pools", fmt.Sprintf("at most %d entries", maxMixes)
	}
	for i, p := range sc.WarmPools {
		f := fmt.Sprintf("warm_pools[%d].", i)
		switch {
		case p.Engine != "" && p.Engine != "*" && !engines[p.Engine]:
			return f + "engine", fmt.Sprintf("unknown engine type %q: list it under engines", p.Engine)
		case !wildOrName(p.User):
			return f + "user", fmt.Sprintf("%q is not a user name (letters, digits, '_') or *", p.User)
		case !wildOrName(p.Creator):
			return f + "creator", fmt.Sprintf("%q is not a creator name (letters, digits, '_') or *", p.Creator)
		case p.MinIdle < 0 || int64(p.MinIdle) > capN:
			return f + "min_idle", fmt.Sprintf("%d: a pool must be from 0 to the instance cap %d", p.MinIdle, capN)
		}
		for _, e := range sc.Engines {
			if p.Engine != "" && p.Engine != "*" && p.Engine != e.Type {
				continue
			}
			mem, _ := linkis.ParseMemory(e.Memory)
			cores, _ := linkis.ParseCores(e.Cores)
			if e.Memory == "" {
				mem, _ = linkis.ParseMemory("1g") // the default of applyDefaults
			}
			if e.Cores == "" {
				cores = 1000
			}
			if n := int64(p.MinIdle); mem > 0 && n > quota.Memory/mem || cores > 0 && n > quota.MilliCores/cores {
				return f + "min_idle", fmt.Sprintf("%d engines of %s (%s, %s cores each) exceed the default quota (%s, %s cores)",
					p.MinIdle, e.Type, linkis.FormatMemory(mem), strconv.FormatFloat(float64(cores)/1000, 'g', -1, 64),
					linkis.FormatMemory(quota.Memory), strconv.FormatFloat(float64(quota.MilliCores)/1000, 'g', -1, 64))
			}
		}
	}
	return "", ""
}

func wildOrName(s string) bool {
	if s == "" || s == "*" {
		return true
	}
	_, err := linkis.ParseUserCreator(s + "-x")
	return err == nil && !strings.Contains(s, "-")
}

// ParseScenario decodes and checks a scenario; name is used in errors and
// to resolve a relative trace path. Unknown fields are errors. A scenario
// with a trace needs LoadTrace before it can run.
func ParseScenario(data []byte, name string) (*Scenario, error) {
	sc := &Scenario{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(sc); err != nil {
		return nil, decodeError(data, name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ScenarioError{File: name, Line: lineAt(data, dec.InputOffset()), Msg: "unexpected data after the scenario object"}
	}
	if name != "" {
		sc.dir = filepath.Dir(name)
	}
	if field, msg := sc.validate(); field != "" || msg != "" {
		return nil, &ScenarioError{File: name, Line: locate(data, field), Field: field, Msg: msg}
	}
	sc.applyDefaults()
	sc.loadInline()
	for _, nd := range sc.dists() {
		nd.d.prepare()
	}
	return sc, nil
}

// loadInline turns validated inline jobs into a trace.
func (sc *Scenario) loadInline() {
	if len(sc.Workload.Inline) == 0 {
		return
	}
	idx := sc.engineIndex()
	in := newInterner()
	sc.trace = make([]jobSpec, 0, len(sc.Workload.Inline))
	for _, j := range sc.Workload.Inline {
		var a resAmount
		if j.Memory != "" {
			a.memory, _ = linkis.ParseMemory(j.Memory)
		}
		if j.Cores != "" {
			a.milliCores, _ = linkis.ParseCores(j.Cores)
		}
		sc.trace = append(sc.trace, jobSpec{submit: int64(j.At), runtime: int64(j.Runtime), engine: int32(idx[j.Engine]),
			res: in.size(a), user: in.user(j.User), creator: in.creator(j.Creator)})
	}
	sc.traceTables = in.t
}

func decodeError(data []byte, name string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return &ScenarioError{File: name, Line: lineAt(data, syn.Offset), Msg: "invalid JSON: " + syn.Error()}
	case errors.As(err, &typ):
		return &ScenarioError{File: name, Line: lineAt(data, typ.Offset), Field: typ.Field, Msg: fmt.Sprintf("want a %v, got a JSON %s", typ.Type, typ.Value)}
	case errors.Is(err, io.EOF):
		return &ScenarioError{File: name, Msg: "empty file: want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ScenarioError{File: name, Line: lineAt(data, int64(len(data))), Msg: "the JSON ends early"}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return &ScenarioError{File: name, Line: lineOfKey(data, f), Field: f, Msg: "unknown field"}
	}
	return &ScenarioError{File: name, Msg: msg}
}

// validate returns the first problem as a field path and a message.
func (sc *Scenario) validate() (string, string) {
	if sc.Duration <= 0 || time.Duration(sc.Duration) > maxDuration {
		return "duration", fmt.Sprintf("must be positive and at most a year, got %v", time.Duration(sc.Duration))
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{{"drain", sc.Drain}, {"settle", sc.Settle}, {"sample_every", sc.SampleEvery}} {
		if d.v < 0 || time.Duration(d.v) > maxDuration {
			return d.name, fmt.Sprintf("must not be negative or over a year, got %v", time.Duration(d.v))
		}
	}
	if f, m := sc.Manager.validate(); f != "" {
		return "manager." + f, m
	}
	if len(sc.Engines) == 0 {
		return "engines", "at least one engine type is needed"
	}
	seen := map[string]bool{}
	for i, e := range sc.Engines {
		p := fmt.Sprintf("engines[%d].", i)
		if _, err := linkis.ParseEngineType(e.Type); err != nil {
			return p + "type", fmt.Sprintf("%q is not an engine type like spark-3: %v", e.Type, err)
		}
		if seen[e.Type] {
			return p + "type", fmt.Sprintf("engine type %q is listed twice", e.Type)
		}
		seen[e.Type] = true
		if e.Concurrency < 0 || e.Concurrency > linkis.MaxConcurrency {
			return p + "concurrency", fmt.Sprintf("must be from 1 to %d, got %d", linkis.MaxConcurrency, e.Concurrency)
		}
		if f, m := checkAmounts(e.Memory, e.Cores); f != "" {
			return p + f, m
		}
		if f, m := e.Start.validate(); f != "" {
			return p + "start." + f, m
		}
		if f, m := e.Stop.validate(); f != "" {
			return p + "stop." + f, m
		}
	}
	if f, m := sc.Cluster.validate(); f != "" {
		return "cluster." + f, m
	}
	if f, m := sc.Workload.validate(seen); f != "" {
		return "workload." + f, m
	}
	if sc.Client.MaxAttempts < 0 || sc.Client.MaxAttempts > 100 {
		return "client.max_attempts", fmt.Sprintf("must be from 1 to 100, got %d", sc.Client.MaxAttempts)
	}
	if sc.Client.RetryBackoff < 0 {
		return "client.retry_backoff", fmt.Sprintf("must not be negative, got %v", time.Duration(sc.Client.RetryBackoff))
	}
	if len(sc.Faults) > maxFaults {
		return "faults", fmt.Sprintf("%d faults, at most %d", len(sc.Faults), maxFaults)
	}
	for i := range sc.Faults {
		if f, m := sc.Faults[i].validate(); f != "" {
			return fmt.Sprintf("faults[%d].%s", i, f), m
		}
	}
	if f, m := sc.RandomFaults.validate(); f != "" {
		return "random_faults." + f, m
	}
	if sc.Warmup < 0 || sc.Warmup >= sc.Duration {
		return "warmup", fmt.Sprintf("%v must be from 0 to less than the duration %v", time.Duration(sc.Warmup), time.Duration(sc.Duration))
	}
	if f, m := sc.validatePools(seen); f != "" {
		return f, m
	}
	if sc.Check.FullEvery < 0 {
		return "check.full_every", fmt.Sprintf("must not be negative, got %d", sc.Check.FullEvery)
	}
	return "", ""
}

func checkAmounts(mem, cores string) (string, string) {
	if mem != "" {
		if _, err := linkis.ParseMemory(mem); err != nil {
			return "memory", fmt.Sprintf("%q is not a memory size like 512m or 2g", mem)
		}
	}
	if cores != "" {
		if _, err := linkis.ParseCores(cores); err != nil {
			return "cores", fmt.Sprintf("%q is not a number of cores like 1, 0.5 or 500m", cores)
		}
	}
	return "", ""
}

func (m *ManagerSpec) validate() (string, string) {
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"lock_timeout", m.LockTimeout}, {"resource_lock_timeout", m.ResourceLockTimeout},
		{"ask_wait_timeout", m.AskWaitTimeout}, {"idle_timeout", m.IdleTimeout},
		{"ec_lost_after", m.ECLostAfter}, {"ecm_lost_after", m.ECMLostAfter}, {"tick_interval", m.TickInterval},
	} {
		if d.v < 0 {
			return d.name, fmt.Sprintf("must not be negative, got %v", time.Duration(d.v))
		}
	}
	if m.NewECMStandby != nil && *m.NewECMStandby < 0 {
		return "new_ecm_standby", fmt.Sprintf("must not be negative, got %v", time.Duration(*m.NewECMStandby))
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max_tasks_per_ec", m.MaxTasksPerEC}, {"max_waiters_per_key", m.MaxWaitersPerKey}, {"hotspot_top_k", m.HotspotTopK}} {
		if n.v < 0 {
			return n.name, fmt.Sprintf("must not be negative, got %d", n.v)
		}
	}
	if q := m.DefaultQuota; q != nil {
		if f, msg := checkAmounts(q.Memory, q.Cores); f != "" {
			return "default_quota." + f, msg
		}
		if q.Instances < 0 || q.Instances > maxInstances {
			return "default_quota.instances", fmt.Sprintf("must be from 1 to %d, got %d", maxInstances, q.Instances)
		}
	}
	if _, err := m.config(); err != nil {
		return "", err.Error()
	}
	return "", ""
}

// config returns the manager configuration the spec describes.
func (m *ManagerSpec) config() (manager.Config, error) {
	cfg := manager.DefaultConfig()
	set := func(dst *time.Duration, v Duration) {
		if v > 0 {
			*dst = time.Duration(v)
		}
	}
	set(&cfg.LockTimeout, m.LockTimeout)
	set(&cfg.ResourceLockTimeout, m.ResourceLockTimeout)
	set(&cfg.AskWaitTimeout, m.AskWaitTimeout)
	set(&cfg.IdleTimeout, m.IdleTimeout)
	set(&cfg.ECLostAfter, m.ECLostAfter)
	set(&cfg.ECMLostAfter, m.ECMLostAfter)
	set(&cfg.TickInterval, m.TickInterval)
	if m.ReclaimIdle != nil {
		cfg.ReclaimIdle = *m.ReclaimIdle
	}
	if m.NewECMStandby != nil {
		cfg.NewECMStandby = time.Duration(*m.NewECMStandby)
	}
	if m.MaxTasksPerEC > 0 {
		cfg.MaxTasksPerEC = m.MaxTasksPerEC
	}
	if m.MaxWaitersPerKey > 0 {
		cfg.MaxWaitersPerKey = m.MaxWaitersPerKey
	}
	if m.HotspotTopK > 0 {
		cfg.HotspotTopK = m.HotspotTopK
	}
	if q := m.DefaultQuota; q != nil {
		r, err := q.resource(cfg.DefaultQuota)
		if err != nil {
			return cfg, err
		}
		cfg.DefaultQuota = r
	}
	return cfg, cfg.Validate()
}

// resource returns the amount, taking unset dimensions from def.
func (r *ResourceSpec) resource(def linkis.Resource) (linkis.Resource, error) {
	out := def
	var err error
	if r.Memory != "" {
		if out.Memory, err = linkis.ParseMemory(r.Memory); err != nil {
			return out, err
		}
	}
	if r.Cores != "" {
		if out.MilliCores, err = linkis.ParseCores(r.Cores); err != nil {
			return out, err
		}
	}
	if r.Instances > 0 {
		out.Instances = r.Instances
	}
	return out, nil
}

func (c *ClusterSpec) validate() (string, string) {
	if len(c.ECMs) == 0 {
		return "ecms", "at least one group of ECMs is needed"
	}
	total := 0
	names := map[string]bool{}
	for i, g := range c.ECMs {
		p := fmt.Sprintf("ecms[%d].", i)
		if g.Count < 1 || g.Count > MaxECMs {
			return p + "count", fmt.Sprintf("must be from 1 to %d, got %d", MaxECMs, g.Count)
		}
		total += g.Count
		if total > MaxECMs {
			return p + "count", fmt.Sprintf("the cluster has more than %d ECMs", MaxECMs)
		}
		name := g.Name
		if name == "" {
			name = "ecm"
		}
		if names[name] {
			return p + "name", fmt.Sprintf("two groups are named %q; their ECM ids would collide", name)
		}
		names[name] = true
		if len(name) > 100 || strings.ContainsAny(name, " ,;=/\"") {
			return p + "name", fmt.Sprintf("%q: use letters, digits, '-', '_' or '.'", name)
		}
		if f, m := checkAmounts(g.Memory, g.Cores); f != "" {
			return p + f, m
		}
		if g.Instances < 0 || g.Instances > maxInstances {
			return p + "instances", fmt.Sprintf("must be from 1 to %d, got %d", maxInstances, g.Instances)
		}
		for k, v := range g.Labels {
			if k == linkis.LabelUserCreator || k == linkis.LabelEngineType {
				return p + "labels." + k, "an ECM serves every user and engine type; only tenant isolates ECMs"
			}
			if err := linkis.ValidateLabel(k, v); err != nil {
				return p + "labels." + k, err.Error()
			}
		}
		if f, m := g.LaunchLatency.validate(); f != "" {
			return p + "launch_latency." + f, m
		}
		if g.LaunchFailRate < 0 || g.LaunchFailRate > 1 || math.IsNaN(g.LaunchFailRate) {
			return p + "launch_fail_rate", fmt.Sprintf("must be a probability from 0 to 1, got %v", g.LaunchFailRate)
		}
	}
	if c.ECMHeartbeat < 0 {
		return "ecm_heartbeat", fmt.Sprintf("must not be negative, got %v", time.Duration(c.ECMHeartbeat))
	}
	if c.ECHeartbeat < 0 {
		return "ec_heartbeat", fmt.Sprintf("must not be negative, got %v", time.Duration(c.ECHeartbeat))
	}
	if f, m := c.NetDelay.validate(); f != "" {
		return "net_delay." + f, m
	}
	return "", ""
}

func (w *WorkloadSpec) validate(engines map[string]bool) (string, string) {
	if w.Trace == "" && len(w.Inline) == 0 && w.Jobs <= 0 {
		return "jobs", "a workload needs jobs > 0, a trace or inline jobs"
	}
	if w.Trace != "" && len(w.Inline) > 0 {
		return "inline", "a workload has a trace or inline jobs, not both"
	}
	var prev Duration
	for i, j := range w.Inline {
		p := fmt.Sprintf("inline[%d].", i)
		switch {
		case j.At < 0:
			return p + "at", fmt.Sprintf("must not be negative, got %v", time.Duration(j.At))
		case j.At < prev:
			return p + "at", fmt.Sprintf("%v is before the previous job's %v: inline jobs must be sorted", time.Duration(j.At), time.Duration(prev))
		case j.Runtime < 0:
			return p + "runtime", fmt.Sprintf("must not be negative, got %v", time.Duration(j.Runtime))
		case !engines[j.Engine]:
			return p + "engine", fmt.Sprintf("unknown engine type %q: list it under engines", j.Engine)
		}
		prev = j.At
		if _, err := linkis.ParseUserCreator(j.User + "-" + j.Creator); err != nil || strings.Contains(j.User, "-") || strings.Contains(j.Creator, "-") || j.User == "" || j.Creator == "" {
			return p + "user", fmt.Sprintf("%q-%q is not a user and creator (letters, digits, '_')", j.User, j.Creator)
		}
		if f, m := checkAmounts(j.Memory, j.Cores); f != "" {
			return p + f, m
		}
	}
	if w.Jobs < 0 || w.Jobs > MaxJobs {
		return "jobs", fmt.Sprintf("must be from 1 to %d, got %d", MaxJobs, w.Jobs)
	}
	switch w.Arrival {
	case "", "poisson", "bursty":
	default:
		return "arrival", fmt.Sprintf("unknown arrival process %q; want poisson or bursty", w.Arrival)
	}
	if w.BurstSize < 0 || w.BurstSize > 1e6 || math.IsNaN(w.BurstSize) {
		return "burst_size", fmt.Sprintf("must be from 1 to 1e6, got %v", w.BurstSize)
	}
	if w.BurstSpread < 0 {
		return "burst_spread", fmt.Sprintf("must not be negative, got %v", time.Duration(w.BurstSpread))
	}
	if w.Diurnal < 0 || w.Diurnal > 0.95 || math.IsNaN(w.Diurnal) {
		return "diurnal", fmt.Sprintf("must be from 0 to 0.95, got %v", w.Diurnal)
	}
	if w.DiurnalPeak < 0 {
		return "diurnal_peak", fmt.Sprintf("must not be negative, got %v", time.Duration(w.DiurnalPeak))
	}
	if w.Users < 0 || w.Users > MaxUsers {
		return "users", fmt.Sprintf("must be from 1 to %d, got %d", MaxUsers, w.Users)
	}
	for _, s := range []struct {
		name string
		v    float64
	}{{"user_skew", w.UserSkew}, {"creator_skew", w.CreatorSkew}} {
		if s.v < 0 || s.v > 10 || math.IsNaN(s.v) {
			return s.name, fmt.Sprintf("must be from 0 to 10, got %v", s.v)
		}
	}
	if len(w.Creators) > maxMixes {
		return "creators", fmt.Sprintf("at most %d creators", maxMixes)
	}
	for i, c := range w.Creators {
		if _, err := linkis.ParseUserCreator("u-" + c); err != nil || strings.Contains(c, "-") {
			return fmt.Sprintf("creators[%d]", i), fmt.Sprintf("%q is not a creator name (letters, digits, '_')", c)
		}
	}
	if len(w.EngineMix) > maxMixes || len(w.ResourceMix) > maxMixes {
		return "engine_mix", fmt.Sprintf("at most %d entries per mix", maxMixes)
	}
	for i, e := range w.EngineMix {
		p := fmt.Sprintf("engine_mix[%d].", i)
		if !engines[e.Type] {
			return p + "type", fmt.Sprintf("unknown engine type %q: list it under engines", e.Type)
		}
		if !(e.Weight > 0) || math.IsInf(e.Weight, 0) {
			return p + "weight", fmt.Sprintf("must be positive, got %v", e.Weight)
		}
	}
	for i, r := range w.ResourceMix {
		p := fmt.Sprintf("resource_mix[%d].", i)
		if f, m := checkAmounts(r.Memory, r.Cores); f != "" {
			return p + f, m
		}
		if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
			return p + "weight", fmt.Sprintf("must be positive, got %v", r.Weight)
		}
	}
	if w.Trace == "" && len(w.Inline) == 0 {
		if w.Runtime.Kind == "" && w.Runtime.Value == 0 {
			return "runtime", "a generated workload needs a runtime distribution"
		}
		if f, m := w.Runtime.validate(); f != "" {
			return "runtime." + f, m
		}
	}
	return "", ""
}

func (f *FaultSpec) validate() (string, string) {
	if f.At < 0 {
		return "at", fmt.Sprintf("must not be negative, got %v", time.Duration(f.At))
	}
	if f.For < 0 {
		return "for", fmt.Sprintf("must not be negative, got %v", time.Duration(f.For))
	}
	if f.Count < 0 || f.Count > MaxECMs {
		return "count", fmt.Sprintf("must be from 1 to %d, got %d", MaxECMs, f.Count)
	}
	switch f.Kind {
	case FaultECMCrash, FaultECCrash, FaultLostHeartbeats, FaultLeaderChange:
	case FaultLaunchFailures:
		if f.Rate < 0 || f.Rate > 1 || math.IsNaN(f.Rate) {
			return "rate", fmt.Sprintf("must be a probability from 0 to 1, got %v", f.Rate)
		}
		if f.For == 0 {
			return "for", "a launch_failures fault needs a length"
		}
	case FaultNetworkDelay:
		if fld, m := f.Delay.validate(); fld != "" {
			return "delay." + fld, m
		}
		if f.For == 0 {
			return "for", "a network_delay fault needs a length"
		}
	default:
		return "kind", fmt.Sprintf("unknown fault %q; want ecm_crash, ec_crash, lost_heartbeats, launch_failures, leader_change or network_delay", f.Kind)
	}
	return "", ""
}

func (r *RandomFaultSpec) validate() (string, string) {
	for _, x := range []struct {
		name string
		v    float64
	}{
		{"ecm_crash", r.ECMCrash}, {"ec_crash", r.ECCrash}, {"lost_heartbeats", r.LostHeartbeats},
		{"leader_change", r.LeaderChange}, {"network_delay", r.NetworkDelay}, {"launch_failures", r.LaunchFailures},
	} {
		if x.v < 0 || x.v > maxPerHour || math.IsNaN(x.v) {
			return x.name, fmt.Sprintf("must be from 0 to %d per hour, got %v", maxPerHour, x.v)
		}
	}
	if r.Outage < 0 {
		return "outage", fmt.Sprintf("must not be negative, got %v", time.Duration(r.Outage))
	}
	return "", ""
}

func (sc *Scenario) applyDefaults() {
	if sc.Name == "" {
		sc.Name = "scenario"
	}
	if sc.Drain == 0 {
		sc.Drain = Duration(2 * time.Hour)
	}
	if sc.SampleEvery == 0 {
		sc.SampleEvery = Duration(max(time.Duration(sc.Duration)/288, time.Second))
	}
	for i := range sc.Engines {
		e := &sc.Engines[i]
		if e.Concurrency == 0 {
			e.Concurrency = 1
		}
		if e.Memory == "" {
			e.Memory = "1g"
		}
		if e.Cores == "" {
			e.Cores = "1"
		}
		if e.Stop.Kind == "" {
			e.Stop = constDist(100 * time.Millisecond)
		}
		if e.Start.Kind == "" {
			e.Start.Kind = "const"
		}
	}
	c := &sc.Cluster
	if c.ECMHeartbeat == 0 {
		c.ECMHeartbeat = Duration(30 * time.Second)
	}
	if c.ECHeartbeat == 0 {
		c.ECHeartbeat = Duration(time.Minute)
	}
	if c.NetDelay.Kind == "" {
		c.NetDelay.Kind = "const"
	}
	for i := range c.ECMs {
		g := &c.ECMs[i]
		if g.Name == "" {
			g.Name = "ecm"
		}
		if g.LaunchLatency.Kind == "" {
			if g.LaunchLatency.Value == 0 {
				g.LaunchLatency.Value = Duration(2 * time.Second)
			}
			g.LaunchLatency.Kind = "const"
		}
	}
	w := &sc.Workload
	if w.Arrival == "" {
		w.Arrival = "poisson"
	}
	if w.BurstSize == 0 {
		w.BurstSize = 10
	}
	if w.BurstSpread == 0 {
		w.BurstSpread = Duration(2 * time.Second)
	}
	if w.DiurnalPeak == 0 {
		w.DiurnalPeak = Duration(14 * time.Hour)
	}
	if w.Users == 0 {
		w.Users = 10
	}
	if len(w.Creators) == 0 {
		w.Creators = []string{"IDE"}
	}
	if len(w.EngineMix) == 0 {
		for _, e := range sc.Engines {
			w.EngineMix = append(w.EngineMix, WeightedEngine{Type: e.Type, Weight: 1})
		}
	}
	if w.Runtime.Kind == "" {
		w.Runtime.Kind = "const"
	}
	if sc.Client.MaxAttempts == 0 {
		sc.Client.MaxAttempts = 3
	}
	if sc.Client.RetryBackoff == 0 {
		sc.Client.RetryBackoff = Duration(10 * time.Second)
	}
	if sc.RandomFaults.Outage == 0 {
		sc.RandomFaults.Outage = Duration(5 * time.Minute)
	}
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if f.Count == 0 {
			f.Count = 1
		}
		if f.Kind == FaultLeaderChange && f.For == 0 {
			f.For = Duration(2 * time.Second)
		}
	}
}

// ECMCount returns the number of ECMs the cluster has.
func (sc *Scenario) ECMCount() int {
	n := 0
	for _, g := range sc.Cluster.ECMs {
		n += g.Count
	}
	return n
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	if off < 0 {
		return 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	return bytes.Count(data[:off], []byte("\n")) + 1
}

// locate returns the line where the JSON value at a field path such as
// "faults[2].at" starts, or 0 when the path is not in the document (a
// default was missing, say).
func locate(data []byte, path string) int {
	if path == "" {
		return 0
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	found := int64(-1)
	var walk func(prefix string, depth int) bool
	walk = func(prefix string, depth int) bool {
		tok, err := dec.Token()
		if err != nil || depth > 64 {
			return false
		}
		d, ok := tok.(json.Delim)
		if !ok {
			return true
		}
		switch d {
		case '{':
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				key, _ := k.(string)
				p := key
				if prefix != "" {
					p = prefix + "." + key
				}
				if p == path && found < 0 {
					found = dec.InputOffset()
				}
				if !walk(p, depth+1) {
					return false
				}
			}
		case '[':
			for i := 0; dec.More(); i++ {
				p := prefix + "[" + strconv.Itoa(i) + "]"
				if p == path && found < 0 {
					found = skipSpace(data, dec.InputOffset())
				}
				if !walk(p, depth+1) {
					return false
				}
			}
		}
		_, err = dec.Token() // the closing delimiter
		return err == nil
	}
	walk("", 0)
	if found < 0 {
		// A field inside a missing object: report the nearest ancestor.
		if i := strings.LastIndexAny(path, ".["); i > 0 {
			return locate(data, path[:i])
		}
		return 0
	}
	return lineAt(data, found)
}

func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,:", data[off]) >= 0 {
		off++
	}
	return off
}

// lineOfKey finds the first line that has "key": in it, for unknown-field
// errors (encoding/json does not say where they are).
func lineOfKey(data []byte, key string) int {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		key = key[i+1:]
	}
	needle := []byte(`"` + key + `"`)
	if i := bytes.Index(data, needle); i >= 0 {
		return lineAt(data, int64(i))
	}
	return 0
}
