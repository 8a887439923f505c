package orchestrator

// Second review of the data path (branch rev2-data).

import (
	"testing"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// A user not among a SIMPLE data source's users cannot reach its server
// inline as its database user under another spelling of its host - its
// address for "localhost", the IPv6 loopback, the absolute name with its
// trailing dot - with any password: the database trusts the engines' hosts
// by the connection, not by the name the job wrote (Set.TrustedFor
// compares addresses). Found by the second review: only the same spelling
// (case aside) was recognised. Check runs inlineSettings on every jdbc
// unit (stages.go); Check accepting it is the job accepted.
func TestSimpleServerRefusedUnderAnySpellingOfItsHost(t *testing.T) {
	set, err := datasource.NewSet([]datasource.DataSource{
		{Name: "local", URL: "jdbc:postgresql://localhost:5432/dw", Username: "etl", AuthType: datasource.AuthSimple, Users: []string{"alice"}},
		{Name: "wh", URL: "jdbc:postgresql://wh.corp.example/dw", Username: "etl2", AuthType: datasource.AuthSimple, Users: []string{"alice"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	o, _ := recordingOrchestrator(t, set)
	for _, c := range []struct{ url, user string }{
		{"jdbc:postgresql://127.0.0.1:5432/dw", "etl"},         // localhost's address
		{"jdbc:postgresql://[::1]:5432/dw", "etl"},             // and its IPv6 one
		{"jdbc:postgresql://localhost.:5432/dw", "etl"},        // the absolute name
		{"jdbc:postgresql://wh.corp.example.:5432/dw", "etl2"}, // the absolute name
	} {
		s := spec("jdbc-4", "select 1")
		s.User = "mallory"
		s.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
		s.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: c.url,
			datasource.KeyUsername: c.user, datasource.KeyPassword: "anything"}
		if err := o.Check(s); err == nil {
			t.Errorf("mallory, not among the users of a SIMPLE data source, was let through to its server as %q at %s (the server trusts the host for that user)", c.user, c.url)
		}
	}
}
