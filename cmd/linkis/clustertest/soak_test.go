//go:build linux && soak

package clustertest

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestSoak (make soak) runs the cluster under load for
// LINKIS_SOAK_DURATION (default 2m) while a fault after another strikes at
// random - kill -9 of the leader, of a follower, of an ECM process (its
// engines live on and are adopted), of a whole ECM host; the leader, a
// follower or an ECM host cut off - each healed before the next, then
// checks the history, the members' agreement and the ledger as the other
// tests do. LINKIS_CHAOS_SEED replays a schedule of faults.
func TestSoak(t *testing.T) {
	duration := 2 * time.Minute
	if v := os.Getenv("LINKIS_SOAK_DURATION"); v != "" {
		var err error
		if duration, err = time.ParseDuration(v); err != nil {
			t.Fatalf("LINKIS_SOAK_DURATION: %v", err)
		}
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LINKIS_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("LINKIS_CHAOS_SEED: %v", err)
		}
	}
	t.Logf("faults from seed %d (LINKIS_CHAOS_SEED=%d replays them)", seed, seed)
	rnd := rand.New(rand.NewPCG(seed, seed))
	c := newCluster(t, clusterConfig{Members: 3, ECMHosts: 2})
	h := newHistory()
	c.report.addDoc("history", h.doc)
	tr := workload{Jobs: 1 << 30, Clients: 8, LongEvery: 10, Long: 3 * time.Second, Pace: 300 * time.Millisecond,
		SubmitFor: duration, Deadline: duration + 5*time.Minute}.run(context.Background(), c, h)
	pause := func(min, max time.Duration) { time.Sleep(min + time.Duration(rnd.Int64N(int64(max-min)))) }
	faults := 0
	for end := time.Now().Add(duration); time.Now().Before(end); faults++ {
		pause(time.Second, 3*time.Second)
		ecm := c.ECMs[rnd.IntN(len(c.ECMs))]
		var n *node
		var f fault
		var role string
		switch rnd.IntN(7) {
		case 0:
			n, f, role = c.leader(), killFault, "leader"
		case 1:
			n, f, role = c.follower(), killFault, "follower"
		case 2:
			n, f, role = ecm, killFault, "ECM"
		case 3:
			n, f, role = ecm, crashFault, "ECM host"
		case 4:
			n, f, role = c.leader(), cutFault, "leader"
		case 5:
			n, f, role = c.follower(), cutFault, "follower"
		case 6:
			n, f, role = ecm, cutFault, "ECM host"
		}
		c.inject(h, f, n, role)
		if f == cutFault {
			pause(time.Second, 4*time.Second)
		} else {
			pause(0, 2*time.Second)
		}
		c.recover(h, f, n)
	}
	<-tr.done
	t.Logf("%d faults; %d jobs submitted, %d acknowledged", faults, tr.submitted.Load(), tr.acked.Load())
	tr.check(t, 0.9)
	c.verify(h)
}
