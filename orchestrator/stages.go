package orchestrator

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The stages that turn a Spec into a physical tree, in the order they run:
//
//	converter  Spec → astJob          substitute variables, fill the run type, split configuration
//	parser     astJob → astJob+stages one stage of one code unit (the shape allows more)
//	validator  checks labels, user, engine type, code, strategy labels
//	planner    → logicalJob           what runs where, under which strategy
//	optimizer  → physical tree        the strategy's shape of nodes
//
// Check is the first three; Plan all five.

// Strategy labels: the orchestrator's own, stripped before the manager is
// asked.
const (
	// LabelExecuteStrategy picks the strategy: retry (default),
	// activeBackup or multiActive.
	LabelExecuteStrategy = "executeStrategy"
	// LabelExecuteRoutes lists routes separated by ';', each a comma list
	// of key=value among tenant, yarnCluster and emInstance, e.g.
	// "emInstance=ecm-a;emInstance=ecm-b".
	LabelExecuteRoutes = "executeRoutes"
)

// Strategy is how a job's code units are run.
type Strategy uint8

// The strategies.
const (
	// StrategyRetry runs on one engine and retries retryable failures.
	StrategyRetry Strategy = iota
	// StrategyActiveBackup runs on the first route and fails over to the
	// next on a retryable failure.
	StrategyActiveBackup
	// StrategyMultiActive runs on two engines (or one per route) at once;
	// the first success wins.
	StrategyMultiActive
)

var strategyNames = [...]string{"retry", "activeBackup", "multiActive"}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// ParseStrategy reads a strategy's name.
func ParseStrategy(s string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == s {
			return Strategy(i), nil
		}
	}
	return 0, linkis.ValueError(linkis.ErrInvalidLabel, LabelExecuteStrategy, s, "must be retry, activeBackup or multiActive")
}

// routeKeys are the label keys a route may set.
var routeKeys = map[string]bool{linkis.LabelTenant: true, linkis.LabelYarnCluster: true, linkis.LabelEMInstance: true}

// ownLabels are labels the orchestrator (and the entrance) read, never
// passed to the manager.
var ownLabels = map[string]bool{
	LabelExecuteStrategy: true, LabelExecuteRoutes: true,
	linkis.LabelJobRetryCount: true, linkis.LabelJobRetryTimeout: true,
	linkis.LabelJobQueuingTimeout: true, linkis.LabelJobRunningTimeout: true,
}

// runTypes is the run type of each built-in engine type.
var runTypes = map[string]string{"shell": "sh", "python": "py", "sql": "sql", engineJDBC: "jdbc"}

// maxExecIDLen leaves room in an ask id (at most 128 bytes) for the round
// and branch.
const maxExecIDLen = 100

// astJob is a job as the converter leaves it and the parser and validator
// complete it.
type astJob struct {
	spec    *Spec
	labels  map[string]string // as submitted
	code    string            // substituted
	runType string
	runtime map[string]string // task params
	startup map[string]string // ask params
	stages  []astStage        // from the parser

	// from the validator
	engineLabels map[string]string // labels for the manager, own labels removed
	strategy     Strategy
	routes       []map[string]string
	retries      int
	retryWait    time.Duration
	rerun        bool // the job's labels ask for retries
}

// astStage is one stage: code units run in order.
type astStage struct {
	units []CodeUnit
}

// logicalJob is the planner's output: per stage, the task to run and the
// strategy it runs under.
type logicalJob struct {
	execID string
	stages []logicalStage
}

type logicalStage struct {
	unit      CodeUnit
	strategy  Strategy
	labels    map[string]string
	routes    []map[string]string
	retries   int
	retryWait time.Duration
	rerun     bool
}

// check redacts the request's secrets and runs the converter, parser and
// validator.
func (o *Orchestrator) check(spec *Spec) (*astJob, error) {
	o.Redact(spec.User, &spec.Request)
	vars, err := o.vault.RevealMap(spec.User, withGlobals(spec.Globals, spec.Request.Params.Variable))
	if err != nil {
		return nil, err
	}
	j, err := convert(spec, vars)
	if err != nil {
		return nil, err
	}
	parse(j)
	if err := o.validate(j); err != nil {
		return nil, err
	}
	return j, nil
}

// plan runs every stage: the physical tree of a job.
func (o *Orchestrator) plan(spec *Spec) (*JobNode, error) {
	j, err := o.check(spec)
	if err != nil {
		return nil, err
	}
	return optimize(planJob(j)), nil
}

// convert turns a Spec into an astJob: variables are substituted in the
// code, the run type is filled from the engine type when the request has
// none, and the configuration is split into task params (runtime) and ask
// params (startup) - secrets and the jdbc engine's settings go with the
// task (splitParams).
func convert(spec *Spec, vars Values) (*astJob, error) {
	req := &spec.Request
	code, err := Substitute(req.ExecutionContent.Code, vars, spec.Submitted)
	if err != nil {
		return nil, err
	}
	et, _, _ := strings.Cut(req.Labels[linkis.LabelEngineType], "-")
	startup, runtime := splitParams(et, req.Params.Configuration.Startup, req.Params.Configuration.Runtime)
	j := &astJob{spec: spec, labels: req.Labels, code: code, runType: req.ExecutionContent.RunType,
		runtime: runtime, startup: startup}
	if j.runType == "" {
		j.runType = runTypes[et]
	}
	return j, nil
}

// parse splits an astJob into stages of code units: one stage of one unit
// for now; a parser that splits scripts into paragraphs adds units here.
func parse(j *astJob) {
	j.stages = []astStage{{units: []CodeUnit{{Code: j.code, RunType: j.runType, Params: j.runtime, Startup: j.startup}}}}
}

// validate checks an astJob and completes it: the exec id, the labels
// (userCreator and engineType required and well-formed, the user the
// submitter, the engine type one this orchestrator knows), the code (not
// empty, at most api.MaxCodeBytes after substitution), the run type, the
// task params, the startup params, and the strategy labels.
func (o *Orchestrator) validate(j *astJob) error {
	// The entrance checks a job before it has ids; Plan and Run require one.
	if j.spec.ExecID != "" {
		if err := validateExecID(j.spec.ExecID); err != nil {
			return err
		}
	}
	engine := make(map[string]string, len(j.labels))
	for k, v := range j.labels {
		if !ownLabels[k] {
			engine[k] = v
		}
	}
	req, err := parseEngineLabels(engine)
	if err != nil {
		return err
	}
	if req.UserCreator.User != j.spec.User {
		return linkis.ValueError(linkis.ErrPermission, "labels."+linkis.LabelUserCreator, j.labels[linkis.LabelUserCreator], "names another user than the submitter "+strconv.Quote(j.spec.User))
	}
	if !o.known[req.EngineType.Type] {
		return linkis.ValueError(linkis.ErrUnknownEngineType, "labels."+linkis.LabelEngineType, j.labels[linkis.LabelEngineType], "engine types here: "+strings.Join(o.cfg.EngineTypes, ", "))
	}
	j.engineLabels = engine
	for _, st := range j.stages {
		for _, u := range st.units {
			if err := validateUnit(u); err != nil {
				return err
			}
			if req.EngineType.Type == engineJDBC {
				if _, err := o.jdbcSettings(j.spec.User, u.Params); err != nil {
					return withField("params.configuration", err)
				}
			}
		}
	}
	return o.validateStrategy(j)
}

// parseEngineLabels checks labels as the manager will (what
// linkis.ParseLabels then linkis.ParseEngineRequest check, with one sort
// and no map).
func parseEngineLabels(m map[string]string) (linkis.EngineRequest, error) {
	if len(m) > linkis.MaxLabels {
		return linkis.EngineRequest{}, linkis.Errorf(linkis.ErrInvalidLabel, "labels", "%d labels, at most %d allowed", len(m), linkis.MaxLabels)
	}
	ls := make(linkis.Labels, 0, len(m))
	for k, v := range m {
		ls = append(ls, linkis.Label{Key: k, Value: v})
	}
	slices.SortFunc(ls, func(a, b linkis.Label) int { return strings.Compare(a.Key, b.Key) })
	req, err := linkis.ParseEngineRequest(ls)
	if err != nil {
		return req, withField("labels", err)
	}
	return req, nil
}

// withField prefixes the field of a *linkis.Error ("labels.engineType").
func withField(prefix string, err error) error {
	if le, ok := err.(*linkis.Error); ok {
		cp := *le
		if cp.Field == "" {
			cp.Field = prefix
		} else {
			cp.Field = prefix + "." + cp.Field
		}
		return &cp
	}
	return err
}

func validateExecID(id string) error {
	if id == "" || len(id) > maxExecIDLen {
		return linkis.ValueError(linkis.ErrInvalidArgument, "execID", id, "must be 1-100 bytes")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return linkis.ValueError(linkis.ErrInvalidArgument, "execID", id, "must be printable ASCII without spaces")
		}
	}
	return nil
}

func validateUnit(u CodeUnit) error {
	if strings.TrimSpace(u.Code) == "" {
		return linkis.Errorf(linkis.ErrInvalidArgument, codeField, "the code is empty")
	}
	if len(u.Code) > api.MaxCodeBytes {
		return linkis.Errorf(linkis.ErrInvalidArgument, codeField, "%d bytes after substitution, at most %d allowed", len(u.Code), api.MaxCodeBytes)
	}
	if u.RunType != "" && !isRunType(u.RunType) {
		return linkis.ValueError(linkis.ErrInvalidArgument, "executionContent.runType", u.RunType, "must be 1-32 lower-case letters, digits or '_'")
	}
	if len(u.Params) > api.MaxTaskParams {
		return linkis.Errorf(linkis.ErrInvalidArgument, "params.configuration.runtime", "%d settings, at most %d allowed", len(u.Params), api.MaxTaskParams)
	}
	return validateStartup(u.Startup)
}

// validateStartup checks the startup configuration as the manager checks
// an ask's params, so that a job the manager would refuse is never
// accepted.
func validateStartup(p map[string]string) error {
	const field = "params.configuration.startup"
	if len(p) > manager.MaxParams {
		return linkis.Errorf(linkis.ErrInvalidArgument, field, "%d settings, at most %d allowed", len(p), manager.MaxParams)
	}
	for _, k := range slices.Sorted(maps.Keys(p)) { // the same error every time, as the manager
		v := p[k]
		if k == "" || len(k) > manager.MaxParamKeyLen || !utf8.ValidString(k) {
			return linkis.ValueError(linkis.ErrInvalidArgument, field, k, "names must be 1-128 bytes of UTF-8")
		}
		if len(v) > manager.MaxParamValueLen || !utf8.ValidString(v) {
			return linkis.ValueError(linkis.ErrInvalidArgument, field+"."+k, v, "values must be at most 4096 bytes of UTF-8")
		}
	}
	return nil
}

func isRunType(s string) bool {
	if len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// validateStrategy reads the strategy labels: executeStrategy,
// executeRoutes (each route's labels merged over the job's must still be
// a valid engine request), jobRetryCount and jobRetryTimeout.
func (o *Orchestrator) validateStrategy(j *astJob) error {
	j.retries, j.retryWait = o.cfg.RetryCount, o.cfg.RetryWait
	if s, ok := j.labels[LabelExecuteStrategy]; ok {
		st, err := ParseStrategy(s)
		if err != nil {
			return withField("labels", err)
		}
		j.strategy = st
	}
	if s, ok := j.labels[LabelExecuteRoutes]; ok {
		routes, err := parseRoutes(s)
		if err != nil {
			return withField("labels", err)
		}
		j.routes = routes
	}
	switch n := len(j.routes); {
	case j.strategy == StrategyRetry && n > 1:
		return linkis.ValueError(linkis.ErrInvalidLabel, "labels."+LabelExecuteRoutes, j.labels[LabelExecuteRoutes], "the retry strategy runs on one route; use executeStrategy=activeBackup or multiActive for more")
	case j.strategy == StrategyActiveBackup && n < 2:
		return linkis.Errorf(linkis.ErrInvalidLabel, "labels."+LabelExecuteRoutes, "activeBackup needs at least two routes (primary;backup), got %d", n)
	case j.strategy == StrategyMultiActive && n == 1:
		return linkis.Errorf(linkis.ErrInvalidLabel, "labels."+LabelExecuteRoutes, "multiActive needs no route (two engines alike) or at least two, got 1")
	}
	for _, r := range j.routes {
		if _, err := parseEngineLabels(mergeLabels(j.engineLabels, r)); err != nil {
			return err
		}
	}
	if s, ok := j.labels[linkis.LabelJobRetryCount]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > o.cfg.MaxRetryCount {
			return linkis.ValueError(linkis.ErrInvalidLabel, "labels."+linkis.LabelJobRetryCount, s, "must be a whole number from 0 to "+strconv.Itoa(o.cfg.MaxRetryCount))
		}
		j.retries, j.rerun = n, true
	}
	if s, ok := j.labels[linkis.LabelJobRetryTimeout]; ok {
		d, err := parseWait(s)
		if err != nil || d < 0 || d > o.cfg.MaxRetryWait {
			return linkis.ValueError(linkis.ErrInvalidLabel, "labels."+linkis.LabelJobRetryTimeout, s, "must be milliseconds or a duration (\"30s\") from 0 to "+o.cfg.MaxRetryWait.String())
		}
		j.retryWait = d
	}
	return nil
}

// parseWait reads milliseconds ("30000", as Linkis) or a Go duration
// ("30s").
func parseWait(s string) (time.Duration, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(24*time.Hour/time.Millisecond) {
			return -1, linkis.Errorf(linkis.ErrInvalidLabel, "", "out of range")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	return time.ParseDuration(s)
}

// maxRoutes bounds the routes of one job.
const maxRoutes = 8

// parseRoutes reads "k=v,k=v;k=v": routes separated by ';', each a comma
// list of key=value among tenant, yarnCluster and emInstance.
func parseRoutes(s string) ([]map[string]string, error) {
	parts := strings.Split(s, ";")
	if len(parts) > maxRoutes {
		return nil, linkis.ValueError(linkis.ErrInvalidLabel, LabelExecuteRoutes, s, "at most 8 routes")
	}
	routes := make([]map[string]string, 0, len(parts))
	seen := make(map[string]bool, len(parts))
	for _, p := range parts {
		r := make(map[string]string, 2)
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			if !ok || v == "" || !routeKeys[k] {
				return nil, linkis.ValueError(linkis.ErrInvalidLabel, LabelExecuteRoutes, s, "each route is key=value pairs separated by ',' with keys tenant, yarnCluster or emInstance; routes are separated by ';'")
			}
			if _, dup := r[k]; dup {
				return nil, linkis.ValueError(linkis.ErrInvalidLabel, LabelExecuteRoutes, s, "a route sets "+k+" twice")
			}
			if err := linkis.ValidateLabel(k, v); err != nil {
				return nil, withField(LabelExecuteRoutes, err)
			}
			r[k] = v
		}
		name := routeString(r)
		if seen[name] {
			return nil, linkis.ValueError(linkis.ErrInvalidLabel, LabelExecuteRoutes, s, "route "+name+" is named twice")
		}
		seen[name] = true
		routes = append(routes, r)
	}
	return routes, nil
}

// mergeLabels returns base with over's labels set on top.
func mergeLabels(base, over map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// planJob turns a validated astJob into a logical job: each stage's unit
// with the strategy, labels and routes it runs under.
func planJob(j *astJob) *logicalJob {
	lj := &logicalJob{execID: j.spec.ExecID, stages: make([]logicalStage, 0, len(j.stages))}
	for _, st := range j.stages {
		for _, u := range st.units {
			lj.stages = append(lj.stages, logicalStage{unit: u, strategy: j.strategy, labels: j.engineLabels,
				routes: j.routes, retries: j.retries, retryWait: j.retryWait, rerun: j.rerun})
		}
	}
	return lj
}

// optimize turns a logical job into the physical tree of its strategy:
//
//	retry:        job → stage → retry → exec
//	activeBackup: job → stage → retry → failover → exec(primary), exec(backup)...
//	multiActive:  job → stage → retry → multi-active → exec, exec...
//
// The retry node is left out when no retry is allowed.
func optimize(lj *logicalJob) *JobNode {
	root := &JobNode{ExecID: lj.execID, Stages: make([]Node, 0, len(lj.stages))}
	for i, st := range lj.stages {
		var body Node
		switch st.strategy {
		case StrategyActiveBackup:
			body = &FailoverNode{Routes: execs(st)}
		case StrategyMultiActive:
			body = &MultiActiveNode{Branches: execs(st)}
		default:
			ls, route := st.labels, ""
			if len(st.routes) == 1 {
				ls, route = mergeLabels(st.labels, st.routes[0]), routeString(st.routes[0])
			}
			body = &ExecNode{Route: route, Labels: ls, Unit: st.unit}
		}
		if st.retries > 0 {
			body = &RetryNode{Max: st.retries, Wait: st.retryWait, Rerun: st.rerun, Child: body}
		}
		root.Stages = append(root.Stages, &StageNode{Index: i, Child: body})
	}
	return root
}

// execs returns one exec leaf per route (two alike when there is none).
func execs(st logicalStage) []Node {
	if len(st.routes) == 0 {
		return []Node{
			&ExecNode{Branch: 1, Labels: st.labels, Unit: st.unit},
			&ExecNode{Branch: 2, Labels: st.labels, Unit: st.unit},
		}
	}
	out := make([]Node, len(st.routes))
	for i, r := range st.routes {
		out[i] = &ExecNode{Branch: i + 1, Route: routeString(r), Labels: mergeLabels(st.labels, r), Unit: st.unit}
	}
	return out
}
