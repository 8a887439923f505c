package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/raftstore"
)

func loopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func sessionService(t *testing.T, sys *embedded.System, d *identity.Directory) *identity.Service {
	t.Helper()
	cfg := identity.DefaultConfig()
	cfg.Directory, cfg.Store = d, sys.Store()
	svc, err := identity.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func aliceDirectory(t *testing.T) *identity.Directory {
	t.Helper()
	h, err := identity.HashPassword("alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	d := identity.NewDirectory()
	if err := d.AddUser(identity.User{Name: "alice", Hash: h}); err != nil {
		t.Fatal(err)
	}
	return d
}

// eventually retries check until it passes or within passes: a member
// applies what the leader committed a moment later, a cluster elects a
// new leader in a few timeouts (more on a loaded machine).
func eventually(t *testing.T, what string, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A login made through one member of a cluster is good on every member at
// once, ends everywhere at logout, and outlives the death of the member
// that made it - the leader, here.
func TestSessionsOnEveryMember(t *testing.T) {
	token := "session-test-cluster-token-0123"
	var members []*embedded.System
	var first string
	for i := 0; i < 3; i++ {
		m := &embedded.Member{ID: fmt.Sprintf("s%d", i+1), RaftAddr: loopbackPort(t), HTTPAddr: loopbackPort(t), Token: token,
			Bootstrap: i == 0, NoECM: true, Raft: func(c *raftstore.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
			}}
		if i == 0 {
			first = "http://" + m.HTTPAddr
		} else {
			m.Join = []string{first}
		}
		sys, err := embedded.Start(embedded.Config{DataDir: t.TempDir(), Member: m})
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, sys)
	}
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	d := aliceDirectory(t)
	svcs := make([]*identity.Service, len(members))
	for i, m := range members {
		svcs[i] = sessionService(t, m, d)
	}
	ctx := context.Background()
	// Logged in through the leader (the first member bootstrapped), used
	// at once on the followers.
	s, err := svcs[0].Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		if u, err := svcs[i].Check(ctx, s.ID); err != nil || u != "alice" {
			t.Fatalf("member %d right after the login: %q, %v", i+1, u, err)
		}
	}
	// A login through a follower is passed to the leader and good on all.
	s2, err := svcs[2].Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcs[0].Check(ctx, s2.ID); err != nil {
		t.Fatalf("the leader, a session made through a follower: %v", err)
	}
	// Logout through a follower ends it everywhere.
	if err := svcs[1].Logout(ctx, s2.ID); err != nil {
		t.Fatal(err)
	}
	for i := range svcs {
		eventually(t, fmt.Sprintf("member %d after the logout", i+1), 5*time.Second, func() error {
			if _, err := svcs[i].Check(ctx, s2.ID); !errors.Is(err, linkis.ErrPermission) {
				return fmt.Errorf("the session still works (%v)", err)
			}
			return nil
		})
	}
	// The leader dies: the session holds on the others, and a new login
	// works once they elect a leader.
	members[0].Close()
	for i := 1; i < 3; i++ {
		if _, err := svcs[i].Check(ctx, s.ID); err != nil {
			t.Fatalf("member %d after the leader died: %v", i+1, err)
		}
	}
	eventually(t, "a login after the leader died", time.Minute, func() error {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		s3, err := svcs[1].Login(lctx, "alice", "alice-pw", "127.0.0.1:1")
		if err != nil {
			return err
		}
		_, err = svcs[2].Check(ctx, s3.ID)
		return err
	})
}

// A session outlives a restart of a durable system.
func TestSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	d := aliceDirectory(t)
	sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := sessionService(t, sys, d).Login(ctx, "alice", "alice-pw", "127.0.0.1:1")
	sys.Close()
	if err != nil {
		t.Fatal(err)
	}
	sys, err = embedded.Start(embedded.Config{DataDir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if u, err := sessionService(t, sys, d).Check(ctx, s.ID); err != nil || u != "alice" {
		t.Fatalf("after a restart: %q, %v", u, err)
	}
}
