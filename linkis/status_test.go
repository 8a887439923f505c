package linkis

import (
	"errors"
	"strings"
	"testing"
)

var allStatuses = []NodeStatus{
	StatusStarting, StatusUnlock, StatusLocked, StatusIdle, StatusBusy,
	StatusRunning, StatusShuttingDown, StatusFailed, StatusSuccess,
}

// set builds a membership set of statuses.
func set(ss ...NodeStatus) map[NodeStatus]bool {
	m := make(map[NodeStatus]bool, len(ss))
	for _, s := range ss {
		m[s] = true
	}
	return m
}

// TestStatusPredicates checks each predicate against the table in
// linkis-facts.md, for all nine statuses and a few invalid values.
func TestStatusPredicates(t *testing.T) {
	for _, p := range []struct {
		name string
		f    func(NodeStatus) bool
		in   map[NodeStatus]bool
	}{
		{"IsAvailable", NodeStatus.IsAvailable, set(StatusIdle, StatusBusy, StatusLocked, StatusUnlock, StatusRunning)},
		{"IsLocked", NodeStatus.IsLocked, set(StatusBusy, StatusLocked, StatusIdle)},
		{"IsIdle", NodeStatus.IsIdle, set(StatusIdle, StatusUnlock)},
		{"IsCompleted", NodeStatus.IsCompleted, set(StatusSuccess, StatusFailed, StatusShuttingDown)},
		{"IsFinal", NodeStatus.IsFinal, set(StatusSuccess, StatusFailed)},
		{"Valid", NodeStatus.Valid, set(allStatuses...)},
	} {
		for _, s := range allStatuses {
			if got := p.f(s); got != p.in[s] {
				t.Errorf("%v.%s() = %v, want %v", s, p.name, got, p.in[s])
			}
		}
		for _, s := range []NodeStatus{0, 10, 200, 255} {
			if p.f(s) {
				t.Errorf("NodeStatus(%d).%s() = true for an invalid status", s, p.name)
			}
		}
	}
	// Available and completed partition the statuses, Starting aside.
	for _, s := range allStatuses {
		if s.IsAvailable() == s.IsCompleted() && s != StatusStarting {
			t.Errorf("%v: available=%v completed=%v", s, s.IsAvailable(), s.IsCompleted())
		}
	}
	if StatusStarting.IsAvailable() || StatusStarting.IsCompleted() {
		t.Error("Starting is neither available nor completed")
	}
}

func TestNodeStatusStringParse(t *testing.T) {
	names := []string{"Starting", "Unlock", "Locked", "Idle", "Busy", "Running", "ShuttingDown", "Failed", "Success"}
	if len(names) != len(allStatuses) {
		t.Fatal("table mismatch")
	}
	for i, s := range allStatuses {
		if s.String() != names[i] {
			t.Errorf("status %d String() = %q, want %q", s, s.String(), names[i])
		}
		for _, v := range []string{names[i], strings.ToLower(names[i]), strings.ToUpper(names[i])} {
			got, err := ParseNodeStatus(v)
			if err != nil || got != s {
				t.Errorf("ParseNodeStatus(%q) = %v, %v; want %v", v, got, err, s)
			}
		}
	}
	if StatusStarting == 0 {
		t.Error("the zero NodeStatus must not be a status")
	}
	for _, tc := range []struct {
		s    NodeStatus
		want string
	}{{0, "NodeStatus(0)"}, {10, "NodeStatus(10)"}, {200, "NodeStatus(200)"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("NodeStatus(%d).String() = %q, want %q", tc.s, got, tc.want)
		}
	}
	for _, v := range []string{"", " Idle", "Idle ", "Shutting Down", "Unlocked", "NodeStatus(0)", "0", "1", "Healthy"} {
		got, err := ParseNodeStatus(v)
		wantKind(t, "ParseNodeStatus("+v+")", err, ErrInvalidArgument)
		if got != 0 {
			t.Errorf("ParseNodeStatus(%q) = %v on error, want 0", v, got)
		}
	}
}

// Each path is a sequence of statuses a node of the given kind must be able
// to walk step by step (linkis-facts.md, "Node states").
func TestTransitionPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind NodeKind
		path []NodeStatus
	}{
		{"serial EC", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusIdle, StatusBusy, StatusIdle, StatusUnlock, StatusSuccess}},
		{"serial EC, several tasks", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusIdle, StatusBusy, StatusIdle, StatusBusy, StatusIdle, StatusUnlock, StatusIdle, StatusUnlock, StatusSuccess}},
		{"serial EC with Locked", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusLocked, StatusBusy, StatusLocked, StatusUnlock, StatusSuccess}},
		{"concurrent EC", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusBusy, StatusUnlock, StatusBusy, StatusUnlock, StatusSuccess}},
		{"once EC success", KindEngineConn, []NodeStatus{StatusStarting, StatusRunning, StatusBusy, StatusSuccess}},
		{"once EC failure", KindEngineConn, []NodeStatus{StatusStarting, StatusRunning, StatusBusy, StatusFailed}},
		{"EC shut down", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusShuttingDown, StatusSuccess}},
		{"EC shut down failing", KindEngineConn, []NodeStatus{StatusStarting, StatusUnlock, StatusIdle, StatusBusy, StatusShuttingDown, StatusFailed}},
		{"EC fails to start", KindEngineConn, []NodeStatus{StatusStarting, StatusFailed}},
		{"ECM", KindECM, []NodeStatus{StatusStarting, StatusRunning, StatusShuttingDown, StatusSuccess}},
		{"ECM shut down failing", KindECM, []NodeStatus{StatusStarting, StatusRunning, StatusShuttingDown, StatusFailed}},
		{"ECM lost while running", KindECM, []NodeStatus{StatusStarting, StatusRunning, StatusFailed}},
		{"ECM lost while starting", KindECM, []NodeStatus{StatusStarting, StatusFailed}},
	} {
		for i := 1; i < len(tc.path); i++ {
			from, to := tc.path[i-1], tc.path[i]
			if !CanTransition(tc.kind, from, to) {
				t.Errorf("%s: step %d %v → %v not allowed for %v", tc.name, i, from, to, tc.kind)
			}
			if err := CheckTransition(tc.kind, "n1", from, to); err != nil {
				t.Errorf("%s: CheckTransition(%v → %v) = %v", tc.name, from, to, err)
			}
		}
	}
}

// TestTransitionTables pins the complete tables: every (from, to) pair for
// both kinds.
func TestTransitionTables(t *testing.T) {
	ends := []NodeStatus{StatusShuttingDown, StatusFailed, StatusSuccess}
	with := func(extra ...NodeStatus) map[NodeStatus]bool { return set(append(extra, ends...)...) }
	ec := map[NodeStatus]map[NodeStatus]bool{
		StatusStarting:     with(StatusStarting, StatusUnlock, StatusRunning),
		StatusUnlock:       with(StatusUnlock, StatusLocked, StatusIdle, StatusBusy),
		StatusLocked:       with(StatusLocked, StatusUnlock, StatusIdle, StatusBusy),
		StatusIdle:         with(StatusIdle, StatusUnlock, StatusLocked, StatusBusy),
		StatusBusy:         with(StatusBusy, StatusUnlock, StatusLocked, StatusIdle, StatusRunning),
		StatusRunning:      with(StatusRunning, StatusBusy),
		StatusShuttingDown: set(StatusShuttingDown, StatusFailed, StatusSuccess),
		StatusFailed:       set(),
		StatusSuccess:      set(),
	}
	ecm := map[NodeStatus]map[NodeStatus]bool{
		StatusStarting:     set(StatusStarting, StatusRunning, StatusShuttingDown, StatusFailed),
		StatusRunning:      set(StatusRunning, StatusShuttingDown, StatusFailed),
		StatusShuttingDown: set(StatusShuttingDown, StatusFailed, StatusSuccess),
		StatusFailed:       set(),
		StatusSuccess:      set(),
	}
	for _, tc := range []struct {
		kind  NodeKind
		table map[NodeStatus]map[NodeStatus]bool
	}{{KindEngineConn, ec}, {KindECM, ecm}} {
		for _, from := range allStatuses {
			if _, ok := tc.table[from]; !ok {
				continue // statuses an ECM never has: only staying is allowed (below)
			}
			for _, to := range allStatuses {
				want := tc.table[from][to]
				if got := CanTransition(tc.kind, from, to); got != want {
					t.Errorf("%v: CanTransition(%v → %v) = %v, want %v", tc.kind, from, to, got, want)
				}
			}
		}
	}
	// An ECM never enters the EngineConn-only statuses.
	for _, from := range allStatuses {
		for _, to := range []NodeStatus{StatusUnlock, StatusLocked, StatusIdle, StatusBusy} {
			if from != to && CanTransition(KindECM, from, to) {
				t.Errorf("ECM: %v → %v allowed", from, to)
			}
		}
	}
}

func TestFinalStatusesHaveNoWayOut(t *testing.T) {
	for _, kind := range []NodeKind{KindEngineConn, KindECM} {
		for _, from := range []NodeStatus{StatusFailed, StatusSuccess} {
			for _, to := range allStatuses {
				if CanTransition(kind, from, to) {
					t.Errorf("%v: final %v → %v allowed", kind, from, to)
				}
				err := CheckTransition(kind, "x", from, to)
				wantKind(t, kind.String()+" "+from.String()+"→"+to.String(), err, ErrIllegalTransition)
			}
		}
	}
}

func TestShuttingDownOnlyEnds(t *testing.T) {
	for _, kind := range []NodeKind{KindEngineConn, KindECM} {
		for _, to := range allStatuses {
			if to == StatusShuttingDown {
				continue // staying is allowed: a repeated heartbeat
			}
			want := to == StatusFailed || to == StatusSuccess
			if got := CanTransition(kind, StatusShuttingDown, to); got != want {
				t.Errorf("%v: ShuttingDown → %v = %v, want %v", kind, to, got, want)
			}
		}
	}
}

// Every live status may stay where it is (a heartbeat repeating the status).
func TestStayInLiveStatus(t *testing.T) {
	for _, kind := range []NodeKind{KindEngineConn, KindECM} {
		for _, s := range allStatuses {
			if got := CanTransition(kind, s, s); got != !s.IsFinal() {
				t.Errorf("%v: %v → %v = %v, want %v", kind, s, s, got, !s.IsFinal())
			}
		}
	}
}

func TestTransitionInvalidStatuses(t *testing.T) {
	bad := []NodeStatus{0, 10, 16, 200, 255}
	for _, kind := range []NodeKind{KindEngineConn, KindECM, NodeKind(7)} {
		for _, b := range bad {
			if CanTransition(kind, b, b) {
				t.Errorf("%v: %v → itself allowed", kind, b)
			}
			for _, s := range allStatuses {
				if CanTransition(kind, b, s) {
					t.Errorf("%v: %v → %v allowed", kind, b, s)
				}
				if CanTransition(kind, s, b) {
					t.Errorf("%v: %v → %v allowed", kind, s, b)
				}
				wantKind(t, "CheckTransition from invalid", CheckTransition(kind, "x", b, s), ErrIllegalTransition)
				wantKind(t, "CheckTransition to invalid", CheckTransition(kind, "x", s, b), ErrIllegalTransition)
			}
		}
	}
}

func TestCheckTransition(t *testing.T) {
	err := CheckTransition(KindEngineConn, "ec-7", StatusSuccess, StatusIdle)
	if !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("CheckTransition = %v, want ErrIllegalTransition", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("CheckTransition error %T is not an *Error", err)
	}
	if e.Field != "EngineConn ec-7" {
		t.Errorf("Field = %q, want %q", e.Field, "EngineConn ec-7")
	}
	for _, s := range []string{"ec-7", "Success", "Idle"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
	if IsRetryable(err) {
		t.Error("an illegal transition is retryable")
	}

	err = CheckTransition(KindECM, "ecm-1", StatusRunning, StatusIdle)
	wantKind(t, "ECM Running→Idle", err, ErrIllegalTransition)
	if err != nil && !strings.Contains(err.Error(), "ECM ecm-1") {
		t.Errorf("error %q does not name the ECM", err)
	}
	if err := CheckTransition(KindECM, "ecm-1", StatusRunning, StatusShuttingDown); err != nil {
		t.Errorf("ECM Running→ShuttingDown: %v", err)
	}
	// EC-only moves are refused for an ECM.
	wantKind(t, "ECM Starting→Unlock", CheckTransition(KindECM, "ecm-1", StatusStarting, StatusUnlock), ErrIllegalTransition)
	wantKind(t, "ECM ShuttingDown→Running", CheckTransition(KindECM, "ecm-1", StatusShuttingDown, StatusRunning), ErrIllegalTransition)
	wantKind(t, "EC Running→Idle", CheckTransition(KindEngineConn, "ec", StatusRunning, StatusIdle), ErrIllegalTransition)
	wantKind(t, "EC Starting→Idle", CheckTransition(KindEngineConn, "ec", StatusStarting, StatusIdle), ErrIllegalTransition)
}

func TestNodeKindString(t *testing.T) {
	if KindEngineConn.String() != "EngineConn" || KindECM.String() != "ECM" {
		t.Errorf("NodeKind strings: %q, %q", KindEngineConn, KindECM)
	}
}

func TestNodeHealth(t *testing.T) {
	for _, tc := range []struct {
		h      NodeHealth
		name   string
		usable bool
	}{
		{HealthHealthy, "Healthy", true},
		{HealthUnHealthy, "UnHealthy", false},
		{HealthWarn, "WARN", true},
		{HealthStockAvailable, "StockAvailable", false},
		{HealthStockUnavailable, "StockUnavailable", false},
	} {
		if tc.h.String() != tc.name {
			t.Errorf("health %d String() = %q, want %q", tc.h, tc.h.String(), tc.name)
		}
		if tc.h.Usable() != tc.usable {
			t.Errorf("%v.Usable() = %v, want %v", tc.h, tc.h.Usable(), tc.usable)
		}
		if !tc.h.Valid() {
			t.Errorf("%v.Valid() = false", tc.h)
		}
		for _, v := range []string{tc.name, strings.ToLower(tc.name), strings.ToUpper(tc.name)} {
			got, err := ParseNodeHealth(v)
			if err != nil || got != tc.h {
				t.Errorf("ParseNodeHealth(%q) = %v, %v; want %v", v, got, err, tc.h)
			}
		}
		got, err := ParseNodeHealth(tc.h.String())
		if err != nil || got != tc.h {
			t.Errorf("round trip of %v: %v, %v", tc.h, got, err)
		}
	}
	var zero NodeHealth
	if zero != HealthHealthy {
		t.Error("the zero NodeHealth is not Healthy")
	}
	for _, h := range []NodeHealth{5, 9, 255} {
		if h.Valid() || h.Usable() {
			t.Errorf("NodeHealth(%d): Valid=%v Usable=%v, want false", h, h.Valid(), h.Usable())
		}
		if !strings.HasPrefix(h.String(), "NodeHealth(") {
			t.Errorf("NodeHealth(%d).String() = %q", h, h.String())
		}
	}
	for _, v := range []string{"", "Warn ", "Unhealthy!", "OK", "Idle", "NodeHealth(1)"} {
		_, err := ParseNodeHealth(v)
		wantKind(t, "ParseNodeHealth("+v+")", err, ErrInvalidArgument)
	}
}

func TestNodeLoadValidate(t *testing.T) {
	ok := NodeLoad{MaxMemory: 100 * GiB, UsedMemory: GiB, FreeMemory: 50 * GiB, CPUPermille: 350, RunningTasks: 2, PendingTasks: 1, SucceededTasks: 10, FailedTasks: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid load: %v", err)
	}
	if err := (NodeLoad{}).Validate(); err != nil {
		t.Fatalf("zero load: %v", err)
	}
	for _, tc := range []struct {
		field string
		set   func(*NodeLoad)
	}{
		{"load.maxMemory", func(l *NodeLoad) { l.MaxMemory = -1 }},
		{"load.usedMemory", func(l *NodeLoad) { l.UsedMemory = -1 }},
		{"load.freeMemory", func(l *NodeLoad) { l.FreeMemory = -1 }},
		{"load.cpu", func(l *NodeLoad) { l.CPUPermille = -1 }},
		{"load.runningTasks", func(l *NodeLoad) { l.RunningTasks = -1 }},
		{"load.pendingTasks", func(l *NodeLoad) { l.PendingTasks = -5 }},
		{"load.succeededTasks", func(l *NodeLoad) { l.SucceededTasks = -1 }},
		{"load.failedTasks", func(l *NodeLoad) { l.FailedTasks = -1 << 63 }},
	} {
		l := ok
		tc.set(&l)
		err := l.Validate()
		wantKind(t, tc.field, err, ErrInvalidArgument)
		var e *Error
		if errors.As(err, &e) && e.Field != tc.field {
			t.Errorf("negative %s reported as field %q", tc.field, e.Field)
		}
	}
}
