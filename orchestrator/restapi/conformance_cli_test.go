package restapi_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// cliState is what linkis-cli keeps between its calls.
type cliState struct {
	c                                *client
	taskID, execID                   string
	logPath, resultLocation, sleeper string
	resultSets                       []string
	fromLine                         int
}

// linkis-cli, as apache/linkis linkis-computation-governance/linkis-client/
// linkis-cli runs a job: InteractiveJob.run (interactor/job/interactive/
// InteractiveJob.java) through LinkisJobOper (operator/ujes/
// LinkisJobOper.java) and the UJES client it builds (operator/ujes/
// UJESClientFactory.java: the static strategy by default), the job built
// by InteractiveJobDescBuilder.java, logs by LogRetriever, results by
// ResultRetriever and ResultPresenter (present/ResultPresenter.java), and
// JobKiller for Ctrl-C.
func TestConformanceLinkisCLI(t *testing.T) {
	s := conformanceServer(t)
	st := &cliState{c: s.newClient(t, nil)}
	steps := []struct {
		name, linkis string
		run          func(t *testing.T, st *cliState)
	}{
		{"login with the static strategy", "linkis-commons/linkis-httpclient/.../dws/authentication/StaticAuthenticationStrategy.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.login("alice", alicePassword)
				a.ok(t)
				// getAuthenticationResult: data.get("sessionTimeOut").toString.toLong
				if num(t, a.Data, "sessionTimeOut") < 60_000 {
					t.Fatalf("sessionTimeOut %v ms", a.Data["sessionTimeOut"])
				}
				if !strings.Contains(a.header.Get("Set-Cookie"), "linkis_user_session_ticket_id_v1=") {
					t.Fatalf("no session cookie: %q", a.header.Get("Set-Cookie"))
				}
			}},
		{"submit the job linkis-cli builds", "linkis-cli/.../interactor/job/interactive/InteractiveJobDescBuilder.java, JobSubmitAction.scala",
			func(t *testing.T, st *cliState) {
				// executeOnce "" (the default mode), codeType in the labels,
				// a runtime setting of Hive's as a boolean, extraArguments as
				// an array, source.scriptPath "BdpClient".
				a := st.c.do("POST", "/entrance/submit", nil, `{"executeUser":"alice",`+
					`"executionContent":{"code":"select 6*7 as answer, 'x' as s, null as n"},`+
					`"params":{"configuration":{"startup":{},"runtime":{"hive.resultset.use.unique.column.names":true,"extraArguments":["-a","b"]}},"variable":{}},`+
					`"source":{"scriptPath":"BdpClient","cli.version":"1.8.0"},`+
					`"labels":{"executeOnce":"","engineType":"sql-1","codeType":"sql","userCreator":"alice-LINKISCLI"}}`)
				a.ok(t)
				// LinkisJobOper.submit: getTaskID not blank; UJESResultAdapter.getStrongerExecId: execID.
				st.taskID, st.execID = idOf(t, a.Data, "taskID"), str(t, a.Data, "execID")
			}},
		{"job info", "linkis-cli/.../operator/ujes/UJESResultAdapter.java, ujes/client/response/JobInfoResult.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/jobhistory/"+st.taskID+"/get", nil, "")
				a.ok(t)
				task := obj(t, a.Data, "task")
				if idOf(t, task, "taskID") != st.taskID || str(t, task, "strongerExecId") != st.execID || str(t, task, "umUser") != "alice" {
					t.Fatalf("task %v", task)
				}
				long(t, task, "createdTime") // asInstanceOf[Long]
				long(t, task, "updatedTime")
				str(t, task, "status")
				str(t, task, "progress") // RequestPersistTask.progress via BeanUtils
				str(t, task, "requestApplicationName")
				st.logPath = str(t, task, "logPath")
				if _, ok := task["errCode"]; !ok || task["errCode"] != nil {
					t.Fatalf("errCode %#v: want null while no error code is known", task["errCode"]) // getErrCode: instanceof Integer
				}
			}},
		{"status", "ujes/client/request/JobExecIdAction.scala (JobStatus)",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/entrance/"+st.execID+"/status", url.Values{"taskID": {st.taskID}}, "")
				a.ok(t)
				if s := str(t, a.Data, "status"); s == "" || str(t, a.Data, "execID") != st.execID {
					t.Fatalf("status %v", a.Data)
				}
			}},
		{"runtime log from a line", "linkis-cli/.../operator/ujes/LinkisJobOper.java queryRunTimeLogFromLine, JobLogAction.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/entrance/"+st.execID+"/log", url.Values{"fromLine": {"1"}, "size": {"-1"}}, "")
				a.ok(t)
				strings4(t, a.Data, "log")
				if st.fromLine = integer(t, a.Data, "fromLine"); st.fromLine < 1 {
					t.Fatalf("fromLine %d", st.fromLine)
				}
			}},
		{"progress", "ujes/client/response/JobProgressResult.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/entrance/"+st.execID+"/progress", nil, "")
				a.ok(t)
				num(t, a.Data, "progress")
				for _, p := range list(t, a.Data, "progressInfo") { // JobProgressInfo, read by Jackson
					info := p.(map[string]any)
					str(t, info, "id")
					for _, k := range []string{"succeedTasks", "failedTasks", "runningTasks", "totalTasks"} {
						integer(t, info, k)
					}
				}
			}},
		{"wait for the end", "linkis-cli/.../interactor/job/interactive/InteractiveJob.java waitJobComplete",
			func(t *testing.T, st *cliState) {
				task := st.c.waitEnded(st.taskID)
				if s := str(t, task, "status"); s != "Succeed" {
					t.Fatalf("job ended %s: %v", s, task)
				}
				if p := str(t, task, "progress"); p != "1" {
					t.Fatalf("progress %q at the end", p)
				}
				st.resultLocation = str(t, task, "resultLocation")
			}},
		{"persisted log", "linkis-cli/.../operator/ujes/LinkisJobOper.java queryPersistedLogInternal, OpenLogAction.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/filesystem/openLog", url.Values{"path": {st.logPath}}, "")
				a.ok(t)
				if all := strings4(t, a.Data, "log")[3]; strings.TrimSpace(all) == "" || !strings.Contains(all, "ended Succeed") {
					t.Fatalf("log: %q", all) // a blank log is retried, then fails
				}
			}},
		{"result-set paths", "ujes/client/request/ResultSetListAction.scala, response/ResultSetListResult.scala",
			func(t *testing.T, st *cliState) {
				a := st.c.do("GET", "/filesystem/getDirFileTrees", url.Values{"path": {st.resultLocation}}, "")
				a.ok(t)
				for _, ch := range list(t, obj(t, a.Data, "dirFileTrees"), "children") {
					st.resultSets = append(st.resultSets, str(t, ch.(map[string]any), "path"))
				}
				if len(st.resultSets) != 1 {
					t.Fatalf("result sets %v", st.resultSets)
				}
			}},
		{"result pages until an empty one", "linkis-cli/.../interactor/job/common/ResultRetriever.java, present/ResultPresenter.java",
			func(t *testing.T, st *cliState) {
				for page := 1; ; page++ {
					a := st.c.do("GET", "/filesystem/openFile", url.Values{"path": {st.resultSets[0]}, "page": {itoa(page)},
						"pageSize": {"5000"}, "charset": {"utf-8"}, "nullValue": {"LINKIS_NULL"}}, "")
					a.ok(t)
					// convertRawResultContent: List<List<String>>; every cell a string or null.
					rows := list(t, a.Data, "fileContent")
					if page == 1 {
						meta := list(t, a.Data, "metadata") // List<LinkedHashMap<String, String>>
						if len(meta) != 3 || str(t, meta[0].(map[string]any), "columnName") != "answer" || str(t, meta[0].(map[string]any), "dataType") != "bigint" {
							t.Fatalf("metadata %v", meta)
						}
						if len(rows) != 1 {
							t.Fatalf("rows %v", rows)
						}
						row := rows[0].([]any)
						if row[0] != "42" || row[1] != "x" || row[2] != nil {
							t.Fatalf("row %#v: want strings, and null kept with LINKIS_NULL", row)
						}
						if integer(t, a.Data, "totalLine") != 1 || str(t, a.Data, "type") != "2" {
							t.Fatalf("page %v", a.Data)
						}
						continue
					}
					if len(rows) != 0 { // resultHasNextPage: an empty page ends
						t.Fatalf("page %d past the end: %v", page, rows)
					}
					break
				}
			}},
		{"submit as another user is refused", "linkis-cli/.../utils/CliUtils.java getProxyUser (-proxyUser)",
			func(t *testing.T, st *cliState) {
				a := st.c.do("POST", "/entrance/submit", nil, `{"executeUser":"bob","executionContent":{"code":"echo hi"},`+
					`"labels":{"engineType":"shell-1","userCreator":"bob-LINKISCLI"}}`)
				if a.status(t) == 0 || !strings.Contains(a.Message, "administrator") {
					t.Fatalf("alice submitting as bob: %d %q", a.status(t), a.Message)
				}
			}},
		{"kill on Ctrl-C", "linkis-cli/.../interactor/job/common/JobKiller.java, JobExecIdAction.scala (JobKill)",
			func(t *testing.T, st *cliState) {
				a := st.c.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"sleep 60"},`+
					`"labels":{"engineType":"shell-1","codeType":"shell","userCreator":"alice-LINKISCLI"}}`)
				a.ok(t)
				execID, taskID := str(t, a.Data, "execID"), idOf(t, a.Data, "taskID")
				k := st.c.do("GET", "/entrance/"+execID+"/kill", url.Values{"taskID": {taskID}}, "")
				k.ok(t)
				if str(t, k.Data, "execID") != execID {
					t.Fatalf("kill %v", k.Data)
				}
				if s := str(t, st.c.waitEnded(taskID), "status"); s != "Cancelled" {
					t.Fatalf("killed job ended %s", s)
				}
			}},
		{"token strategy", "linkis-commons/.../dws/authentication/TokenAuthenticationStrategy.scala (authStrategy=token)",
			func(t *testing.T, st *cliState) {
				tc := conformanceServer(t).newClient(t, map[string]string{"Token-User": "alice", "Token-Code": cliTestToken})
				a := tc.do("GET", "/jobhistory/"+st.taskID+"/get", nil, "")
				a.ok(t)
				wrong := conformanceServer(t).newClient(t, map[string]string{"Token-User": "ops", "Token-Code": cliTestToken})
				if b := wrong.do("GET", "/jobhistory/"+st.taskID+"/get", nil, ""); b.status(t) != 3 || b.http != 403 {
					t.Fatalf("the token acting as a user it may not: %d HTTP %d", b.status(t), b.http)
				}
			}},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, st) }) {
			t.Fatalf("step %q failed (Linkis: %s); the later steps need it", step.name, step.linkis)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
