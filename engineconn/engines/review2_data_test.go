package engines_test

// Second review of the data path (branch rev2-data).

import (
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
