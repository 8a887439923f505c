package ecm_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
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
		"--id", "ecm-cli", "--memory", "8g", "--cores", "4", "--instances", "5", "--label", "yarnCluster=local")
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
		{"ecm", "--data-dir", t.TempDir(), "--token", "x"},
		{"ecm", "--manager", srv.URL, "--token", "x"},
		{"ecm", "--manager", srv.URL, "--data-dir", t.TempDir()},
		{"ecm", "--manager", srv.URL, "--data-dir", t.TempDir(), "--token", "x", "--memory", "lots"},
	} {
		bad := exec.Command(linkisBin, args...)
		bad.Env = []string{"PATH=/usr/bin:/bin"}
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
