package sim

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// Checking. After every command: the status transitions it made, the
// ledgers of the ECMs and combined labels it touched (manager.CheckECMLedger
// and CheckKeyLedger: O(engines there)), the instance cap of those keys,
// that an ask did not start an engine while a free one of its key existed,
// and that a job that starts holds the manager's grant on an engine with
// room for it. Every FullEvery events and at the end: manager.CheckInvariants
// (O(size)) and the simulator's global checks. At the end of a run that
// settled: no ledger drift - the manager's engines and ledger rows are
// exactly the simulated processes that are alive.

// Violation is a broken invariant: the run stops at once.
type Violation struct {
	Seed    uint64
	Event   uint64        // number of the event after which it was found
	Time    time.Duration // virtual time since the start
	Err     error
	History []string // the events that led there, oldest first
}

// Error returns the violation with its history, one event per line.
func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant violated at event %d (t=%v, seed %d): %v", v.Event, v.Time, v.Seed, v.Err)
	if len(v.History) > 0 {
		b.WriteString("\nhistory (events touching the same jobs, engines and ECMs):")
		for _, h := range v.History {
			b.WriteString("\n  " + h)
		}
	}
	return b.String()
}

// Unwrap returns the broken invariant.
func (v *Violation) Unwrap() error { return v.Err }

func (s *Sim) violate(err error) { s.violateAbout(err, 0) }

// violateAbout records a violation whose history follows engine id (when
// not 0) as well as the last event.
func (s *Sim) violateAbout(err error, id manager.ECID) {
	if s.violation != nil {
		return
	}
	s.violation = &Violation{Seed: s.opts.Seed, Event: s.events, Time: time.Duration(s.now - s.start), Err: err, History: s.hist.slice(s, id)}
}

func (s *Sim) touchEC(id manager.ECID) {
	if uint64(id) >= uint64(len(s.ecs)) {
		return
	}
	e := &s.ecs[id]
	if e.ecm >= 0 {
		s.touchECM(e.ecm)
	}
	if e.key >= 0 {
		s.touchKey(e.key)
	}
	if h := s.hist.last(); h != nil && h.ec == 0 {
		h.ec = id
	}
}

func (s *Sim) touchECM(i int32) {
	for _, x := range s.touchedM {
		if x == i {
			return
		}
	}
	s.touchedM = append(s.touchedM, i)
}

func (s *Sim) touchKey(i int32) {
	for _, x := range s.touchedK {
		if x == i {
			return
		}
	}
	s.touchedK = append(s.touchedK, i)
}

// localChecks checks what the last command touched.
func (s *Sim) localChecks() {
	for _, i := range s.touchedM {
		if err := manager.CheckECMLedger(s.st, s.ecms[i].id); err != nil {
			s.violate(err)
		}
	}
	capN := s.cfg.DefaultQuota.Instances
	for _, i := range s.touchedK {
		key := s.keys[i]
		if err := manager.CheckKeyLedger(s.st, key); err != nil {
			s.violate(err)
		}
		if ki := s.st.Key(key); int64(ki.Engines) > capN {
			s.violate(fmt.Errorf("key %s has %d engines, more than its instance cap %d", key, ki.Engines, capN))
		}
	}
	s.touchedM = s.touchedM[:0]
	s.touchedK = s.touchedK[:0]
}

// checkRunning checks a job that starts: the manager granted its ask the
// engine it runs on, and the engine does not run more tasks than it can.
func (s *Sim) checkRunning(j int32) {
	jb := &s.jobs[j]
	id := jb.askID
	a, ok := s.st.Ask(id)
	switch {
	case !ok:
		s.violate(fmt.Errorf("job %d runs on %v but the manager holds no ask %s for it", j, jb.ec, id))
	case a.Status != manager.AskGranted || a.EC != jb.ec:
		s.violate(fmt.Errorf("job %d runs on %v but its ask %s is %v on %v", j, jb.ec, id, a.Status, a.EC))
	}
	if e := &s.ecs[jb.ec]; e.capacity > 0 && e.running > e.capacity {
		s.violate(fmt.Errorf("engine %v runs %d tasks, more than its capacity %d", jb.ec, e.running, e.capacity))
	}
}

// fullCheck runs every invariant; final adds the end-of-run checks.
func (s *Sim) fullCheck(final bool) {
	s.m.fullChecks++
	if err := manager.CheckInvariants(s.st); err != nil {
		s.violate(err)
		return
	}
	// Every job on a live engine's list of running tasks (jobs run only
	// there): O(engines running), not O(jobs), since small clusters are
	// checked after every event.
	for _, id := range s.live {
		for j := s.ecs[id].firstJob; j >= 0; j = s.jobs[j].nextOnEC {
			if s.jobs[j].state == jobRunning {
				s.checkRunning(j)
				if s.violation != nil {
					return
				}
			}
		}
	}
	if final && s.settling && s.sc.Settle > 0 {
		if id, err := s.checkDrift(); err != nil {
			s.violateAbout(err, id)
		}
	}
}

// checkDrift compares the manager with the simulated world after the run
// settled: every engine the manager knows is a live process on the ECM it
// names, every live process is known, and each ECM's ledger holds exactly
// what its live processes hold.
func (s *Sim) checkDrift() (manager.ECID, error) {
	known := map[manager.ECID]bool{}
	held := make([]linkis.Resource, len(s.ecms))
	for _, e := range s.st.ECs() {
		known[e.ID] = true
		rec := s.ec(e.ID)
		if rec.state != ecRunning && rec.state != ecLaunching {
			return e.ID, fmt.Errorf("ledger drift: the manager holds %v for %v on %s, whose process is gone", e.Resource, e.ID, e.ECM)
		}
		if rec.ecm < 0 || s.ecms[rec.ecm].id != e.ECM {
			return e.ID, fmt.Errorf("ledger drift: the manager places %v on %s, the process runs elsewhere", e.ID, e.ECM)
		}
		var err error
		if held[rec.ecm], err = held[rec.ecm].Add(rec.res); err != nil {
			return e.ID, err
		}
	}
	for _, id := range s.live {
		if !known[id] {
			return id, fmt.Errorf("ledger drift: engine process %v runs on %s but the manager does not know it", id, s.ecms[s.ecs[id].ecm].id)
		}
	}
	for i := range s.ecms {
		info, ok := s.st.ECM(s.ecms[i].id)
		if !ok {
			if s.hot[i].up && s.hot[i].hbLostUntil <= s.now {
				return 0, fmt.Errorf("ECM %s is up but not registered", s.ecms[i].id)
			}
			continue
		}
		got, err := info.Ledger.Used.Add(info.Ledger.Locked)
		if err != nil {
			return 0, err
		}
		if !got.Equal(held[i]) {
			return 0, fmt.Errorf("ledger drift: ECM %s records %v held, its live engines hold %v", info.ID, got, held[i])
		}
	}
	return 0, nil
}

// ---- history ----

// histEntry is one event or command in the recent history.
type histEntry struct {
	n    uint64
	at   int64
	kind evKind
	ref  int64
	cmd  manager.CommandType
	err  string
	ec   manager.ECID
	job  int32
	isCm bool
}

// historyLen bounds the recent history a violation is cut from.
const historyLen = 1024

// history is a ring of the last events and commands.
type history struct {
	ring [historyLen]histEntry
	n    int
}

func (h *history) add(e histEntry) {
	// A tick that changed nothing says nothing: it makes room.
	if h.n >= 2 {
		c, ev := &h.ring[(h.n-1)%historyLen], &h.ring[(h.n-2)%historyLen]
		if c.isCm && c.cmd == manager.CmdTick && c.ec == 0 && c.err == "" && !ev.isCm && ev.kind == evTick && ev.ec == 0 {
			h.n -= 2
		}
	}
	e.job = -1
	if e.kind == evArrival || e.kind == evAsk || e.kind == evJobEnd || e.kind == evRenew || e.kind == evRelease {
		e.job = int32(e.ref)
	}
	if e.kind == evLaunchDone || e.kind == evKillDone || e.kind == evECEndReport || e.kind == evECHeartbeat {
		e.ec = manager.ECID(e.ref)
	}
	h.ring[h.n%historyLen] = e
	h.n++
}

func (h *history) addCmd(t manager.CommandType, err error, ec manager.ECID) {
	var prev histEntry
	if p := h.last(); p != nil {
		prev = *p
	}
	e := histEntry{n: prev.n, at: prev.at, cmd: t, ec: ec, job: prev.job, isCm: true}
	if err != nil {
		e.err = err.Error()
	}
	if e.ec == 0 {
		e.ec = prev.ec
	}
	h.ring[h.n%historyLen] = e
	h.n++
}

func (h *history) last() *histEntry {
	if h.n == 0 {
		return nil
	}
	return &h.ring[(h.n-1)%historyLen]
}

// slice returns the part of the recent history that concerns the last
// event: walking back, an entry is kept when it shares a job, an engine or
// an ECM with what was kept already (a backward slice), at most 60.
func (h *history) slice(s *Sim, about manager.ECID) []string {
	if h.n == 0 {
		return nil
	}
	jobs, ecs, ecms := map[int32]bool{}, map[manager.ECID]bool{}, map[int32]bool{}
	if about != 0 {
		ecs[about] = true
		if uint64(about) < uint64(len(s.ecs)) && s.ecs[about].ecm >= 0 {
			ecms[s.ecs[about].ecm] = true
		}
	}
	relate := func(e *histEntry) bool {
		hit := jobs[e.job] && e.job >= 0 || ecs[e.ec] && e.ec != 0
		var mi int32 = -1
		if e.ec != 0 && uint64(e.ec) < uint64(len(s.ecs)) {
			mi = s.ecs[e.ec].ecm
		}
		if e.kind == evECMHeartbeat || e.kind == evECMRecover {
			mi = int32(e.ref)
		}
		if mi >= 0 && ecms[mi] {
			hit = true
		}
		return hit
	}
	mark := func(e *histEntry) {
		if e.job >= 0 {
			jobs[e.job] = true
			if j := &s.jobs[e.job]; j.ec != 0 {
				ecs[j.ec] = true
			}
		}
		if e.ec != 0 {
			ecs[e.ec] = true
			if uint64(e.ec) < uint64(len(s.ecs)) && s.ecs[e.ec].ecm >= 0 {
				ecms[s.ecs[e.ec].ecm] = true
			}
		}
		if e.kind == evECMHeartbeat || e.kind == evECMRecover {
			ecms[int32(e.ref)] = true
		}
	}
	// The violating event and its commands are kept whole.
	lastN := h.last().n
	var kept []*histEntry
	routine := 0 // heartbeats and renewals that went through: only the latest few say anything
	skipN, countedN := uint64(math.MaxUint64), uint64(math.MaxUint64)
	lo := max(0, h.n-historyLen)
	for i := h.n - 1; i >= lo; i-- {
		e := &h.ring[i%historyLen]
		if e.n == skipN {
			continue // the rest of a routine event left out
		}
		if e.n != lastN && e.isRoutine() && relate(e) {
			if routine >= 6 {
				skipN = e.n
				continue
			}
			if e.n != countedN {
				routine++
				countedN = e.n
			}
		}
		if e.n == lastN || relate(e) || !e.isCm && (e.kind == evFault || e.kind == evLeaderUp) {
			mark(e)
			kept = append(kept, e)
			if len(kept) >= 60 {
				break
			}
		}
	}
	out := make([]string, 0, len(kept))
	for i := len(kept) - 1; i >= 0; i-- {
		out = append(out, kept[i].format(s))
	}
	return out
}

// isRoutine reports a heartbeat or renewal (or its command) that went
// through.
func (e *histEntry) isRoutine() bool {
	if e.isCm {
		return e.err == "" && (e.cmd == manager.CmdECMHeartbeat || e.cmd == manager.CmdECHeartbeat || e.cmd == manager.CmdRenewLock)
	}
	return e.kind == evECMHeartbeat || e.kind == evECHeartbeat || e.kind == evRenew
}

func (e *histEntry) format(s *Sim) string {
	t := time.Duration(e.at)
	if e.isCm {
		r := "ok"
		if e.err != "" {
			r = "refused: " + e.err
		}
		x := ""
		if e.ec != 0 {
			x = " " + e.ec.String()
		}
		return fmt.Sprintf("          -> %v%s: %s", e.cmd, x, r)
	}
	what := e.kind.String()
	switch {
	case e.job >= 0:
		j := &s.jobs[e.job]
		what += fmt.Sprintf(" job %d (%s)", e.job, s.keys[s.combos[j.combo].key])
	case e.kind == evECMHeartbeat || e.kind == evECMRecover:
		what += " " + s.ecms[e.ref].id
	case e.ec != 0:
		what += " " + e.ec.String()
	case e.kind == evFault:
		f := &s.faults[e.ref]
		what += " " + f.Kind
	}
	return fmt.Sprintf("#%-7d %10v %s", e.n, t.Round(time.Millisecond), what)
}

// mixHash folds a word into the run hash (SplitMix64's finaliser).
func mixHash(h, x uint64) uint64 {
	h ^= x + 0x9e3779b97f4a7c15 + h<<6 + h>>2
	return splitmix(h)
}
