//go:build soak

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// TestSoakManagerCluster (make soak) runs three `linkis manager`
// processes on loopback under load and kill -9s the leader again and
// again; every restart must rejoin and nothing acknowledged may be lost.
// LINKIS_SOAK_DURATION sets how long (default 60s), LINKIS_SOAK_STORE the
// members' --log-store (default: theirs), LINKIS_SOAK_CLIENTS how many
// clients write at once (default 32).
func TestSoakManagerCluster(t *testing.T) {
	duration := time.Minute
	if v := os.Getenv("LINKIS_SOAK_DURATION"); v != "" {
		var err error
		if duration, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	clients := 32
	if v := os.Getenv("LINKIS_SOAK_CLIENTS"); v != "" {
		var err error
		if clients, err = strconv.Atoi(v); err != nil || clients < 1 {
			t.Fatalf("LINKIS_SOAK_CLIENTS=%q: want a positive count", v)
		}
	}
	var storeFlag []string
	if v := os.Getenv("LINKIS_SOAK_STORE"); v != "" {
		storeFlag = []string{"--log-store", v}
	}
	const token = "soak-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "linkis")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ecm := fakeECM(token)
	defer ecm.Close()

	type proc struct {
		id, raft, http, dir string
		cmd                 *exec.Cmd
	}
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	procs := make([]*proc, 3)
	var urls []string
	for i := range procs {
		procs[i] = &proc{id: fmt.Sprintf("m%d", i+1), raft: free(), http: free(), dir: filepath.Join(dir, fmt.Sprintf("m%d", i+1))}
		urls = append(urls, "http://"+procs[i].http)
	}
	start := func(p *proc, extra ...string) {
		args := append([]string{"manager", "--id", p.id, "--data-dir", p.dir, "--raft-addr", p.raft, "--http-addr", p.http,
			"--token-file", tokenFile, "--heartbeat-timeout", "300ms", "--election-timeout", "300ms", "--lease-timeout", "150ms"}, storeFlag...)
		args = append(args, extra...)
		p.cmd = exec.Command(bin, args...)
		log, err := os.OpenFile(p.dir+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd.Stderr = log
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	client, err := api.NewClient(urls, token, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	statusOf := func(p *proc) (api.Status, error) {
		c, _ := api.NewClient([]string{"http://" + p.http}, token, &http.Client{Timeout: 2 * time.Second})
		return c.Status(ctx)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	start(procs[0], "--bootstrap")
	waitFor("the first member to lead", func() bool { st, err := statusOf(procs[0]); return err == nil && st.State == "Leader" })
	for _, p := range procs[1:] {
		start(p, "--join", urls[0])
	}
	waitFor("three members", func() bool { st, err := statusOf(procs[0]); return err == nil && len(st.Members) == 3 })
	retry := func(f func() error) error {
		for {
			err := f()
			if err == nil || !linkis.IsRetryable(err) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := retry(func() error {
		return client.RegisterECM(ctx, api.RegisterECMRequest{ID: "ecm-1", Addr: ecm.Listener.Addr().String(),
			Max: &api.Resource{Memory: 1 << 40, MilliCores: 1 << 30, Instances: 100000}})
	}); err != nil && !errors.Is(err, linkis.ErrDuplicate) {
		t.Fatal(err)
	}

	// Load: each client asks for an engine and releases it (keeping a few),
	// retrying the same call (asks are idempotent by id) until it has an
	// answer.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var mu sync.Mutex
	held, released := map[string]string{}, map[string]bool{}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kept := 0 // asks this client holds on to: at most 8, within the default quota of 10 per user
			for j := 0; loadCtx.Err() == nil; j++ {
				id := fmt.Sprintf("c%d-%d", c, j)
				var a api.AskResult
				err := retry(func() (err error) {
					a, err = client.Ask(loadCtx, api.AskRequest{ID: id, WaitMs: 2000,
						Labels: map[string]string{"userCreator": fmt.Sprintf("u%d-soak", c), "engineType": "shell-1"}})
					return err
				})
				if err != nil || a.Status != "Granted" {
					continue
				}
				mu.Lock()
				held[id] = a.Token
				mu.Unlock()
				if j%10 == 0 && kept < 8 {
					kept++
					continue
				}
				tries := 0
				err = retry(func() error { tries++; _, err := client.Release(loadCtx, id); return err })
				mu.Lock()
				delete(held, id)
				if err == nil || (errors.Is(err, linkis.ErrUnknownAsk) && tries > 1) {
					released[id] = true
				}
				mu.Unlock()
			}
		}()
	}

	// Chaos: kill -9 the leader, restart it from its directory, repeat.
	kills := 0
	for end := time.Now().Add(duration); time.Now().Before(end); {
		time.Sleep(2 * time.Second)
		var leader *proc
		waitFor("a leader", func() bool {
			for _, p := range procs {
				if st, err := statusOf(p); err == nil && st.State == "Leader" {
					leader = p
					return true
				}
			}
			return false
		})
		if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = leader.cmd.Wait()
		kills++
		time.Sleep(500 * time.Millisecond)
		start(leader) // state on disk: neither --bootstrap nor --join
		waitFor(leader.id+" to rejoin", func() bool {
			st, err := statusOf(leader)
			return err == nil && st.Leader != "" && len(st.Members) == 3
		})
	}
	stopLoad()
	wg.Wait()

	// Every acknowledged grant and release is in the cluster's state.
	mu.Lock()
	defer mu.Unlock()
	for id, token := range held {
		var a api.AskResult
		if err := retry(func() (err error) { a, err = client.GetAsk(ctx, id, 0); return err }); err != nil || a.Status != "Granted" || a.Token != token {
			t.Errorf("acknowledged ask %s: %+v, %v; want Granted with token %s", id, a, err, token)
		}
	}
	for id := range released {
		var a api.AskResult
		err := retry(func() (err error) { a, err = client.GetAsk(ctx, id, 0); return err })
		if err == nil && a.Status != "Done" {
			t.Errorf("acknowledged release of %s lost: %+v", id, a)
		}
	}
	// Every member agrees, then stops cleanly on SIGINT.
	waitFor("members to agree", func() bool {
		var idx []uint64
		for _, p := range procs {
			st, err := statusOf(p)
			if err != nil {
				return false
			}
			idx = append(idx, st.AppliedIndex)
		}
		return idx[0] == idx[1] && idx[1] == idx[2]
	})
	for _, p := range procs {
		_ = p.cmd.Process.Signal(os.Interrupt)
	}
	for _, p := range procs {
		if err := p.cmd.Wait(); err != nil {
			t.Errorf("%s on SIGINT: %v (want a clean exit)", p.id, err)
		}
	}
	t.Logf("%d leader kills under %d clients (log store %q); %d asks held and %d released, all present", kills, clients, os.Getenv("LINKIS_SOAK_STORE"), len(held), len(released))
}

// fakeECM answers launches with a running engine at a made-up address.
func fakeECM(token string) *httptest.Server {
	var mu sync.Mutex
	next := 0
	addrs := map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+api.PathLaunch, func(w http.ResponseWriter, r *http.Request) {
		var req api.LaunchRequest
		if err := api.DecodeBody(w, r, api.MaxLaunchBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		mu.Lock()
		addr, ok := addrs[req.Ticket]
		if !ok {
			next++
			addr = "127.2.0.1:" + strconv.Itoa(1024+next)
			addrs[req.Ticket] = addr
		}
		mu.Unlock()
		api.WriteJSON(w, http.StatusOK, api.LaunchResponse{EC: req.Ticket, State: api.ECRunning, Addr: addr})
	})
	mux.HandleFunc("POST "+api.PathKill, func(w http.ResponseWriter, r *http.Request) {
		var req api.KillRequest
		if err := api.DecodeBody(w, r, api.MaxBodyBytes, &req); err != nil {
			api.WriteError(w, err)
			return
		}
		api.WriteJSON(w, http.StatusOK, api.KillResponse{EC: req.EC, State: api.ECExited})
	})
	return httptest.NewServer(api.RequireToken(token, mux))
}
