package manager

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The effect → command mapping every driver uses, in one table.
func TestEffectSettle(t *testing.T) {
	launch := Effect{Kind: EffectLaunch, EC: 7, ECM: "m"}
	kill := Effect{Kind: EffectKill, EC: 8, ECM: "m"}
	long := strings.Repeat("é", MaxReasonLen) // 2 bytes a rune: the cut lands inside one
	for _, c := range []struct {
		name string
		e    Effect
		r    EngineReport
		want Command
	}{
		{"launch running", launch, EngineReport{State: ReportRunning, Addr: "h:1"}, EngineStarted{Time: 5, EC: 7, Addr: "h:1"}},
		{"launch starting", launch, EngineReport{State: ReportStarting}, nil},
		{"launch running without an address", launch, EngineReport{State: ReportRunning}, nil},
		{"launch exited", launch, EngineReport{State: ReportExited, Failed: true, Reason: "no disk", Retryable: true},
			EngineEnded{Time: 5, EC: 7, Failed: true, Reason: "no disk", Retryable: true}},
		{"launch exited cleanly before reporting in", launch, EngineReport{State: ReportExited, Reason: "exit status 0"},
			EngineEnded{Time: 5, EC: 7, Failed: true, Reason: "exit status 0"}},
		{"kill exited", kill, EngineReport{State: ReportExited, Reason: "killed"}, EngineEnded{Time: 5, EC: 8, Reason: "killed"}},
		{"kill still running", kill, EngineReport{State: ReportRunning, Addr: "h:2"}, nil},
		{"kill unknown", kill, EngineReport{State: ReportUnknown}, EngineEnded{Time: 5, EC: 8, Reason: "killed; its ECM no longer had it"}},
		{"launch unknown", launch, EngineReport{State: ReportUnknown}, nil},
		{"tick", Effect{Kind: EffectTick}, EngineReport{}, Tick{Time: 5}},
	} {
		if got := c.e.Settle(5, c.r); got != c.want {
			t.Errorf("%s: %#v, want %#v", c.name, got, c.want)
		}
	}
	got := launch.Settle(5, EngineReport{State: ReportExited, Failed: true, Reason: long}).(EngineEnded)
	if len(got.Reason) > MaxReasonLen || !utf8.ValidString(got.Reason) || len(got.Reason) < MaxReasonLen-1 {
		t.Errorf("a long reason is cut to %d bytes (valid UTF-8: %v)", len(got.Reason), utf8.ValidString(got.Reason))
	}
	// An invalid byte early on does not cut the rest away.
	bad := "\xff" + strings.Repeat("a", 2*MaxReasonLen)
	if got := launch.Settle(5, EngineReport{State: ReportExited, Reason: bad}).(EngineEnded); len(got.Reason) != MaxReasonLen {
		t.Errorf("a long reason with an invalid first byte is cut to %d bytes, want %d", len(got.Reason), MaxReasonLen)
	}
}

// An empty state proposes no tick: nothing it holds could change with time
// (a driver started before the first command would otherwise tick at once).
func TestNoTickBeforeTheFirstCommand(t *testing.T) {
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if effs := s.EffectsDue(t0 + int64(time.Hour)); len(effs) != 0 {
		t.Fatalf("an empty state's effects: %+v", effs)
	}
	h := newHarness(t)
	h.addECM("ecm-1", res(8, 4, 4))
	if effs := h.s.EffectsDue(h.now + int64(h.s.Config().TickInterval)); len(effs) != 1 || effs[0].Kind != EffectTick {
		t.Fatalf("a tick is due one interval after the first command: %+v", effs)
	}
}
