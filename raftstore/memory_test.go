package raftstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

const testToken = "s3cret"

// memCluster is a Memory store behind its HTTP API on loopback, with the
// reconciler talking to fake ECMs.
type memCluster struct {
	t      *testing.T
	store  *Memory
	ecms   *FakeECMs
	srv    *httptest.Server
	client *api.Client
}

func newMemCluster(t *testing.T, ecms *FakeECMs) *memCluster {
	t.Helper()
	if ecms == nil {
		ecms = &FakeECMs{}
	}
	cfg := DefaultMemoryConfig()
	cfg.ECMs = ecms
	cfg.Reconciler.Interval = 20 * time.Millisecond
	cfg.Reconciler.Resend = 200 * time.Millisecond
	st, err := OpenMemory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(st, HandlerConfig{Token: testToken, Metrics: st.Gatherer()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	c, err := api.NewClient([]string{srv.URL}, testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &memCluster{t: t, store: st, ecms: ecms, srv: srv, client: c}
	t.Cleanup(func() {
		srv.Close()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
		var err error
		st.rep.read(func(s *manager.State) { err = manager.CheckInvariants(s) })
		if err != nil {
			t.Errorf("invariants after the test: %v", err)
		}
	})
	return m
}

func (m *memCluster) registerECM(id string) {
	m.t.Helper()
	err := m.client.RegisterECM(context.Background(), api.RegisterECMRequest{ID: id, Addr: "127.0.0.1:9" + id[len(id)-1:],
		Max: &api.Resource{Memory: 64 << 30, MilliCores: 32000, Instances: 100}})
	if err != nil {
		m.t.Fatal(err)
	}
}

func askReq(id, user string) api.AskRequest {
	return api.AskRequest{ID: id, Labels: map[string]string{"userCreator": user + "-IDE", "engineType": "shell-1"}, WaitMs: 5000}
}

func TestMemoryAskCreatesThenReuses(t *testing.T) {
	m := newMemCluster(t, nil)
	m.registerECM("ecm-1")
	ctx := context.Background()
	a, err := m.client.Ask(ctx, askReq("a1", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "Granted" || !a.Created || a.Addr == "" || len(a.Token) != 16 {
		t.Fatalf("first ask: %+v, want Granted, Created, with an address and a token", a)
	}
	if _, err := m.client.Release(ctx, "a1"); err != nil {
		t.Fatal(err)
	}
	b, err := m.client.Ask(ctx, askReq("a2", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != "Granted" || !b.Reused || b.EC != a.EC || b.Token == a.Token {
		t.Fatalf("second ask: %+v, want the first engine %s reused under a new token", b, a.EC)
	}
	// Another user's ask does not get alice's engine.
	c, err := m.client.Ask(ctx, askReq("c1", "bob"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "Granted" || c.EC == a.EC {
		t.Fatalf("bob's ask: %+v, want his own engine", c)
	}
	// Asking again with the same id returns the same outcome.
	again, err := m.client.Ask(ctx, askReq("c1", "bob"))
	if err != nil || again.EC != c.EC || again.Token != c.Token {
		t.Fatalf("repeated ask: %+v, %v; want %+v", again, err, c)
	}
	launches, _ := m.ecms.Calls()
	if launches != 2 {
		t.Errorf("%d launches, want 2 (one per user)", launches)
	}
}

func TestMemoryGetAskWaits(t *testing.T) {
	ecms := &FakeECMs{Launched: func(r api.LaunchRequest) (api.LaunchResponse, error) {
		return api.LaunchResponse{EC: r.Ticket, State: api.ECStarting}, nil // it reports itself later
	}}
	m := newMemCluster(t, ecms)
	m.registerECM("ecm-1")
	ctx := context.Background()
	req := askReq("a1", "alice")
	req.WaitMs = 0
	a, err := m.client.Ask(ctx, req)
	if err != nil || a.Status != "Pending" || !a.Created {
		t.Fatalf("ask: %+v, %v; want Pending and Created", a, err)
	}
	got := make(chan api.AskResult, 1)
	go func() {
		r, err := m.client.GetAsk(ctx, "a1", 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	time.Sleep(50 * time.Millisecond)
	if err := m.client.ECStarted(ctx, api.ECStartedRequest{EC: a.EC, Addr: "127.0.0.1:7001"}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.Status != "Granted" || r.Addr != "127.0.0.1:7001" {
			t.Fatalf("waited ask: %+v, want Granted at 127.0.0.1:7001", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("GET with waitMs did not return when the engine started")
	}
}

func TestMemoryLaunchFailureFailsTheAsk(t *testing.T) {
	ecms := &FakeECMs{Launched: func(r api.LaunchRequest) (api.LaunchResponse, error) {
		if strings.Contains(r.Labels["userCreator"], "refused") {
			return api.LaunchResponse{}, linkis.Errorf(linkis.ErrInvalidArgument, "command", "no such binary")
		}
		return api.LaunchResponse{EC: r.Ticket, State: api.ECExited, Failed: true, Reason: "exit status 3: boom", Retryable: true}, nil
	}}
	m := newMemCluster(t, ecms)
	m.registerECM("ecm-1")
	ctx := context.Background()
	a, err := m.client.Ask(ctx, askReq("a1", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != "Failed" || a.Error == nil || !strings.Contains(a.Error.Message, "boom") || !a.Error.Retryable {
		t.Fatalf("ask on an engine that exits: %+v (error %+v), want Failed, retryable, with the engine's last words", a, a.Error)
	}
	b, err := m.client.Ask(ctx, askReq("b1", "refused"))
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != "Failed" || b.Error == nil || b.Error.Retryable || !strings.Contains(b.Error.Message, "no such binary") {
		t.Fatalf("ask whose launch the ECM refuses: %+v (error %+v), want Failed, not retryable", b, b.Error)
	}
	if !errors.Is(b.Err(), linkis.ErrEngineFailed) {
		t.Errorf("error kind: %v, want engine failed", b.Err())
	}
}

func TestMemoryKillEndsTheEngine(t *testing.T) {
	m := newMemCluster(t, nil)
	m.registerECM("ecm-1")
	ctx := context.Background()
	a, err := m.client.Ask(ctx, askReq("a1", "alice"))
	if err != nil || a.Status != "Granted" {
		t.Fatalf("ask: %+v, %v", a, err)
	}
	if err := m.client.KillEngine(ctx, api.ECKillRequest{EC: a.EC, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		m.store.rep.read(func(s *manager.State) { n = s.Stats().Engines })
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed engine was never reported ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, kills := m.ecms.Calls(); kills < 1 {
		t.Errorf("no kill reached the ECM")
	}
}

// TestHTTPBadInput sends what a confused or hostile client might and
// checks each gets its status and reason and that nothing was applied.
func TestHTTPBadInput(t *testing.T) {
	m := newMemCluster(t, nil)
	m.registerECM("ecm-1")
	// These reach the state machine, which refuses them; the rest must be
	// turned away before anything is proposed.
	logged := map[string]bool{"unknown engine type": true, "unknown engine": true, "release unknown ask": true, "duplicate ECM": true}
	huge := `{"id":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		kind, word                      string
	}{
		{"no token", "POST", api.PathAsk, "", `{}`, 401, "permission", "token"},
		{"wrong token", "POST", api.PathRegisterECM, "nope", `{"id":"x","addr":"127.0.0.1:1"}`, 401, "permission", "token"},
		{"wrong token on a read", "GET", api.PathStatus, "nope", ``, 401, "permission", "token"},
		{"garbage JSON", "POST", api.PathAsk, testToken, `{"id": "a", labels}`, 400, "invalid_argument", "JSON"},
		{"empty body", "POST", api.PathAsk, testToken, ``, 400, "invalid_argument", "empty"},
		{"trailing data", "POST", api.PathAsk, testToken, `{"id":"a"} {"id":"b"}`, 400, "invalid_argument", "trailing"},
		{"wrong type", "POST", api.PathECMHeartbeat, testToken, `{"id":"ecm-1","load":{"runningTasks":"many"}}`, 400, "invalid_argument", "runningTasks"},
		{"huge body", "POST", api.PathAsk, testToken, huge, 400, "invalid_argument", "larger"},
		{"unknown endpoint", "POST", "/v1/launch-missiles", testToken, `{}`, 404, "unknown_command", "no such endpoint"},
		{"unknown engine type", "POST", api.PathAsk, testToken, `{"id":"a","labels":{"userCreator":"al-IDE","engineType":"cobol-1"}}`, 400, "unknown_engine_type", "cobol"},
		{"malformed label", "POST", api.PathAsk, testToken, `{"id":"a","labels":{"userCreator":"nodash","engineType":"shell-1"}}`, 400, "invalid_label", "userCreator"},
		{"missing label", "POST", api.PathAsk, testToken, `{"id":"a","labels":{"engineType":"shell-1"}}`, 400, "missing_label", "userCreator"},
		{"no ask id", "POST", api.PathAsk, testToken, `{"labels":{"userCreator":"al-IDE","engineType":"shell-1"}}`, 400, "invalid_argument", "id"},
		{"negative resource", "POST", api.PathRegisterECM, testToken, `{"id":"ecm-2","addr":"127.0.0.1:2","max":{"memory":-1}}`, 400, "invalid_resource", "memory"},
		{"overflowing resource", "POST", api.PathRegisterECM, testToken, `{"id":"ecm-2","addr":"127.0.0.1:2","max":{"memory":1e30}}`, 400, "invalid_argument", "memory"},
		{"negative wait", "POST", api.PathAsk, testToken, `{"id":"a","labels":{"userCreator":"al-IDE","engineType":"shell-1"},"waitMs":-5}`, 400, "invalid_argument", "waitMs"},
		{"bad status", "POST", api.PathECHeartbeat, testToken, `{"ec":"ec-1","status":"Dancing"}`, 400, "invalid_argument", "status"},
		{"bad ec id", "POST", api.PathECStarted, testToken, `{"ec":"engine-7","addr":"127.0.0.1:1"}`, 400, "invalid_argument", "ec"},
		{"bad token format", "POST", api.PathECUnlock, testToken, `{"ec":"ec-1","token":"zz"}`, 400, "invalid_argument", "token"},
		{"unknown engine", "POST", api.PathECStarted, testToken, `{"ec":"ec-99","addr":"127.0.0.1:1"}`, 404, "unknown_node", "ec-99"},
		{"unknown ask", "GET", api.PathAsk + "/nope", testToken, ``, 404, "unknown_ask", "nope"},
		{"release unknown ask", "POST", api.PathRelease, testToken, `{"askId":"nope"}`, 404, "unknown_ask", "nope"},
		{"duplicate ECM", "POST", api.PathRegisterECM, testToken, `{"id":"ecm-1","addr":"127.0.0.1:3"}`, 409, "duplicate", "ecm-1"},
		{"ECM id too long", "POST", api.PathRegisterECM, testToken, `{"id":"` + strings.Repeat("e", 200) + `","addr":"127.0.0.1:3"}`, 400, "", "id"},
		{"reason too long", "POST", api.PathECKill, testToken, `{"ec":"ec-1","reason":"` + strings.Repeat("r", 5000) + `"}`, 400, "", "reason"},
		{"ask id too long", "POST", api.PathAsk, testToken, `{"id":"` + strings.Repeat("a", 200) + `","labels":{"userCreator":"al-IDE","engineType":"shell-1"}}`, 400, "", "id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := m.store.rep.appliedIndex()
			req, _ := http.NewRequest(c.method, m.srv.URL+c.path, bytes.NewReader([]byte(c.body)))
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.status, data)
			}
			var env struct{ Error api.ErrorBody }
			if err := api.Decode(data, &env); err != nil {
				t.Fatalf("answer is not the error envelope: %s", data)
			}
			if (c.kind != "" && env.Error.Kind != c.kind) || !strings.Contains(env.Error.Message, c.word) {
				t.Errorf("error %+v, want kind %s mentioning %q", env.Error, c.kind, c.word)
			}
			if after := m.store.rep.appliedIndex(); !logged[c.name] && after != before {
				t.Errorf("applied index moved from %d to %d: the request reached the log", before, after)
			}
		})
	}
	var st manager.Stats
	m.store.rep.read(func(s *manager.State) { st = s.Stats() })
	if st.ECMs != 1 || st.Engines != 0 || st.Asks != 0 {
		t.Errorf("state changed by refused requests: %+v", st)
	}
}

func TestHandlerNeedsAToken(t *testing.T) {
	st, err := OpenMemory(DefaultMemoryConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := NewHandler(st, HandlerConfig{}); !errors.Is(err, linkis.ErrInvalidArgument) {
		t.Fatalf("handler without a token: %v, want invalid argument", err)
	}
}

func TestMetricsServed(t *testing.T) {
	m := newMemCluster(t, nil)
	m.registerECM("ecm-1")
	if _, err := m.client.Ask(context.Background(), askReq("a1", "alice")); err != nil {
		t.Fatal(err)
	}
	wantMetrics(t, m.srv.URL,
		`linkis_asks_total{kind="",outcome="created"} 1`,
		`linkis_ecm_resource{dim="instances",ecm="ecm-1",kind="used"} 1`,
		`linkis_label_resource{dim="instances",kind="used",label="alice-IDE,shell-1"} 1`,
		`linkis_nodes{kind="engine",status="Idle"} 1`,
		`linkis_commit_seconds_count`,
	)
}

// wantMetrics fetches /metrics from the API at base and checks that each
// wanted line (or prefix of one) is there.
func wantMetrics(t *testing.T, base string, want ...string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+api.PathMetrics, nil)
	api.SetToken(req, testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, w := range want {
		if !strings.Contains(string(data), w) {
			t.Errorf("metrics at %s lack %q", base, w)
		}
	}
}
