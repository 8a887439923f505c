package restapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/orchestrator"
)

// The fake must keep satisfying the interface the Entrance satisfies.
var _ Jobs = (*restapitest.Jobs)(nil)

var testUsers = map[string]string{"alice": "alice-code", "bob": "bob-code"}

func newTestHandler(t testing.TB, f *restapitest.Jobs, mut ...func(*Config)) http.Handler {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Users = testUsers
	cfg.MaxBodyBytes = 4096
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, m := range mut {
		m(&cfg)
	}
	h, err := NewHandler(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// call sends one request as user (no headers when user is "") and
// decodes the envelope.
func call(t testing.TB, h http.Handler, method, path, body, user string) (int, Envelope) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		r.Header.Set(HeaderTokenUser, user)
		r.Header.Set(HeaderTokenCode, testUsers[user])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var env Envelope
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("%s %s: answer is not an envelope: %v\n%s", method, path, err, w.Body.String())
	}
	if env.Method != r.URL.Path {
		t.Errorf("%s %s: method %q, want the path", method, path, env.Method)
	}
	return w.Code, env
}

func mustData(t testing.TB, env Envelope, v any) {
	t.Helper()
	if env.Status != StatusOK {
		t.Fatalf("status %d, message %q", env.Status, env.Message)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("data %s: %v", env.Data, err)
	}
}

const shellJob = `{"executionContent":{"code":"echo ${x}","runType":"sh"},"params":{"variable":{"x":"hi"}},
 "source":{"scriptPath":"file:///a.sh"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`

func submitShell(t *testing.T, h http.Handler) SubmitData {
	t.Helper()
	code, env := call(t, h, "POST", Prefix+PathSubmit, shellJob, "alice")
	var d SubmitData
	mustData(t, env, &d)
	if code != 200 || d.ExecID == "" || d.TaskID == 0 {
		t.Fatalf("submit: HTTP %d, %+v", code, d)
	}
	return d
}

// Linkis's token headers: none is "not logged in" (-1, 401); a wrong
// or partial pair is "auth failed" (3, 403) without saying which half
// was wrong; the right pair passes, and reaches Jobs as that user.
func TestAuthentication(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	path := Prefix + PathHistory
	for _, tc := range []struct {
		name       string
		user, code string
		status     int
		http       int
	}{
		{"no headers", "", "", StatusNotLoggedIn, 401},
		{"wrong code", "alice", "bob-code", StatusAuthFailed, 403},
		{"unknown user", "mallory", "alice-code", StatusAuthFailed, 403},
		{"user only", "alice", "", StatusAuthFailed, 403},
		{"code only", "", "alice-code", StatusAuthFailed, 403},
		{"prefix of the code", "alice", "alice-cod", StatusAuthFailed, 403},
		{"right", "alice", "alice-code", StatusOK, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", path, nil)
			if tc.user != "" {
				r.Header.Set(HeaderTokenUser, tc.user)
			}
			if tc.code != "" {
				r.Header.Set(HeaderTokenCode, tc.code)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var env Envelope
			if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
				t.Fatal(err)
			}
			if env.Status != tc.status || w.Code != tc.http {
				t.Fatalf("status %d HTTP %d (%q), want %d HTTP %d", env.Status, w.Code, env.Message, tc.status, tc.http)
			}
			if tc.status != StatusOK && strings.Contains(env.Message, "code") && strings.Contains(env.Message, tc.code) && tc.code != "" {
				t.Errorf("message echoes the token: %q", env.Message)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no users", Config{}, "no user"},
		{"empty code", Config{Users: map[string]string{"alice": ""}}, "empty token code"},
		{"empty user", Config{Users: map[string]string{"": "x"}}, "user name"},
		// Users the entrance would refuse every job of.
		{"dash in user", Config{Users: map[string]string{"john-doe": "x"}}, "user name"},
		{"dots user", Config{Users: map[string]string{"..": "x"}}, "user name"},
		{"long user", Config{Users: map[string]string{strings.Repeat("u", 65): "x"}}, "user name"},
		{"long code", Config{Users: map[string]string{"a": strings.Repeat("x", MaxTokenBytes+1)}}, "longer than"},
		{"negative body", Config{Users: testUsers, MaxBodyBytes: -1}, "MaxBodyBytes"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, linkis.ErrInvalidArgument) {
			t.Errorf("%s: %v, want an invalid argument about %q", tc.name, err, tc.want)
		}
		if _, err := NewHandler(restapitest.NewJobs(), tc.cfg); err == nil {
			t.Errorf("%s: NewHandler accepted it", tc.name)
		}
	}
	if err := (Config{Users: testUsers}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// A job's life through every entrance path, with the data shapes Linkis
// clients read.
func TestJobLifecycle(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	sub := submitShell(t, h)
	base := Prefix + "/entrance/" + sub.ExecID

	var st StatusData
	_, env := call(t, h, "GET", base+"/status", "", "alice")
	mustData(t, env, &st)
	if st != (StatusData{Status: "Inited", ExecID: sub.ExecID, TaskID: sub.TaskID}) {
		t.Fatalf("status %+v", st)
	}

	f.Set(sub.ExecID, func(j *orchestrator.Job) {
		j.State, j.Progress, j.ProgressInfo, j.EC = orchestrator.Running, 0.4, "2 of 5 statements", "ec-1"
	})
	var pr ProgressData
	_, env = call(t, h, "GET", base+"/progress", "", "alice")
	mustData(t, env, &pr)
	if pr.Progress != 0.4 || pr.ExecID != sub.ExecID || len(pr.ProgressInfo) != 1 ||
		pr.ProgressInfo[0].RunningTasks != 1 || pr.ProgressInfo[0].Info != "2 of 5 statements" {
		t.Fatalf("progress %+v", pr)
	}

	f.AddLog(sub.ExecID, "INFO starting", "hello", "WARN slow disk", "ERROR boom", "bye")
	var lg LogData
	_, env = call(t, h, "GET", base+"/log?fromLine=1&size=3", "", "alice")
	mustData(t, env, &lg)
	want := [4]string{"ERROR boom\n", "WARN slow disk\n", "", "hello\nWARN slow disk\nERROR boom\n"}
	if lg.Log != want || lg.FromLine != 4 || lg.Complete {
		t.Fatalf("log %+v", lg)
	}
	_, env = call(t, h, "GET", base+"/log?fromLine=4", "", "alice")
	mustData(t, env, &lg)
	if lg.Log[LogAll] != "bye\n" || lg.FromLine != 5 {
		t.Fatalf("second log page %+v", lg)
	}

	// Linkis kills with GET; POST works too.
	var kd StatusData
	code, env := call(t, h, "GET", base+"/kill", "", "alice")
	mustData(t, env, &kd)
	if code != 200 || kd.Status != "Cancelled" || kd.ExecID != sub.ExecID || kd.TaskID != sub.TaskID {
		t.Fatalf("kill: HTTP %d %+v", code, kd)
	}
	_, env = call(t, h, "POST", base+"/kill", "", "alice")
	mustData(t, env, &kd)

	_, env = call(t, h, "GET", base+"/log?fromLine=5", "", "alice")
	mustData(t, env, &lg)
	if !lg.Complete || lg.Log[LogAll] != "" {
		t.Fatalf("log after the end %+v", lg)
	}

	var td TaskData
	_, env = call(t, h, "GET", Prefix+"/jobhistory/"+itoa(sub.TaskID)+"/get", "", "alice")
	mustData(t, env, &td)
	task := td.Task
	if task.TaskID != sub.TaskID || task.ExecID != sub.ExecID || task.UmUser != "alice" || task.Status != "Cancelled" ||
		task.ExecutionCode != "echo ${x}" || task.EngineType != "shell-1" || task.ExecuteApplicationName != "shell" ||
		task.RequestApplicationName != "IDE" || task.RunType != "sh" || task.EngineInstance != "ec-1" ||
		task.Instance != DefaultInstance || task.CreatedTime != f.Now.UnixMilli() || task.ErrorText() != "killed by alice" ||
		!strings.Contains(task.ParamsJSON, `"x":"hi"`) || strings.Join(task.Labels, ",") != "engineType:shell-1,userCreator:alice-IDE" {
		t.Fatalf("task %+v", task)
	}
	// The raw field names are Linkis's.
	for _, k := range []string{`"taskID"`, `"execId"`, `"umUser"`, `"executionCode"`, `"resultLocation"`, `"createdTime"`, `"updatedTime"`, `"errDesc"`, `"costTime"`, `"engineInstance"`} {
		if !bytes.Contains(env.Data, []byte(k)) {
			t.Errorf("task lacks %s: %s", k, env.Data)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestList(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	for i := 0; i < 5; i++ {
		submitShell(t, h)
	}
	f.Set("exec_2", func(j *orchestrator.Job) { j.State = orchestrator.Succeed })
	var ld ListData
	_, env := call(t, h, "GET", Prefix+PathHistory+"?pageNow=2&pageSize=2", "", "alice")
	mustData(t, env, &ld)
	if ld.TotalPage != 5 || len(ld.Tasks) != 2 || ld.Tasks[0].TaskID != 3 || ld.Tasks[1].TaskID != 2 {
		t.Fatalf("page 2: %+v", ld)
	}
	_, env = call(t, h, "GET", Prefix+PathHistory+"?status=Succeed&creator=IDE&engineType=shell&startDate=0&endDate=2030-01-01", "", "alice")
	mustData(t, env, &ld)
	if ld.TotalPage != 1 || ld.Tasks[0].ExecID != "exec_2" {
		t.Fatalf("filtered: %+v", ld)
	}
	// Linkis's clients name the engine type filter executeApplicationName.
	for app, want := range map[string]int{"shell": 1, "python": 0} {
		_, env = call(t, h, "GET", Prefix+PathHistory+"?status=Succeed&executeApplicationName="+app, "", "alice")
		mustData(t, env, &ld)
		if ld.TotalPage != want {
			t.Errorf("executeApplicationName=%s: %d tasks, want %d", app, ld.TotalPage, want)
		}
	}
	// Another user sees none of them.
	_, env = call(t, h, "GET", Prefix+PathHistory, "", "bob")
	mustData(t, env, &ld)
	if ld.TotalPage != 0 || ld.Tasks == nil || len(ld.Tasks) != 0 {
		t.Fatalf("bob: %+v (tasks must be [], not null)", ld)
	}
}

func writeTableResult(t testing.TB, f *restapitest.Jobs, execID, dir string) string {
	p := filepath.Join(dir, "_0.jsonl")
	if err := f.AddResult(execID, p, `{"type":"table","columns":[{"name":"id","type":"INTEGER"},{"name":"name","type":"TEXT"}]}
[1,"one"]
[2,"two"]
[3,null]
`); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenFile(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	sub := submitShell(t, h)
	dir := t.TempDir()
	p := writeTableResult(t, f, sub.ExecID, dir)
	var fd FileData
	_, env := call(t, h, "GET", Prefix+PathOpenFile+"?path="+p+"&page=2&pageSize=2", "", "alice")
	mustData(t, env, &fd)
	if fd.Type != FileTypeTable || fd.TotalLine != 3 || fd.TotalPage != 2 || fd.Page != 2 || len(fd.FileContent) != 1 ||
		fd.FileContent[0][0] != "3" || fd.FileContent[0][1] != "NULL" ||
		len(fd.Columns()) != 2 || fd.Columns()[1] != (Column{ColumnName: "name", DataType: "string", Comment: "NULL"}) {
		t.Fatalf("page 2: %+v", fd)
	}
	if !bytes.Contains(env.Data, []byte(`"columnName":"id","dataType":"bigint","comment":"NULL"`)) {
		t.Errorf("metadata shape: %s", env.Data)
	}
	// Past the last page: no rows, no error.
	_, env = call(t, h, "GET", Prefix+PathOpenFile+"?path="+p+"&page=9", "", "alice")
	mustData(t, env, &fd)
	if len(fd.FileContent) != 0 || fd.TotalPage != 1 {
		t.Fatalf("page 9: %+v", fd)
	}

	tp := filepath.Join(dir, "_1.jsonl")
	if err := f.AddResult(sub.ExecID, tp, `{"type":"text","columns":[{"name":"line","type":"TEXT"}]}`+"\n[\"hello\"]\n"); err != nil {
		t.Fatal(err)
	}
	_, env = call(t, h, "GET", Prefix+PathOpenFile+"?path="+tp, "", "alice")
	mustData(t, env, &fd)
	if fd.Type != FileTypeText || fd.TotalLine != 1 || fd.FileContent[0][0] != "hello" {
		t.Fatalf("text: %+v", fd)
	}

	// A malformed file is an error without the file's path.
	bad := filepath.Join(dir, "_2.jsonl")
	if err := f.AddResult(sub.ExecID, bad, "{\"type\":\"table\",\"columns\":[{\"name\":\"a\",\"type\":\"TEXT\"}]}\n[1,2]\n"); err != nil {
		t.Fatal(err)
	}
	code, env := call(t, h, "GET", Prefix+PathOpenFile+"?path="+bad, "", "alice")
	if env.Status != StatusError || code != 500 || strings.Contains(env.Message, dir) || !strings.Contains(env.Message, "row 1") {
		t.Fatalf("malformed: HTTP %d %+v", code, env)
	}
}

// Every kind of bad input is refused with a message naming the problem,
// an envelope status and an HTTP status; none of them changes anything
// and no message shows a path the user did not send.
func TestBadInput(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	sub := submitShell(t, h)
	dir := t.TempDir()
	p := writeTableResult(t, f, sub.ExecID, dir)
	job := func(labels, code string) string {
		return `{"executionContent":{"code":"` + code + `"},"labels":{` + labels + `}}`
	}
	for _, tc := range []struct {
		name         string
		method, path string
		body, user   string
		status, http int
		want         []string
	}{
		{"malformed JSON", "POST", PathSubmit, `{"executionContent":`, "alice", StatusValidation, 400, []string{"not valid JSON"}},
		{"wrong field type", "POST", PathSubmit, `{"executionContent":{"code":7}}`, "alice", StatusValidation, 400, []string{"executionContent.code", "string"}},
		{"trailing data", "POST", PathSubmit, shellJob + "{}", "alice", StatusValidation, 400, []string{"trailing data"}},
		{"empty body", "POST", PathSubmit, ``, "alice", StatusValidation, 400, []string{"empty"}},
		{"object variable", "POST", PathSubmit, `{"params":{"variable":{"x":{}}}}`, "alice", StatusValidation, 400, []string{`"x"`}},
		{"missing engineType", "POST", PathSubmit, job(`"userCreator":"alice-IDE"`, "ls"), "alice", StatusValidation, 400, []string{"missing label", "engineType"}},
		{"missing userCreator", "POST", PathSubmit, job(`"engineType":"shell-1"`, "ls"), "alice", StatusValidation, 400, []string{"missing label", "userCreator"}},
		{"unknown engine", "POST", PathSubmit, job(`"engineType":"spark-2.4.3","userCreator":"alice-IDE"`, "ls"), "alice", StatusValidation, 400, []string{"unknown engine type", "spark-2.4.3"}},
		{"unknown variable", "POST", PathSubmit, job(`"engineType":"shell-1","userCreator":"alice-IDE"`, "echo ${nope}"), "alice", StatusValidation, 400, []string{"unknown variable", "nope"}},
		{"another user's creator", "POST", PathSubmit, job(`"engineType":"shell-1","userCreator":"bob-IDE"`, "ls"), "alice", StatusAuthFailed, 403, []string{"userCreator"}},
		{"body over the limit", "POST", PathSubmit, `{"executionContent":{"code":"` + strings.Repeat("x", 5000) + `"}}`, "alice", StatusValidation, 413, []string{"larger than 4096 bytes"}},
		{"submit by GET", "GET", PathSubmit, "", "alice", StatusValidation, 405, []string{"method", "POST"}},
		{"another user's status", "GET", "/entrance/" + sub.ExecID + "/status", "", "bob", StatusAuthFailed, 403, []string{"permission denied"}},
		{"another user's kill", "GET", "/entrance/" + sub.ExecID + "/kill", "", "bob", StatusAuthFailed, 403, []string{"permission denied"}},
		{"another user's log", "GET", "/entrance/" + sub.ExecID + "/log", "", "bob", StatusAuthFailed, 403, []string{"permission denied"}},
		{"another user's history", "GET", "/jobhistory/" + itoa(sub.TaskID) + "/get", "", "bob", StatusAuthFailed, 403, []string{"permission denied"}},
		{"unknown job", "GET", "/entrance/exec_99/status", "", "alice", StatusError, 404, []string{"unknown job"}},
		{"unknown task", "GET", "/jobhistory/99/get", "", "alice", StatusError, 404, []string{"unknown job"}},
		{"bad task id", "GET", "/jobhistory/x1/get", "", "alice", StatusValidation, 400, []string{"taskID", "positive integer"}},
		{"negative fromLine", "GET", "/entrance/" + sub.ExecID + "/log?fromLine=-1", "", "alice", StatusValidation, 400, []string{"fromLine"}},
		{"bad size", "GET", "/entrance/" + sub.ExecID + "/log?size=x", "", "alice", StatusValidation, 400, []string{"size", "integer"}},
		{"bad status", "GET", PathHistory + "?status=Done", "", "alice", StatusValidation, 400, []string{"status", "Done"}},
		{"bad date", "GET", PathHistory + "?startDate=yesterday", "", "alice", StatusValidation, 400, []string{"startDate"}},
		{"page size too big", "GET", PathHistory + "?pageSize=501", "", "alice", StatusValidation, 400, []string{"pageSize", "500"}},
		{"no path", "GET", PathOpenFile, "", "alice", StatusValidation, 400, []string{"path", "required"}},
		{"path traversal", "GET", PathOpenFile + "?path=" + dir + "/../../etc/passwd", "", "alice", StatusAuthFailed, 403, []string{"path", ".."}},
		{"relative traversal", "GET", PathOpenFile + "?path=../x.jsonl", "", "alice", StatusAuthFailed, 403, []string{".."}},
		{"another user's file", "GET", PathOpenFile + "?path=" + p, "", "bob", StatusAuthFailed, 403, []string{"not one of your result-set files"}},
		{"a file outside the results", "GET", PathOpenFile + "?path=/etc/passwd", "", "alice", StatusAuthFailed, 403, []string{"not one of your result-set files"}},
		{"NUL in path", "GET", PathOpenFile + "?path=a%00b", "", "alice", StatusValidation, 400, []string{"NUL"}},
		{"bad page", "GET", PathOpenFile + "?path=" + p + "&page=0", "", "alice", StatusValidation, 400, []string{"page"}},
		{"unknown path", "GET", "/entrance/" + sub.ExecID + "/explode", "", "alice", StatusError, 404, []string{"no such API"}},
		{"outside the prefix", "GET", "/../etc", "", "alice", StatusError, 404, []string{"no such API"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if strings.HasPrefix(path, "/entrance") || strings.HasPrefix(path, "/jobhistory") || strings.HasPrefix(path, "/filesystem") {
				path = Prefix + path
			}
			before := f.Count()
			code, env := call(t, h, tc.method, path, tc.body, tc.user)
			if env.Status != tc.status || code != tc.http {
				t.Fatalf("status %d HTTP %d (%q), want %d HTTP %d", env.Status, code, env.Message, tc.status, tc.http)
			}
			for _, w := range tc.want {
				if !strings.Contains(env.Message, w) {
					t.Errorf("message %q lacks %q", env.Message, w)
				}
			}
			if strings.Contains(env.Message, dir) && !strings.Contains(tc.path, dir) {
				t.Errorf("message shows a directory the user did not send: %q", env.Message)
			}
			if f.Count() != before {
				t.Errorf("jobs changed: %d -> %d", before, f.Count())
			}
			var d ErrorData
			if err := json.Unmarshal(env.Data, &d); err != nil || d.ErrorKind == "" {
				t.Errorf("error data %s: %v", env.Data, err)
			}
		})
	}
	var st StatusData
	_, env := call(t, h, "GET", Prefix+"/entrance/"+sub.ExecID+"/status", "", "alice")
	mustData(t, env, &st)
	if st.Status != "Inited" {
		t.Fatalf("bob's kill changed alice's job: %+v", st)
	}
}

// An error of no known kind (an os error with a path, say) is answered
// "internal error": its text, which may hold paths and Go internals,
// goes only to the log.
func TestInternalErrorHidden(t *testing.T) {
	f := restapitest.NewJobs()
	var logged bytes.Buffer
	h := newTestHandler(t, f, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logged, nil)) })
	f.FailWith = &os.PathError{Op: "open", Path: "/var/lib/secret/history.db", Err: os.ErrNotExist}
	code, env := call(t, h, "GET", Prefix+PathHistory, "", "alice")
	if code != 500 || env.Status != StatusError || strings.Contains(env.Message, "/var/lib") || !strings.Contains(env.Message, "internal error") {
		t.Fatalf("HTTP %d %+v", code, env)
	}
	if !strings.Contains(logged.String(), "/var/lib/secret") {
		t.Errorf("the log lacks the detail: %s", logged.String())
	}
	f.FailWith = linkis.Errorf(linkis.ErrQueueFull, "group", "IDE_alice_shell-1 holds 1000 jobs")
	r := httptest.NewRequest("POST", Prefix+PathSubmit, strings.NewReader(shellJob))
	r.Header.Set(HeaderTokenUser, "alice")
	r.Header.Set(HeaderTokenCode, "alice-code")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "queue full") {
		t.Fatalf("queue full: HTTP %d %s", w.Code, w.Body.String())
	}
}

func TestSplitLog(t *testing.T) {
	got := SplitLog([]string{"2026 INFO a", "WARN b", "ERROR c", "plain", "INFO and ERROR"})
	want := [4]string{"ERROR c\nINFO and ERROR\n", "WARN b\n", "2026 INFO a\nINFO and ERROR\n", "2026 INFO a\nWARN b\nERROR c\nplain\nINFO and ERROR\n"}
	if got != want {
		t.Fatalf("%q", got)
	}
	if SplitLog(nil) != [4]string{} {
		t.Fatal("no lines must give empty strings")
	}
}

// A CSV download guards a text cell a spreadsheet would take for a
// formula, but not a plain number, whatever its column's type: one
// written as a JSON number, one kept as text in a numeric column (a
// DECIMAL as a string), one in a TEXT column (-1.5 is no formula, and a
// "'" would change the data). What ParseFloat reads but a spreadsheet
// does not take for a number (-Inf, hexadecimal) is guarded.
func TestCSVGuardsFormulasNotNumbers(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	sub := submitShell(t, h)
	p := filepath.Join(t.TempDir(), "_0.jsonl")
	if err := f.AddResult(sub.ExecID, p, `{"type":"table","columns":[{"name":"n","type":"INTEGER"},{"name":"d","type":"DECIMAL"},{"name":"t","type":"TEXT"},{"name":"@t","type":"TEXT"}]}
[-1,"-1.5","-1.5","=1+1"]
[2,"+cmd","\tx","ok"]
[3,"+2.5e3","-Inf","-0x1p3"]
`); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", Prefix+"/filesystem/resultsetToExcel?outputFileType=csv&path="+p, nil)
	r.Header.Set(HeaderTokenUser, "alice")
	r.Header.Set(HeaderTokenCode, testUsers["alice"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	want := "n,d,t,'@t\n-1,-1.5,-1.5,'=1+1\n2,'+cmd,'\tx,ok\n3,+2.5e3,'-Inf,'-0x1p3\n"
	if got := w.Body.String(); w.Code != http.StatusOK || got != want {
		t.Errorf("HTTP %d, CSV\n%q, want\n%q", w.Code, got, want)
	}
}
