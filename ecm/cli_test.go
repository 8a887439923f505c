package ecm_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/raftstore"
)

// The real `linkis ecm` command: it registers, serves an ask end to end
// with a real engine, and on SIGTERM stops its engines, deregisters and
// exits 0.
func TestLinkisECMCommand(t *testing.T) {
	mcfg := raftstore.DefaultMemoryConfig()
	mcfg.Manager.NewECMStandby = 0
	mcfg.ECMs = api.NewECMClient(clusterToken, nil)
	mcfg.Reconciler.Interval = 50 * time.Millisecond
	mem, err := raftstore.OpenMemory(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	h, err := raftstore.NewHandler(mem, raftstore.HandlerConfig{Token: clusterToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	var out bytes.Buffer
	cmd := exec.Command(linkisBin, "ecm", "--manager", srv.URL, "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0",
		"--id", "ecm-cli", "--allow-root-engines", "--memory", "8g", "--cores", "4", "--instances", "5", "--label", "yarnCluster=local")
	cmd.Env = append(cmd.Environ(), "LINKIS_TOKEN="+clusterToken)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	client, _ := api.NewClient([]string{srv.URL}, clusterToken, nil)
	c := &cluster{t: t, mem: mem, client: client}
	c.waitState("the ECM to register", func(s *manager.State) bool {
		m, ok := s.ECM("ecm-cli")
		return ok && m.Ledger.Max.Memory == 8<<30 && m.Ledger.Max.Instances == 5
	})
	g := c.mustAsk(labels("shell-5"), nil)
	if st := run(t, g, "echo via the cli"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("linkis ecm exited with %v:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("linkis ecm did not stop:\n%s", out.String())
	}
	c.state(func(s *manager.State) {
		if _, ok := s.ECM("ecm-cli"); ok {
			t.Error("the ECM is still registered after it stopped")
		}
		if n := len(s.ECs()); n != 0 {
			t.Errorf("%d engines left", n)
		}
	})

	// Bad flags: a clear error, exit 1, nothing started.
	for _, args := range [][]string{
		{"ecm", "--data-dir", t.TempDir()},
		{"ecm", "--manager", srv.URL},
		{"ecm", "--manager", srv.URL, "--data-dir", t.TempDir(), "--token-file", filepath.Join(t.TempDir(), "none")},
		{"ecm", "--manager", srv.URL, "--data-dir", t.TempDir(), "--memory", "lots"},
	} {
		bad := exec.Command(linkisBin, args...)
		bad.Env = []string{"PATH=/usr/bin:/bin", "LINKIS_TOKEN=x"}
		msg, err := bad.CombinedOutput()
		if err == nil || !strings.Contains(string(msg), "linkis:") {
			t.Errorf("%v: %v %s", args, err, msg)
		}
	}
	// engineconn outside an ECM: refused with the reason.
	msg, err := exec.CommandContext(context.Background(), linkisBin, "engineconn", "--ticket", "ec-1", "--engine", "shell-1").CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "manager") {
		t.Errorf("engineconn by hand: %v %s", err, msg)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// An ECM that dies (kill -9) leaves its engines running; restarted with
// the same id, address and data directory it adopts them: they keep
// serving, a kill through the manager reaches them, and their ends are
// reported.
func TestRestartedECMAdoptsItsEngines(t *testing.T) {
	mcfg := raftstore.DefaultMemoryConfig()
	mcfg.Manager.NewECMStandby = 0
	mcfg.ECMs = api.NewECMClient(clusterToken, nil)
	mcfg.Reconciler.Interval = 50 * time.Millisecond
	mem, err := raftstore.OpenMemory(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	h, _ := raftstore.NewHandler(mem, raftstore.HandlerConfig{Token: clusterToken})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client, _ := api.NewClient([]string{srv.URL}, clusterToken, nil)
	c := &cluster{t: t, mem: mem, client: client}

	data, addr := t.TempDir(), freeAddr(t)
	startECM := func() *exec.Cmd {
		cmd := exec.Command(linkisBin, "ecm", "--manager", srv.URL, "--data-dir", data, "--http-addr", addr, "--id", "ecm-r", "--allow-root-engines")
		cmd.Env = append(cmd.Environ(), "LINKIS_TOKEN="+clusterToken) // never on the command line
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	first := startECM()
	c.waitState("the ECM to register", func(s *manager.State) bool { _, ok := s.ECM("ecm-r"); return ok })
	g1 := c.mustAsk(labels("shell-5"), nil)
	g2 := c.mustAsk(labels("python-3"), nil)
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	if st := run(t, g1, "echo orphaned but serving"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	startECM()
	// The new ECM answers launches of the adopted tickets with their engines.
	ecmc := api.NewECMClient(clusterToken, nil)
	deadline := time.Now().Add(10 * time.Second)
	var r api.LaunchResponse
	for time.Now().Before(deadline) {
		if r, err = ecmc.Kill(context.Background(), addr, api.KillRequest{EC: "ec-99"}); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || r.State != api.ECUnknown {
		t.Fatalf("the restarted ECM: %+v %v", r, err)
	}
	if st := run(t, g2, "print('still', 'here')"); st.State != api.TaskSuccess {
		t.Fatalf("%+v", st)
	}
	// A kill through the manager reaches the adopted engine.
	if err := client.KillEngine(context.Background(), api.ECKillRequest{EC: g1.EC}); err != nil {
		t.Fatal(err)
	}
	id1, _ := manager.ParseECID(g1.EC)
	c.waitState("the killed engine to be gone", func(s *manager.State) bool { _, ok := s.EC(id1); return !ok })
	rec, _ := os.ReadFile(filepath.Join(data, g1.EC, "work", "engineconn.exit"))
	if strings.TrimSpace(string(rec)) != "ok" {
		t.Fatalf("the orphaned engine's exit record %q: it must survive its broken output pipe and exit cleanly", rec)
	}
	// kill -9 of an adopted engine is noticed and reported.
	pidb, _ := os.ReadFile(filepath.Join(data, g2.EC, ecm.PIDFile))
	var pid int
	fmt.Sscanf(string(pidb), "%d", &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	id2, _ := manager.ParseECID(g2.EC)
	c.waitState("the kill -9'd engine to be released", func(s *manager.State) bool { _, ok := s.EC(id2); return !ok })
	c.state(func(s *manager.State) {
		m, _ := s.ECM("ecm-r")
		if !m.Ledger.Used.IsZero() || !m.Ledger.Locked.IsZero() {
			t.Errorf("ledger after both ends: %+v", m.Ledger)
		}
	})
}
