package manager

import (
	"reflect"

	"github.com/golinkis/golinkis/linkis"
)

// State is the LinkisManager as a deterministic state machine. It is not
// safe for concurrent use: its owner (the Raft FSM, the simulator) applies
// commands one at a time. Applying the same commands to two States built
// with the same Config and Plugins gives byte-identical snapshots.
type State struct {
	cfg     Config
	plugins *Plugins

	now      int64  // latest command time seen; never goes back
	lastTick int64  // time of the last Tick
	nextEC   ECID   // ticket of the next engine created
	seq      uint64 // stamps for list order (free lists, waiters)

	ecms   map[string]*ecm
	groups map[string]*ecmGroup // by core signature (tenant)
	ecs    map[ECID]*ec
	addrs  map[string]*ec // started engines by address
	keys   map[string]*keyState
	asks   map[string]*ask

	starved      map[string]*keyState         // keys whose waiters outnumber their starting engines
	quotas       map[string]linkis.Resource   // per-key quota overrides
	pluginParams map[string]map[string]string // engine type → default params
	starting     map[ECID]*ec                 // engines waiting to be launched
	killing      map[ECID]*ec                 // engines the manager asked to stop
	pools        map[string]*warmPool         // warm pools by key (pool.go)
	ecmDues      dueTable[*ecm]               // when each may be lost
	ecDues       dueTable[*ec]                // when each may expire, be lost or be reclaimed
	askDues      dueTable[*ask]               // when each lock or wait may run out
	observer     Observer
	ecObserver   ECObserver // observer, when it takes engine ids (simsupport.go)
	placement    Placement  // ECM-choice policy: code, not state (placement.go)
	jobs         jobs       // the entrance: job records and consumer groups (jobs.go)
	admin        adminState // the operator's: health overrides, configuration, variables, ended engines (admin.go)
	sessions     sessions   // the REST API's login sessions (session.go)
	scratch      []byte     // reused to look keys up without allocating; not state
	idScratch    []ECID     // reused by AppendEffectsDue; not state
}

// Observer is told about every node status change as it is applied. It must
// not call back into the State. It is not part of the replicated state.
type Observer interface {
	Transition(kind linkis.NodeKind, id string, from, to linkis.NodeStatus)
}

// New returns an empty manager. plugins may be nil for DefaultPlugins().
func New(cfg Config, plugins *Plugins) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if plugins == nil {
		plugins = DefaultPlugins()
	}
	s := &State{
		cfg:          cfg,
		plugins:      plugins,
		nextEC:       1,
		ecms:         map[string]*ecm{},
		groups:       map[string]*ecmGroup{},
		ecs:          map[ECID]*ec{},
		addrs:        map[string]*ec{},
		keys:         map[string]*keyState{},
		starved:      map[string]*keyState{},
		asks:         map[string]*ask{},
		quotas:       map[string]linkis.Resource{},
		pluginParams: map[string]map[string]string{},
		starting:     map[ECID]*ec{},
		killing:      map[ECID]*ec{},
		jobs:         newJobs(),
		admin:        newAdminState(),
		sessions:     newSessions(),
		pools:        map[string]*warmPool{},
	}
	s.jobs.conf = &s.admin.conf
	return s, nil
}

// SetObserver installs an observer of status transitions (nil removes it).
func (s *State) SetObserver(o Observer) {
	s.observer = o
	s.ecObserver, _ = o.(ECObserver)
}

// Config returns the current configuration.
func (s *State) Config() Config { return s.cfg }

// Now returns the latest command time applied.
func (s *State) Now() int64 { return s.now }

// Result is what applying a command produced.
type Result struct {
	// Ask is the outcome of an AskEngine (or the state of the ask a
	// ReleaseEngine or RenewLock named).
	Ask AskResult
	// EC is the engine a command created or concerned, when there is one.
	EC ECID
	// Notices lists asks whose outcome this command decided, other than
	// Ask itself: asks granted an engine that started or was released, and
	// asks that failed because their engine died or their wait ran out.
	Notices []AskResult
	// Job is the job a job command concerned, as it stands after it.
	Job JobView
	// Jobs lists the jobs whose state this command changed (submitted,
	// dispatched, ended, cleaned up), in the order it changed them.
	Jobs []JobNotice
	// ECs lists the engines a KillEngines stopped.
	ECs []ECID
}

// AskStatus is where an ask stands.
type AskStatus uint8

// The ask statuses.
const (
	AskPending AskStatus = iota + 1 // waiting for an engine to start or be released
	AskGranted                      // holds an engine under a timed lock
	AskFailed                       // gave up; Err says why
	AskDone                         // released by its caller
)

func (a AskStatus) String() string {
	return [...]string{"", "Pending", "Granted", "Failed", "Done"}[a]
}

// AskResult is the outcome of an ask as its caller sees it.
type AskResult struct {
	AskID  string
	Status AskStatus
	// EC is the engine granted, or while pending the engine starting for
	// it. A shared ask may be granted another engine of its key than the
	// one it caused to start: whichever is free first.
	EC      ECID
	ECM     string    // the ECM that hosts it
	Addr    string    // the engine's address, once started
	Token   LockToken // the lock to present to the engine
	Expires int64     // when the lock expires unless renewed
	Reused  bool      // granted an engine that already existed
	Created bool      // this ask caused a new engine to be started
	Err     error     // why it failed (AskFailed)
}

// Apply applies one command atomically: it either changes the state fully
// and returns the result, or returns a typed error from package linkis and
// changes nothing.
func (s *State) Apply(cmd Command) (Result, error) {
	if _, skip := cmd.(Ignored); skip {
		return Result{}, nil
	}
	t, known := timeOf(cmd) // not cmd.At(): see TypeOf
	if !known {
		return Result{}, linkis.Errorf(linkis.ErrUnknownCommand, "type", "%s is not a command this manager knows", reflect.TypeOf(cmd))
	}
	if t <= 0 {
		return Result{}, linkis.Errorf(linkis.ErrInvalidArgument, "time", "command %v has time %d; it must be positive Unix nanoseconds", TypeOf(cmd), t)
	}
	if t < s.now {
		t = s.now // time never goes back: proposers' clocks may disagree slightly
	}
	var r Result
	var err error
	switch c := cmd.(type) {
	case RegisterECM:
		r, err = s.registerECM(t, c)
	case DeregisterECM:
		r, err = s.deregisterECM(t, c)
	case ECMHeartbeat:
		r, err = s.ecmHeartbeat(t, c)
	case ECHeartbeat:
		r, err = s.ecHeartbeat(t, c)
	case AskEngine:
		r, err = s.askEngine(t, c)
	case EngineStarted:
		r, err = s.engineStarted(t, c)
	case EngineEnded:
		r, err = s.engineEnded(t, c)
	case ReleaseEngine:
		r, err = s.releaseEngine(t, c)
	case KillEngine:
		r, err = s.killEngine(t, c)
	case RenewLock:
		r, err = s.renewLock(t, c)
	case UnlockEngine:
		r, err = s.unlockEngine(t, c)
	case Tick:
		r, err = s.tick(t)
	case SetQuota:
		r, err = s.setQuota(t, c)
	case SetPluginParams:
		err = s.setPluginParams(c)
	case Configure:
		r, err = s.configure(t, c)
	case SetWarmPool:
		r, err = s.setWarmPool(t, c)
	case SubmitJob:
		r, err = s.submitJob(t, c)
	case UpdateJob:
		r, err = s.updateJob(t, c)
	case KillJob:
		r, err = s.killJob(t, c)
	case ConfigureJobs:
		r, err = s.configureJobs(t, c)
	case ImportJob:
		r, err = s.importJob(t, c)
	default:
		var ok bool
		if r, ok, err = s.applyAdmin(t, cmd); !ok { // the operator's commands (admin.go)
			r, ok, err = s.applySession(t, cmd)
		}
		if !ok {
			err = linkis.Errorf(linkis.ErrUnknownCommand, "type", "%v is not a command this manager knows", cmd.Type())
		}
	}
	if err != nil {
		return Result{}, err
	}
	s.now = t
	if s.lastTick == 0 {
		s.lastTick = t // the first tick is due one interval after the first command
	}
	return r, nil
}

// setECStatus and setECMStatus change a node's status and tell the
// observer.
func (s *State) setECStatus(e *ec, to linkis.NodeStatus) {
	if from := e.status; from != to {
		e.status = to
		if s.ecObserver != nil {
			s.ecObserver.ECTransition(e.id, from, to)
		} else if s.observer != nil {
			s.observer.Transition(linkis.KindEngineConn, e.name(), from, to)
		}
	}
}

func (s *State) setECMStatus(m *ecm, to linkis.NodeStatus) {
	if from := m.status; from != to {
		m.status = to
		if s.observer != nil {
			s.observer.Transition(linkis.KindECM, m.id, from, to)
		}
	}
}

func (s *State) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// mix64 is SplitMix64's finaliser: a deterministic hash for tie-breaks and
// lock tokens.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
