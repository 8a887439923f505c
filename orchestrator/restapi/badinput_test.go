package restapi_test

import (
	"net/url"
	"strings"
	"testing"
)

// Bad input to the calls Linkis's clients make: a clear envelope error
// naming the problem, nothing accepted, no secret echoed.
func TestBadInputOfClientCalls(t *testing.T) {
	s := conformanceServer(t)
	alice := s.newClient(t, nil)
	alice.login("alice", alicePassword).ok(t)
	anon := s.newClient(t, nil)
	for _, c := range []struct {
		name         string
		cl           *client
		method, path string
		q            url.Values
		body         string
		status, http int
		want         string
	}{
		{"login: garbage JSON", anon, "POST", "/user/login", nil, `{"userName":`, 2, 400, "not valid JSON"},
		{"login: no user name", anon, "POST", "/user/login", nil, `{"password":"x-secret"}`, 2, 400, "Username can not be empty"},
		{"login: no password", anon, "POST", "/user/login", nil, `{"userName":"alice"}`, 2, 400, "Password can not be blank"},
		{"login: an oversized body", anon, "POST", "/user/login", nil, `{"userName":"alice","password":"` + strings.Repeat("p", 2<<20) + `"}`, 2, 413, "larger than"},
		{"login: unknown user", anon, "POST", "/user/login", nil, `{"userName":"mallory","password":"x-secret"}`, 1, 400, "wrong user name or password"},
		{"login by GET", anon, "GET", "/user/login", nil, "", 2, 405, "POST"},
		{"no credentials", anon, "GET", "/jobhistory/list", nil, "", -1, 401, "not logged in"},
		{"submit: labels as an object", alice, "POST", "/entrance/submit", nil, `{"executionContent":{"code":"ls"},"labels":{"engineType":{"x":1},"userCreator":"alice-IDE"}}`, 2, 400, "engineType"},
		{"submit: code as a number", alice, "POST", "/entrance/submit", nil, `{"executionContent":{"code":5},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`, 2, 400, "executionContent.code"},
		{"submit: an unknown engine", alice, "POST", "/entrance/submit", nil, `{"executionContent":{"code":"x"},"labels":{"engineType":"spark-2.4.3","userCreator":"alice-IDE"}}`, 2, 400, "spark-2.4.3"},
		{"execute: no engine", alice, "POST", "/entrance/execute", nil, `{"requestApplicationName":"IDE","executionCode":"ls"}`, 2, 400, "executeApplicationName"},
		{"execute: no creator", alice, "POST", "/entrance/execute", nil, `{"executeApplicationName":"shell","executionCode":"ls"}`, 2, 400, "requestApplicationName"},
		{"killJobs: lists of other lengths", alice, "POST", "/entrance/x/killJobs", nil, `{"idList":["a","b"],"taskIDList":[1]}`, 2, 400, "pairs"},
		{"killJobs: garbage", alice, "POST", "/entrance/x/killJobs", nil, `[`, 2, 400, "JSON"},
		{"list: a bad state among several", alice, "GET", "/jobhistory/list", url.Values{"status": {"Succeed,Done"}}, "", 2, 400, "Done"},
		{"openFile: a NUL", alice, "GET", "/filesystem/openFile", url.Values{"path": {"linkis:///results/alice/1/_0.jsonl\x00"}}, "", 2, 400, "NUL"},
		{"openFile: an unknown charset", alice, "GET", "/filesystem/openFile", url.Values{"path": {"linkis:///results/alice/1/_0.jsonl"}, "charset": {"klingon"}}, "", 2, 400, "charset"},
		{"export: an unknown type", alice, "GET", "/filesystem/resultsetToExcel", url.Values{"path": {"linkis:///results/alice/1/_0.jsonl"}, "outputFileType": {"pdf"}}, "", 2, 400, "csv or xlsx"},
		{"export: a separator of two characters", alice, "GET", "/filesystem/resultsetToExcel", url.Values{"path": {"linkis:///results/alice/1/_0.jsonl"}, "csvSeparator": {";;"}}, "", 2, 400, "one character"},
		{"openLog: traversal", alice, "GET", "/filesystem/openLog", url.Values{"path": {"linkis:///logs/alice/../../etc/passwd"}}, "", 3, 403, "not the log"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := c.cl.do(c.method, c.path, c.q, c.body)
			if a.status(t) != c.status || a.http != c.http || !strings.Contains(a.Message, c.want) {
				t.Fatalf("status %d HTTP %d %q, want %d HTTP %d with %q", a.status(t), a.http, a.Message, c.status, c.http, c.want)
			}
			if strings.Contains(string(a.raw), "x-secret") {
				t.Fatalf("the answer echoes the password: %s", a.raw)
			}
		})
	}
}
