package restapi_test

// From the second security review of the REST API's fixes
// (2a9e493..911ab7a), which each test here failed on.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator/identity"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// review2Handler is the REST API with password logins for hadoop
// (password hadoop-pw) and the given administrators.
func review2Handler(t *testing.T, admins ...string) http.Handler {
	t.Helper()
	h, _ := passwordHandler(t, identity.NewDirectory(), "hadoop", "hadoop-pw", admins...)
	return h
}

func review2Login(t *testing.T, h http.Handler, user string) (*http.Cookie, restapi.LoginData) {
	t.Helper()
	r := httptest.NewRequest("POST", restapi.Prefix+"/user/login", strings.NewReader(`{"userName":"`+user+`","password":"hadoop-pw"}`))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var env restapi.Envelope
	var d restapi.LoginData
	if err := json.Unmarshal(w.Body.Bytes(), &env); err == nil {
		_ = json.Unmarshal(env.Data, &d)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == restapi.SessionCookie {
			return c, d
		}
	}
	t.Fatalf("login of %s: HTTP %d %s", user, w.Code, w.Body)
	return nil, d
}

// The cross-site check rested on Sec-Fetch-Site alone, which browsers send
// only to potentially trustworthy origins (HTTPS, localhost) - not to a
// server on plain HTTP, the default without the README's TLS proxy, nor
// from browsers before 2023. There a page of a sibling host
// (http://wiki.corp.example, same-site: SameSite=Strict still sends the
// cookie) posts to http://linkis.corp.example with the user's session,
// and only the Origin header says it came from elsewhere - which
// net/http's CrossOriginProtection (the console's guard) checks when
// Sec-Fetch-Site is absent, and crossSite did not (it uses
// CrossOriginProtection now).
func TestCrossOriginPostWithoutSecFetchSiteIsRefused(t *testing.T) {
	h := review2Handler(t)
	cookie, _ := review2Login(t, h, "hadoop")
	submit := func(origin string) int {
		body := `{"executionContent":{"code":"echo hi","runType":"sh"},"labels":{"engineType":"shell-1","userCreator":"hadoop-IDE"}}`
		r := httptest.NewRequest("POST", restapi.Prefix+restapi.PathSubmit, strings.NewReader(body))
		r.Host = "linkis.corp.example:8088"
		r.Header.Set("Content-Type", "text/plain") // a simple request: no preflight
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := submit("http://wiki.corp.example"); code != http.StatusForbidden {
		t.Errorf("a cookie-authenticated POST from Origin http://wiki.corp.example to linkis.corp.example over plain HTTP (no Sec-Fetch-Site): HTTP %d, want 403", code)
	}
	// What must keep working: the console's own page, and clients that
	// send no Origin (linkis-cli, the Java SDK).
	if code := submit("http://linkis.corp.example:8088"); code != http.StatusOK {
		t.Errorf("a same-origin POST: HTTP %d", code)
	}
	if code := submit(""); code != http.StatusOK {
		t.Errorf("a POST without Origin (an SDK): HTTP %d", code)
	}
	// entrance/{id}/kill changes something by GET too: a fetch() of the
	// other site's page (it sends Origin) must not kill a job.
	r := httptest.NewRequest("GET", restapi.Prefix+"/entrance/exec-1/kill", nil)
	r.Host = "linkis.corp.example:8088"
	r.Header.Set("Origin", "http://wiki.corp.example")
	r.AddCookie(cookie)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "Origin: http://wiki.corp.example") {
		t.Errorf("a cookie-authenticated kill by GET from Origin http://wiki.corp.example: HTTP %d %s, want 403 naming the Origin", w.Code, w.Body)
	}
}

// Logins are lower-cased (as Linkis's gateway does), and the
// administrators' list was still compared exactly: an operator's
// --admins Hadoop (or $LINKIS_ADMINS) made "Hadoop" an administrator
// before logins were lower-cased; then the login "Hadoop" was the user
// "hadoop" and silently no administrator. Linkis compares administrators without
// case: Configuration.isAdmin is adminUsers.exists(username.equalsIgnoreCase)
// (linkis-commons/linkis-common/src/main/scala/org/apache/linkis/common/conf/Configuration.scala).
func TestAdminListedWithCapitalsStaysAdmin(t *testing.T) {
	h := review2Handler(t, "Hadoop")
	_, d := review2Login(t, h, "Hadoop")
	if d.UserName != "hadoop" {
		t.Fatalf("the login is %q, want lower-cased hadoop", d.UserName)
	}
	if !d.IsAdmin {
		t.Errorf("--admins Hadoop, login Hadoop (now user %q): isAdmin=false; Linkis compares administrators ignoring case", d.UserName)
	}
	c := restapi.DefaultConfig()
	c.Users, c.Admins = map[string]string{"hadoop": "code"}, []string{"Hadoop"}
	if err := c.Validate(); err != nil {
		t.Errorf("administrator Hadoop of the token user hadoop: %v", err)
	}
	if c.Admins = []string{"alice"}; c.Validate() == nil {
		t.Error("an administrator who is none of the users was accepted")
	}
}
