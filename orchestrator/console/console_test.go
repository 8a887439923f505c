package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/admin"
	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// Logging in and out: a page without a session goes to the login form
// and back after it; a wrong password says so; the user's name and role
// are shown; logout ends the session everywhere (the REST API too).
func TestLoginAndLogout(t *testing.T) {
	s := startSystem(t)
	v := newVisitor(t, s.url)
	p := v.get("/jobs?state=Running")
	if p.url.Path != "/login" || p.url.Query().Get("next") != "/jobs?state=Running" {
		t.Fatalf("without a session: at %s", p.url)
	}
	p.has(t, `name="password"`)
	p = v.post("/login", url.Values{"userName": {"alice"}, "password": {"wrong"}, "next": {"/jobs"}})
	if p.code != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %d %s", p.code, p.body)
	}
	p.has(t, "Wrong user name or password.")
	p = v.post("/login", url.Values{"userName": {"alice"}, "password": {passwords["alice"]}, "next": {"/jobs?state=Running"}})
	if p.url.String() != s.url+"/jobs?state=Running" {
		t.Fatalf("after login: at %s", p.url)
	}
	p.has(t, `<span id="user">alice</span>`, `<span class="role" id="role">user</span>`)
	// The cookie: HttpOnly, SameSite, and the REST API knows it.
	u, _ := url.Parse(s.url)
	var session *http.Cookie
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == restapi.SessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	rest := v.get(restapi.Prefix + "/user/userInfo")
	if rest.code != http.StatusOK || !strings.Contains(rest.body, `"userName":"alice"`) {
		t.Fatalf("the REST API with the console's session: %d %s", rest.code, rest.body)
	}
	a := newVisitor(t, s.url)
	a.login("ops")
	a.get("/jobs").has(t, `<span class="role" id="role">administrator</span>`, `href="/ecms"`)
	// Logout.
	p = v.post("/logout", nil)
	if p.url.Path != "/login" {
		t.Fatalf("after logout: at %s", p.url)
	}
	// The old cookie is dead: sent again by hand, it leads to the login page.
	w := newVisitor(t, s.url)
	w.c.Jar.SetCookies(u, []*http.Cookie{{Name: restapi.SessionCookie, Value: session.Value, Path: "/"}})
	if p := w.get("/jobs"); p.url.Path != "/login" {
		t.Fatalf("a logged-out session: at %s", p.url)
	}
	// An open redirect is not followed.
	v.get("/login")
	p = v.post("/login", url.Values{"userName": {"alice"}, "password": {passwords["alice"]}, "next": {"//evil.example/x"}})
	if p.url.Host != u.Host || p.url.Path != "/jobs" {
		t.Fatalf("next=//evil.example: at %s", p.url)
	}
}

// Every answer carries the strict policy; the session cookie is HttpOnly
// and SameSite; assets come from the binary.
func TestHeadersAndAssets(t *testing.T) {
	s := startSystem(t)
	resp, err := http.PostForm(s.url+"/login", url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, path := range []string{"/login", "/jobs", "/nowhere"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
	}
	v := newVisitor(t, s.url)
	v.get("/login")
	form := url.Values{"userName": {"alice"}, "password": {passwords["alice"]}, "csrf": {v.csrf}}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	nc := &http.Client{Jar: v.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = nc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var set string
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, restapi.SessionCookie+"=") {
			set = c
		}
	}
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Strict") || strings.Contains(set, "Secure") {
		t.Fatalf("the session cookie over plain HTTP: %q", set)
	}
	p := v.get("/jobs")
	for _, asset := range []string{"console.css", "console.js"} {
		i := strings.Index(p.body, "/static/"+asset+"?v=")
		if i < 0 {
			t.Fatalf("the page does not link %s", asset)
		}
		ap := v.get(p.body[i : i+len("/static/"+asset+"?v=")+12])
		if ap.code != http.StatusOK || len(ap.body) < 500 {
			t.Fatalf("%s: %d, %d bytes", asset, ap.code, len(ap.body))
		}
	}
	// No inline script or style anywhere on the page.
	p.lacks(t, "<script>", " style=", "onclick=", "javascript:")
}

// Forged and missing CSRF tokens, a form from another site, a login form
// without its token: refused with a message, nothing done.
func TestCSRFRefused(t *testing.T) {
	s := startSystem(t)
	v := newVisitor(t, s.url)
	v.login("alice")
	before := countJobs(t, s, "alice")
	run := url.Values{"engine": {"shell"}, "creator": {"IDE"}, "code": {"echo hi"}}
	for name, token := range map[string]string{"missing": "", "forged": "AAAA" + v.csrf[4:], "another session's": otherToken(t, s)} {
		form := url.Values{}
		for k, vs := range run {
			form[k] = vs
		}
		form.Set("csrf", token)
		p := v.post("/run", form)
		if p.code != http.StatusForbidden {
			t.Fatalf("%s token: %d", name, p.code)
		}
		p.has(t, "security token is missing or wrong", "nothing was done")
	}
	// A cross-site form (the browser says where it comes from).
	req, _ := http.NewRequest(http.MethodPost, s.url+"/run", strings.NewReader(url.Values{"engine": {"shell"}, "code": {"echo x"}, "csrf": {v.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	if p := v.do(req); p.code != http.StatusForbidden || !strings.Contains(p.body, "from another site") {
		t.Fatalf("a cross-site form: %d %s", p.code, p.body)
	}
	if n := countJobs(t, s, "alice"); n != before {
		t.Fatalf("refused forms submitted %d jobs", n-before)
	}
	// The right token works.
	form := url.Values{}
	for k, vs := range run {
		form[k] = vs
	}
	if p := v.post("/run", form); p.code != http.StatusOK || !strings.HasPrefix(p.url.Path, "/jobs/") {
		t.Fatalf("a right token: %d at %s", p.code, p.url)
	}
	// A login form without its cookie's token.
	w := newVisitor(t, s.url)
	p := w.post("/login", url.Values{"userName": {"alice"}, "password": {passwords["alice"]}, "csrf": {"made-up"}})
	if p.code != http.StatusForbidden {
		t.Fatalf("a login without its token: %d", p.code)
	}
	p.has(t, "login form&#39;s security token is missing or wrong")
	if w.get("/jobs").url.Path != "/login" {
		t.Fatal("a refused login logged in")
	}
}

// otherToken is the CSRF token of another session (bob's).
func otherToken(t *testing.T, s *system) string {
	b := newVisitor(t, s.url)
	b.login("bob")
	return b.csrf
}

func countJobs(t *testing.T, s *system, user string) int {
	t.Helper()
	_, n, err := s.sys.Jobs().List(context.Background(), user, orchestrator.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// An expired (here: ended) session sends a form back to the login page
// and does nothing; a form's body over the limit and an over-long field
// are refused with a message.
func TestExpiredSessionAndOversizedFields(t *testing.T) {
	s := startSystem(t)
	job := s.submit(t, "alice", "shell", "sleep 30")
	s.waitState(t, job.TaskID, orchestrator.Running)
	v := newVisitor(t, s.url)
	v.login("alice")
	v.get(fmt.Sprintf("/jobs/%d", job.TaskID)).has(t, `id="kill"`)
	// The session ends elsewhere (another tab logs out); this page's form
	// still carries the old token.
	u, _ := url.Parse(s.url)
	var id string
	for _, c := range v.c.Jar.Cookies(u) {
		if c.Name == restapi.SessionCookie {
			id = c.Value
		}
	}
	o := newVisitor(t, s.url)
	o.c.Jar.SetCookies(u, []*http.Cookie{{Name: restapi.SessionCookie, Value: id, Path: "/"}})
	o.csrf = v.csrf
	o.post("/logout", nil)
	p := v.post(fmt.Sprintf("/jobs/%d/kill", job.TaskID), nil)
	if p.url.Path != "/login" || p.url.Query().Get("expired") != "1" {
		t.Fatalf("a form of an ended session: at %s", p.url)
	}
	p.has(t, "Your session has ended", "Nothing was done.")
	if j := s.job(t, job.TaskID); j.State != orchestrator.Running {
		t.Fatalf("the job is %v after a refused kill", j.State)
	}
	// Too large a form.
	v.login("alice")
	before := countJobs(t, s, "alice")
	p = v.post("/run", url.Values{"engine": {"shell"}, "code": {strings.Repeat("x", 2<<20)}})
	if p.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB form: %d", p.code)
	}
	p.has(t, "The form is larger than", "nothing was done")
	// An over-long field, and a malformed variable line.
	for _, form := range []url.Values{
		{"engine": {strings.Repeat("s", 300)}, "code": {"echo x"}},
		{"engine": {"shell"}, "code": {"echo x"}, "variables": {"no equals sign"}},
		{"engine": {"shell"}, "code": {"echo x"}, "labels": {"k=" + strings.Repeat("v", 5000)}},
		{"engine": {"nosuch"}, "code": {"echo x"}},
	} {
		p := v.post("/run", form)
		if p.code != http.StatusBadRequest || p.url.Path != "/run" {
			t.Fatalf("%v: %d at %s", form, p.code, p.url)
		}
		p.has(t, `class="error"`)
	}
	if n := countJobs(t, s, "alice"); n != before {
		t.Fatalf("refused forms submitted %d jobs", n-before)
	}
	v.post(fmt.Sprintf("/jobs/%d/kill", job.TaskID), nil)
	s.waitState(t, job.TaskID, orchestrator.Cancelled)
}

// Another user's job id in a URL is refused - its page, its follow view,
// its results, its kill and re-run - and nothing is changed; an
// administrator sees and kills it.
func TestAnotherUsersJob(t *testing.T) {
	s := startSystem(t)
	bobs := s.submit(t, "bob", "shell", "sleep 30")
	s.waitState(t, bobs.TaskID, orchestrator.Running)
	v := newVisitor(t, s.url)
	v.login("alice")
	before := countJobs(t, s, "bob")
	for _, path := range []string{"/jobs/%d", "/jobs/%d/follow?from=0", "/jobs/%d/results/1"} {
		p := v.get(fmt.Sprintf(path, bobs.TaskID))
		if p.code != http.StatusForbidden {
			t.Fatalf("%s: %d %s", path, p.code, p.body)
		}
		p.lacks(t, "sleep 30")
	}
	v.get("/jobs")
	for _, path := range []string{"/jobs/%d/kill", "/jobs/%d/rerun"} {
		if p := v.post(fmt.Sprintf(path, bobs.TaskID), nil); p.code != http.StatusForbidden {
			t.Fatalf("%s: %d", path, p.code)
		}
	}
	if j := s.job(t, bobs.TaskID); j.State != orchestrator.Running || countJobs(t, s, "bob") != before {
		t.Fatalf("bob's job after alice's tries: %v, %d jobs", j.State, countJobs(t, s, "bob"))
	}
	// alice's history does not list it; the administrator's does.
	v.get("/jobs").lacks(t, fmt.Sprintf(`href="/jobs/%d"`, bobs.TaskID))
	a := newVisitor(t, s.url)
	a.login("ops")
	a.get("/jobs").has(t, fmt.Sprintf(`href="/jobs/%d"`, bobs.TaskID))
	a.get(fmt.Sprintf("/jobs/%d", bobs.TaskID)).has(t, "sleep 30")
	a.post(fmt.Sprintf("/jobs/%d/kill", bobs.TaskID), nil).has(t, "The job was killed.")
	s.waitState(t, bobs.TaskID, orchestrator.Cancelled)
	// Not a task id at all.
	if p := v.get("/jobs/abc"); p.code != http.StatusBadRequest {
		t.Fatalf("/jobs/abc: %d", p.code)
	}
	if p := v.get("/jobs/999999"); p.code != http.StatusNotFound {
		t.Fatalf("an unknown job: %d", p.code)
	}
}

// The administrator's pages are refused to a plain user by the server
// (the operator's decision), and so are their forms; the plain user's
// own engines and settings are theirs.
func TestAdminPagesRefused(t *testing.T) {
	s := startSystem(t)
	v := newVisitor(t, s.url)
	v.login("alice")
	v.get("/jobs").lacks(t, `href="/ecms"`)
	p := v.get("/ecms")
	if p.code != http.StatusForbidden {
		t.Fatalf("/ecms as alice: %d", p.code)
	}
	p.has(t, "only an administrator may list the ECMs")
	v.get("/jobs")
	p = v.post("/ecms/health", url.Values{"instance": {"ecm-embedded"}, "action": {"drain"}})
	if p.code != http.StatusForbidden {
		t.Fatalf("a drain as alice: %d", p.code)
	}
	var m manager.ECMInfo
	_ = s.sys.Store().Read(context.Background(), true, func(st *manager.State) { m, _ = st.ECM("ecm-embedded") })
	if m.Health != linkis.HealthHealthy {
		t.Fatalf("the ECM is %v after alice's drain", m.Health)
	}
	// Resources: her own rows; the ECMs and the chart are not hers.
	v.get("/resources").has(t, `id="ecms-note"`, "only an administrator may list the ECMs")
	// Another user's settings.
	if p := v.get("/settings?user=bob"); p.code != http.StatusForbidden {
		t.Fatalf("bob's settings as alice: %d", p.code)
	}
	if p := v.get("/settings?user=*"); p.code != http.StatusForbidden {
		t.Fatalf("every user's settings as alice: %d", p.code)
	}
	v.get("/settings").has(t, "Configuration of alice")
	v.get("/cluster").has(t, `id="leader"`)
}

// A job's code, log and result holding markup show it as text.
func TestMarkupShownAsText(t *testing.T) {
	s := startSystem(t)
	payload := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	v := newVisitor(t, s.url)
	v.login("alice")
	v.get("/run")
	p := v.post("/run", url.Values{"engine": {"shell"}, "code": {"echo '" + payload + "'"}})
	if !strings.HasPrefix(p.url.Path, "/jobs/") {
		t.Fatalf("run: %d at %s: %s", p.code, p.url, p.body)
	}
	var id int64
	fmt.Sscanf(p.url.Path, "/jobs/%d", &id)
	s.waitState(t, id, orchestrator.Succeed)
	for _, path := range []string{fmt.Sprintf("/jobs/%d", id), fmt.Sprintf("/jobs/%d/results/1", id), "/jobs"} {
		p := v.get(path)
		p.lacks(t, "<script>alert", "<img src=x")
		p.has(t, "&lt;script&gt;alert(")
	}
	f := v.get(fmt.Sprintf("/jobs/%d/follow?from=0", id))
	if f.hdr.Get("Content-Type") != "application/json" || strings.Contains(f.body, "<script>") {
		t.Fatalf("follow: %s %s", f.hdr.Get("Content-Type"), f.body)
	}
}

// A table result is paged on its page and downloaded as CSV and XLSX
// through the REST API with the console's session; a text result offers
// CSV only (the export refuses XLSX of text, as Linkis does).
func TestResultDownloads(t *testing.T) {
	s := startSystem(t)
	v := newVisitor(t, s.url)
	v.login("alice")
	v.get("/run")
	p := v.post("/run", url.Values{"engine": {"sql"}, "code": {"with recursive c(x) as (select 1 union all select x+1 from c where x < 250) select x as n, '<b>' || x || '</b>' as tag from c"}})
	var id int64
	fmt.Sscanf(p.url.Path, "/jobs/%d", &id)
	s.waitState(t, id, orchestrator.Succeed)
	p = v.get(fmt.Sprintf("/jobs/%d/results/1", id))
	p.has(t, "<th>n</th><th>tag</th>", "<td>1</td><td>&lt;b&gt;1&lt;/b&gt;</td>", "250 rows", "page 1 of 3", `id="xlsx"`)
	p.lacks(t, "<td>101</td>")
	v.get(fmt.Sprintf("/jobs/%d/results/1?page=3", id)).has(t, "<td>250</td>", "page 3 of 3")
	for kind, prefix := range map[string]string{"csv": "n,tag\n1,<b>1</b>\n", "xlsx": "PK"} {
		i := strings.Index(p.body, "outputFileType="+kind)
		j := strings.LastIndex(p.body[:i], `href="`) + len(`href="`)
		k := strings.IndexByte(p.body[j:], '"')
		link := strings.ReplaceAll(p.body[j:j+k], "&amp;", "&")
		d := v.get(link)
		if d.code != http.StatusOK || !strings.HasPrefix(strings.ReplaceAll(d.body, "\r\n", "\n"), prefix) {
			t.Fatalf("%s download: %d %q", kind, d.code, d.body[:min(len(d.body), 64)])
		}
	}
	// Past the last page: no rows, and no error.
	v.get(fmt.Sprintf("/jobs/%d/results/1?page=9", id)).has(t, "No row.")
	if p := v.get(fmt.Sprintf("/jobs/%d/results/2", id)); p.code != http.StatusNotFound {
		t.Fatalf("a result the job does not have: %d", p.code)
	}
	// A text result: CSV only.
	tj := s.submit(t, "alice", "shell", "echo hi")
	s.waitState(t, tj.TaskID, orchestrator.Succeed)
	v.get(fmt.Sprintf("/jobs/%d/results/1", tj.TaskID)).lacks(t, `id="xlsx"`)
}

// Settings: a value in range is saved at the level; one out of range, or
// a malformed variable, is refused with the reason naming it and nothing
// is changed.
func TestSettings(t *testing.T) {
	s := startSystem(t)
	v := newVisitor(t, s.url)
	v.login("alice")
	level := url.Values{"creator": {"IDE"}, "engine": {"shell"}}
	p := v.get("/settings?" + level.Encode())
	p.has(t, "Configuration of alice / IDE / shell", `name="k.wds.linkis.rm.instance"`)
	save := func(key, val string) page {
		f := url.Values{"creator": {"IDE"}, "engine": {"shell"}, "k." + key: {val}, "was." + key: {""}}
		return v.post("/settings/config", f)
	}
	p = save("wds.linkis.rm.instance", "3")
	p.has(t, "Saved.")
	if !strings.Contains(p.body, `name="k.wds.linkis.rm.instance" value="3"`) {
		t.Fatalf("the saved value is not shown:\n%s", p.body)
	}
	applied := s.sys.Store().AppliedIndex()
	p = save("wds.linkis.rm.instance", "1000")
	if p.code != http.StatusBadRequest {
		t.Fatalf("an instance cap of 1000: %d", p.code)
	}
	p.has(t, "wds.linkis.rm.instance", "nothing was changed")
	p = save("wds.linkis.rm.client.memory.max", "lots")
	if p.code != http.StatusBadRequest {
		t.Fatalf("memory 'lots': %d", p.code)
	}
	if got := s.sys.Store().AppliedIndex(); got != applied {
		t.Fatalf("refused settings moved the applied index from %d to %d", applied, got)
	}
	// Variables.
	p = v.post("/settings/variables", url.Values{"variables": {"city=Paris\nyear=2026\n"}})
	p.has(t, "Saved.", "city=Paris\nyear=2026")
	p = v.post("/settings/variables", url.Values{"variables": {"city=Paris\n${bad}=1\n"}})
	if p.code != http.StatusBadRequest {
		t.Fatalf("a bad variable name: %d", p.code)
	}
	p.has(t, "nothing was changed", "${bad}=1") // the form keeps what was sent
	vars, err := s.sys.Operator().Variables(context.Background(), adminCaller(), "alice")
	if err != nil || len(vars) != 2 || vars["city"] != "Paris" {
		t.Fatalf("alice's variables after a refused change: %v %v", vars, err)
	}
	// Another user's level through the form.
	if p := v.post("/settings/config", url.Values{"user": {"bob"}, "k.wds.linkis.rm.instance": {"2"}, "was.wds.linkis.rm.instance": {""}}); p.code != http.StatusForbidden {
		t.Fatalf("bob's configuration by alice: %d", p.code)
	}
}

func adminCaller() admin.Caller { return admin.Caller{User: "ops", Admin: true} }

// A session that expired (unused for longer than the timeout) sends a
// form to the login page and does nothing, and a page to the login page
// and back after it.
func TestSessionExpiry(t *testing.T) {
	s := startSystemWith(t, func(c *identity.Config) { c.SessionTimeout, c.SessionMaxAge = time.Second, time.Second })
	v := newVisitor(t, s.url)
	v.login("alice")
	v.get("/run")
	before := countJobs(t, s, "alice")
	time.Sleep(1200 * time.Millisecond)
	p := v.post("/run", url.Values{"engine": {"shell"}, "code": {"echo late"}})
	if p.url.Path != "/login" || p.url.Query().Get("expired") != "1" {
		t.Fatalf("a form after the session expired: %d at %s", p.code, p.url)
	}
	p.has(t, "Your session has ended", "Nothing was done.")
	if n := countJobs(t, s, "alice"); n != before {
		t.Fatalf("an expired session's form submitted %d jobs", n-before)
	}
	if p := v.get("/jobs?state=Failed"); p.url.Path != "/login" || p.url.Query().Get("next") != "/jobs?state=Failed" {
		t.Fatalf("a page after the session expired: at %s", p.url)
	}
}
