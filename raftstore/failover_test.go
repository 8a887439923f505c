package raftstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// TestClusterLeaderKilledMidWorkload kills the leader while clients ask
// for and release engines through every member, then checks that every
// acknowledged command is in the new leader's state and the ledger holds.
func TestClusterLeaderKilledMidWorkload(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.registerECM("ecm-1")
	const clients = 8
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	held := map[string]string{} // acknowledged granted asks not released → their engine
	released := map[string]bool{}
	var acked int
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.client()
			for j := 0; ctx.Err() == nil; j++ {
				id := fmt.Sprintf("c%d-%d", i, j)
				req := askReq(id, fmt.Sprintf("u%d", i%3))
				var a api.AskResult
				var err error
				for ctx.Err() == nil { // retry the same id until the cluster answers
					if a, err = cl.Ask(ctx, req); err == nil || !linkis.IsRetryable(err) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if err != nil || a.Status != "Granted" {
					continue
				}
				mu.Lock()
				held[id], acked = a.EC, acked+1
				mu.Unlock()
				if j%2 == 0 {
					continue // keep every other one
				}
				uncertain := false // an earlier attempt may have been applied
				for ctx.Err() == nil {
					if _, err = cl.Release(ctx, id); err == nil || !linkis.IsRetryable(err) {
						break
					}
					uncertain = true
					time.Sleep(20 * time.Millisecond)
				}
				if errors.Is(err, linkis.ErrUnknownAsk) {
					if !uncertain {
						t.Errorf("release of acknowledged ask %s: %v", id, err)
					}
					err = nil // an earlier attempt released it
				}
				mu.Lock()
				delete(held, id)
				if err == nil {
					released[id] = true
				} // else: cut short by the end of the test, outcome unknown
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	old := c.leader()
	c.stop(old)
	newLead := c.leader()
	if newLead == old {
		t.Fatal("the stopped member still leads")
	}
	time.Sleep(400 * time.Millisecond)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if acked < 20 {
		t.Fatalf("only %d asks acknowledged: the workload did not run", acked)
	}
	c.converge()
	newLead.node.rep.read(func(s *manager.State) {
		for id, ec := range held {
			a, ok := s.Ask(id)
			if !ok || a.Status != manager.AskGranted || a.EC.String() != ec {
				t.Errorf("acknowledged ask %s (engine %s) is %+v on the new leader", id, ec, a)
			}
		}
		for id := range released {
			if a, ok := s.Ask(id); ok {
				t.Errorf("acknowledged release of %s lost: the ask is still %v", id, a.Status)
			}
		}
	})
	// The old leader comes back, catches up and agrees.
	c.start(old)
	c.converge()
	t.Logf("%d asks acknowledged, %d held, %d released across the failover", acked, len(held), len(released))
}

// TestClusterFollowerCatchesUpBySnapshot keeps a follower down while the
// log moves far past what the others keep, so it must install a snapshot.
func TestClusterFollowerCatchesUpBySnapshot(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 50
		cfg.TrailingLogs = 10
		cfg.SnapshotInterval = 50 * time.Millisecond
	})
	c.registerECM("ecm-1")
	down := c.followers()[0]
	c.stop(down)
	cl := c.client(c.leader())
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		id := fmt.Sprintf("a%d", i)
		if a, err := askRetrying(ctx, cl, askReq(id, fmt.Sprintf("u%d", i%7))); err != nil || a.Status != "Granted" {
			t.Fatalf("ask %d: %+v, %v", i, a, err)
		}
		if i%10 != 0 { // keep one in ten: 30 held, at most 5 per user, within the default quota of 10
			if _, err := releaseRetrying(ctx, cl, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	lead := c.leader()
	if err := lead.node.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	first, err := lead.node.files.log.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	c.start(down)
	c.converge()
	if first <= 1 {
		t.Fatalf("the leader's log still starts at %d: no snapshot compacted it", first)
	}
	snaps, err := raft.NewFileSnapshotStore(down.dir, 1, testLogWriter{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("the follower holds no snapshot after catching up (%v): it was not installed", err)
	}
}

// TestClusterRestartRecoversFromDisk stops every member and starts them
// again from their directories.
func TestClusterRestartRecoversFromDisk(t *testing.T) {
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.SnapshotThreshold = 40
		cfg.SnapshotInterval = 50 * time.Millisecond
		cfg.TrailingLogs = 5
	})
	c.registerECM("ecm-1")
	cl := c.client()
	ctx := context.Background()
	for i := 0; i < 120; i++ { // 40 users, 3 engines each: within the default quota
		if a, err := askRetrying(ctx, cl, askReq(fmt.Sprintf("a%d", i), fmt.Sprintf("u%d", i%40))); err != nil || a.Status != "Granted" {
			t.Fatalf("ask %d: %+v, %v", i, a, err)
		}
	}
	c.converge()
	before := snapshotOf(c.leader())
	for _, m := range c.members {
		c.stop(m)
	}
	for _, m := range c.members {
		c.start(m)
		if !m.node.HasState() {
			t.Fatalf("%s found no state on disk", m.id)
		}
	}
	c.converge()
	after := snapshotOf(c.leader())
	// Ticks may have been applied since; compare what the asks hold.
	var n int
	c.leader().node.rep.read(func(s *manager.State) {
		for i := 0; i < 120; i++ {
			if a, ok := s.Ask(fmt.Sprintf("a%d", i)); ok && a.Status == manager.AskGranted {
				n++
			}
		}
	})
	if n != 120 {
		t.Fatalf("%d of 120 granted asks survived the restart (state %d → %d bytes)", n, len(before), len(after))
	}
}

// TestClusterMinorityCannotCommit cuts the leader off from both followers:
// it cannot commit, the majority elects a new leader, the old one steps
// down, and after healing it takes the majority's log.
func TestClusterMinorityCannotCommit(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.registerECM("ecm-1")
	old := c.leader()
	others := c.followers()
	for _, f := range others {
		old.layer.cut(raft.ServerAddress(f.raftAddr))
		f.layer.cut(raft.ServerAddress(old.raftAddr))
	}
	// The isolated leader cannot commit: its proposal fails or times out.
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	_, err := old.node.Apply(ctx, manager.AskEngine{Time: time.Now().UnixNano(), ID: "lost", Nonce: 1, Labels: mustLabels(t, "userCreator", "zed-IDE", "engineType", "shell-1")})
	if err == nil {
		t.Fatal("a leader cut off from the majority committed a command")
	}
	// The majority elects a new leader and keeps working.
	deadline := time.Now().Add(10 * time.Second)
	var lead *testMember
	for lead == nil && time.Now().Before(deadline) {
		for _, f := range others {
			if f.node.raft.State() == raft.Leader {
				lead = f
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if lead == nil {
		t.Fatal("the majority elected no leader")
	}
	if _, err := c.client(lead).Ask(context.Background(), askReq("kept", "amy")); err != nil {
		t.Fatal(err)
	}
	// The stale leader steps down (its lease runs out).
	for old.node.raft.State() == raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("the isolated leader never stepped down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := old.node.Apply(context.Background(), manager.Tick{Time: time.Now().UnixNano()}); !errors.Is(err, linkis.ErrNotLeader) {
		t.Errorf("the stepped-down member accepted a proposal: %v", err)
	}
	for _, m := range c.members {
		m.layer.heal()
	}
	c.converge()
	old.node.rep.read(func(s *manager.State) {
		if _, ok := s.Ask("lost"); ok {
			t.Error("the uncommitted ask of the isolated leader survived")
		}
		if _, ok := s.Ask("kept"); !ok {
			t.Error("the healed member lacks the majority's ask")
		}
	})
}

func mustLabels(t testing.TB, kv ...string) linkis.Labels {
	t.Helper()
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

// slowECMs answers a ticket's first launch with Starting (the engine is
// still coming up) and every later one with Running: only a leader that
// sends the launch again learns that it started.
type slowECMs struct {
	FakeECMs
	mu    sync.Mutex
	calls map[string]int
	first chan string // tickets whose first launch arrived
}

func (s *slowECMs) Launch(ctx context.Context, addr string, r api.LaunchRequest) (api.LaunchResponse, error) {
	s.mu.Lock()
	s.calls[r.Ticket]++
	n := s.calls[r.Ticket]
	s.mu.Unlock()
	if n == 1 {
		s.first <- r.Ticket
		return api.LaunchResponse{EC: r.Ticket, State: api.ECStarting}, nil
	}
	return s.FakeECMs.Launch(ctx, addr, r)
}

// TestClusterNewLeaderFinishesLaunch kills the leader while an engine it
// launched is still starting: the next leader, from the state alone,
// sends the launch again, learns the engine is up and grants the ask.
func TestClusterNewLeaderFinishesLaunch(t *testing.T) {
	slow := &slowECMs{calls: map[string]int{}, first: make(chan string, 1)}
	c := newTestCluster(t, 3, func(cfg *Config) {
		cfg.ECMs = slow
		cfg.Reconciler.Resend = time.Hour // only a new leader sends again
	})
	c.registerECM("ecm-1")
	req := askReq("a1", "alice")
	req.WaitMs = 0
	a, err := c.client().Ask(context.Background(), req)
	if err != nil || a.Status != "Pending" || !a.Created {
		t.Fatalf("ask: %+v, %v; want Pending while its engine starts", a, err)
	}
	select {
	case <-slow.first:
	case <-time.After(5 * time.Second):
		t.Fatal("the leader never sent the launch")
	}
	c.stop(c.leader())
	c.leader()
	got, err := c.client().GetAsk(context.Background(), "a1", 5*time.Second)
	if err != nil || got.Status != "Granted" || got.EC != a.EC {
		t.Fatalf("after the failover: %+v, %v; want the ask granted its engine %s", got, err, a.EC)
	}
	slow.mu.Lock()
	defer slow.mu.Unlock()
	if slow.calls[a.EC] < 2 {
		t.Errorf("launch of %s sent %d times; the new leader should have sent it again", a.EC, slow.calls[a.EC])
	}
}

// TestClusterRefusesWhatTheLogCannotCarry: a command with a field over the
// codec's limit is refused before it is proposed; it used to ride into an
// entry every replica refused, leaving the leader's only slot taken and
// every later write hanging.
func TestClusterRefusesWhatTheLogCannotCarry(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	cl := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	long := api.RegisterECMRequest{ID: strings.Repeat("x", 200), Addr: "127.0.0.1:1"}
	if err := cl.RegisterECM(ctx, long); !errors.Is(err, linkis.ErrMalformed) && !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("an ECM id of 200 bytes: %v, want it refused as bad input", err)
	}
	if err := cl.RegisterECM(ctx, api.RegisterECMRequest{ID: "ecm-1", Addr: "127.0.0.1:1"}); err != nil {
		t.Fatalf("the next write: %v (the leader is wedged)", err)
	}
}

// askRetrying asks with the same id until the cluster answers something
// other than a retryable error (a leader lost to a loaded machine's
// missed heartbeats), for up to 10 s: asks are idempotent by id.
func askRetrying(ctx context.Context, cl *api.Client, req api.AskRequest) (api.AskResult, error) {
	return retrying(func() (api.AskResult, error) { return cl.Ask(ctx, req) })
}

// releaseRetrying releases an ask, asking again while the answer is
// retryable (a loaded machine can cost the leader its lease; a release is
// idempotent by ask id).
// A try after one whose answer was lost may find the ask already
// released by it: that is the release done.
func releaseRetrying(ctx context.Context, cl *api.Client, id string) (api.AskResult, error) {
	tries := 0
	return retrying(func() (api.AskResult, error) {
		tries++
		a, err := cl.Release(ctx, id)
		if tries > 1 && errors.Is(err, linkis.ErrUnknownAsk) {
			return api.AskResult{AskID: id, Status: "Done"}, nil
		}
		return a, err
	})
}

func retrying(call func() (api.AskResult, error)) (api.AskResult, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := call()
		if err == nil || !linkis.IsRetryable(err) || time.Now().After(deadline) {
			return a, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
