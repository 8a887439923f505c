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
