package orchestrator

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Every refusal names its field and has the right kind; Check refuses it
// and Plan (what Run executes) does too.
func TestValidationErrorsNameTheirField(t *testing.T) {
	o := testOrchestrator(t, newFakeManager(), nil)
	cases := []struct {
		name  string
		edit  func(*Spec)
		kind  error
		field string
	}{
		{"no userCreator", func(s *Spec) { delete(s.Request.Labels, linkis.LabelUserCreator) }, linkis.ErrMissingLabel, "labels.userCreator"},
		{"no engineType", func(s *Spec) { delete(s.Request.Labels, linkis.LabelEngineType) }, linkis.ErrMissingLabel, "labels.engineType"},
		{"bad userCreator", func(s *Spec) { s.Request.Labels[linkis.LabelUserCreator] = "alice" }, linkis.ErrInvalidLabel, "labels.userCreator"},
		{"bad engineType", func(s *Spec) { s.Request.Labels[linkis.LabelEngineType] = "shell" }, linkis.ErrInvalidLabel, "labels.engineType"},
		{"another user", func(s *Spec) { s.Request.Labels[linkis.LabelUserCreator] = "bob-IDE" }, linkis.ErrPermission, "labels.userCreator"},
		{"unknown engine", func(s *Spec) { s.Request.Labels[linkis.LabelEngineType] = "spark-2.4.3" }, linkis.ErrUnknownEngineType, "labels.engineType"},
		{"bad label key", func(s *Spec) { s.Request.Labels["9x"] = "v" }, linkis.ErrInvalidLabel, "labels.key"},
		{"empty code", func(s *Spec) { s.Request.ExecutionContent.Code = " \n" }, linkis.ErrInvalidArgument, codeField},
		{"huge code", func(s *Spec) { s.Request.ExecutionContent.Code = strings.Repeat("x", api.MaxCodeBytes+1) }, linkis.ErrInvalidArgument, codeField},
		{"code huge after substitution", func(s *Spec) {
			s.Request.ExecutionContent.Code = strings.Repeat("${v}", 10)
			s.Request.Params.Variable = Values{"v": strings.Repeat("x", api.MaxCodeBytes/9)}
		}, linkis.ErrInvalidArgument, codeField},
		{"unknown variable", func(s *Spec) { s.Request.ExecutionContent.Code = "echo ${nope}" }, linkis.ErrInvalidArgument, "variable"},
		{"bad run type", func(s *Spec) { s.Request.ExecutionContent.RunType = "Py 3" }, linkis.ErrInvalidArgument, "executionContent.runType"},
		{"too many runtime params", func(s *Spec) {
			s.Request.Params.Configuration.Runtime = Values{}
			for i := 0; i <= api.MaxTaskParams; i++ {
				s.Request.Params.Configuration.Runtime[strings.Repeat("k", i+1)] = "v"
			}
		}, linkis.ErrInvalidArgument, "params.configuration.runtime"},
		{"exec id with a space", func(s *Spec) { s.ExecID = "a b" }, linkis.ErrInvalidArgument, "execID"},
		{"bad strategy", func(s *Spec) { s.Request.Labels[LabelExecuteStrategy] = "dualWrite" }, linkis.ErrInvalidLabel, "labels.executeStrategy"},
		{"bad route key", func(s *Spec) { s.Request.Labels[LabelExecuteRoutes] = "host=a" }, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"empty route", func(s *Spec) { s.Request.Labels[LabelExecuteRoutes] = "emInstance=a;" }, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"route named twice", func(s *Spec) {
			s.Request.Labels[LabelExecuteStrategy] = "activeBackup"
			s.Request.Labels[LabelExecuteRoutes] = "emInstance=a;emInstance=a"
		}, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"route key twice", func(s *Spec) { s.Request.Labels[LabelExecuteRoutes] = "emInstance=a,emInstance=b" }, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"bad route value", func(s *Spec) { s.Request.Labels[LabelExecuteRoutes] = "tenant= x" }, linkis.ErrInvalidLabel, "labels.executeRoutes.tenant"},
		{"retry with two routes", func(s *Spec) { s.Request.Labels[LabelExecuteRoutes] = "emInstance=a;emInstance=b" }, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"activeBackup with one route", func(s *Spec) {
			s.Request.Labels[LabelExecuteStrategy] = "activeBackup"
			s.Request.Labels[LabelExecuteRoutes] = "emInstance=a"
		}, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"multiActive with one route", func(s *Spec) {
			s.Request.Labels[LabelExecuteStrategy] = "multiActive"
			s.Request.Labels[LabelExecuteRoutes] = "emInstance=a"
		}, linkis.ErrInvalidLabel, "labels.executeRoutes"},
		{"retry count not a number", func(s *Spec) { s.Request.Labels[linkis.LabelJobRetryCount] = "two" }, linkis.ErrInvalidLabel, "labels.jobRetryCount"},
		{"retry count too high", func(s *Spec) { s.Request.Labels[linkis.LabelJobRetryCount] = "11" }, linkis.ErrInvalidLabel, "labels.jobRetryCount"},
		{"retry wait bad", func(s *Spec) { s.Request.Labels[linkis.LabelJobRetryTimeout] = "soon" }, linkis.ErrInvalidLabel, "labels.jobRetryTimeout"},
		{"retry wait too long", func(s *Spec) { s.Request.Labels[linkis.LabelJobRetryTimeout] = "11m" }, linkis.ErrInvalidLabel, "labels.jobRetryTimeout"},
		{"retry wait negative", func(s *Spec) { s.Request.Labels[linkis.LabelJobRetryTimeout] = "-1s" }, linkis.ErrInvalidLabel, "labels.jobRetryTimeout"},
		{"bad run_date", func(s *Spec) { s.Request.Params.Variable = Values{"run_date": "yesterday"} }, linkis.ErrInvalidArgument, "params.variable.run_date"},
	}
	for _, c := range cases {
		s := spec("shell-1", "echo ok")
		c.edit(&s)
		err := o.Check(s)
		var le *linkis.Error
		if !errors.As(err, &le) || !errors.Is(err, c.kind) || le.Field != c.field {
			t.Errorf("%s: Check = %v (field %q), want kind %v field %q", c.name, err, fieldOf(err), c.kind, c.field)
			continue
		}
		if _, perr := o.Plan(s); perr == nil || perr.Error() != err.Error() {
			t.Errorf("%s: Plan = %v, want %v", c.name, perr, err)
		}
	}
	// The entrance checks a job before it has ids: Check accepts a spec
	// without an exec id, Plan (and so Run) does not.
	noID := spec("shell-1", "echo ok")
	noID.ExecID = ""
	if err := o.Check(noID); err != nil {
		t.Errorf("Check without an exec id = %v", err)
	}
	if _, err := o.Plan(noID); !errors.Is(err, linkis.ErrInvalidArgument) || fieldOf(err) != "execID" {
		t.Errorf("Plan without an exec id = %v, want an execID error", err)
	}
	if err := o.Check(spec("shell-1", "echo ok")); err != nil {
		t.Fatalf("a good job: %v", err)
	}
}

func fieldOf(err error) string {
	var le *linkis.Error
	if errors.As(err, &le) {
		return le.Field
	}
	return ""
}

func TestConverterFillsRunTypeAndConfiguration(t *testing.T) {
	o := testOrchestrator(t, newFakeManager(), nil)
	for et, want := range map[string]string{"shell-1": "sh", "python-3": "py", "sql-3": "sql", "echo-1": ""} {
		root, err := o.Plan(spec(et, "x"))
		if err != nil {
			t.Fatal(err)
		}
		if got := leaves(root)[0].Unit.RunType; got != want {
			t.Errorf("%s: run type %q, want %q", et, got, want)
		}
	}
	s := spec("python-3", "print(${x})")
	s.Request.ExecutionContent.RunType = "py3"
	s.Request.Params.Variable = Values{"x": "42"}
	s.Request.Params.Configuration = Configuration{Startup: Values{"engineconn.max.free.time": "1m"}, Runtime: Values{"k": "v"}}
	root, err := o.Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	u := leaves(root)[0].Unit
	if u.Code != "print(42)" || u.RunType != "py3" || !reflect.DeepEqual(u.Params, map[string]string{"k": "v"}) ||
		!reflect.DeepEqual(u.Startup, map[string]string{"engineconn.max.free.time": "1m"}) {
		t.Fatalf("unit %+v", u)
	}
	// The code kept in the request is the code before substitution.
	if s.Request.ExecutionContent.Code != "print(${x})" {
		t.Fatalf("the request was changed: %q", s.Request.ExecutionContent.Code)
	}
}

// The manager is asked without the orchestrator's own labels, with the
// route's on top.
func TestOwnLabelsAreStripped(t *testing.T) {
	o := testOrchestrator(t, newFakeManager(), nil)
	s := spec("shell-1", "x", LabelExecuteStrategy, "activeBackup", LabelExecuteRoutes, "emInstance=a,tenant=t1;emInstance=b",
		linkis.LabelJobRetryCount, "1", linkis.LabelJobRetryTimeout, "5s", linkis.LabelJobRunningTimeout, "60", linkis.LabelTenant, "t0")
	root, err := o.Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	ls := leaves(root)
	want0 := map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: "shell-1", linkis.LabelEMInstance: "a", linkis.LabelTenant: "t1"}
	want1 := map[string]string{linkis.LabelUserCreator: "alice-IDE", linkis.LabelEngineType: "shell-1", linkis.LabelEMInstance: "b", linkis.LabelTenant: "t0"}
	if len(ls) != 2 || !reflect.DeepEqual(ls[0].Labels, want0) || !reflect.DeepEqual(ls[1].Labels, want1) {
		t.Fatalf("leaf labels %v", ls)
	}
	r := root.Stages[0].Children()[0].(*RetryNode)
	if r.Max != 1 || r.Wait != 5*time.Second {
		t.Fatalf("retry node %+v", r)
	}
}

func leaves(n Node) []*ExecNode {
	if e, ok := n.(*ExecNode); ok {
		return []*ExecNode{e}
	}
	var out []*ExecNode
	for _, c := range n.Children() {
		out = append(out, leaves(c)...)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func(*Config){
		"EngineTypes":   func(c *Config) { c.EngineTypes = nil },
		"RetryCount":    func(c *Config) { c.RetryCount = 11 },
		"RetryWait":     func(c *Config) { c.RetryWait = -1 },
		"SubmitWait":    func(c *Config) { c.SubmitWait = 0 },
		"PollWait":      func(c *Config) { c.PollWait = time.Hour },
		"LogPageSize":   func(c *Config) { c.LogPageSize = 0 },
		"CallTimeout":   func(c *Config) { c.CallTimeout = 0 },
		"MaxRetryCount": func(c *Config) { c.MaxRetryCount = -1 },
	}
	for field, edit := range bad {
		c := DefaultConfig()
		edit(&c)
		if err := c.Validate(); fieldOf(err) != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	c := DefaultConfig()
	c.EngineTypes = []string{"Shell!"}
	if err := c.Validate(); fieldOf(err) != "EngineTypes" {
		t.Errorf("bad engine type name: %v", err)
	}
	if _, err := New(DefaultConfig(), nil, nil); fieldOf(err) != "asker" {
		t.Errorf("New without an asker: %v", err)
	}
}

// Startup configuration goes to the manager with the ask: what the manager
// refuses is refused by Check, naming the field, before the job is accepted.
func TestCheckRefusesStartupParamsTheManagerRefuses(t *testing.T) {
	o := testOrchestrator(t, newFakeManager(), nil)
	many := Values{}
	for i := range 65 {
		many["k"+strconv.Itoa(i)] = "v"
	}
	for name, startup := range map[string]Values{
		"too many":   many,
		"long value": {"k": strings.Repeat("v", 4097)},
		"long key":   {strings.Repeat("k", 129): "v"},
		"empty key":  {"": "v"},
		"bad utf8":   {"k": "\xff"},
	} {
		s := spec("shell-1", "echo x")
		s.Request.Params.Configuration.Startup = startup
		err := o.Check(s)
		if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.HasPrefix(fieldOf(err), "params.configuration.startup") {
			t.Errorf("%s: err %v (field %q)", name, err, fieldOf(err))
		}
	}
}
