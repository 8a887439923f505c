package engines_test

// Second review of the data path (branch rev2-data).

import (
	"context"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/datasource"
)

// PostgreSQL's block comments nest (sqlsplit.go postgresDialect): a COPY
// from or to the client behind a nested comment is still refused
// (clientCopy skips leading comments with skipLeadingComments). Found by
// the second review: clientCopy stopped at the first "*/", the COPY went to
// the server - TO STDOUT succeeded with its rows gone nowhere, FROM STDIN
// waited for the statement timeout and ended as a lost, retryable
// connection.
func TestJDBCCopyToClientBehindNestedCommentRefused(t *testing.T) {
	dbs, _ := servers(t)
	h := startJDBC(t)
	d := dbs[0]
	h.ok("DROP TABLE IF EXISTS cp2; CREATE TABLE cp2 (a int); INSERT INTO cp2 VALUES (1), (2)", d.params)
	if st := h.exec("/* a /* b */ c */ COPY cp2 TO STDOUT", d.params); st.State == api.TaskSuccess {
		t.Errorf("COPY TO STDOUT behind a nested comment SUCCEEDED (results: %d): %s", len(st.Results), strings.Join(h.logOf(st.ID), " | "))
	}
	st := h.exec("/* a /* b */ c */ COPY cp2 FROM STDIN", d.with(datasource.KeyQueryTimeout, "2"))
	if !strings.Contains(st.Error, "COPY") {
		t.Errorf("COPY FROM STDIN behind a nested comment was not refused as such: %s %s", st.State, st.Error)
	}
}

// A secret the code holds in clear (a secret variable the orchestrator
// substituted) is masked in the task's log - the statement previews - and
// in its error, when the task names it in api.TaskRequest.Scrub. Found by
// the second review: the jdbc engine's log showed it.
func TestJDBCTaskLogAndErrorMaskSecrets(t *testing.T) {
	dbs, _ := servers(t)
	h := startJDBC(t)
	const secret = "Pw-In-Code-7"
	for _, d := range dbs[:1] { // PostgreSQL quotes the missing relation in its error
		sub, err := h.cli.Submit(context.Background(), api.TaskRequest{AskID: shAsk, Token: shToken, RunType: "jdbc", Params: d.params,
			Code: "SELECT '" + secret + "' AS x;\nSELECT * FROM \"" + secret + "\"", Scrub: []string{secret}})
		if err != nil {
			t.Fatal(err)
		}
		st := h.wait(sub.ID)
		log := strings.Join(h.logOf(st.ID), "\n")
		if st.State != api.TaskError || !strings.Contains(st.Error, "does not exist") {
			t.Fatalf("%s: the second statement should fail on the missing relation: %s %s", d.name, st.State, st.Error)
		}
		if strings.Contains(log, secret) || strings.Contains(st.Error, secret) {
			t.Errorf("%s: the secret is in clear:\nlog: %s\nerror: %s", d.name, log, st.Error)
		}
		if !strings.Contains(log, "SELECT '******' AS x") || !strings.Contains(st.Error, `"******"`) {
			t.Errorf("%s: the secret is not masked where it was:\nlog: %s\nerror: %s", d.name, log, st.Error)
		}
	}
}
