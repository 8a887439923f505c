package api

import (
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Resource is a resource quantity on the wire.
type Resource struct {
	Memory     int64            `json:"memory"`     // bytes
	MilliCores int64            `json:"milliCores"` // 1000 = one core
	Instances  int64            `json:"instances"`
	Extra      map[string]int64 `json:"extra,omitempty"`
}

// FromResource converts a linkis.Resource.
func FromResource(r linkis.Resource) Resource {
	out := Resource{Memory: r.Memory, MilliCores: r.MilliCores, Instances: r.Instances}
	if len(r.Extra) > 0 {
		out.Extra = make(map[string]int64, len(r.Extra))
		for _, q := range r.Extra {
			out.Extra[q.Name] = q.Value
		}
	}
	return out
}

// Resource converts and validates.
func (r Resource) Resource() (linkis.Resource, error) {
	out := linkis.Resource{Memory: r.Memory, MilliCores: r.MilliCores, Instances: r.Instances}
	if len(r.Extra) > 0 {
		var err error
		if out.Extra, err = linkis.NewExtra(r.Extra); err != nil {
			return linkis.Resource{}, err
		}
	}
	return out, out.Validate()
}

// Load is what a node reports of its machine and tasks.
type Load struct {
	MaxMemory      int64 `json:"maxMemory,omitempty"`
	UsedMemory     int64 `json:"usedMemory,omitempty"`
	FreeMemory     int64 `json:"freeMemory,omitempty"`
	CPUPermille    int64 `json:"cpuPermille,omitempty"`
	RunningTasks   int64 `json:"runningTasks,omitempty"`
	PendingTasks   int64 `json:"pendingTasks,omitempty"`
	SucceededTasks int64 `json:"succeededTasks,omitempty"`
	FailedTasks    int64 `json:"failedTasks,omitempty"`
}

func (l Load) load() (linkis.NodeLoad, error) {
	out := linkis.NodeLoad(l)
	return out, out.Validate()
}

func labels(m map[string]string) (linkis.Labels, error) { return linkis.ParseLabels(m) }

// LabelMap converts labels to their wire form.
func LabelMap(ls linkis.Labels) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Key] = l.Value
	}
	return m
}

func health(s string) (linkis.NodeHealth, error) {
	if s == "" {
		return linkis.HealthHealthy, nil
	}
	return linkis.ParseNodeHealth(s)
}

// RegisterECMRequest registers an ECM. A missing Max takes the manager's
// default capacity. An id registered at another address is refused
// (duplicate, field "addr") unless Replace (see manager.RegisterECM).
type RegisterECMRequest struct {
	ID      string            `json:"id"`
	Addr    string            `json:"addr"` // host:port of its API
	Labels  map[string]string `json:"labels,omitempty"`
	Max     *Resource         `json:"max,omitempty"`
	Replace bool              `json:"replace,omitempty"`
}

// Command converts the request into the command it proposes.
func (r RegisterECMRequest) Command(now int64) (manager.Command, error) {
	ls, err := labels(r.Labels)
	if err != nil {
		return nil, err
	}
	c := manager.RegisterECM{Time: now, ID: r.ID, Addr: r.Addr, Labels: ls, Replace: r.Replace}
	if r.Max != nil {
		if c.Max, err = r.Max.Resource(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ECMHeartbeatRequest reports an ECM alive. A non-empty Addr (the ECM's
// API address) must be the registered one's: an ECM that was replaced
// hears unknown_node.
type ECMHeartbeatRequest struct {
	ID     string `json:"id"`
	Health string `json:"health,omitempty"` // default Healthy
	Load   Load   `json:"load"`
	Addr   string `json:"addr,omitempty"`
}

// Command converts the request into the command it proposes.
func (r ECMHeartbeatRequest) Command(now int64) (manager.Command, error) {
	h, err := health(r.Health)
	if err != nil {
		return nil, err
	}
	l, err := r.Load.load()
	if err != nil {
		return nil, err
	}
	return manager.ECMHeartbeat{Time: now, ID: r.ID, Health: h, Load: l, Addr: r.Addr}, nil
}

// DeregisterECMRequest removes an ECM (gracefully unless Force).
// A non-empty Addr must be the registered ECM's.
type DeregisterECMRequest struct {
	ID    string `json:"id"`
	Force bool   `json:"force,omitempty"`
	Addr  string `json:"addr,omitempty"`
}

// Command converts the request into the command it proposes.
func (r DeregisterECMRequest) Command(now int64) (manager.Command, error) {
	return manager.DeregisterECM{Time: now, ID: r.ID, Force: r.Force, Addr: r.Addr}, nil
}

// ECStartedRequest reports an engine up and serving at Addr.
type ECStartedRequest struct {
	EC   string `json:"ec"` // "ec-N"
	Addr string `json:"addr"`
}

// Command converts the request into the command it proposes.
func (r ECStartedRequest) Command(now int64) (manager.Command, error) {
	id, err := manager.ParseECID(r.EC)
	if err != nil {
		return nil, err
	}
	return manager.EngineStarted{Time: now, EC: id, Addr: r.Addr}, nil
}

// ECEndedRequest reports an engine gone.
type ECEndedRequest struct {
	EC        string `json:"ec"`
	Failed    bool   `json:"failed,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
}

// Command converts the request into the command it proposes.
func (r ECEndedRequest) Command(now int64) (manager.Command, error) {
	id, err := manager.ParseECID(r.EC)
	if err != nil {
		return nil, err
	}
	return manager.EngineEnded{Time: now, EC: id, Failed: r.Failed, Reason: r.Reason, Retryable: r.Retryable}, nil
}

// ECHeartbeatRequest reports an engine alive with its status.
type ECHeartbeatRequest struct {
	EC     string `json:"ec"`
	Status string `json:"status"` // Unlock, Idle, Busy, Running, ...
	Health string `json:"health,omitempty"`
	Load   Load   `json:"load"`
}

// Command converts the request into the command it proposes.
func (r ECHeartbeatRequest) Command(now int64) (manager.Command, error) {
	id, err := manager.ParseECID(r.EC)
	if err != nil {
		return nil, err
	}
	st, err := linkis.ParseNodeStatus(r.Status)
	if err != nil {
		return nil, err
	}
	h, err := health(r.Health)
	if err != nil {
		return nil, err
	}
	l, err := r.Load.load()
	if err != nil {
		return nil, err
	}
	return manager.ECHeartbeat{Time: now, EC: id, Status: st, Health: h, Load: l}, nil
}

// ECUnlockRequest is sent by an engine whose lock ended on its side.
type ECUnlockRequest struct {
	EC    string `json:"ec"`
	Token string `json:"token"` // 16 hex digits
}

// Command converts the request into the command it proposes.
func (r ECUnlockRequest) Command(now int64) (manager.Command, error) {
	id, err := manager.ParseECID(r.EC)
	if err != nil {
		return nil, err
	}
	tok, err := ParseToken(r.Token)
	if err != nil {
		return nil, err
	}
	return manager.UnlockEngine{Time: now, EC: id, Token: tok}, nil
}

// ECKillRequest asks the manager to stop an engine.
type ECKillRequest struct {
	EC     string `json:"ec"`
	Reason string `json:"reason,omitempty"`
}

// Command converts the request into the command it proposes.
func (r ECKillRequest) Command(now int64) (manager.Command, error) {
	id, err := manager.ParseECID(r.EC)
	if err != nil {
		return nil, err
	}
	return manager.KillEngine{Time: now, EC: id, Reason: r.Reason}, nil
}

// ParseToken parses a lock token (16 hex digits).
func ParseToken(s string) (manager.LockToken, error) {
	if len(s) != 16 {
		return 0, linkis.ValueError(linkis.ErrInvalidArgument, "token", s, "must be 16 hex digits")
	}
	var t uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		default:
			return 0, linkis.ValueError(linkis.ErrInvalidArgument, "token", s, "must be 16 lower-case hex digits")
		}
		t = t<<4 | uint64(v)
	}
	return manager.LockToken(t), nil
}

// AskRequest asks for an engine. WaitMs is how long the call may block for
// the outcome when the engine must start first (0: answer at once, with a
// Pending result the caller polls with GET /v1/asks/{id}).
type AskRequest struct {
	ID            string            `json:"id"`
	Labels        map[string]string `json:"labels"`
	Params        map[string]string `json:"params,omitempty"`
	LockTimeoutMs int64             `json:"lockTimeoutMs,omitempty"`
	WaitTimeoutMs int64             `json:"waitTimeoutMs,omitempty"`
	WaitMs        int64             `json:"waitMs,omitempty"`
}

// MaxWait bounds how long one HTTP call may block for an outcome.
const MaxWait = 5 * time.Minute

// Command converts the request into the command it proposes; the nonce is
// the proposer's randomness.
func (r AskRequest) Command(now int64, nonce uint64) (manager.Command, error) {
	ls, err := labels(r.Labels)
	if err != nil {
		return nil, err
	}
	if _, err := linkis.ParseEngineRequest(ls); err != nil {
		return nil, err
	}
	if r.ID == "" {
		return nil, linkis.Errorf(linkis.ErrInvalidArgument, "id", "an ask needs an id (it makes the ask idempotent)")
	}
	lt, err := millis("lockTimeoutMs", r.LockTimeoutMs)
	if err != nil {
		return nil, err
	}
	wt, err := millis("waitTimeoutMs", r.WaitTimeoutMs)
	if err != nil {
		return nil, err
	}
	if _, err := r.Wait(); err != nil {
		return nil, err
	}
	return manager.AskEngine{Time: now, ID: r.ID, Nonce: nonce, Labels: ls, Params: r.Params, LockTimeout: lt, WaitTimeout: wt}, nil
}

// Wait returns how long the call may block for the outcome.
func (r AskRequest) Wait() (time.Duration, error) {
	d, err := millis("waitMs", r.WaitMs)
	if err == nil && d > MaxWait {
		err = linkis.Errorf(linkis.ErrInvalidArgument, "waitMs", "%d is longer than %v", r.WaitMs, MaxWait)
	}
	return d, err
}

func millis(field string, ms int64) (time.Duration, error) {
	if ms < 0 || ms > int64(24*time.Hour/time.Millisecond) {
		return 0, linkis.Errorf(linkis.ErrInvalidArgument, field, "must be from 0 to one day in milliseconds, got %d", ms)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// AskIDRequest names an ask (release, renew).
type AskIDRequest struct {
	AskID string `json:"askId"`
}

// AskResult is the outcome of an ask.
type AskResult struct {
	AskID   string     `json:"askId"`
	Status  string     `json:"status"` // Pending, Granted, Failed, Done
	EC      string     `json:"ec,omitempty"`
	ECM     string     `json:"ecm,omitempty"`
	Addr    string     `json:"addr,omitempty"`
	Token   string     `json:"token,omitempty"`
	Expires int64      `json:"expires,omitempty"` // Unix nanoseconds
	Reused  bool       `json:"reused,omitempty"`
	Created bool       `json:"created,omitempty"`
	Error   *ErrorBody `json:"error,omitempty"`
}

// FromAskResult converts the manager's view of an ask.
func FromAskResult(a manager.AskResult) AskResult {
	out := AskResult{AskID: a.AskID, Status: a.Status.String(), ECM: a.ECM, Addr: a.Addr,
		Expires: a.Expires, Reused: a.Reused, Created: a.Created}
	if a.EC != 0 {
		out.EC = a.EC.String()
	}
	if a.Token != 0 {
		out.Token = a.Token.String()
	}
	if a.Err != nil {
		b := BodyOf(a.Err)
		out.Error = &b
	}
	return out
}

// Err returns the ask's failure as a typed error, or nil.
func (a AskResult) Err() error {
	if a.Error == nil {
		return nil
	}
	return ErrorFromBody(0, *a.Error)
}

// Member is one node of the manager cluster.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr,omitempty"`
	Voter    bool   `json:"voter"`
	Leader   bool   `json:"leader,omitempty"`
}

// JoinRequest adds a node to the cluster (sent to any member; forwarded to
// the leader).
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raftAddr"`
	HTTPAddr string `json:"httpAddr"`
}

// Status is a manager node's view of the cluster.
type Status struct {
	ID           string   `json:"id"`
	State        string   `json:"state"` // Leader, Follower, Candidate, Shutdown
	Leader       string   `json:"leader,omitempty"`
	LeaderHTTP   string   `json:"leaderHttp,omitempty"`
	Term         uint64   `json:"term"`
	AppliedIndex uint64   `json:"appliedIndex"`
	CommitIndex  uint64   `json:"commitIndex"`
	Members      []Member `json:"members"`
	ECMs         int      `json:"ecms"`
	Engines      int      `json:"engines"`
	Asks         int      `json:"asks"`
}

// Material is a file an ECM places in an engine's work directory.
type Material struct {
	Name string `json:"name"`
	Data []byte `json:"data"` // base64 in JSON
	Mode uint32 `json:"mode"`
}

// LaunchRequest asks an ECM to start an engine. Launching a ticket twice
// starts one process.
type LaunchRequest struct {
	Ticket     string            `json:"ticket"` // "ec-N"
	EngineType string            `json:"engineType"`
	User       string            `json:"user"`
	Command    string            `json:"command"`
	Args       []string          `json:"args,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Materials  []Material        `json:"materials,omitempty"`
	Resource   Resource          `json:"resource"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// FromLaunch converts the manager's launch request.
func FromLaunch(l *manager.LaunchRequest) LaunchRequest {
	out := LaunchRequest{Ticket: l.Ticket.String(), EngineType: l.EngineType.String(), User: l.User,
		Command: l.Command, Args: l.Args, Env: l.Env, Resource: FromResource(l.Resource), Labels: LabelMap(l.Labels)}
	for _, m := range l.Materials {
		out.Materials = append(out.Materials, Material(m))
	}
	return out
}

// Launch converts and validates the request.
func (r LaunchRequest) Launch() (manager.LaunchRequest, error) {
	id, err := manager.ParseECID(r.Ticket)
	if err != nil {
		return manager.LaunchRequest{}, err
	}
	et, err := linkis.ParseEngineType(r.EngineType)
	if err != nil {
		return manager.LaunchRequest{}, err
	}
	if r.Command == "" {
		return manager.LaunchRequest{}, linkis.Errorf(linkis.ErrInvalidArgument, "command", "a launch needs a command")
	}
	res, err := r.Resource.Resource()
	if err != nil {
		return manager.LaunchRequest{}, err
	}
	ls, err := labels(r.Labels)
	if err != nil {
		return manager.LaunchRequest{}, err
	}
	out := manager.LaunchRequest{Ticket: id, EngineType: et, User: r.User, Command: r.Command,
		Args: r.Args, Env: r.Env, Resource: res, Labels: ls}
	for _, m := range r.Materials {
		out.Materials = append(out.Materials, manager.Material(m))
	}
	return out, nil
}

// Engine states an ECM reports.
const (
	ECStarting = "Starting" // the process runs; the engine has not reported in yet
	ECRunning  = "Running"  // the engine reported in and serves at Addr
	ECExited   = "Exited"   // the process is gone
	ECUnknown  = "Unknown"  // the ECM never had this ticket (kill only)
)

// LaunchResponse is an ECM's answer to a launch: the engine's state as of
// now. A launch of a ticket the ECM already has answers with that engine.
type LaunchResponse struct {
	EC    string `json:"ec"`
	State string `json:"state"`
	Addr  string `json:"addr,omitempty"` // once Running
	PID   int    `json:"pid,omitempty"`
	// When Exited: how it ended.
	Failed    bool   `json:"failed,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Retryable bool   `json:"retryable,omitempty"`
}

// Report converts the answer for manager.Effect.Settle.
func (r LaunchResponse) Report() manager.EngineReport {
	st := map[string]manager.ReportState{ECStarting: manager.ReportStarting, ECRunning: manager.ReportRunning,
		ECExited: manager.ReportExited, ECUnknown: manager.ReportUnknown}[r.State]
	return manager.EngineReport{State: st, Addr: r.Addr, Failed: r.Failed, Reason: r.Reason, Retryable: r.Retryable}
}

// KillRequest asks an ECM to stop an engine: SIGTERM to its process group,
// then SIGKILL after Grace.
type KillRequest struct {
	EC      string `json:"ec"`
	GraceMs int64  `json:"graceMs,omitempty"`
}

// KillResponse is an ECM's answer to a kill: the engine's state after it
// (Exited once gone; Unknown if the ECM never had it).
type KillResponse = LaunchResponse
