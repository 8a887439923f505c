package manager

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
func (s *State) EffectsDue(now int64) []Effect {
	out := make([]Effect, 0, len(s.starting)+len(s.killing)+1)
	for _, e := range sortedECs(s.starting) {
		out = append(out, Effect{Kind: EffectLaunch, EC: e.id, ECM: e.ecm.id, ECMAddr: e.ecm.addr, Launch: e.launch})
	}
	for _, e := range sortedECs(s.killing) {
		out = append(out, Effect{Kind: EffectKill, EC: e.id, ECM: e.ecm.id, ECMAddr: e.ecm.addr})
	}
	if due := s.lastTick + int64(s.cfg.TickInterval); now >= due {
		out = append(out, Effect{Kind: EffectTick, Due: due})
	}
	return out
}
