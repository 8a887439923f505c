package orchestrator

// Second review of the data path (branch rev2-data).

import (
	"context"
	"reflect"
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

// A secret variable substituted into the code, and the task's secret
// settings, go with the task as values for the engine to mask in the
// task's log and error (a jdbc statement's preview, a database error
// quoting it); plain values and secrets too short to mask do not.
func TestTaskCarriesItsSecretsToScrub(t *testing.T) {
	o, r := recordingOrchestrator(t, nil)
	s := spec("shell-1", "echo ${password} ${db_pwd} ${who}")
	s.Request.Params.Configuration.Runtime = Values{"service.auth.token": "Tok-Value-4", "plain.setting": "Plain-Value"}
	s.Request.Params.Variable = Values{"password": "Var-Pw-5", "db_pwd": "abc", "who": "Not-A-Secret"}
	if err := o.Check(s); err != nil {
		t.Fatal(err)
	}
	o.Run(context.Background(), s, newRecorder())
	if len(r.scrub) != 1 || !reflect.DeepEqual(r.scrub[0], []string{"Tok-Value-4", "Var-Pw-5"}) {
		t.Errorf("the task's values to mask: %q, want the token and the password variable", r.scrub)
	}
}
