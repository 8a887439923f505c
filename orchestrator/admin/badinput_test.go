package admin_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/ecm"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/restapi"
)

// quietSystem is a system where nothing is written unless a request
// writes: ticks are an hour apart and the ECM heartbeats hourly, and no
// engine runs. Its applied index moves only when a request changes
// something.
func quietSystem(t *testing.T) *system {
	mc := manager.DefaultConfig()
	mc.NewECMStandby = 0
	mc.TickInterval, mc.LockTimeout, mc.ECMLostAfter = time.Hour, 2*time.Hour, 2*time.Hour
	s := startSystem(t, mc, func(c *ecm.Config) { c.HeartbeatInterval = time.Hour })
	// Settle: the ECM registers and the manager's driver ticks once right
	// after the first command - both after Start returns. A refused call
	// is then the only thing that could move the applied index.
	last, since, deadline := s.applied(), time.Now(), time.Now().Add(time.Minute)
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the system did not settle: applied index %d", last)
		}
		time.Sleep(20 * time.Millisecond)
		if now := s.applied(); now != last || now < 2 {
			last, since = now, time.Now()
		}
	}
	return s
}

func (s *system) applied() uint64 {
	s.t.Helper()
	st, err := s.sys.Manager().Status(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return st.AppliedIndex
}

// call sends a raw request as user and returns the envelope and the HTTP
// status.
func (s *system) call(user, method, path, body string) (restapi.Envelope, int) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.ctx, method, s.srv.URL+restapi.Prefix+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set(restapi.HeaderTokenUser, user)
	req.Header.Set(restapi.HeaderTokenCode, codes[user])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env restapi.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		s.t.Fatalf("%s %s: not an envelope: %s", method, path, b)
	}
	return env, resp.StatusCode
}

type badCall struct {
	name, user, method, path, body string
	status                         int    // the envelope's: 2 bad input, 3 refused, 1 error
	says                           string // in the message
}

func (s *system) refuseAll(t *testing.T, calls []badCall) {
	t.Helper()
	for _, c := range calls {
		before := s.applied()
		env, code := s.call(c.user, c.method, c.path, c.body)
		if env.Status != c.status || code < 400 || !strings.Contains(env.Message, c.says) {
			t.Errorf("%s: status %d (HTTP %d) %q, want status %d saying %q", c.name, env.Status, code, env.Message, c.status, c.says)
		}
		if after := s.applied(); after != before {
			t.Errorf("%s: refused, but the applied index moved from %d to %d", c.name, before, after)
		}
	}
}

// Bad input gets a clear error and changes nothing: the applied index
// does not move. (Linkis's ConfigurationRestfulApi, linkis-public-
// enhancements/linkis-configuration/src/main/java/org/apache/linkis/
// configuration/restful/api/ConfigurationRestfulApi.java, and
// VariableRestfulApi, linkis-public-enhancements/linkis-pes-publicservice/
// src/main/java/org/apache/linkis/variable/restful/api/
// VariableRestfulApi.java, take these bodies.)
func TestBadInputChangesNothing(t *testing.T) {
	s := quietSystem(t)
	kv := func(key, value, engine string) string {
		return `{"creator":"IDE","engineType":"` + engine + `","version":"*","configKey":"` + key + `","configValue":"` + value + `"}`
	}
	s.refuseAll(t, []badCall{
		{"unknown ECM", "ops", "PUT", restapi.PathModifyEM, `{"instance":"nope:1","emStatus":"UnHealthy"}`, 1, "no such ECM"},
		{"unknown health", "ops", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded","emStatus":"Sick"}`, 2, "emStatus"},
		{"malformed label", "ops", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded","labels":[{"labelKey":"a b","stringValue":"x"}]}`, 2, "a b"},
		{"label for users", "ops", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded","labels":[{"labelKey":"userCreator","stringValue":"a-b"}]}`, 2, "only tenant"},
		{"repeated label", "ops", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded","labels":[{"labelKey":"k","stringValue":"x"},{"labelKey":"k","stringValue":"y"}]}`, 2, "twice"},
		{"nothing to change", "ops", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded"}`, 2, "nothing to change"},
		{"garbage JSON", "ops", "PUT", restapi.PathModifyEM, `{"instance":`, 2, "JSON"},
		{"oversized body", "ops", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"a","value":"` + strings.Repeat("x", 2<<20) + `"}]}`, 2, "larger than"},
		{"malformed label filter", "ops", "GET", restapi.PathListEMs + "?labels=novalue", "", 2, "key=value"},
		{"negative limit", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyInstance, "-1", "shell"), 2, manager.KeyInstance},
		{"non-numeric limit", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyInstance, "lots", "shell"), 2, "whole number"},
		{"limit out of range", "ops", "POST", restapi.PathKeyValue, kv(manager.KeyInstance, "1000", "shell"), 2, "out of range"},
		{"memory without a unit", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyClientMemory, "4096", "shell"), 2, "needs a unit"},
		{"engine key for every engine", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyDriverMemory, "1g", "*"), 2, "engine's own setting"},
		{"no such key", "alice", "POST", restapi.PathKeyValue, kv("wds.linkis.rm.nope", "1", "shell"), 2, "no such configuration key"},
		{"unknown engine type", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyInstance, "1", "spark"), 2, "spark"},
		{"oversized value", "alice", "POST", restapi.PathKeyValue, kv(manager.KeyClientMemory, strings.Repeat("9", 300)+"g", "shell"), 2, manager.KeyClientMemory},
		{"version without engine", "alice", "GET", restapi.PathKeyValue + "?engineType=*&version=3&configKey=x", "", 2, "version must also be any"},
		{"bad tree engine", "alice", "POST", restapi.PathSaveFullTree, `{"creator":"IDE","engineType":"shell","fullTree":[]}`, 2, "type-version"},
		{"variable with }", "alice", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"a}b","value":"x"}]}`, 2, "a}b"},
		{"variable with a space", "alice", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"my var","value":"x"}]}`, 2, "my var"},
		{"oversized variable", "alice", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"v","value":"` + strings.Repeat("x", 5000) + `"}]}`, 2, "at most 4096"},
		{"repeated variable", "alice", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"v","value":"1"},{"key":"v","value":"2"}]}`, 2, "twice"},
		{"unknown engine", "alice", "POST", restapi.PathEngineKill, `[{"engineInstance":"127.0.0.1:1","applicationName":"linkis-cg-engineconn"}]`, 1, "no such live engine"},
		{"kill nothing", "alice", "POST", restapi.PathEngineKill, `[]`, 2, "at least one"},
		{"idle kill of an unknown ECM", "ops", "POST", restapi.PathKillUnlock, `{"instance":"nope"}`, 1, "no such ECM"},
		{"reset of an unknown row", "ops", "DELETE", restapi.PathResetResource + "?label=zed-IDE,shell-1", "", 1, "no such resource row"},
		{"unknown resourceId", "ops", "DELETE", restapi.PathResetResource + "?resourceId=12345", "", 1, "no resource row"},
		{"bad log type", "alice", "POST", restapi.PathOpenEngineLog, `{"instance":"ec-1","parameters":{"logType":"gc"}}`, 2, "logType"},
		{"bad page", "alice", "POST", restapi.PathOpenEngineLog, `{"instance":"ec-1","parameters":{"fromLine":0}}`, 2, "fromLine"},
		{"unknown engine log", "alice", "POST", restapi.PathOpenEngineLog, `{"instance":"ec-99"}`, 1, "no such engine"},
		{"wrong method", "alice", "GET", restapi.PathSaveVariables, "", 2, "use POST"},
	})
	// The test can fail: a good change moves the index.
	before := s.applied()
	if env, _ := s.call("alice", "POST", restapi.PathSaveVariables, `{"globalVariables":[{"key":"city","value":"Paris"}]}`); env.Status != 0 {
		t.Fatalf("a good save: %+v", env)
	}
	if s.applied() == before {
		t.Fatal("a good save did not move the applied index: the checks above prove nothing")
	}
}

// Every management call made by a user who is not an administrator about
// someone else, or about every user, is refused and changes nothing.
// (Linkis's admin checks: Configuration.isAdmin in EMRestfulApi,
// EngineRestfulApi, ECResourceInfoRestfulApi and RMMonitorRest.)
func TestNonAdminsAreRefusedForOthers(t *testing.T) {
	s := quietSystem(t)
	s.refuseAll(t, []badCall{
		{"listAllEMs", "alice", "GET", restapi.PathListEMs, "", 3, "administrator"},
		{"modifyEMInfo", "alice", "PUT", restapi.PathModifyEM, `{"instance":"ecm-embedded","emStatus":"UnHealthy"}`, 3, "administrator"},
		{"listEMEngines", "alice", "POST", restapi.PathEMEngines, `{"em":{"serviceInstance":{"instance":"ecm-embedded"}}}`, 3, "administrator"},
		{"ecList", "alice", "POST", restapi.PathECList, `{"creators":["bob"]}`, 3, "administrator"},
		{"enginekillAsyn", "alice", "POST", restapi.PathEngineKillAsync, `{"instances":["ec-1"]}`, 3, "administrator"},
		{"killUnlockEngineByEM", "alice", "POST", restapi.PathKillUnlock, `{"instance":"ecm-embedded","user":"bob"}`, 3, "administrator"},
		{"another's idle engines", "alice", "POST", restapi.PathKillUnlock, `{"user":"bob"}`, 3, "administrator"},
		{"allUserResource", "alice", "GET", restapi.PathAllResources, "", 3, "administrator"},
		{"resetResource", "alice", "DELETE", restapi.PathResetResource, "", 3, "administrator"},
		{"another's tree", "alice", "GET", restapi.PathFullTree + "?user=bob&creator=IDE", "", 3, "administrator"},
		{"save another's tree", "alice", "POST", restapi.PathSaveFullTree, `{"user":"bob","creator":"IDE","engineType":"shell-1","fullTree":[{"settings":[{"key":"wds.linkis.rm.instance","configValue":"1"}]}]}`, 3, "administrator"},
		{"another's value", "alice", "POST", restapi.PathKeyValue, `{"user":"bob","creator":"IDE","engineType":"shell","configKey":"wds.linkis.rm.instance","configValue":"1"}`, 3, "administrator"},
		{"every user's value", "alice", "POST", restapi.PathKeyValue, `{"user":"*","creator":"IDE","engineType":"shell","configKey":"wds.linkis.rm.instance","configValue":"1"}`, 3, "every user"},
		{"delete another's value", "alice", "DELETE", restapi.PathKeyValue, `{"user":"bob","creator":"IDE","engineType":"shell","configKey":"wds.linkis.rm.instance"}`, 3, "administrator"},
		{"raise own limit", "alice", "POST", restapi.PathKeyValue, `{"creator":"IDE","engineType":"shell","configKey":"wds.linkis.rm.instance","configValue":"50"}`, 3, "administrators"},
		{"another's variables", "alice", "GET", restapi.PathListVariables + "?user=bob", "", 3, "administrator"},
		{"save another's variables", "alice", "POST", restapi.PathSaveVariables, `{"user":"bob","globalVariables":[{"key":"a","value":"b"}]}`, 3, "administrator"},
		{"another's history", "alice", "GET", restapi.PathECHistory + "?creator=bob", "", 3, "administrator"},
		{"another's engine record", "alice", "GET", restapi.PathECInfo + "?ticketid=ec-1", "", 1, "no such engine"},
	})
}

// The configuration tree and the global variables through Linkis's
// calls: a user's own values, in force (quota, startup parameters), and
// ${name} substitution with the job's own variables winning. Paths and
// shapes: ConfigurationRestfulApi (getFullTreesByAppName, keyvalue) and
// VariableRestfulApi (listGlobalVariable, saveGlobalVariable), cited
// above; the keys and their ranges: linkis-dist/package/db/linkis_dml.sql.
func TestConfigurationAndVariablesOfARunningSystem(t *testing.T) {
	mc := manager.DefaultConfig()
	mc.TickInterval, mc.NewECMStandby = time.Second, 0
	s := startSystem(t, mc, nil)
	shell := restapi.ConfLevel{Creator: "IDE", EngineType: "shell"}

	// Alice lowers her own cap; the tree says where the value comes from.
	if err := s.alice.SetConfigValue(s.ctx, shell, manager.KeyInstance, "2"); err != nil {
		t.Fatal(err)
	}
	tree, err := s.alice.ConfigTree(s.ctx, restapi.ConfLevel{Creator: "IDE", EngineType: "shell-1"})
	if err != nil {
		t.Fatal(err)
	}
	setting := func(d restapi.FullTreeData, key string) restapi.ConfigKeyValue {
		for _, tr := range d.FullTree {
			for _, kv := range tr.Settings {
				if kv.Key == key {
					return kv
				}
			}
		}
		t.Fatalf("no %s in %+v", key, d)
		return restapi.ConfigKeyValue{}
	}
	if kv := setting(tree, manager.KeyInstance); kv.ConfigValue != "" || kv.ValueInForce != "2" || kv.ValueFrom != "alice-IDE,shell" || kv.ValidateRange != "[1,100]" {
		t.Fatalf("the shell-1 level's view: %+v", kv)
	}
	// An administrator sets bob's engine memory and idle time; bob's next
	// engine starts with them.
	bobPython := restapi.ConfLevel{User: "bob", Creator: "IDE", EngineType: "python"}
	for k, v := range map[string]string{manager.KeyDriverMemory: "300m", manager.KeyMaxFreeTime: "2s"} {
		if err := s.ops.SetConfigValue(s.ctx, bobPython, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.job(s.bob, "bob", "python", "print(1)"); st.Status != "Succeed" {
		t.Fatalf("bob's python job: %+v", st)
	}
	e, err := s.bob.ListEngines(s.ctx, restapi.EngineQuery{})
	if err != nil || len(e.Engines) != 1 || e.Engines[0].MaxResource.Memory != 300<<20 {
		t.Fatalf("bob's engine does not have the configured memory: %+v %v", e, err)
	}
	// The configured idle time reached the engine: it exits after 2 s
	// without work, not after the manager's hour.
	waitFor(t, "bob's idle engine to exit by itself", func() bool {
		e, err := s.bob.ListEngines(s.ctx, restapi.EngineQuery{})
		return err == nil && len(e.Engines) == 0
	})
	// Removing it removes it.
	if err := s.ops.DeleteConfigValue(s.ctx, bobPython, manager.KeyDriverMemory); err != nil {
		t.Fatal(err)
	}
	if tree, _ := s.bob.ConfigTree(s.ctx, restapi.ConfLevel{Creator: "IDE", EngineType: "python"}); setting(tree, manager.KeyDriverMemory).ConfigValue != "" ||
		setting(tree, manager.KeyMaxFreeTime).ConfigValue != "2s" {
		t.Fatalf("after the delete: %+v", tree)
	}

	// Global variables substitute; a job's own win.
	if err := s.alice.SetVariables(s.ctx, "", map[string]string{"city": "Paris", "n": "7"}); err != nil {
		t.Fatal(err)
	}
	if vars, err := s.bob.Variables(s.ctx, ""); err != nil || len(vars) != 0 {
		t.Fatalf("bob sees %v %v", vars, err)
	}
	if vars, err := s.ops.Variables(s.ctx, "alice"); err != nil || vars["city"] != "Paris" {
		t.Fatalf("the administrator sees %v %v", vars, err)
	}
	row := func(req orchestrator.JobRequest) []any {
		t.Helper()
		job, err := s.sys.Submit(s.ctx, "alice", req)
		if err != nil {
			t.Fatal(err)
		}
		if job, err = s.sys.Wait(s.ctx, "alice", job.ExecID); err != nil || job.State.String() != "Succeed" {
			t.Fatalf("job: %+v %v", job, err)
		}
		rs, err := s.sys.ReadResult(s.ctx, "alice", job.Results[0], 0)
		if err != nil || len(rs.Rows) != 1 {
			t.Fatalf("result %+v %v", rs, err)
		}
		return rs.Rows[0]
	}
	req := s.request("alice", "sql", "select '${city}' as c, ${n}+1 as m")
	if got := row(req); got[0] != "Paris" || got[1] != json.Number("8") {
		t.Fatalf("global variables: %v", got)
	}
	req.Params.Variable = map[string]string{"city": "Rome"}
	if got := row(req); got[0] != "Rome" || got[1] != json.Number("8") {
		t.Fatalf("the job's own variable should win: %v", got)
	}
	// Bob has no such variable: his job is refused at submission.
	if _, err := s.bob.Submit(s.ctx, s.request("bob", "sql", "select '${city}'")); err == nil || !strings.Contains(err.Error(), "city") {
		t.Fatalf("bob's job with alice's variable: %v", err)
	}
}
