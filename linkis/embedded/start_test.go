package embedded_test

import (
	"encoding/json"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// A durable Start that fails half-way (the ECM's sticky port is taken)
// stops what it had started: the next Start gets the manager's port back.
func TestFailedStartReleasesTheManager(t *testing.T) {
	dir := t.TempDir()
	sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "ecm.addr"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true}); err == nil || sys != nil {
		t.Fatalf("start with the ECM's port taken: %v %v", sys, err)
	}
	ln.Close()
	sys, err = embedded.Start(embedded.Config{DataDir: dir, Durable: true})
	if err != nil {
		t.Fatalf("start after a failed start: %v", err)
	}
	if err := sys.Close(); err != nil {
		t.Fatal(err)
	}
}

// A Start that fails removes the temporary data directory it made.
func TestFailedStartRemovesItsTempDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	_, err := embedded.Start(embedded.Config{ECM: func(c *ecm.Config) { c.ID = "" }})
	if err == nil {
		t.Fatal("an ECM without an id started")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in the temporary directory: %v", left)
	}
}

// A durable system's token file is readable by its user only, even when
// it was found with a looser mode.
func TestDurableTokenFileIsPrivate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	for _, start := range []string{"loose", "short and loose"} {
		content := strings.Repeat("ab", 24) + "\n"
		if start == "short and loose" {
			content = "x\n"
		}
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chmod(file, 0o644)
		sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
		if err != nil {
			t.Fatal(err)
		}
		sys.Close()
		if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: token file mode %v %v", start, fi.Mode(), err)
		}
	}
}

// A port file cut short (or naming no loopback port) is replaced by a new
// loopback port rather than followed: "" would listen on every interface.
func TestDurableBadPortFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manager.addr"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "ecm.addr"), []byte("0.0.0.0:0\n"), 0o600)
	sys, err := embedded.Start(embedded.Config{DataDir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	for _, f := range []string{"manager.addr", "ecm.addr"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		host, port, err := net.SplitHostPort(strings.TrimSpace(string(b)))
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("%s holds %q", f, b)
		}
	}
}

// Every path but /metrics gets the API's envelope, an unclean one too
// (http.ServeMux would answer it with a bare redirect).
func TestHandlerEnvelopeOnUncleanPaths(t *testing.T) {
	sys, err := embedded.Start(embedded.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	cfg := restapi.DefaultConfig()
	cfg.Users = map[string]string{"alice": "a"}
	h, err := sys.Handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/rest_j/v1//entrance/submit", "/api/rest_j/v1/entrance/x/../submit", "/nowhere"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "http://h/", strings.NewReader("{}"))
		r.URL.Path = p
		r.Header.Set(restapi.HeaderTokenUser, "alice")
		r.Header.Set(restapi.HeaderTokenCode, "a")
		h.ServeHTTP(w, r)
		var env restapi.Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Method != p {
			t.Errorf("%s: HTTP %d %q: not an envelope", p, w.Code, w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), "linkis_") {
		t.Errorf("/metrics: HTTP %d", w.Code)
	}
}
