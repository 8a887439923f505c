package manager

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// CommandType is the first byte of an encoded command (without the
// ignore-if-unknown bit).
type CommandType uint8

// The command types. Values are part of the log format: never renumber.
const (
	CmdRegisterECM     CommandType = 1
	CmdDeregisterECM   CommandType = 2
	CmdECMHeartbeat    CommandType = 3
	CmdECHeartbeat     CommandType = 4
	CmdAskEngine       CommandType = 5
	CmdEngineStarted   CommandType = 6
	CmdEngineEnded     CommandType = 7
	CmdReleaseEngine   CommandType = 8
	CmdKillEngine      CommandType = 9
	CmdRenewLock       CommandType = 10
	CmdUnlockEngine    CommandType = 11
	CmdTick            CommandType = 12
	CmdSetQuota        CommandType = 13
	CmdSetPluginParams CommandType = 14
	CmdConfigure       CommandType = 15
	// 16-31: capacity commands (warm pools); 32 and above: the job queues.
	CmdSetWarmPool CommandType = 16
)

var commandNames = map[CommandType]string{
	CmdRegisterECM: "RegisterECM", CmdDeregisterECM: "DeregisterECM", CmdECMHeartbeat: "ECMHeartbeat",
	CmdECHeartbeat: "ECHeartbeat", CmdAskEngine: "AskEngine", CmdEngineStarted: "EngineStarted",
	CmdEngineEnded: "EngineEnded", CmdReleaseEngine: "ReleaseEngine", CmdKillEngine: "KillEngine",
	CmdRenewLock: "RenewLock", CmdUnlockEngine: "UnlockEngine", CmdTick: "Tick", CmdSetQuota: "SetQuota",
	CmdSetPluginParams: "SetPluginParams", CmdConfigure: "Configure",
	CmdSetWarmPool: "SetWarmPool",
}

// CommandTypes lists every command type this manager knows, in order.
func CommandTypes() []CommandType {
	ts := make([]CommandType, 0, len(commandNames))
	for t := range commandNames {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

func (t CommandType) String() string {
	if n, ok := commandNames[t]; ok {
		return n
	}
	return "CommandType(" + strconv.Itoa(int(t)) + ")"
}

// Command is one input of the state machine. Every command carries the
// time at which it was proposed (Unix nanoseconds); the state machine never
// reads a clock.
type Command interface {
	Type() CommandType
	// At returns the command's time.
	At() int64
}

// ECID identifies an EngineConn: the ticket under which it was created.
type ECID uint64

func (id ECID) String() string { return "ec-" + strconv.FormatUint(uint64(id), 10) }

// ParseECID parses "ec-N" or a bare N.
func ParseECID(s string) (ECID, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "ec-"), 10, 64)
	if err != nil || n == 0 {
		return 0, linkis.ValueError(linkis.ErrInvalidArgument, "ec", s, "must be ec-N with N ≥ 1")
	}
	return ECID(n), nil
}

// LockToken is the secret a caller presents to an engine it was given.
type LockToken uint64

func (t LockToken) String() string {
	const hex = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hex[t&0xf]
		t >>= 4
	}
	return string(b[:])
}

// RegisterECM adds an EngineConnManager. A zero Max takes the configured
// default capacity. An id that is registered is refused (ErrDuplicate):
// with field "id" when it is registered at this Addr (the same ECM,
// restarted or asking again), with field "addr" naming the address it is
// registered at otherwise - another ECM holds the id, and until it is
// declared lost only Replace takes the id over, ending the engines the
// other one held.
type RegisterECM struct {
	Time    int64
	ID      string        // unique name of the ECM, e.g. its host
	Addr    string        // host:port of its API
	Labels  linkis.Labels // non-core labels rank it; tenant isolates it
	Max     linkis.Resource
	Replace bool // take the id over from the ECM registered at another address
}

// DeregisterECM removes an ECM. Without Force it shuts down gracefully: no
// new engines, its engines are killed, and it is gone when the last ends.
// With Force everything it held is released at once. A non-empty Addr must
// be the ECM's: an ECM that was replaced cannot remove its successor.
type DeregisterECM struct {
	Time  int64
	ID    string
	Force bool
	Addr  string
}

// ECMHeartbeat reports an ECM alive, with its health and load. A
// non-empty Addr must be the ECM's: one that was replaced hears
// ErrUnknownNode rather than keeping its successor's registration alive.
type ECMHeartbeat struct {
	Time   int64
	ID     string
	Health linkis.NodeHealth
	Load   linkis.NodeLoad
	Addr   string
}

// ECHeartbeat reports an engine alive, with its status (Busy, Idle,
// Unlock, Running, ShuttingDown, Success, Failed), health and load.
type ECHeartbeat struct {
	Time   int64
	EC     ECID
	Status linkis.NodeStatus
	Health linkis.NodeHealth
	Load   linkis.NodeLoad
}

// AskEngine asks for an engine matching Labels. ID makes the ask
// idempotent: asking again with the same ID returns the same outcome.
// Nonce is randomness chosen by the proposer; the lock token derives from
// it.
type AskEngine struct {
	Time   int64
	ID     string
	Nonce  uint64
	Labels linkis.Labels
	// Params is startup configuration handed to the engine plugin's
	// resource factory and launch builder (merged over the plugin's
	// configured defaults).
	Params map[string]string
	// LockTimeout overrides Config.LockTimeout for this ask when > 0.
	LockTimeout time.Duration
	// WaitTimeout overrides Config.AskWaitTimeout for this ask when > 0.
	WaitTimeout time.Duration
}

// EngineStarted reports that an engine's process is up and serving at
// Addr: its locked resources become used.
type EngineStarted struct {
	Time int64
	EC   ECID
	Addr string
}

// EngineEnded reports that an engine is gone (it exited, failed to start,
// or was killed). Everything it held is released.
type EngineEnded struct {
	Time      int64
	EC        ECID
	Failed    bool   // ended in Failed rather than Success
	Reason    string // last words, for the asks that were waiting on it
	Retryable bool   // whether asks that depended on it may try again
}

// ReleaseEngine returns the engine an ask was given (or cancels the ask if
// it is still waiting).
type ReleaseEngine struct {
	Time  int64
	AskID string
}

// KillEngine stops an engine: it leaves service at once and holds its
// resources until it is reported ended.
type KillEngine struct {
	Time   int64
	EC     ECID
	Reason string
}

// RenewLock extends the timed lock of a granted ask by its lock timeout.
type RenewLock struct {
	Time  int64
	AskID string
}

// UnlockEngine is sent by an engine whose lock ended on its side (it timed
// out there, or the task finished and the caller let go).
type UnlockEngine struct {
	Time  int64
	EC    ECID
	Token LockToken
}

// Tick advances time: expires locks and waits, reclaims idle engines and
// declares silent nodes lost.
type Tick struct{ Time int64 }

// SetQuota sets the max of a combined-label ledger row, or of every row
// without its own quota when Key is empty. A quota below what the row
// already holds is refused.
type SetQuota struct {
	Time  int64
	Key   string // "user-creator,type-version[,tenant]", or "" for the default
	Max   linkis.Resource
	Reset bool // drop the row's own quota and use the default again
}

// SetPluginParams sets the default startup parameters of an engine type;
// asks' own params override them. An empty map removes them.
type SetPluginParams struct {
	Time       int64
	EngineType string // "type" or "type-version"
	Params     map[string]string
}

// Configure replaces the configuration.
type Configure struct {
	Time   int64
	Config Config
	// keepExt marks a Configure written before the configuration's
	// extension (a log entry of an older manager): the state keeps its
	// extension, as a snapshot of that time restores it (see
	// RestoreConfigured). Only the decoder sets it.
	keepExt bool
}

// SetWarmPool keeps MinIdle started, idle engines of one combined label
// ready ahead of demand (a warm pool; pool.go), or removes the pool when
// MinIdle is 0. A pool above the label's instance cap is refused.
type SetWarmPool struct {
	Time    int64
	Key     string // "user-creator,type-version[,tenant]"
	MinIdle int
}

func (RegisterECM) Type() CommandType     { return CmdRegisterECM }
func (DeregisterECM) Type() CommandType   { return CmdDeregisterECM }
func (ECMHeartbeat) Type() CommandType    { return CmdECMHeartbeat }
func (ECHeartbeat) Type() CommandType     { return CmdECHeartbeat }
func (AskEngine) Type() CommandType       { return CmdAskEngine }
func (EngineStarted) Type() CommandType   { return CmdEngineStarted }
func (EngineEnded) Type() CommandType     { return CmdEngineEnded }
func (ReleaseEngine) Type() CommandType   { return CmdReleaseEngine }
func (KillEngine) Type() CommandType      { return CmdKillEngine }
func (RenewLock) Type() CommandType       { return CmdRenewLock }
func (UnlockEngine) Type() CommandType    { return CmdUnlockEngine }
func (Tick) Type() CommandType            { return CmdTick }
func (SetQuota) Type() CommandType        { return CmdSetQuota }
func (SetPluginParams) Type() CommandType { return CmdSetPluginParams }
func (Configure) Type() CommandType       { return CmdConfigure }

func (SetWarmPool) Type() CommandType { return CmdSetWarmPool }
func (c SetWarmPool) At() int64       { return c.Time }

func (c RegisterECM) At() int64     { return c.Time }
func (c DeregisterECM) At() int64   { return c.Time }
func (c ECMHeartbeat) At() int64    { return c.Time }
func (c ECHeartbeat) At() int64     { return c.Time }
func (c AskEngine) At() int64       { return c.Time }
func (c EngineStarted) At() int64   { return c.Time }
func (c EngineEnded) At() int64     { return c.Time }
func (c ReleaseEngine) At() int64   { return c.Time }
func (c KillEngine) At() int64      { return c.Time }
func (c RenewLock) At() int64       { return c.Time }
func (c UnlockEngine) At() int64    { return c.Time }
func (c Tick) At() int64            { return c.Time }
func (c SetQuota) At() int64        { return c.Time }
func (c SetPluginParams) At() int64 { return c.Time }
func (c Configure) At() int64       { return c.Time }
