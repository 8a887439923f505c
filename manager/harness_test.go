package manager

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// harness drives a State in tests: it keeps a clock, applies commands,
// checks every invariant and every status transition after each one, and
// checks that a refused command changed nothing.
type harness struct {
	t       testing.TB
	s       *State
	now     int64
	checker *TransitionChecker
	nonce   uint64
}

// t0 is an arbitrary start time: 2026-01-01T00:00:00Z.
const t0 = int64(1767225600) * int64(time.Second)

func newHarness(t testing.TB, mutate ...func(*Config)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, mutate...)
}

// newHarnessWith is newHarness with an engine plugin registry of the test's
// own (nil for the defaults).
func newHarnessWith(t testing.TB, plugins *Plugins, mutate ...func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.NewECMStandby = 0
	for _, f := range mutate {
		f(&cfg)
	}
	s, err := New(cfg, plugins)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, s: s, now: t0, checker: &TransitionChecker{}}
	s.SetObserver(h.checker)
	return h
}

func (h *harness) advance(d time.Duration) { h.now += int64(d) }

func (h *harness) check() {
	h.t.Helper()
	if err := CheckInvariants(h.s); err != nil {
		h.t.Fatalf("invariant broken: %v", err)
	}
	if err := h.checker.Err(); err != nil {
		h.t.Fatalf("illegal transition: %v", err)
	}
}

// apply applies a command that must succeed. Commands built with a zero
// time get the harness clock.
func (h *harness) apply(c Command) Result {
	h.t.Helper()
	r, err := h.s.Apply(withTime(c, h.now))
	if err != nil {
		h.t.Fatalf("%v: %v", c.Type(), err)
	}
	h.check()
	return r
}

// refuse applies a command that must fail with an error of the given kind
// and must leave the state byte for byte as it was.
func (h *harness) refuse(c Command, kind error) error {
	h.t.Helper()
	before := h.s.Snapshot()
	_, err := h.s.Apply(withTime(c, h.now))
	if err == nil {
		h.t.Fatalf("%v: want %v, got success", c.Type(), kind)
	}
	if !errors.Is(err, kind) {
		h.t.Fatalf("%v: want %v, got %v", c.Type(), kind, err)
	}
	if after := h.s.Snapshot(); !bytes.Equal(before, after) {
		h.t.Fatalf("%v failed with %v but changed the state", c.Type(), err)
	}
	h.check()
	return err
}

func withTime(c Command, t int64) Command {
	if c.At() != 0 {
		return c
	}
	switch c := c.(type) {
	case RegisterECM:
		c.Time = t
		return c
	case DeregisterECM:
		c.Time = t
		return c
	case ECMHeartbeat:
		c.Time = t
		return c
	case ECHeartbeat:
		c.Time = t
		return c
	case AskEngine:
		c.Time = t
		return c
	case EngineStarted:
		c.Time = t
		return c
	case EngineEnded:
		c.Time = t
		return c
	case ReleaseEngine:
		c.Time = t
		return c
	case KillEngine:
		c.Time = t
		return c
	case RenewLock:
		c.Time = t
		return c
	case UnlockEngine:
		c.Time = t
		return c
	case Tick:
		c.Time = t
		return c
	case SetQuota:
		c.Time = t
		return c
	case SetPluginParams:
		c.Time = t
		return c
	case Configure:
		c.Time = t
		return c
	case SetWarmPool:
		c.Time = t
		return c
	case ModifyECM:
		c.Time = t
		return c
	case KillEngines:
		c.Time = t
		return c
	case SetConfig:
		c.Time = t
		return c
	case SetVariables:
		c.Time = t
		return c
	case CreateSession:
		c.Time = t
		return c
	case TouchSession:
		c.Time = t
		return c
	case DeleteSession:
		c.Time = t
		return c
	case DeleteUserSessions:
		c.Time = t
		return c
	case SubmitJob:
		c.Time = t
		return c
	case UpdateJob:
		c.Time = t
		return c
	case KillJob:
		c.Time = t
		return c
	case ConfigureJobs:
		c.Time = t
		return c
	case ImportJob:
		c.Time = t
		return c
	}
	return c
}

func labels(t testing.TB, kv ...string) linkis.Labels {
	t.Helper()
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func res(memGiB, cores, instances int64) linkis.Resource {
	return linkis.Resource{Memory: memGiB * linkis.GiB, MilliCores: cores * 1000, Instances: instances}
}

// addECM registers an ECM with the given capacity and extra labels.
func (h *harness) addECM(id string, max linkis.Resource, kv ...string) {
	h.t.Helper()
	h.apply(RegisterECM{ID: id, Addr: id + ":9101", Labels: labels(h.t, kv...), Max: max})
}

// askCmd builds an ask for user-creator and engine type plus extra labels.
func (h *harness) askCmd(id, uc, et string, kv ...string) AskEngine {
	h.nonce++
	return AskEngine{ID: id, Nonce: mix64(h.nonce), Labels: labels(h.t, append([]string{linkis.LabelUserCreator, uc, linkis.LabelEngineType, et}, kv...)...)}
}

func (h *harness) ask(id, uc, et string, kv ...string) AskResult {
	h.t.Helper()
	return h.apply(h.askCmd(id, uc, et, kv...)).Ask
}

// start reports an engine started at a made-up address.
func (h *harness) start(id ECID) Result {
	h.t.Helper()
	return h.apply(EngineStarted{EC: id, Addr: fmt.Sprintf("10.0.0.%d:%d", id%250+1, 20000+id)})
}

func (h *harness) release(askID string) Result {
	h.t.Helper()
	return h.apply(ReleaseEngine{AskID: askID})
}

func (h *harness) ec(id ECID) ECInfo {
	h.t.Helper()
	e, ok := h.s.EC(id)
	if !ok {
		h.t.Fatalf("engine %v unknown", id)
	}
	return e
}

func (h *harness) askState(id string) AskResult {
	h.t.Helper()
	a, ok := h.s.Ask(id)
	if !ok {
		h.t.Fatalf("ask %s unknown", id)
	}
	return a
}

// noticeFor finds the notice about an ask in a result.
func noticeFor(r Result, askID string) (AskResult, bool) {
	for _, n := range r.Notices {
		if n.AskID == askID {
			return n, true
		}
	}
	return AskResult{}, false
}

// olderSnapshot rewrites a snapshot of s (the current version) as version
// 1, 2 or 3 wrote it: without the sections that version did not have (3:
// the jobs' first asks; 2: nor the configuration's extension, the
// operator's part, sessions and pools; 1: nor the jobs).
func olderSnapshot(t testing.TB, s *State, snap []byte, version byte) []byte {
	t.Helper()
	var cfg, tail enc
	encodeConfig(&cfg, s.Config())
	cfgEnd := len(snapshotMagic) + 1 + len(cfg.b)
	if version < 2 {
		s.snapshotJobs(&tail)
	}
	if version < 3 {
		s.snapshotAdmin(&tail)
		s.snapshotSessions(&tail)
		encodePools(&tail, s.pools)
	}
	s.snapshotJobAsks(&tail)
	if !bytes.HasSuffix(snap, tail.b) {
		t.Fatalf("the snapshot does not end with the sections of version %d+", version+1)
	}
	var out []byte
	if version < 3 {
		out = append(append(out, snap[:cfgEnd-configExtLen]...), snap[cfgEnd:len(snap)-len(tail.b)]...)
	} else {
		out = append(out, snap[:len(snap)-len(tail.b)]...)
	}
	out[len(snapshotMagic)] = version
	return out
}
