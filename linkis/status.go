package linkis

import (
	"strconv"
	"strings"
)

// NodeStatus is the lifecycle status of an ECM or an EngineConn, named as in
// Linkis. The zero value is not a status.
type NodeStatus uint8

// The node statuses.
const (
	StatusStarting NodeStatus = iota + 1
	StatusUnlock
	StatusLocked
	StatusIdle
	StatusBusy
	StatusRunning
	StatusShuttingDown
	StatusFailed
	StatusSuccess
)

var statusNames = [...]string{"", "Starting", "Unlock", "Locked", "Idle", "Busy", "Running", "ShuttingDown", "Failed", "Success"}

func (s NodeStatus) String() string {
	if int(s) < len(statusNames) && s != 0 {
		return statusNames[s]
	}
	return "NodeStatus(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the defined statuses.
func (s NodeStatus) Valid() bool { return s >= StatusStarting && s <= StatusSuccess }

// ParseNodeStatus parses a status name, ignoring case.
func ParseNodeStatus(v string) (NodeStatus, error) {
	for i := 1; i < len(statusNames); i++ {
		if strings.EqualFold(v, statusNames[i]) {
			return NodeStatus(i), nil
		}
	}
	return 0, ValueError(ErrInvalidArgument, "status", v, "must be one of Starting, Unlock, Locked, Idle, Busy, Running, ShuttingDown, Failed, Success")
}

// IsAvailable reports Linkis's "available": Idle, Busy, Locked, Unlock,
// Running.
func (s NodeStatus) IsAvailable() bool {
	switch s {
	case StatusIdle, StatusBusy, StatusLocked, StatusUnlock, StatusRunning:
		return true
	}
	return false
}

// IsLocked reports Linkis's "locked": Busy, Locked, Idle.
func (s NodeStatus) IsLocked() bool {
	return s == StatusBusy || s == StatusLocked || s == StatusIdle
}

// IsIdle reports Linkis's "idle": Idle, Unlock.
func (s NodeStatus) IsIdle() bool { return s == StatusIdle || s == StatusUnlock }

// IsCompleted reports Linkis's "completed": Success, Failed, ShuttingDown.
func (s NodeStatus) IsCompleted() bool {
	return s == StatusSuccess || s == StatusFailed || s == StatusShuttingDown
}

// IsFinal reports whether no transition leaves s: Success and Failed.
func (s NodeStatus) IsFinal() bool { return s == StatusSuccess || s == StatusFailed }

// NodeKind tells ECMs from EngineConns; they have different transition
// tables.
type NodeKind uint8

// The node kinds.
const (
	KindEngineConn NodeKind = iota
	KindECM
)

func (k NodeKind) String() string {
	if k == KindECM {
		return "ECM"
	}
	return "EngineConn"
}

// bit returns the status as a one-bit mask.
func (s NodeStatus) bit() uint16 { return 1 << s }

func mask(ss ...NodeStatus) uint16 {
	var m uint16
	for _, s := range ss {
		m |= s.bit()
	}
	return m
}

var ends = mask(StatusShuttingDown, StatusFailed, StatusSuccess)

// ecTransitions[from] is the set of statuses an EngineConn may move to.
// Serial: Starting → Unlock → Idle (locked for a caller) → Busy → Idle →
// Unlock → Success. Concurrent: Unlock ↔ Busy. Once: Starting → Running →
// Busy → Success | Failed. Any live status may end (ShuttingDown, Failed,
// Success); ShuttingDown goes only to Failed or Success.
var ecTransitions = [...]uint16{
	StatusStarting:     mask(StatusUnlock, StatusRunning) | ends,
	StatusUnlock:       mask(StatusLocked, StatusIdle, StatusBusy) | ends,
	StatusLocked:       mask(StatusUnlock, StatusIdle, StatusBusy) | ends,
	StatusIdle:         mask(StatusUnlock, StatusLocked, StatusBusy) | ends,
	StatusBusy:         mask(StatusUnlock, StatusLocked, StatusIdle, StatusRunning) | ends,
	StatusRunning:      mask(StatusBusy) | ends,
	StatusShuttingDown: mask(StatusFailed, StatusSuccess),
	StatusFailed:       0,
	StatusSuccess:      0,
}

// ecmTransitions[from]: Starting → Running → ShuttingDown → Failed |
// Success; a Starting or Running ECM that is lost goes straight to Failed.
var ecmTransitions = [...]uint16{
	StatusStarting:     mask(StatusRunning, StatusShuttingDown, StatusFailed),
	StatusRunning:      mask(StatusShuttingDown, StatusFailed),
	StatusShuttingDown: mask(StatusFailed, StatusSuccess),
	StatusFailed:       0,
	StatusSuccess:      0,
}

// CanTransition reports whether a node of kind k may move from one status
// to another. Staying in the same non-final status is always allowed.
func CanTransition(k NodeKind, from, to NodeStatus) bool {
	if !from.Valid() || !to.Valid() {
		return false
	}
	if from == to {
		return !from.IsFinal()
	}
	if k == KindECM {
		return int(from) < len(ecmTransitions) && ecmTransitions[from]&to.bit() != 0
	}
	return ecTransitions[from]&to.bit() != 0
}

// CheckTransition returns an ErrIllegalTransition naming the node when the
// move is not allowed, nil otherwise.
func CheckTransition(k NodeKind, id string, from, to NodeStatus) error {
	if CanTransition(k, from, to) {
		return nil
	}
	return Errorf(ErrIllegalTransition, k.String()+" "+id, "%v → %v is not allowed", from, to)
}

// NodeHealth is the health a node reports, named as in Linkis.
type NodeHealth uint8

// The node healths. The zero value is Healthy.
const (
	HealthHealthy NodeHealth = iota
	HealthUnHealthy
	HealthWarn
	HealthStockAvailable
	HealthStockUnavailable
)

var healthNames = [...]string{"Healthy", "UnHealthy", "WARN", "StockAvailable", "StockUnavailable"}

func (h NodeHealth) String() string {
	if int(h) < len(healthNames) {
		return healthNames[h]
	}
	return "NodeHealth(" + strconv.Itoa(int(h)) + ")"
}

// Valid reports whether h is one of the defined healths.
func (h NodeHealth) Valid() bool { return int(h) < len(healthNames) }

// Usable reports whether work may be placed on a node: Healthy or WARN.
func (h NodeHealth) Usable() bool { return h == HealthHealthy || h == HealthWarn }

// ParseNodeHealth parses a health name, ignoring case.
func ParseNodeHealth(v string) (NodeHealth, error) {
	for i, n := range healthNames {
		if strings.EqualFold(v, n) {
			return NodeHealth(i), nil
		}
	}
	return 0, ValueError(ErrInvalidArgument, "health", v, "must be one of Healthy, UnHealthy, WARN, StockAvailable, StockUnavailable")
}

// NodeLoad is what a node reports about its machine and its tasks.
type NodeLoad struct {
	MaxMemory      int64 // bytes the node may use
	UsedMemory     int64 // bytes in use
	FreeMemory     int64 // bytes free on the machine
	CPUPermille    int64 // system CPU use, 0-1000 per core
	RunningTasks   int64
	PendingTasks   int64
	SucceededTasks int64
	FailedTasks    int64
}

// Validate rejects negative figures.
func (l NodeLoad) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"load.maxMemory", l.MaxMemory}, {"load.usedMemory", l.UsedMemory}, {"load.freeMemory", l.FreeMemory},
		{"load.cpu", l.CPUPermille}, {"load.runningTasks", l.RunningTasks}, {"load.pendingTasks", l.PendingTasks},
		{"load.succeededTasks", l.SucceededTasks}, {"load.failedTasks", l.FailedTasks},
	} {
		if f.v < 0 {
			return ValueError(ErrInvalidArgument, f.name, strconv.FormatInt(f.v, 10), "must not be negative")
		}
	}
	return nil
}
