package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// FuzzConsole sends any method, path, query and form to the console as a
// logged-in user (alice, without the session's CSRF token, which the
// fuzzer cannot forge): no answer is an internal error (a 503 says an ECM
// cannot be reached: the site has none), nothing changes
// the replicated state (its applied index stays), and no redirect leaves
// the site.
func FuzzConsole(f *testing.F) {
	site := newSite(f, 200, 20)
	v := newVisitor(f, site.srv.URL)
	v.login("alice")
	session := sessionOf(f, v)
	for _, s := range []struct {
		post         bool
		target, body string
	}{
		{false, "/jobs?state=Failed&page=2&from=2026-01-01", ""},
		{false, "/jobs/8?log=5", ""},
		{false, "/jobs/16/follow?from=0", ""},
		{false, "/jobs/8/results/1?page=9", ""},
		{false, "/login?next=/%5Cevil", ""},
		{false, "/settings?user=bob&creator=IDE&engine=shell", ""},
		{false, "/engines/ec-1/log?from=-1", ""},
		{true, "/run", "engine=shell&code=echo+1&variables=a%3D1&csrf=x"},
		{true, "/jobs/8/kill", "csrf="},
		{true, "/settings/config", "k.wds.linkis.rm.instance=5&was.wds.linkis.rm.instance="},
		{true, "/ecms/health", "instance=ecm-0&action=drain"},
		{true, "/login", "userName=alice&password=x&next=//evil"},
		{true, "/logout", ""},
	} {
		f.Add(s.post, s.target, s.body)
	}
	f.Fuzz(func(t *testing.T, post bool, target, body string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		method := http.MethodGet
		if post {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, "http://console.test"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "192.0.2.1:1234"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: restapi.SessionCookie, Value: session})
		applied := site.store.AppliedIndex()
		w := httptest.NewRecorder()
		site.h.ServeHTTP(w, req)
		if w.Code == http.StatusInternalServerError {
			t.Fatalf("%s %q: %d %s", method, target, w.Code, w.Body.String())
		}
		if got := site.store.AppliedIndex(); got != applied {
			t.Fatalf("%s %q %q changed the state: applied index %d -> %d", method, target, body, applied, got)
		}
		if loc := w.Header().Get("Location"); loc != "" && (!strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\r\n")) {
			t.Fatalf("%s %q: redirect to %q", method, target, loc)
		}
	})
}
