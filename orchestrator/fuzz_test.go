package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// FuzzSubstitute: Substitute never panics; it either fails with an
// ErrInvalidArgument *linkis.Error, or leaves no ${known} variable behind
// (when nothing in the input spells one literally: no "$${" escape and no
// "$" in the user's value).
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "echo ${run_date}", "${run_mon-1}${run_month_end+13}", "${", "${}", "$${x}", "${a}", "${ run_today_std - 3 }", "${run_date+99999}", "}${x${y}}"} {
		f.Add(s, "v", int64(0))
	}
	f.Fuzz(func(t *testing.T, code, value string, sec int64) {
		at := time.Unix(sec%(400*365*86400), 0).UTC()
		vars := Values{"a": value}
		out, err := Substitute(code, vars, at)
		if err != nil {
			var le *linkis.Error
			if !errors.As(err, &le) || !errors.Is(err, linkis.ErrInvalidArgument) || le.Field == "" {
				t.Fatalf("error %v is not an invalid_argument *linkis.Error naming a field", err)
			}
			return
		}
		if strings.Contains(code, varEscape) || strings.Contains(value, "$") {
			return
		}
		for name := range dateVars {
			if strings.Contains(out, "${"+name+"}") {
				t.Fatalf("%q → %q still holds ${%s}", code, out, name)
			}
		}
		if strings.Contains(out, "${a}") {
			t.Fatalf("%q → %q still holds ${a}", code, out)
		}
	})
}

// FuzzCheck: Check never panics on any labels or code; what it accepts
// Plan accepts too, and every refusal is a *linkis.Error naming a field.
func FuzzCheck(f *testing.F) {
	f.Add("shell-1", "alice-IDE", "echo ${run_date}", "retry", "", "2", "30s")
	f.Add("python-3", "alice-IDE", "print(1)", "activeBackup", "emInstance=a;emInstance=b", "0", "1")
	f.Add("sql-3", "bob-x", "select 1", "multiActive", "tenant=t,yarnCluster=c;emInstance=z", "x", "-1s")
	m := newFakeManager()
	o := testOrchestrator(f, m, nil)
	f.Fuzz(func(t *testing.T, engineType, userCreator, code, strategy, routes, retries, wait string) {
		ls := map[string]string{}
		for k, v := range map[string]string{linkis.LabelEngineType: engineType, linkis.LabelUserCreator: userCreator,
			LabelExecuteStrategy: strategy, LabelExecuteRoutes: routes, linkis.LabelJobRetryCount: retries, linkis.LabelJobRetryTimeout: wait} {
			if v != "" {
				ls[k] = v
			}
		}
		s := Spec{ExecID: "exec_f", User: "alice", Submitted: time.Unix(0, 0),
			Request: JobRequest{ExecutionContent: ExecutionContent{Code: code}, Labels: ls}}
		err := o.Check(s)
		if err != nil {
			var le *linkis.Error
			if !errors.As(err, &le) || le.Field == "" {
				t.Fatalf("Check: %v is not a *linkis.Error naming a field", err)
			}
			return
		}
		root, err := o.Plan(s)
		if err != nil {
			t.Fatalf("Check passed, Plan refused: %v", err)
		}
		for _, e := range leaves(root) {
			if _, err := parseEngineLabels(e.Labels); err != nil {
				t.Fatalf("a leaf asks with bad labels %v: %v", e.Labels, err)
			}
			for k := range e.Labels {
				if ownLabels[k] {
					t.Fatalf("a leaf asks with the orchestrator's label %s", k)
				}
			}
		}
	})
}
