package raftstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// runningMember is a RunMember in a goroutine.
type runningMember struct {
	cfg    MemberConfig
	cancel context.CancelFunc
	done   chan error
	err    error // what RunMember returned, once stopped
	ended  bool
	node   *Node // set when ready
}

func startMember(t *testing.T, cfg MemberConfig) *runningMember {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	m := &runningMember{cancel: cancel, done: make(chan error, 1)}
	cfg.Ready = func(n *Node) { m.node = n; close(ready) }
	m.cfg = cfg
	go func() { m.done <- RunMember(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-m.done:
		m.ended = true
		t.Fatalf("member %s: %v", cfg.Node.ID, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("member %s never became ready", cfg.Node.ID)
	}
	return m
}

// stop ends the member as Ctrl-C would and returns what RunMember did;
// stopping it again returns the same.
func (m *runningMember) stop() error {
	m.cancel()
	if !m.ended {
		m.err, m.ended = <-m.done, true
	}
	return m.err
}

func TestRunMemberBootstrapJoinRestart(t *testing.T) {
	base := testConfig()
	member := func(i int, dir string) MemberConfig {
		cfg := MemberConfig{Node: base, Token: testToken}
		cfg.Node.ID, cfg.Node.DataDir = fmt.Sprintf("m%d", i), dir
		cfg.Node.RaftAddr, cfg.Node.HTTPAddr = freeAddr(t), freeAddr(t)
		cfg.Node.ECMs = &FakeECMs{}
		return cfg
	}
	first := member(1, t.TempDir())
	first.Bootstrap = true
	ms := []*runningMember{startMember(t, first)}
	url := "http://" + first.Node.HTTPAddr
	for i := 2; i <= 3; i++ {
		cfg := member(i, t.TempDir())
		cfg.Join = []string{url}
		ms = append(ms, startMember(t, cfg))
	}
	defer func() {
		for _, m := range ms {
			if m != nil {
				m.stop()
			}
		}
	}()
	cl, err := api.NewClient([]string{url}, testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitMembers := func(want int) api.Status {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := cl.Status(context.Background())
			if err == nil && len(st.Members) == want && st.Leader != "" {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %+v, %v: want %d members and a leader", st, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitMembers(3)
	// A member stopped as by Ctrl-C shuts down cleanly and, restarted from
	// its directory with neither flag, rejoins by itself - once it holds
	// the cluster's log: one stopped before any entry reached it has
	// nothing on disk to rejoin with.
	third := ms[2].cfg
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ms[2].node.HasState() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the third member received no entry in 10 s")
		}
	}
	if err := ms[2].stop(); err != nil {
		t.Fatalf("clean shutdown: %v", err)
	}
	third.Join = nil
	third.Node.HTTPAddr = freeAddr(t) // its API moves: the cluster must learn where
	ms[2] = startMember(t, third)
	waitMembers(3)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st, err := cl.Status(context.Background())
		moved := false
		for _, m := range st.Members {
			moved = moved || (m.ID == "m3" && m.HTTPAddr == third.Node.HTTPAddr)
		}
		if err == nil && moved {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster never recorded the restarted member's new API address %s: %+v, %v", third.Node.HTTPAddr, st.Members, err)
		}
	}
	// It serves writes again (forwarded to the leader).
	c3, _ := api.NewClient([]string{"http://" + third.Node.HTTPAddr}, testToken, nil)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := c3.Status(context.Background()); err == nil && st.LeaderHTTP != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted member never learned the leader")
		}
	}
	if err := c3.RegisterECM(context.Background(), api.RegisterECMRequest{ID: "ecm-x", Addr: "127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
}

func TestRunMemberRefusesBadConfigs(t *testing.T) {
	good := MemberConfig{Node: testConfig(), Token: testToken}
	good.Node.ID, good.Node.DataDir, good.Node.RaftAddr, good.Node.HTTPAddr = "m1", t.TempDir(), freeAddr(t), freeAddr(t)
	for _, c := range []struct {
		name   string
		mutate func(*MemberConfig)
		field  string
	}{
		{"no token", func(c *MemberConfig) { c.Token = "" }, "token"},
		{"both bootstrap and join", func(c *MemberConfig) { c.Bootstrap, c.Join = true, []string{"http://127.0.0.1:1"} }, "join"},
		{"neither bootstrap nor join", func(c *MemberConfig) {}, "join"},
		{"no id", func(c *MemberConfig) { c.Node.ID = "" }, "ID"},
		{"bad raft address", func(c *MemberConfig) { c.Node.RaftAddr = "nowhere" }, "RaftAddr"},
		{"lease longer than heartbeat", func(c *MemberConfig) { c.Node.LeaderLeaseTimeout = time.Hour }, "LeaderLeaseTimeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.mutate(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := RunMember(ctx, cfg)
			var le *linkis.Error
			if !errors.As(err, &le) || le.Field != c.field {
				t.Fatalf("RunMember: %v, want an error about %s", err, c.field)
			}
		})
	}
}

// TestRunMemberStopsDespiteALongPoll: a caller waiting for an ask's outcome
// does not hold the member's shutdown for its whole wait.
func TestRunMemberStopsDespiteALongPoll(t *testing.T) {
	cfg := MemberConfig{Node: testConfig(), Token: testToken, Bootstrap: true}
	cfg.Node.ID, cfg.Node.DataDir, cfg.Node.RaftAddr, cfg.Node.HTTPAddr = "m1", t.TempDir(), freeAddr(t), freeAddr(t)
	cfg.Node.ECMs = &FakeECMs{Launched: func(r api.LaunchRequest) (api.LaunchResponse, error) {
		return api.LaunchResponse{EC: r.Ticket, State: api.ECStarting}, nil // never comes up
	}}
	m := startMember(t, cfg)
	cl, _ := api.NewClient([]string{"http://" + cfg.Node.HTTPAddr}, testToken, nil)
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := cl.RegisterECM(ctx, api.RegisterECMRequest{ID: "ecm-1", Addr: "127.0.0.1:9"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	req := askReq("a1", "alice")
	req.WaitMs = 0
	if a, err := cl.Ask(ctx, req); err != nil || a.Status != "Pending" {
		t.Fatalf("ask: %+v, %v", a, err)
	}
	polled := make(chan error, 1)
	go func() { _, err := cl.GetAsk(ctx, "a1", time.Minute); polled <- err }()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	if err := m.stop(); err != nil {
		t.Fatalf("RunMember with a long poll open: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v with a long poll open", d)
	}
	<-polled
}
