package manager

import (
	"slices"
)

// EffectKind says what a driver must do.
type EffectKind uint8

// The effect kinds.
const (
	// EffectLaunch: ask ECM to launch the engine Launch describes. The
	// driver proposes EngineStarted when it is up, or EngineEnded (Failed,
	// with the reason and whether a retry makes sense) when it cannot be.
	EffectLaunch EffectKind = iota + 1
	// EffectKill: ask ECM to kill engine EC; propose EngineEnded once it
	// is gone (or the ECM says it never had it).
	EffectKill
	// EffectTick: propose a Tick.
	EffectTick
)

func (k EffectKind) String() string {
	return [...]string{"", "Launch", "Kill", "Tick"}[k]
}

// Effect is one thing that must happen outside the state machine. Effects
// are idempotent: launching a ticket twice must start one engine, killing
// an engine twice must kill it once.
type Effect struct {
	Kind    EffectKind
	EC      ECID
	ECM     string         // the ECM that must act
	ECMAddr string         // its address
	Launch  *LaunchRequest // for EffectLaunch
	Due     int64          // when it became due (EffectTick)
}

// EffectsDue returns, as a pure function of the state and now, what a
// driver must do: launch every engine that is still starting, kill every
// engine the manager asked to stop, and propose a tick when one is due.
// Engines come in id order. The driver keeps no state of its own: a new
// leader calling EffectsDue gets the same work the old one had left.
func (s *State) EffectsDue(now int64) []Effect { return s.AppendEffectsDue(nil, now) }

// AppendEffectsDue appends what EffectsDue returns to dst, for a driver
// that reuses its buffer (the simulator calls it after most commands).
func (s *State) AppendEffectsDue(dst []Effect, now int64) []Effect {
	out := slices.Grow(dst, len(s.starting)+len(s.killing)+1)
	ids := s.idScratch[:0]
	ids = sortedIDs(ids, s.starting)
	for _, id := range ids {
		e := s.starting[id]
		out = append(out, Effect{Kind: EffectLaunch, EC: e.id, ECM: e.ecm.id, ECMAddr: e.ecm.addr, Launch: e.launch})
	}
	ids = sortedIDs(ids, s.killing)
	for _, id := range ids {
		e := s.killing[id]
		out = append(out, Effect{Kind: EffectKill, EC: e.id, ECM: e.ecm.id, ECMAddr: e.ecm.addr})
	}
	// No tick before the first command: an empty state has nothing that
	// time could change (and its clock has not started).
	if due := s.lastTick + int64(s.cfg.TickInterval); s.lastTick != 0 && now >= due {
		out = append(out, Effect{Kind: EffectTick, Due: due})
	}
	s.idScratch = ids[:0]
	return out
}

// ReportState is where an engine stands, as the ECM a driver asked to
// launch or kill it says.
type ReportState uint8

// The report states.
const (
	ReportStarting ReportState = iota + 1 // its process runs; the engine has not reported in
	ReportRunning                         // it serves at the report's Addr
	ReportExited                          // its process is gone: Failed, Reason and Retryable say how
	ReportUnknown                         // the ECM never had it
)

// EngineReport is an ECM's answer to a launch or a kill.
type EngineReport struct {
	State     ReportState
	Addr      string
	Failed    bool
	Reason    string
	Retryable bool
}

// Settle returns the command a driver proposes once the ECM has answered
// the effect with r, or nil when there is nothing to propose yet (the
// engine is starting and reports itself; a kill is under way): a launched
// engine that runs is EngineStarted, one that exited is EngineEnded and
// failed (it never reported in), a killed engine that is gone or was never there is
// EngineEnded, and a tick is a Tick. Every driver - the Raft leader's
// reconciler, the simulator - maps answers here, so they cannot disagree.
func (e Effect) Settle(now int64, r EngineReport) Command {
	switch {
	case e.Kind == EffectTick:
		return Tick{Time: now}
	case r.State == ReportRunning && e.Kind == EffectLaunch && r.Addr != "":
		return EngineStarted{Time: now, EC: e.EC, Addr: r.Addr}
	case r.State == ReportExited:
		// An engine that exits before it reports in failed to start, whatever
		// its exit status: ending it as a success would start another one at
		// once, and again, without ever failing the asks that wait for it.
		failed := r.Failed || e.Kind == EffectLaunch
		return EngineEnded{Time: now, EC: e.EC, Failed: failed, Reason: clipBytes(r.Reason, MaxReasonLen), Retryable: r.Retryable}
	case r.State == ReportUnknown && e.Kind == EffectKill:
		return EngineEnded{Time: now, EC: e.EC, Reason: "killed; its ECM no longer had it"}
	}
	return nil
}

// sortedIDs returns the ids of a set of engines in order, in buf's array:
// sorting plain ids is several times cheaper than sorting engines by a
// comparison function, and EffectsDue runs after most commands in the
// simulator.
func sortedIDs(buf []ECID, set map[ECID]*ec) []ECID {
	buf = buf[:0]
	for id := range set {
		buf = append(buf, id)
	}
	slices.Sort(buf)
	return buf
}
