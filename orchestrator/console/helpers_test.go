package console_test

import (
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
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/linkis/embedded"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/orchestrator/console"
	"github.com/golinkis/golinkis/orchestrator/entrance"
	"github.com/golinkis/golinkis/orchestrator/entrance/entrancetest"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
	"github.com/golinkis/golinkis/raftstore"
)

func TestMain(m *testing.M) {
	embedded.ServeEngine() // the ECM starts engines as this test binary
	os.Exit(m.Run())
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// The users of every test: ops is the administrator.
var passwords = map[string]string{"alice": "alice-password-1", "bob": "bob-password-22", "ops": "ops-password-333"}

// directory holds the users with bcrypt hashes of the lowest cost: the
// login checks are the server's, the seconds of a production cost (more
// under the race detector) are not worth spending on every test.
func directory(t testing.TB) *identity.Directory {
	t.Helper()
	d := identity.NewDirectory()
	for u, pw := range passwords {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.AddUser(identity.User{Name: u, Hash: string(h)}); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// system is a real embedded system (manager, ECM with real engines,
// entrance) serving the REST API and the console, as `linkis server`
// does.
type system struct {
	sys *embedded.System
	srv *httptest.Server
	url string
}

func startSystem(t testing.TB) *system { return startSystemWith(t, nil) }

// startSystemWith is startSystem with the identity service's
// configuration adjusted by tune.
func startSystemWith(t testing.TB, tune func(*identity.Config)) *system {
	t.Helper()
	sys, err := embedded.Start(embedded.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	ic := identity.DefaultConfig()
	ic.Directory, ic.Store, ic.Logger = directory(t), sys.Store(), quiet
	if tune != nil {
		tune(&ic)
	}
	auth, err := identity.New(ic)
	if err != nil {
		t.Fatal(err)
	}
	rc := restapi.DefaultConfig()
	rc.Auth, rc.Admins, rc.Logger = auth, []string{"ops"}, quiet
	h, err := sys.Handler(rc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &system{sys: sys, srv: srv, url: srv.URL}
}

// submit runs a job of user's through the entrance (not the console).
func (s *system) submit(t testing.TB, user, engine, code string) orchestrator.Job {
	t.Helper()
	req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: user, Engine: engine, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.sys.Submit(context.Background(), user, req)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (s *system) job(t testing.TB, taskID int64) orchestrator.Job {
	t.Helper()
	j, err := s.sys.Jobs().JobAny(context.Background(), taskID)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// waitState waits until a job is in state (or ended otherwise: fails).
func (s *system) waitState(t testing.TB, taskID int64, want orchestrator.State) orchestrator.Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j := s.job(t, taskID)
		if j.State == want {
			return j
		}
		if j.State.Final() || time.Now().After(deadline) {
			t.Fatalf("job %d is %v (%s), want %v", taskID, j.State, j.Reason, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// visitor is a browser without scripts: cookies, forms, redirects.
type visitor struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string // the token of the last page that had one
}

func newVisitor(t testing.TB, base string) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// page is an answer: status, final URL (after redirects), body.
type page struct {
	code int
	url  *url.URL
	body string
	hdr  http.Header
}

func (v *visitor) do(req *http.Request) page {
	v.t.Helper()
	resp, err := v.c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	p := page{code: resp.StatusCode, url: resp.Request.URL, body: string(b), hdr: resp.Header}
	if m := csrfField.FindStringSubmatch(p.body); m != nil {
		v.csrf = m[1]
	}
	return p
}

func (v *visitor) get(path string) page {
	v.t.Helper()
	req, err := http.NewRequest(http.MethodGet, v.base+path, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(req)
}

// post sends a form with the last page's CSRF token (unless the form
// sets csrf itself).
func (v *visitor) post(path string, form url.Values) page {
	v.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", v.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, v.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return v.do(req)
}

// login logs user in through the login form and checks the jobs page
// greets them.
func (v *visitor) login(user string) {
	v.t.Helper()
	v.get("/login")
	p := v.post("/login", url.Values{"userName": {user}, "password": {passwords[user]}, "next": {"/jobs"}})
	if p.code != http.StatusOK || p.url.Path != "/jobs" || !strings.Contains(p.body, `<span id="user">`+user+`</span>`) {
		v.t.Fatalf("login of %s: %d at %s:\n%s", user, p.code, p.url, p.body)
	}
}

func (p page) has(t testing.TB, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("the page (%d at %s) lacks %q:\n%s", p.code, p.url, s, p.body)
		}
	}
}

func (p page) lacks(t testing.TB, parts ...string) {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(p.body, s) {
			t.Fatalf("the page (%d at %s) holds %q:\n%s", p.code, p.url, s, p.body)
		}
	}
}

// bigSite is the console over a state of 10,000 jobs in the history
// (8 users, 3 engine types, every end state) and 200 live engines on 4
// ECMs, with no engine process: what the pages and the benchmark read.
type bigSite struct {
	srv   *httptest.Server
	h     http.Handler
	rest  http.Handler // the REST API over the same entrance, for comparison
	store *raftstore.Memory
	con   *console.Console
}

const (
	bigJobs    = 10_000
	bigEngines = 200
)

func newBigSite(t testing.TB) *bigSite { return newSite(t, bigJobs, bigEngines) }

// newSite is a site of jobs jobs and engines engines (see bigSite).
func newSite(t testing.TB, jobs, engines int) *bigSite {
	t.Helper()
	mc := raftstore.DefaultMemoryConfig()
	mc.Manager.NewECMStandby = 0
	mc.Manager.DefaultQuota = linkis.Resource{Memory: 1 << 50, MilliCores: 1 << 40, Instances: 1000}
	store, err := raftstore.OpenMemory(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ctx := context.Background()
	now := time.Now()
	must := func(c manager.Command) manager.Result {
		r, err := store.Apply(ctx, c)
		if err != nil {
			t.Fatalf("%v: %v", c.Type(), err)
		}
		return r
	}
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "ops"}
	types := []string{"shell-1", "python-3", "sql-1"}
	ends := []linkis.JobState{linkis.JobSucceed, linkis.JobSucceed, linkis.JobSucceed, linkis.JobFailed, linkis.JobCancelled, linkis.JobTimeout}
	for i := 1; i <= jobs; i++ {
		u, et := users[i%len(users)], types[i%len(types)]
		req, err := orchestrator.NewRequest(orchestrator.RequestSpec{User: u, Engine: et, Code: fmt.Sprintf("echo job %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(req)
		created := now.Add(-time.Duration(jobs-i) * time.Minute).UnixNano()
		must(manager.ImportJob{Time: now.UnixNano(), Job: manager.JobView{TaskID: int64(i), ExecID: fmt.Sprintf("exec_%d", i), User: u, Creator: "IDE",
			EngineType: et, Request: body, State: ends[i%len(ends)], Progress: 1, Created: created, Updated: created, Started: created, Ended: created + int64(time.Second)}})
	}
	for i := range 4 {
		must(manager.RegisterECM{Time: now.UnixNano(), ID: fmt.Sprintf("ecm-%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 9100+i),
			Max: linkis.Resource{Memory: 1 << 40, MilliCores: 1 << 20, Instances: 100}})
	}
	for i := range engines {
		ls, err := linkis.NewLabels(linkis.LabelUserCreator, users[i%len(users)]+"-IDE", linkis.LabelEngineType, types[i%len(types)], linkis.LabelReuseExclusion, "*")
		if err != nil {
			t.Fatal(err)
		}
		r := must(manager.AskEngine{Time: now.UnixNano(), ID: fmt.Sprintf("hold-%d", i), Nonce: uint64(i + 1), Labels: ls})
		must(manager.EngineStarted{Time: now.UnixNano(), EC: r.Ask.EC, Addr: fmt.Sprintf("127.0.0.1:%d", 20000+i)})
		if i%4 == 0 {
			must(manager.ReleaseEngine{Time: now.UnixNano(), AskID: fmt.Sprintf("hold-%d", i)})
		}
	}
	eng := entrancetest.NewEngine(t.TempDir())
	ec := entrance.DefaultConfig()
	ec.DataDir = t.TempDir()
	ent, err := entrance.Open(ec, store, eng, eng, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ent.Close() })
	ic := identity.DefaultConfig()
	ic.Directory, ic.Store, ic.Logger = directory(t), store, quiet
	auth, err := identity.New(ic)
	if err != nil {
		t.Fatal(err)
	}
	rc := restapi.Config{Auth: auth, Admins: []string{"ops"}, Operations: admin.New(store, nil), Logger: quiet}
	con, err := console.New(console.Config{Jobs: ent, Auth: auth, IsAdmin: rc.IsAdmin, Operations: admin.New(store, nil), Cluster: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := restapi.NewHandler(ent, rc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { con.Close() })
	srv := httptest.NewServer(con)
	t.Cleanup(srv.Close)
	return &bigSite{srv: srv, h: con, rest: rest, store: store, con: con}
}
