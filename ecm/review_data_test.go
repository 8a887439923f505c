package ecm_test

// Reproducers of the data-facing security review (branch rev-data).

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/engineconn"
)

// TestReviewPlantedEngineAddressGetsTheClusterToken: the ECM takes a
// starting engine's address from work/engineconn.addr, the first time the
// file is there - in a directory of the engine's user. The engine is not
// the only process of that user: any other engine of theirs on the host
// (a shell job) can write the file of a new engine first, naming a port it
// listens on. The ECM then reports that address to the manager (the launch
// answer: EngineStarted) and, when a member asks for a live task log
// (hostdata.go's TaskLog, which trusts the address because "it was read
// before any task ran"), sends it the cluster token. Here the engine is a
// slow starter (bash sleeping) and the planting process runs as the
// engine's user, nobody.
func TestReviewPlantedEngineAddressGetsTheClusterToken(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get(api.HeaderToken))
		mu.Unlock()
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()

	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		// A data directory as a server has it: others may traverse it.
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for d := data; d != "/"; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
				os.Chmod(d, fi.Mode().Perm()|0o005)
			}
		}
		c.DataDir = data
	})
	req := bashLaunch("ec-1", "sleep 30")
	req.User = "nobody"
	if r, err := m.Launch(req); err != nil || r.State == api.ECExited {
		t.Fatalf("launch: %+v %v", r, err)
	}
	// Another process of nobody's plants the address.
	addr := srv.Listener.Addr().String()
	plant := exec.Command("runuser", "-u", "nobody", "--", "sh", "-c",
		`printf '%s\n' "$1" > "$2.tmp" && mv "$2.tmp" "$2"`, "sh", addr, filepath.Join(data, "ec-1", "work", engineconn.AddrFile))
	if out, err := plant.CombinedOutput(); err != nil {
		t.Fatalf("planting as nobody: %v %s", err, out)
	}
	var r api.LaunchResponse
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if r, _ = m.Engine("ec-1"); r.State == api.ECRunning {
			break
		}
	}
	if r.Addr == addr {
		t.Errorf("the ECM reports the engine running at the planted address %s (the manager records it: EngineStarted)", addr)
	}
	m.TaskLog(context.Background(), "ec-1", "t-1", 0, 10)
	mu.Lock()
	defer mu.Unlock()
	for _, h := range got {
		if h == "Bearer "+clusterToken {
			t.Errorf("the ECM sent the cluster token to the address a process of the engine's user planted")
		}
	}
}

// TestReviewPlantedAddressRacesARealEngine: the same against a real
// `linkis engineconn` python engine, whose session (python3) starts before
// it listens and writes its address: a process of the engine's user that
// merely polls for the new work directory wins.
func TestReviewPlantedAddressRacesARealEngine(t *testing.T) {
	var data string
	m, _, _ := directECM(t, func(c *ecm.Config) {
		data = filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{data, filepath.Dir(linkisBin)} {
			for ; d != "/"; d = filepath.Dir(d) {
				if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
					os.Chmod(d, fi.Mode().Perm()|0o005)
				}
			}
		}
		c.DataDir = data
	})
	const planted = "127.0.0.1:9"
	attacker := `
import os, sys, time
work = sys.argv[1]
deadline = time.time() + 20
while time.time() < deadline:
    try:
        fd = os.open(work + "/.x", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError:
        continue
    os.write(fd, (sys.argv[2] + "\n").encode()); os.close(fd)
    os.rename(work + "/.x", work + "/engineconn.addr")
    break
`
	work := filepath.Join(data, "ec-1", "work")
	py := exec.Command("/usr/bin/python3", "-c", attacker, work, planted)
	py.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { py.Process.Kill(); py.Wait() }()
	r, err := m.Launch(api.LaunchRequest{Ticket: "ec-1", EngineType: "python-3", User: "nobody", Command: "linkis",
		Args: []string{"engineconn", "--ticket", "ec-1", "--engine", "python-3"}, Resource: api.Resource{Memory: 1 << 20, MilliCores: 100, Instances: 1}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); r.State == api.ECStarting && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		r, _ = m.Engine("ec-1")
	}
	t.Logf("the ECM says: %+v", r)
	if r.Addr == planted {
		t.Errorf("the ECM took the address a process of the engine's user planted (%s) for the real engine's", planted)
	}
}
