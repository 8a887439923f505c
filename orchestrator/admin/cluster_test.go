package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

// member is one server of an in-process cluster, with its addresses and
// data directory kept for a restart.
type member struct {
	m   embedded.Member
	dir string
	sys *embedded.System
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (mb *member) start() error {
	capacity := linkis.Resource{Memory: 32 * linkis.GiB, MilliCores: 32_000, Instances: 20}
	mc := manager.DefaultConfig()
	mc.TickInterval, mc.NewECMStandby = time.Second, 0
	sys, err := embedded.Start(embedded.Config{DataDir: mb.dir, Member: &mb.m, Capacity: &capacity, Manager: &mc, Logger: quiet})
	if err != nil {
		return fmt.Errorf("member %s: %w", mb.m.ID, err)
	}
	mb.sys = sys
	_, err = sys.Handler(restapi.Config{Users: codes, Admins: []string{"ops"}, Logger: quiet})
	return err
}

func (mb *member) client(t *testing.T, user string) *restapi.Client {
	t.Helper()
	c, err := restapi.NewClient("http://"+mb.m.HTTPAddr, user, codes[user], nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startCluster starts three members in this process: the first
// bootstraps and runs the only ECM, the others join. The caller closes
// them.
func startCluster(t *testing.T) (ms []*member) {
	t.Helper()
	for i := range 3 {
		mb := &member{dir: t.TempDir(), m: embedded.Member{ID: fmt.Sprintf("m%d", i+1), RaftAddr: freeAddr(t), HTTPAddr: freeAddr(t),
			Token: "cluster-test-token-0123456789", Bootstrap: i == 0, NoECM: i > 0, Raft: func(c *raftstore.Config) {
				c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 500*time.Millisecond, 500*time.Millisecond, 250*time.Millisecond
			}}}
		if i > 0 {
			mb.m.Join = []string{"http://" + ms[0].m.HTTPAddr}
		}
		ms = append(ms, mb)
		if err := mb.start(); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

// engineOf is the engine a job ran on.
func engineOf(ctx context.Context, c *restapi.Client, execID string) (string, error) {
	st, err := c.Wait(ctx, execID, nil)
	if err != nil || st.Status != "Succeed" {
		return "", fmt.Errorf("job %s: %+v %v", execID, st, err)
	}
	task, err := c.Job(ctx, st.TaskID)
	return task.EngineInstance, err
}

// twoAtOnce submits two jobs of user at once through two members and
// returns the engines they ran on.
func twoAtOnce(t *testing.T, ctx context.Context, a, b *restapi.Client, user string) [2]string {
	t.Helper()
	var out [2]string
	var wg sync.WaitGroup
	for i, c := range []*restapi.Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: "shell", Code: "sleep 1; echo " + user})
			if err != nil {
				t.Error(err)
				return
			}
			sub, err := c.Submit(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			if out[i], err = engineOf(ctx, c, sub.ExecID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return out
}

// An instance cap of 1 for a user, set through one member, is in force
// on every member and after every member restarted: the user's two jobs
// at once, submitted to two other members, share one engine, where
// another user's get two.
func TestConfigurationInForceOnEveryMemberAndAfterARestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of three in this process")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var ms []*member
	t.Cleanup(func() {
		for _, mb := range ms {
			if mb.sys != nil {
				mb.sys.Close()
			}
		}
	})
	ms = startCluster(t)
	level := restapi.ConfLevel{User: "alice", Creator: "IDE", EngineType: "shell"}
	// Through a member that does not lead (the third joined last): it
	// checks against the leader's state and passes the command on.
	if err := ms[2].client(t, "ops").SetConfigValue(ctx, level, manager.KeyInstance, "1"); err != nil {
		t.Fatal(err)
	}
	if err := ms[2].client(t, "alice").SetConfigValue(ctx, level, manager.KeyInstance, "7"); err == nil {
		t.Fatal("alice raised her own cap above the administrator's through a follower")
	}
	check := func(when string) {
		t.Helper()
		for _, mb := range ms {
			// The member's own state (a stale read): every replica holds it.
			waitFor(t, "member "+mb.m.ID+" to hold the cap", func() bool {
				return staleInForce(ctx, mb, manager.KeyInstance) == "1"
			})
		}
		alice := twoAtOnce(t, ctx, ms[1].client(t, "alice"), ms[2].client(t, "alice"), "alice")
		if alice[0] != alice[1] || alice[0] == "" {
			t.Fatalf("%s: alice's two jobs ran on %v: the cap of 1 is not in force", when, alice)
		}
		bob := twoAtOnce(t, ctx, ms[1].client(t, "bob"), ms[2].client(t, "bob"), "bob")
		if bob[0] == bob[1] {
			t.Fatalf("%s: bob's two jobs shared %v: the test cannot tell a cap from none", when, bob)
		}
	}
	check("before the restart")

	for _, mb := range ms {
		if err := mb.sys.Close(); err != nil {
			t.Fatalf("closing %s: %v", mb.m.ID, err)
		}
		mb.sys = nil
	}
	for _, mb := range ms {
		mb.m.Bootstrap, mb.m.Join = false, nil // its state on disk says where it belongs
	}
	// The members restart together: each waits for a quorum.
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, mb := range ms {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = mb.start() }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	check("after the restart")
}

// staleInForce is the value in force of key for alice's IDE shell-1
// engines in a member's own state (getFullTreesByAppName with
// stale=true, served from that member without asking the leader).
func staleInForce(ctx context.Context, mb *member, key string) string {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+mb.m.HTTPAddr+restapi.Prefix+restapi.PathFullTree+
		"?creator=IDE&engineType=shell&version=1&stale=true", nil)
	req.Header.Set(restapi.HeaderTokenUser, "alice")
	req.Header.Set(restapi.HeaderTokenCode, codes["alice"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var env struct {
		Data restapi.FullTreeData `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&env) != nil {
		return ""
	}
	for _, tr := range env.Data.FullTree {
		for _, kv := range tr.Settings {
			if kv.Key == key {
				return kv.ValueInForce
			}
		}
	}
	return ""
}
