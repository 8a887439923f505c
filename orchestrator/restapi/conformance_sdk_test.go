package restapi_test

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// sdkState is what a Java SDK program keeps: its JobExecuteResult (exec
// id, task id, user), the JobInfoResult's fields.
type sdkState struct {
	c                       *client
	taskID, execID          string
	resultLocation, logPath string
	resultSets              []string
	execTaskID              string
}

// The Java SDK (apache/linkis linkis-computation-governance/linkis-client/
// linkis-computation-client): UJESClient (ujes/client/UJESClient.scala)
// with its documented default login - StaticAuthenticationStrategy, the
// user name and password as authTokenKey/authTokenValue - and each of the
// actions a program calls (ujes/client/request/*), read back by their
// results (ujes/client/response/*); LinkisJobClient's interactive jobs
// (computation/client/*) with their default TokenAuthenticationStrategy
// and Token-Code LINKIS_CLI_TEST.
func TestConformanceJavaSDK(t *testing.T) {
	s := conformanceServer(t)
	st := &sdkState{c: s.newClient(t, nil)}
	steps := []struct {
		name, linkis string
		run          func(t *testing.T, st *sdkState)
	}{
		{"DWSAuthenticationAction login", "httpclient/dws/request/DWSAuthenticationAction.scala, response/DWSAuthenticationResult.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.login("alice", alicePassword)
				a.ok(t) // getAuthentication: getStatus == 0, else "login to gateway failed"
				num(t, a.Data, "sessionTimeOut")
			}},
		{"JobSubmitAction", "ujes/client/request/JobSubmitAction.scala, response/JobSubmitResult.scala",
			func(t *testing.T, st *sdkState) {
				// The builder's payload: executeUser, executionContent (code and
				// runType), params with startup and runtime maps and variables
				// (TaskUtils), source, labels.
				a := st.c.do("POST", "/entrance/submit", nil, `{"executeUser":"alice",`+
					`"executionContent":{"code":"select ${v} as v, 1.5 as f union all select 8, 2.5","runType":"sql"},`+
					`"params":{"configuration":{"startup":{"wds.linkis.engineconn.java.driver.memory":"1g"},"runtime":{"wds.linkis.rm.yarnqueue":"default"}},"variable":{"v":7}},`+
					`"source":{"scriptPath":"/home/alice/a.sql"},"labels":{"engineType":"sql-1","userCreator":"alice-IDE"}}`)
				a.ok(t)
				st.taskID, st.execID = idOf(t, a.Data, "taskID"), str(t, a.Data, "execID") // JobExecuteResult: taskID, execID
			}},
		{"JobExecuteAction", "ujes/client/request/JobExecuteAction.scala (UJESClient.execute)",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("POST", "/entrance/execute", nil, `{"executeApplicationName":"shell","runType":"shell",`+
					`"requestApplicationName":"IDE","executionCode":"echo execute-ok","scriptPath":null,"params":{},"source":{}}`)
				a.ok(t)
				st.execTaskID = idOf(t, a.Data, "taskID")
				str(t, a.Data, "execID")
			}},
		{"JobExecIdAction status and progress", "ujes/client/request/JobExecIdAction.scala, response/JobStatusResult.scala, JobProgressResult.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/entrance/"+st.execID+"/status", nil, "")
				a.ok(t)
				str(t, a.Data, "status")
				p := st.c.do("GET", "/entrance/"+st.execID+"/progress", nil, "")
				p.ok(t)
				if f := num(t, p.Data, "progress"); f < 0 || f > 1 { // setProgress(Float)
					t.Fatalf("progress %v", f)
				}
				list(t, p.Data, "progressInfo")
			}},
		{"JobLogAction as LinkisJobClient asks it", "computation/client/interactive/InteractiveJob.scala (log(result, 0, 1)), JobLogAction.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/entrance/"+st.execID+"/log", url.Values{"size": {"1"}}, "") // fromLine 0 is not sent
				a.ok(t)
				log := strings4(t, a.Data, "log") // ArrayList[String]
				if n := integer(t, a.Data, "fromLine"); n > 1 || strings.Count(log[3], "\n") > 1 {
					t.Fatalf("size=1 gave fromLine %d, log %q", n, log[3])
				}
			}},
		{"JobInfoAction until the job ends", "ujes/client/request/JobInfoAction.scala, response/JobInfoResult.scala (setTask)",
			func(t *testing.T, st *sdkState) {
				task := st.c.waitEnded(st.taskID)
				if str(t, task, "status") != "Succeed" {
					t.Fatalf("job %v", task)
				}
				long(t, task, "createdTime")
				long(t, task, "updatedTime")
				_ = boolean(t, task, "canRetry") // asInstanceOf[Boolean]
				if str(t, task, "strongerExecId") != st.execID || str(t, task, "executeApplicationName") != "sql" || str(t, task, "runType") != "sql" {
					t.Fatalf("task %v", task)
				}
				if !strings.Contains(str(t, task, "paramsJson"), `"v":"7"`) {
					t.Fatalf("paramsJson %s", task["paramsJson"])
				}
				st.resultLocation, st.logPath = str(t, task, "resultLocation"), str(t, task, "logPath")
			}},
		{"ResultSetListAction", "ujes/client/request/ResultSetListAction.scala, response/ResultSetListResult.scala, JobInfoResult.getResultSetList",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/filesystem/getDirFileTrees", url.Values{"path": {st.resultLocation}}, "")
				a.ok(t)
				for _, ch := range list(t, obj(t, a.Data, "dirFileTrees"), "children") {
					st.resultSets = append(st.resultSets, str(t, ch.(map[string]any), "path"))
				}
				// getResultSetList sorts by the first number of the file name.
				sorted := append([]string(nil), st.resultSets...)
				sort.Slice(sorted, func(i, j int) bool { return fileNum(sorted[i]) < fileNum(sorted[j]) })
				if len(st.resultSets) != 1 || fileNum(st.resultSets[0]) != 0 || strings.Join(sorted, ",") != strings.Join(st.resultSets, ",") {
					t.Fatalf("result sets %v", st.resultSets)
				}
			}},
		{"ResultSetAction and getRowList", "ujes/client/request/ResultSetAction.scala, response/ResultSetResult.scala, utils/UJESClientUtils.evaluate",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/filesystem/openFile", url.Values{"path": {st.resultSets[0]}, "page": {"1"}, "pageSize": {"100"},
					"charset": {"utf-8"}, "nullValue": {"LINKIS_NULL"}}, "")
				a.ok(t)
				meta := list(t, a.Data, "metadata")
				// metadata: util.List[util.Map[String, String]] - every value a string.
				var types []string
				for _, m := range meta {
					col := m.(map[string]any)
					for _, k := range []string{"columnName", "dataType", "comment"} {
						str(t, col, k)
					}
					types = append(types, col["dataType"].(string))
				}
				// getRowList converts each non-string column's cells with evaluate:
				// "bigint" → toLong, "double" → toDouble; they must parse.
				if strings.Join(types, ",") != "bigint,double" {
					t.Fatalf("types %v", types)
				}
				rows := list(t, a.Data, "fileContent")
				for _, r := range rows {
					cells := r.([]any)
					if _, err := strconv.ParseInt(cells[0].(string), 10, 64); err != nil {
						t.Fatalf("bigint cell %#v", cells[0])
					}
					if _, err := strconv.ParseFloat(cells[1].(string), 64); err != nil {
						t.Fatalf("double cell %#v", cells[1])
					}
				}
				if len(rows) != 2 || rows[0].([]any)[0] != "7" || integer(t, a.Data, "page") != 1 || integer(t, a.Data, "totalLine") != 2 {
					t.Fatalf("page %v", a.Data)
				}
				integer(t, a.Data, "totalPage")
				if str(t, a.Data, "type") != "2" { // ResultSetIterable: "2" a table
					t.Fatalf("type %v", a.Data["type"])
				}
				// ResultSetIterable fetches the next page while a page is full;
				// the one past the end is empty.
				b := st.c.do("GET", "/filesystem/openFile", url.Values{"path": {st.resultSets[0]}, "page": {"2"}, "pageSize": {"100"},
					"charset": {"utf-8"}, "nullValue": {"LINKIS_NULL"}}, "")
				b.ok(t)
				if rows := list(t, b.Data, "fileContent"); len(rows) != 0 {
					t.Fatalf("page 2: %v", rows)
				}
			}},
		{"a text result set", "computation/client/ResultSetIterator.scala (TextResultSetIterator: type \"1\")",
			func(t *testing.T, st *sdkState) {
				task := st.c.waitEnded(st.execTaskID)
				a := st.c.do("GET", "/filesystem/getDirFileTrees", url.Values{"path": {str(t, task, "resultLocation")}}, "")
				a.ok(t)
				ch := list(t, obj(t, a.Data, "dirFileTrees"), "children")
				p := str(t, ch[0].(map[string]any), "path")
				f := st.c.do("GET", "/filesystem/openFile", url.Values{"path": {p}, "page": {"1"}, "pageSize": {"100"}, "nullValue": {"LINKIS_NULL"}}, "")
				f.ok(t)
				if str(t, f.Data, "type") != "1" || str(t, f.Data, "metadata") != "NULL" {
					t.Fatalf("text result: %v", f.Data)
				}
				if rows := list(t, f.Data, "fileContent"); len(rows) != 1 || rows[0].([]any)[0] != "execute-ok" {
					t.Fatalf("rows %v", rows)
				}
			}},
		{"JobListAction with several states", "ujes/client/request/JobListAction.scala, response/JobListResult.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/jobhistory/list", url.Values{"status": {"Succeed,Failed"}, "pageNow": {"1"}, "pageSize": {"10"},
					"executeApplicationName": {"sql"}}, "")
				a.ok(t)
				tasks := list(t, a.Data, "tasks")
				if integer(t, a.Data, "totalPage") < 1 || len(tasks) < 1 {
					t.Fatalf("list %v", a.Data)
				}
				for _, x := range tasks {
					if s := str(t, x.(map[string]any), "status"); s != "Succeed" && s != "Failed" {
						t.Fatalf("a %s task in a Succeed,Failed list", s)
					}
				}
				one := st.c.do("GET", "/jobhistory/list", url.Values{"taskID": {st.taskID}}, "")
				one.ok(t)
				if ts := list(t, one.Data, "tasks"); len(ts) != 1 || idOf(t, ts[0].(map[string]any), "taskID") != st.taskID {
					t.Fatalf("taskID filter: %v", ts)
				}
			}},
		{"OpenLogAction", "ujes/client/request/OpenLogAction.scala, response/OpenLogResult.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("GET", "/filesystem/openLog", url.Values{"path": {st.logPath}}, "")
				a.ok(t)
				if strings4(t, a.Data, "log")[3] == "" {
					t.Fatal("empty log")
				}
			}},
		{"JobExecIdAction pause and kill", "ujes/client/response/JobPauseResult.scala, JobKillResult.scala",
			func(t *testing.T, st *sdkState) {
				a := st.c.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"sleep 60","runType":"shell"},`+
					`"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
				a.ok(t)
				execID, taskID := str(t, a.Data, "execID"), idOf(t, a.Data, "taskID")
				p := st.c.do("GET", "/entrance/"+execID+"/pause", nil, "")
				p.ok(t)
				if str(t, p.Data, "execID") != execID {
					t.Fatalf("pause %v", p.Data)
				}
				k := st.c.do("GET", "/entrance/"+execID+"/kill", nil, "")
				k.ok(t)
				if s := str(t, st.c.waitEnded(taskID), "status"); s != "Cancelled" {
					t.Fatalf("killed job ended %s", s)
				}
			}},
		{"an ended session makes the SDK log in again", "linkis-commons/linkis-httpclient/.../AbstractHttpClient.scala (HTTP 401 → enforceLogin)",
			func(t *testing.T, st *sdkState) {
				st.c.do("POST", "/user/logout", nil, "").ok(t)
				a := st.c.do("GET", "/jobhistory/"+st.taskID+"/get", nil, "")
				if a.status(t) != -1 || a.http != 401 {
					t.Fatalf("after logout: status %d HTTP %d, want -1 and 401", a.status(t), a.http)
				}
				st.c.login("alice", alicePassword).ok(t)
				st.c.do("GET", "/jobhistory/"+st.taskID+"/get", nil, "").ok(t)
			}},
		{"LinkisJobClient's default token", "computation/client/LinkisJobBuilder.scala (TokenAuthenticationStrategy, LINKIS_CLI_TEST)",
			func(t *testing.T, st *sdkState) {
				tc := conformanceServer(t).newClient(t, map[string]string{"Token-User": "alice", "Token-Code": cliTestToken})
				a := tc.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"echo via-token","runType":"shell"},`+
					`"params":{},"source":{},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
				a.ok(t)
				if s := str(t, tc.waitEnded(idOf(t, a.Data, "taskID")), "status"); s != "Succeed" {
					t.Fatalf("token job ended %s", s)
				}
			}},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, st) }) {
			t.Fatalf("step %q failed (Linkis: %s); the later steps need it", step.name, step.linkis)
		}
	}
}

// fileNum is the first number of a result path's file name, as
// JobInfoResult.getResultSetList sorts them.
func fileNum(p string) int {
	name := p[strings.LastIndexByte(p, '/')+1:]
	start := strings.IndexAny(name, "0123456789")
	if start < 0 {
		return 0
	}
	end := start
	for end < len(name) && name[end] >= '0' && name[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(name[start:end])
	return n
}

// An administrator's submission as another user (executeUser) keeps the
// submitter: the history says submitUser ops, executeUser alice - as
// Linkis stores the login user as SUBMIT_USER and the proxy user as
// EXECUTE_USER (linkis-computation-governance/linkis-entrance/src/main/
// java/org/apache/linkis/entrance/restful/EntranceRestfulApi.java,
// submit and execute) - and a submitUser in a request's body is not
// believed (a regression test of the security review: both named the
// job's user, and a job an administrator ran as alice could not be told
// from alice's own).
func TestExecuteUserKeepsTheSubmitter(t *testing.T) {
	s := conformanceServer(t)
	ops := s.newClient(t, nil)
	ops.login("ops", opsPassword).ok(t)
	a := ops.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"echo hi"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	task := ops.waitEnded(idOf(t, a.Data, "taskID"))
	if sub, ex := str(t, task, "submitUser"), str(t, task, "executeUser"); sub != "ops" || ex != "alice" {
		t.Errorf("ops submitted as alice; the record says submitUser %q, executeUser %q", sub, ex)
	}
	// alice's own job, claiming another submitter in its body.
	alice := s.newClient(t, nil)
	alice.login("alice", alicePassword).ok(t)
	a = alice.do("POST", "/entrance/submit", nil, `{"submitUser":"ops","executionContent":{"code":"echo hi"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	task = alice.waitEnded(idOf(t, a.Data, "taskID"))
	if sub, ex := str(t, task, "submitUser"), str(t, task, "executeUser"); sub != "alice" || ex != "alice" {
		t.Errorf("alice's own job, its body saying submitUser ops: the record says submitUser %q, executeUser %q", sub, ex)
	}
}
