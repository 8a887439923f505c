package sim

import (
	"time"
)

// Faults: listed in the scenario or drawn from the seed, each with a
// start and, for windows, an end.

// setUpFaults schedules the listed faults and draws the random ones.
func (s *Sim) setUpFaults() {
	s.faults = append(s.faults, s.sc.Faults...)
	rf := &s.sc.RandomFaults
	g := s.rngFaults
	for _, k := range []struct {
		kind string
		rate float64
	}{
		{FaultECMCrash, rf.ECMCrash}, {FaultECCrash, rf.ECCrash}, {FaultLostHeartbeats, rf.LostHeartbeats},
		{FaultLeaderChange, rf.LeaderChange}, {FaultNetworkDelay, rf.NetworkDelay}, {FaultLaunchFailures, rf.LaunchFailures},
	} {
		if k.rate <= 0 {
			continue
		}
		mean := float64(time.Hour) / k.rate
		for t := g.exp(mean); t < float64(s.sc.Duration); t += g.exp(mean) {
			f := FaultSpec{At: Duration(t), Kind: k.kind, Count: 1, For: rf.Outage}
			switch k.kind {
			case FaultLeaderChange:
				f.For = Duration(time.Duration(1+g.intn(10)) * time.Second)
			case FaultLaunchFailures:
				f.Rate = 0.5
			case FaultNetworkDelay:
				f.Delay = Dist{Kind: "uniform", Min: Duration(100 * time.Millisecond), Max: Duration(5 * time.Second)}
			}
			s.faults = append(s.faults, f)
		}
	}
	for i, f := range s.faults {
		s.push(event{at: s.start + int64(f.At), kind: evFault, ref: int64(i)})
		s.faultsEnd = max(s.faultsEnd, s.start+int64(f.At)+int64(f.For))
	}
}

func (s *Sim) pickECMs(f *FaultSpec, up bool) []int32 {
	if f.ECM != "" {
		if i, ok := s.ecmByID[f.ECM]; ok {
			return []int32{i}
		}
		return nil
	}
	var out []int32
	for tries := 0; len(out) < f.Count && tries < 4*f.Count+16; tries++ {
		i := int32(s.rngFaults.intn(len(s.ecms)))
		if s.hot[i].up == up || !up {
			out = append(out, i)
		}
	}
	return out
}

func (s *Sim) startFault(i int) {
	f := &s.faults[i]
	s.m.faults++
	switch f.Kind {
	case FaultECMCrash:
		for _, mi := range s.pickECMs(f, true) {
			s.crashECM(mi, int64(f.For))
		}
	case FaultECCrash:
		for n := 0; n < f.Count && len(s.live) > 0; n++ {
			id := s.live[s.rngFaults.intn(len(s.live))]
			s.m.ecCrashes++
			s.ecDie(id, "the engine process crashed", true)
		}
	case FaultLostHeartbeats:
		for _, mi := range s.pickECMs(f, true) {
			s.hot[mi].hbLostUntil = max(s.hot[mi].hbLostUntil, s.now+int64(f.For))
		}
	case FaultLaunchFailures:
		s.failBoost = f.Rate
		s.push(event{at: s.now + int64(f.For), kind: evFaultEnd, ref: int64(i)})
	case FaultNetworkDelay:
		s.delay = &f.Delay
		s.push(event{at: s.now + int64(f.For), kind: evFaultEnd, ref: int64(i)})
	case FaultLeaderChange:
		s.drv.reset()
		s.leaderUp = s.now + int64(f.For)
		s.push(event{at: s.leaderUp, kind: evLeaderUp, aux: s.drv.epoch})
	}
}

func (s *Sim) endFault(i int) {
	switch f := &s.faults[i]; f.Kind {
	case FaultLaunchFailures:
		s.failBoost = 0
	case FaultNetworkDelay:
		if s.delay == &f.Delay {
			s.delay = nil
		}
	}
}
