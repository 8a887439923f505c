package restapi_test

// The conformance suite: one table-driven test per Linkis client -
// linkis-cli (conformance_cli_test.go), the Java SDK's actions
// (conformance_sdk_test.go) and the management console
// (conformance_console_test.go) - each sending exactly what that client
// sends (paths, parameters, bodies, credentials, read from Apache
// Linkis's own client code; each step names its file) and asserting on
// exactly what it reads, with the JSON types it reads them as. They run
// against a real system: a manager, an ECM starting real engine processes,
// the entrance and this API with logins kept in the replicated state.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

func TestMain(m *testing.M) {
	embedded.ServeEngine()
	code := m.Run()
	if sharedServer != nil {
		sharedServer.close()
	}
	os.Exit(code)
}

// Who the conformance server knows: alice and bob log in with passwords
// (ops too, an administrator), and LINKIS_CLI_TEST - the token the SDK's
// LinkisJobClient sends by default - may act as alice or bob from
// loopback only.
const (
	alicePassword = "alice-pw-1"
	bobPassword   = "bob-pw-2"
	opsPassword   = "ops-pw-3"
	cliTestToken  = "LINKIS_CLI_TEST"
)

type server struct {
	sys  *embedded.System
	srv  *httptest.Server
	auth *identity.Service
}

func (s *server) close() {
	s.srv.Close()
	s.sys.Close()
}

var (
	sharedServer *server
	sharedOnce   sync.Once
	sharedErr    error
)

// conformanceServer returns the server the conformance tests share (it
// is closed by TestMain).
func conformanceServer(t testing.TB) *server {
	t.Helper()
	sharedOnce.Do(func() { sharedServer, sharedErr = startServer() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedServer
}

func startServer() (*server, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sys, err := embedded.Start(embedded.Config{Logger: log})
	if err != nil {
		return nil, err
	}
	d := identity.NewDirectory()
	for user, pw := range map[string]string{"alice": alicePassword, "bob": bobPassword, "ops": opsPassword} {
		h, err := identity.HashPassword(pw)
		if err != nil {
			sys.Close()
			return nil, err
		}
		if err := d.AddUser(identity.User{Name: user, Hash: h}); err != nil {
			sys.Close()
			return nil, err
		}
	}
	loopback, err := identity.ReadDirectory(strings.NewReader(fmt.Sprintf("token sha256:%x users=alice,bob hosts=127.0.0.1,::1\n",
		identity.HashCode(cliTestToken))), "tokens")
	if err == nil {
		err = d.Merge(loopback)
	}
	if err != nil {
		sys.Close()
		return nil, err
	}
	ic := identity.DefaultConfig()
	ic.Directory, ic.Store, ic.Logger = d, sys.Store(), log
	ic.MaxUserFailures, ic.MaxAddrFailures = 1000, 1000 // the suite logs in a lot; limits have their own tests
	auth, err := identity.New(ic)
	if err != nil {
		sys.Close()
		return nil, err
	}
	rc := restapi.DefaultConfig()
	rc.Auth, rc.Admins, rc.Logger = auth, []string{"ops"}, log
	h, err := sys.Handler(rc)
	if err != nil {
		sys.Close()
		return nil, err
	}
	return &server{sys: sys, srv: httptest.NewServer(h), auth: auth}, nil
}

// client is an HTTP client as a Linkis client is one: a cookie store (the
// SDK's BasicCookieStore, a browser's), and headers it adds to every call.
type client struct {
	t       testing.TB
	base    string
	hc      *http.Client
	headers map[string]string
}

func (s *server) newClient(t testing.TB, headers map[string]string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: s.srv.URL, hc: &http.Client{Jar: jar, Timeout: time.Minute}, headers: headers}
}

// answer is an envelope decoded loosely, as Linkis's clients decode it
// (Jackson into maps): numbers float64, objects maps.
type answer struct {
	http    int
	header  http.Header
	raw     []byte
	Method  string         `json:"method"`
	Status  any            `json:"status"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// do sends one request: a body given as a string is sent as JSON.
func (c *client) do(method, path string, query url.Values, body string) answer {
	c.t.Helper()
	u := c.base + restapi.Prefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{http: resp.StatusCode, header: resp.Header, raw: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a); err != nil {
			c.t.Fatalf("%s %s: not an envelope: %v\n%s", method, path, err, b)
		}
	}
	return a
}

// status is the envelope's status as the SDK reads it
// (resultMap.get("status").asInstanceOf[Int]): a JSON integer.
func (a answer) status(t testing.TB) int {
	t.Helper()
	f, ok := a.Status.(float64)
	if !ok || f != float64(int(f)) {
		t.Fatalf("status %#v is not a JSON integer:\n%s", a.Status, a.raw)
	}
	return int(f)
}

// ok asserts status 0 and HTTP 200 (the SDK's DWSResult throws on
// another status; its downloads need 200).
func (a answer) ok(t testing.TB) {
	t.Helper()
	if s := a.status(t); s != 0 || a.http != 200 {
		t.Fatalf("status %d HTTP %d, want 0 and 200: %s", s, a.http, a.raw)
	}
}

// The JSON types Linkis's clients read fields as.
func str(t testing.TB, m map[string]any, k string) string {
	t.Helper()
	v, ok := m[k].(string)
	if !ok {
		t.Fatalf("%s is %#v, want a JSON string (in %v)", k, m[k], m)
	}
	return v
}

func num(t testing.TB, m map[string]any, k string) float64 {
	t.Helper()
	v, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s is %#v, want a JSON number (in %v)", k, m[k], m)
	}
	return v
}

// long is a number Jackson reads as a Java long (asInstanceOf[Long]):
// an integer beyond int's range, as Unix milliseconds are.
func long(t testing.TB, m map[string]any, k string) int64 {
	t.Helper()
	f := num(t, m, k)
	if f != float64(int64(f)) || f <= 1<<31 {
		t.Fatalf("%s is %v, want an integer a Java long holds (> 2^31, as milliseconds are)", k, f)
	}
	return int64(f)
}

func integer(t testing.TB, m map[string]any, k string) int {
	t.Helper()
	f := num(t, m, k)
	if f != float64(int(f)) {
		t.Fatalf("%s is %v, want a JSON integer", k, f)
	}
	return int(f)
}

func boolean(t testing.TB, m map[string]any, k string) bool {
	t.Helper()
	v, ok := m[k].(bool)
	if !ok {
		t.Fatalf("%s is %#v, want a JSON boolean", k, m[k])
	}
	return v
}

func obj(t testing.TB, m map[string]any, k string) map[string]any {
	t.Helper()
	v, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("%s is %#v, want a JSON object", k, m[k])
	}
	return v
}

func list(t testing.TB, m map[string]any, k string) []any {
	t.Helper()
	v, ok := m[k].([]any)
	if !ok {
		t.Fatalf("%s is %#v, want a JSON array", k, m[k])
	}
	return v
}

// strings4 is Linkis's log: an array of four strings [error, warn, info,
// all].
func strings4(t testing.TB, m map[string]any, k string) [4]string {
	t.Helper()
	l := list(t, m, k)
	var out [4]string
	if len(l) != 4 {
		t.Fatalf("%s has %d entries, want 4", k, len(l))
	}
	for i, v := range l {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s[%d] is %#v, want a string", k, i, v)
		}
		out[i] = s
	}
	return out
}

// waitEnded polls jobhistory/{id}/get (as linkis-cli's waitJobComplete
// does) until the job ends; it returns the task.
func (c *client) waitEnded(taskID string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a := c.do("GET", "/jobhistory/"+taskID+"/get", nil, "")
		a.ok(c.t)
		task := obj(c.t, a.Data, "task")
		switch str(c.t, task, "status") {
		case "Succeed", "Failed", "Cancelled", "Timeout":
			return task
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("job %s did not end: %v", taskID, task)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// login is the SDK's and the console's login: a JSON body, a cookie back.
func (c *client) login(user, password string) answer {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"userName": user, "password": password, "source": "client"})
	return c.do("POST", "/user/login", nil, string(body))
}

func idOf(t testing.TB, m map[string]any, k string) string {
	t.Helper()
	return fmt.Sprint(int64(num(t, m, k)))
}

var _ = bytes.Contains
