package sim

import (
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The reconciler - what the leader runs for real - and the observer of
// the manager's status transitions.

// reconcile is the leader's reconciler: it runs after every event, asks
// the manager what is due and hands new launches and kills to the ECMs.
// The O(1) counts let it skip EffectsDue when nothing new can be due.
func (s *Sim) reconcile() {
	if s.now < s.leaderUp {
		return
	}
	for pass := 0; pass < 8; pass++ {
		l, k := s.st.EffectCounts()
		tick := s.now >= s.st.TickDue()
		if l == len(s.drv.launched) && k == len(s.drv.killed) && !tick {
			return
		}
		s.effects = s.st.AppendEffectsDue(s.effects[:0], s.now)
		for _, eff := range s.effects {
			switch eff.Kind {
			case manager.EffectLaunch:
				if _, done := s.drv.launched[eff.EC]; !done {
					s.drv.launched[eff.EC] = struct{}{}
					s.dispatchLaunch(eff)
				}
			case manager.EffectKill:
				if _, done := s.drv.killed[eff.EC]; !done {
					s.drv.killed[eff.EC] = struct{}{}
					s.dispatchKill(eff)
				}
			case manager.EffectTick:
				s.apply(eff.Settle(s.now, manager.EngineReport{}))
				s.scheduleTick()
			}
		}
	}
}

// scheduleTick wakes the reconciler when the next tick is due.
func (s *Sim) scheduleTick() {
	at := max(s.st.TickDue(), s.now)
	if s.drv.tickAt == at {
		return
	}
	s.drv.tickAt = at
	s.push(event{at: at, kind: evTick, aux: s.drv.epoch})
}

// dispatchLaunch hands a launch to its ECM. The ECM is idempotent: a
// ticket it already has is not launched again (it reports what became of
// it instead).
func (s *Sim) dispatchLaunch(eff manager.Effect) {
	mi, ok := s.ecmByID[eff.ECM]
	if !ok {
		return
	}
	m := &s.ecms[mi]
	ec := s.ec(eff.EC)
	if ec.ecm < 0 {
		ec.ecm = mi
	}
	if ec.engine < 0 && eff.Launch != nil {
		s.learnLaunch(ec, eff.Launch)
	}
	if !ec.held { // the manager holds its resources from now until it ends
		ec.held = true
		s.m.resource(s.now, lvHeldMem, ec.res, 1)
	}
	s.touchECM(mi)
	d := s.callDelay()
	h := &s.hot[mi]
	switch {
	case !h.up:
		s.push(event{at: s.now + d + int64(time.Second), kind: evLaunchDone, ref: int64(eff.EC), aux: launchUnreachable})
	case ec.state == ecNone:
		ec.state = ecLaunching
		ec.ecmGen = h.gen
		m.ecs = append(m.ecs, eff.EC)
		lat := s.sc.Cluster.ECMs[m.group].LaunchLatency.sample(s.rngCluster)
		if ec.engine >= 0 {
			lat += s.engines[ec.engine].spec.Start.sample(s.rngCluster)
		}
		outcome := launchOK
		if p := max(s.sc.Cluster.ECMs[m.group].LaunchFailRate, s.failBoost); p > 0 && s.rngCluster.float() < p {
			outcome = launchFailed
		}
		s.push(event{at: s.now + d + lat, kind: evLaunchDone, ref: int64(eff.EC), aux: uint64(h.gen)<<2 | outcome})
	case ec.state == ecRunning:
		s.push(event{at: s.now + d, kind: evLaunchDone, ref: int64(eff.EC), aux: uint64(ec.ecmGen)<<2 | launchOK})
	case ec.state == ecDead:
		s.push(event{at: s.now + d, kind: evLaunchDone, ref: int64(eff.EC), aux: launchFailed})
	}
}

func (s *Sim) learnLaunch(ec *simEC, lr *manager.LaunchRequest) {
	for i := range s.engines {
		if s.engines[i].et == lr.EngineType {
			ec.engine = int32(i)
			ec.capacity = int32(s.engines[i].spec.Concurrency)
			break
		}
	}
	ec.res = lr.Resource
	if ec.key < 0 {
		if req, err := linkis.ParseEngineRequest(lr.Labels); err == nil {
			ec.key = s.keyIndex(req.Key())
		}
	}
}

// dispatchKill hands a kill to its ECM. An ECM that is down cannot be
// reached: the kill stays in flight (the host's loss or recovery ends the
// engine), and a new leader would try again.
func (s *Sim) dispatchKill(eff manager.Effect) {
	mi, ok := s.ecmByID[eff.ECM]
	if !ok || !s.hot[mi].up {
		return
	}
	ec := s.ec(eff.EC)
	if ec.state == ecLaunching || ec.state == ecRunning {
		s.ecDie(eff.EC, "killed", false)
	}
	stop := int64(100 * time.Millisecond)
	if ec.engine >= 0 {
		stop = s.engines[ec.engine].spec.Stop.sample(s.rngCluster)
	}
	s.push(event{at: s.now + s.callDelay() + stop, kind: evKillDone, ref: int64(eff.EC)})
}

// observer watches every status change the manager applies: it checks it
// against the transition table, prunes the reconciler's in-flight sets and
// notes what each command touched for the local checks.
type observer struct {
	s   *Sim
	err error
}

// Transition implements manager.Observer (for ECMs).
func (o *observer) Transition(kind linkis.NodeKind, id string, from, to linkis.NodeStatus) {
	if err := linkis.CheckTransition(kind, id, from, to); err != nil && o.err == nil {
		o.err = err
	}
	if mi, ok := o.s.ecmByID[id]; ok && kind == linkis.KindECM {
		o.s.touchECM(mi)
	}
}

// ECTransition implements manager.ECObserver.
func (o *observer) ECTransition(ecid manager.ECID, from, to linkis.NodeStatus) {
	if !linkis.CanTransition(linkis.KindEngineConn, from, to) && o.err == nil {
		o.err = linkis.CheckTransition(linkis.KindEngineConn, ecid.String(), from, to)
	}
	if from == linkis.StatusStarting {
		delete(o.s.drv.launched, ecid)
		if to == linkis.StatusUnlock || to == linkis.StatusRunning {
			o.s.m.enginesStarted++
		}
	}
	if to.IsFinal() {
		delete(o.s.drv.launched, ecid)
		delete(o.s.drv.killed, ecid)
		if e := o.s.ec(ecid); e.held {
			e.held = false
			o.s.m.resource(o.s.now, lvHeldMem, e.res, -1)
		}
	}
	// Only starts, stops while starting and ends move the ledger; grants
	// and releases change statuses (Unlock, Idle, Busy) but no row.
	if from == linkis.StatusStarting || to.IsFinal() {
		o.s.touchEC(ecid)
	}
}
