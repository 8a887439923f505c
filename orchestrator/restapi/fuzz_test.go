package restapi

import (
	"encoding/json"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzHandler: no method, path, body or header makes the handler panic or
// answer anything but an envelope with one of Linkis's statuses, and a
// request without the right token never reaches Jobs.
func FuzzHandler(f *testing.F) {
	for _, s := range []struct{ method, path, body, user, code string }{
		{"POST", Prefix + PathSubmit, shellJob, "alice", "alice-code"},
		{"POST", Prefix + PathSubmit, `{"labels":{"engineType":"shell-1"}}`, "alice", "alice-code"},
		{"GET", Prefix + "/entrance/exec_1/log?fromLine=3&size=-1", "", "alice", "alice-code"},
		{"GET", Prefix + "/entrance/exec_1/kill", "", "bob", "bob-code"},
		{"GET", Prefix + "/jobhistory/1/get", "", "alice", "wrong"},
		{"GET", Prefix + PathHistory + "?status=Running&pageNow=99999999999&pageSize=500", "", "alice", "alice-code"},
		{"GET", Prefix + PathOpenFile + "?path=../../x&page=2", "", "alice", "alice-code"},
		{"DELETE", "/", "", "", ""},
	} {
		f.Add(s.method, s.path, s.body, s.user, s.code)
	}
	jobs := restapitest.NewJobs()
	h := newTestHandler(f, jobs)
	f.Fuzz(func(t *testing.T, method, path, body, user, code string) {
		u, err := url.ParseRequestURI(path)
		if err != nil || u.Host != "" || method == "" || strings.ContainsAny(method, " \t\r\n/:") {
			t.Skip()
		}
		r := httptest.NewRequest("GET", "/", strings.NewReader(body))
		r.Method, r.URL, r.RequestURI = method, u, path
		r.Header[HeaderTokenUser] = []string{user}
		r.Header[HeaderTokenCode] = []string{code}
		before := jobs.Count()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var env Envelope
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("not an envelope: %v %q", err, w.Body.String())
		}
		switch env.Status {
		case StatusOK, StatusError, StatusValidation, StatusAuthFailed, StatusNotLoggedIn:
		default:
			t.Fatalf("status %d", env.Status)
		}
		if (env.Status == StatusOK) != (w.Code == 200) || env.Message == "" {
			t.Fatalf("HTTP %d for %+v", w.Code, env)
		}
		if testUsers[user] != code || user == "" {
			if env.Status != StatusNotLoggedIn && env.Status != StatusAuthFailed {
				t.Fatalf("a wrong token got %+v", env)
			}
			if jobs.Count() != before {
				t.Fatal("a wrong token submitted a job")
			}
		}
	})
}

// FuzzTextGuard: the formula guard of a text result's CSV only adds "'"
// (the lines are otherwise written as they are), and no line, separator
// or quote state makes it panic or loop.
func FuzzTextGuard(f *testing.F) {
	for _, s := range []string{"a,=1+1,-1.5", `a,"x`, `y""z",=cmd`, "x\r=1", `"`, `,,"",`, "-Inf;@x"} {
		f.Add(s, ",", false)
		f.Add(s, ";", true)
	}
	f.Add("a；=b", "；", false)
	f.Fuzz(func(t *testing.T, line, sep string, quoted bool) {
		if sep == "" {
			sep = ","
		}
		g := textGuard{sep: []byte(sep), quoted: quoted}
		out := g.guard(nil, []byte(line))
		if strings.ReplaceAll(string(out), "'", "") != strings.ReplaceAll(line, "'", "") {
			t.Fatalf("guard(%q, sep %q) = %q: more than \"'\" changed", line, sep, out)
		}
	})
}
