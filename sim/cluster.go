package sim

import (
	"errors"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The simulated hosts and engine processes: launches, heartbeats,
// deaths, crashes and recoveries.

// ec returns the record of an engine, growing the table.
func (s *Sim) ec(id manager.ECID) *simEC {
	for uint64(len(s.ecs)) <= uint64(id) {
		s.ecs = append(s.ecs, simEC{ecm: -1, key: -1, engine: -1, firstJob: -1, liveIdx: -1})
	}
	return &s.ecs[id]
}

// noteEC records where an engine is, from a manager answer.
func (s *Sim) noteEC(id manager.ECID, ecm string, key int32) {
	e := s.ec(id)
	if e.ecm < 0 {
		if m, ok := s.ecmByID[ecm]; ok {
			e.ecm = m
		}
	}
	if e.key < 0 {
		e.key = key
	}
}

// ecDie ends an engine process. Its jobs fail (their task died); with
// report, its ECM tells the manager.
func (s *Sim) ecDie(id manager.ECID, why string, report bool) {
	e := &s.ecs[id]
	if e.state == ecDead {
		return
	}
	wasRunning := e.state == ecRunning
	e.state = ecDead
	if s.opts.bug == bugZombieEngines && report {
		report = false // the crash goes unreported, and the heartbeats go on
	} else {
		e.inc++
	}
	if e.liveIdx >= 0 {
		last := s.live[len(s.live)-1]
		s.live[e.liveIdx] = last
		s.ecs[last].liveIdx = e.liveIdx
		s.live = s.live[:len(s.live)-1]
		e.liveIdx = -1
	}
	for e.firstJob >= 0 {
		j := e.firstJob
		s.jobFailed(j, linkis.Errorf(linkis.ErrEngineFailed, id.String(), "%s", why), true)
	}
	if wasRunning {
		s.m.lv.add(s.now, lvLive, -1)
	}
	if report && wasRunning && e.ecm >= 0 && s.hot[e.ecm].up {
		s.push(event{at: s.now, kind: evECEndReport, ref: int64(id)})
	}
}

func (s *Sim) setRunning(id manager.ECID) {
	e := &s.ecs[id]
	e.state = ecRunning
	s.m.lv.add(s.now, lvLive, 1)
	e.liveIdx = int32(len(s.live))
	s.live = append(s.live, id)
	s.push(event{at: s.now + 1 + int64(s.rngCluster.float()*float64(s.ecHB)), kind: evECHeartbeat, ref: int64(id), aux: uint64(e.inc)})
}

func (s *Sim) onLaunchDone(e event) {
	id := manager.ECID(e.ref)
	ec := &s.ecs[id]
	outcome, gen := e.aux&3, uint32(e.aux>>2)
	if outcome == launchOK && (ec.state == ecDead || ec.ecm < 0 || s.hot[ec.ecm].gen != gen) {
		return // killed meanwhile, or the host went down with it
	}
	if s.later(e) {
		return
	}
	s.count(e)
	s.touchEC(id)
	eff := manager.Effect{Kind: manager.EffectLaunch, EC: id}
	if outcome != launchOK {
		if ec.state == ecLaunching {
			ec.state = ecDead
		}
		reason := "launch failed"
		if outcome == launchUnreachable {
			reason = "ECM unreachable"
		} else {
			s.m.launchFailures++
		}
		s.apply(eff.Settle(s.now, manager.EngineReport{State: manager.ReportExited, Failed: true, Reason: reason, Retryable: true}))
		return
	}
	if ec.state == ecLaunching {
		s.setRunning(id)
	}
	_, err := s.apply(eff.Settle(s.now, manager.EngineReport{State: manager.ReportRunning, Addr: ecAddr(id)}))
	switch {
	case err == nil:
	case errors.Is(err, linkis.ErrUnknownNode):
		s.ecDie(id, "the manager no longer knows it", false)
	}
}

// ---- hosts ----

func (s *Sim) onECMHeartbeat(e event) {
	mi := int32(e.ref)
	h := &s.hot[mi]
	if !h.up || h.gen != uint32(e.aux) {
		return
	}
	if !e.delivered {
		s.pushLane(laneECMHeartbeat, event{at: s.now + s.ecmHB, kind: evECMHeartbeat, ref: e.ref, aux: e.aux})
		if h.hbLostUntil > s.now {
			return
		}
	}
	if s.later(e) {
		return
	}
	s.count(e)
	m := &s.ecms[mi]
	_, err := s.apply(manager.ECMHeartbeat{Time: s.now, ID: m.id, Load: linkis.NodeLoad{RunningTasks: m.running}})
	if errors.Is(err, linkis.ErrUnknownNode) {
		// The manager declared it lost and forgot its engines: they must
		// go, and the ECM registers again.
		s.killAllOn(mi, "its ECM was declared lost")
		s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max})
		s.touchECM(mi)
	}
}

func (s *Sim) killAllOn(mi int32, why string) {
	m := &s.ecms[mi]
	for _, id := range m.ecs {
		if s.ecs[id].ecm == mi {
			s.ecDie(id, why, false)
		}
	}
	m.ecs = m.ecs[:0]
}

func (s *Sim) onECHeartbeat(e event) {
	id := manager.ECID(e.ref)
	ec := &s.ecs[id]
	zombie := s.opts.bug == bugZombieEngines && ec.state == ecDead
	if ec.state != ecRunning && !zombie || ec.inc != uint32(e.aux) {
		return
	}
	h := &s.hot[ec.ecm]
	if !e.delivered {
		s.pushLane(laneECHeartbeat, event{at: s.now + s.ecHB, kind: evECHeartbeat, ref: e.ref, aux: e.aux})
		if h.hbLostUntil > s.now || !h.up {
			return
		}
	}
	if s.later(e) {
		return
	}
	s.count(e)
	status := linkis.StatusUnlock
	if ec.running >= ec.capacity {
		status = linkis.StatusBusy
	}
	_, err := s.apply(manager.ECHeartbeat{Time: s.now, EC: id, Status: status, Load: linkis.NodeLoad{RunningTasks: int64(ec.running)}})
	if errors.Is(err, linkis.ErrUnknownNode) {
		s.ecDie(id, "the manager no longer knows it", false)
	}
}

// recoverECM brings a crashed host back: its ECM tells the manager to
// forget what it held before the crash, and registers afresh.
func (s *Sim) recoverECM(mi int32) {
	m, h := &s.ecms[mi], &s.hot[mi]
	if h.up {
		return
	}
	h.up = true
	h.gen++
	m.ecs = m.ecs[:0]
	s.m.resource(s.now, lvCapMem, m.max, 1)
	s.touchECM(mi)
	if _, ok := s.st.ECM(m.id); ok {
		s.apply(manager.DeregisterECM{Time: s.now, ID: m.id, Force: true})
	}
	s.apply(manager.RegisterECM{Time: s.now, ID: m.id, Addr: m.addr, Labels: m.labels, Max: m.max})
	s.pushLane(laneECMHeartbeat, event{at: s.now + s.ecmHB, kind: evECMHeartbeat, ref: int64(mi), aux: uint64(h.gen)})
}

func (s *Sim) crashECM(mi int32, recoverAfter int64) {
	m, h := &s.ecms[mi], &s.hot[mi]
	if !h.up {
		return
	}
	h.up = false
	h.gen++
	s.m.ecmCrashes++
	s.m.resource(s.now, lvCapMem, m.max, -1)
	for _, id := range m.ecs {
		if s.ecs[id].ecm == mi {
			s.ecDie(id, "its host crashed", false)
		}
	}
	m.ecs = m.ecs[:0]
	if recoverAfter > 0 {
		s.push(event{at: s.now + recoverAfter, kind: evECMRecover, ref: int64(mi)})
	}
}
