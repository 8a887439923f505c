package sim

import (
	"strconv"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The simulated world: hosts (ECMs), engine processes (ECs) and jobs. It
// holds what the real processes would know about themselves - never what
// the manager decided, which the simulator reads from the manager.

// simECM is one simulated host with its ECM.
type simECM struct {
	id, addr string
	running  int64 // tasks running on its engines (its reported load)
	labels   linkis.Labels
	max      linkis.Resource
	group    int32
	ecs      []manager.ECID
}

// ecmHot is what a host's heartbeats, and its engines', read first. It is
// kept apart from simECM, in a dense array of its own: at 10,000 hosts the
// checks of every heartbeat then hit the cache.
type ecmHot struct {
	hbLostUntil int64  // its heartbeats (and its engines') are lost until then
	gen         uint32 // incarnation: bumped when it crashes or restarts
	up          bool   // the host is running
}

// ecState is where an engine process stands, as its ECM sees it.
type ecState uint8

const (
	ecNone      ecState = iota // no launch received
	ecLaunching                // the launch is under way
	ecRunning                  // the process is up
	ecDead                     // it failed to launch, crashed or was killed
)

// simEC is one engine process, indexed by its ticket.
type simEC struct {
	ecm      int32 // index in Sim.ecms, -1 until known
	key      int32 // index in Sim.keys, -1 until known
	engine   int32 // index in Scenario.Engines, -1 until known
	state    ecState
	capacity int32
	running  int32  // tasks running on it
	firstJob int32  // jobs running on it, linked through job.nextOnEC; -1 = none
	inc      uint32 // bumped when it dies: stops its heartbeats
	liveIdx  int32  // place in Sim.live, -1 when not running
	ecmGen   uint32 // the incarnation of the ECM that launched it
	held     bool   // counted in the held levels (from its launch to its end)
	res      linkis.Resource
}

// jobState is where a job stands.
type jobState uint8

const (
	jobNew       jobState = iota
	jobPending            // its ask waits for an engine
	jobRunning            // it runs on an engine
	jobRetryWait          // it failed with a retryable error and will ask again
	jobSucceeded
	jobFailed
)

// job is one job of the workload.
type job struct {
	submit   int64 // absolute ns
	runtime  int64
	granted  int64 // when the attempt that ran was granted
	end      int64 // when it reached a final state
	ec       manager.ECID
	combo    int32
	params   int32 // index in Sim.params, -1 = none
	nextOnEC int32
	gen      uint32 // bumped when it stops running: voids its end and renewal events
	state    jobState
	attempt  uint8
	askID    string    // the current attempt's ask, askID(j, attempt): made once, used by every call
	reused   bool      // the attempt that ran was granted an engine that had served before
	fail     failClass // why it failed, when it did
}

// askID names attempt a of job j: "j<j>.<a>".
func askID(j int32, attempt uint8) string {
	var b [24]byte
	out := append(b[:0], 'j')
	out = strconv.AppendInt(out, int64(j), 10)
	out = append(out, '.')
	out = strconv.AppendInt(out, int64(attempt), 10)
	return string(out)
}

// parseAskID inverts askID; ok is false for ids the simulator did not make.
func parseAskID(id string) (j int32, attempt uint8, ok bool) {
	if len(id) < 4 || id[0] != 'j' {
		return 0, 0, false
	}
	var n, a int64
	i := 1
	for ; i < len(id) && id[i] != '.'; i++ {
		c := id[i]
		if c < '0' || c > '9' || n > 1<<31 {
			return 0, 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if i == 1 || i >= len(id)-1 {
		return 0, 0, false
	}
	for i++; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' || a > 255 {
			return 0, 0, false
		}
		a = a*10 + int64(c-'0')
	}
	if a > 255 || n >= 1<<31 {
		return 0, 0, false
	}
	return int32(n), uint8(a), true
}

// ecAddr is the address a simulated engine serves at.
func ecAddr(id manager.ECID) string {
	var b [32]byte
	out := append(b[:0], 'e')
	out = strconv.AppendUint(out, uint64(id)/60000, 10)
	out = append(out, ':')
	out = strconv.AppendUint(out, 1+uint64(id)%60000, 10)
	return string(out)
}

// combo is one user+creator+engine type: its labels and its combined key.
type combo struct {
	labels linkis.Labels
	key    int32
	user   int32
}
