package manager

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// Tests of the operator's commands and reads (admin.go, confstore.go,
// enginehistory.go, adminviews.go, admincodec.go).

func adminSampleCommands(t testing.TB) []Command {
	return []Command{
		ModifyECM{Time: codecT0 + 40, ID: "ecm-host-01", SetHealth: true, Health: linkis.HealthUnHealthy, SetLabels: true,
			Labels: codecLabels(t, "tenant", "acme", "yarnCluster", "c2")},
		KillEngines{Time: codecT0 + 41, ECs: []ECID{7, 1 << 40}, ECM: "ecm-host-01", User: "alice", IdleOnly: true, Reason: "drain ☃"},
		SetConfig{Time: codecT0 + 42, User: "alice", Creator: "IDE", EngineType: "shell-1",
			Set: map[string]string{KeyInstance: "1", KeyDriverMemory: "1g"}, Remove: []string{KeyMaxFreeTime}, Admin: true},
		SetVariables{Time: codecT0 + 43, User: "alice", Vars: map[string]string{"city": "Z\u00fcrich", "n": strings.Repeat("9", MaxVariableValue)}},
	}
}

func adminZeroCommand(typ CommandType) Command {
	switch typ {
	case CmdModifyECM:
		return ModifyECM{}
	case CmdKillEngines:
		return KillEngines{}
	case CmdSetConfig:
		return SetConfig{}
	case CmdSetVariables:
		return SetVariables{}
	}
	return nil
}

func normalizeAdminCommand(c Command) Command {
	switch c := c.(type) {
	case ModifyECM:
		if len(c.Labels) == 0 {
			c.Labels = nil
		}
		return c
	case KillEngines:
		if len(c.ECs) == 0 {
			c.ECs = nil
		}
		return c
	case SetConfig:
		if len(c.Set) == 0 {
			c.Set = nil
		}
		c.Remove = strsOrNil(c.Remove)
		return c
	case SetVariables:
		if len(c.Vars) == 0 {
			c.Vars = nil
		}
		return c
	}
	return c
}

func genAdminCommand(t *rapid.T, typ CommandType, at int64) Command {
	str := func(label string, max int) string { return genBytesString(t, label, max) }
	switch typ {
	case CmdModifyECM:
		return ModifyECM{Time: at, ID: str("id", 128), SetHealth: rapid.Bool().Draw(t, "sh"), Health: linkis.NodeHealth(rapid.Byte().Draw(t, "health")),
			SetLabels: rapid.Bool().Draw(t, "sl"), Labels: genLabels(t, "labels")}
	case CmdKillEngines:
		ids := rapid.SliceOfN(rapid.Uint64(), 0, 8).Draw(t, "ecs")
		c := KillEngines{Time: at, ECM: str("ecm", 128), User: str("user", maxJobName), IdleOnly: rapid.Bool().Draw(t, "idle"), Reason: str("reason", 64)}
		for _, id := range ids {
			c.ECs = append(c.ECs, ECID(id))
		}
		return c
	case CmdSetConfig:
		return SetConfig{Time: at, User: str("user", maxOperatorRef), Creator: str("creator", maxOperatorRef), EngineType: str("et", maxOperatorRef),
			Set: genParams(t, "set"), Remove: rapid.SliceOfN(rapid.StringN(0, 16, 16), 0, 4).Draw(t, "remove"), Admin: rapid.Bool().Draw(t, "admin")}
	case CmdSetVariables:
		return SetVariables{Time: at, User: str("user", maxOperatorRef),
			Vars: rapid.MapOfN(rapid.StringN(0, 16, 16), rapid.StringN(0, 32, 64), 0, 4).Draw(t, "vars")}
	}
	return nil
}

// opHarness is a harness with two ECMs and helpers for the operator's
// commands.
func opHarness(t *testing.T, mutate ...func(*Config)) *harness {
	h := newHarness(t, mutate...)
	h.addECM("ecm-a", res(64, 32, 20))
	h.addECM("ecm-b", res(64, 32, 20))
	return h
}

// operate applies an operator command at the harness clock.
func (h *harness) operate(c Command) Result {
	h.t.Helper()
	return h.apply(adminAt(c, h.now))
}

// refuseOp applies an operator command that must fail with kind and
// change nothing; CheckAdmin must refuse it the same way.
func (h *harness) refuseOp(c Command, kind error) error {
	h.t.Helper()
	c = adminAt(c, h.now)
	if err := h.s.CheckAdmin(c); !errors.Is(err, kind) {
		h.t.Fatalf("CheckAdmin(%v): want %v, got %v", c.Type(), kind, err)
	}
	return h.refuse(c, kind)
}

func adminAt(c Command, t int64) Command {
	switch c := c.(type) {
	case ModifyECM:
		c.Time = t
		return c
	case KillEngines:
		c.Time = t
		return c
	case SetConfig:
		c.Time = t
		return c
	case SetVariables:
		c.Time = t
		return c
	}
	return withTime(c, t)
}

func TestDrainKeepsNewEnginesOffAndLetsRunningOnesFinish(t *testing.T) {
	h := opHarness(t)
	// One engine on ecm-a, held (running a task).
	a := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelEMInstance, "ecm-a")
	h.start(a.EC)
	if a.ECM != "ecm-a" {
		t.Fatalf("pinned ask placed on %s", a.ECM)
	}
	h.operate(ModifyECM{ID: "ecm-a", SetHealth: true, Health: linkis.HealthUnHealthy})
	if got, ok := h.s.OperatorHealth("ecm-a"); !ok || got != linkis.HealthUnHealthy {
		t.Fatalf("override = %v %v", got, ok)
	}
	// The ECM reports itself healthy: the operator's health stays.
	h.apply(ECMHeartbeat{ID: "ecm-a", Health: linkis.HealthHealthy})
	if m, _ := h.s.ECM("ecm-a"); m.Health != linkis.HealthUnHealthy {
		t.Fatalf("a heartbeat lifted the drain: %v", m.Health)
	}
	// New engines go elsewhere, ten times over.
	for i := range 10 {
		r := h.ask(fmt.Sprintf("b%d", i), "bob-IDE", "python-3", linkis.LabelReuseExclusion, "*")
		if r.ECM != "ecm-b" {
			t.Fatalf("ask %d placed on drained %s", i, r.ECM)
		}
	}
	// The drained ECM's engine keeps its holder and its resources.
	if e := h.ec(a.EC); e.Status != linkis.StatusIdle || len(e.Holders) != 1 {
		t.Fatalf("the drained ECM's engine was disturbed: %+v", e)
	}
	// Re-registering (its ECM restarted after being lost) keeps the drain.
	h.release("a1")
	h.apply(DeregisterECM{ID: "ecm-a", Force: true})
	h.addECM("ecm-a", res(64, 32, 20))
	if m, _ := h.s.ECM("ecm-a"); m.Health != linkis.HealthUnHealthy {
		t.Fatalf("re-registered ECM is %v, want the operator's UnHealthy", m.Health)
	}
	// Healthy lifts it, back to what the ECM reports.
	h.apply(ECMHeartbeat{ID: "ecm-a", Health: linkis.HealthWarn})
	h.operate(ModifyECM{ID: "ecm-a", SetHealth: true, Health: linkis.HealthHealthy})
	if m, _ := h.s.ECM("ecm-a"); m.Health != linkis.HealthWarn {
		t.Fatalf("lifted drain left health %v, want the reported WARN", m.Health)
	}
	if _, ok := h.s.OperatorHealth("ecm-a"); ok {
		t.Fatal("override still there")
	}
	r := h.ask("c1", "carol-IDE", "shell-1", linkis.LabelEMInstance, "ecm-a")
	if r.ECM != "ecm-a" || r.Err != nil {
		t.Fatalf("the lifted ECM takes no engine: %+v", r)
	}
}

func TestModifyECMLabels(t *testing.T) {
	h := opHarness(t)
	h.operate(ModifyECM{ID: "ecm-b", SetLabels: true, Labels: labels(t, "yarnCluster", "c9")})
	if m, _ := h.s.ECM("ecm-b"); m.Labels.String() != "yarnCluster=c9" {
		t.Fatalf("labels = %v", m.Labels)
	}
	got, n := h.s.ListECMs(ECMQuery{Labels: labels(t, "yarnCluster", "c9"), Limit: 10})
	if n != 1 || got[0].ID != "ecm-b" {
		t.Fatalf("label filter: %d %+v", n, got)
	}
	// The scorer sees the new label: a request carrying it lands there.
	r := h.ask("x", "alice-IDE", "shell-1", "yarnCluster", "c9")
	if r.ECM != "ecm-b" {
		t.Fatalf("request for c9 placed on %s", r.ECM)
	}
	h.refuseOp(ModifyECM{ID: "ecm-b", SetLabels: true, Labels: labels(t, "tenant", "acme")}, linkis.ErrInvalidLabel)
	h.refuseOp(ModifyECM{ID: "ecm-b", SetLabels: true, Labels: linkis.Labels{{Key: "userCreator", Value: "a-b"}}}, linkis.ErrInvalidLabel)
	h.refuseOp(ModifyECM{ID: "ecm-b", SetLabels: true, Labels: linkis.Labels{{Key: "bad key", Value: "v"}}}, linkis.ErrInvalidLabel)
	h.refuseOp(ModifyECM{ID: "nope", SetHealth: true, Health: linkis.HealthUnHealthy}, linkis.ErrUnknownNode)
	h.refuseOp(ModifyECM{ID: "ecm-a"}, linkis.ErrInvalidArgument)
	h.refuseOp(ModifyECM{ID: "ecm-a", SetHealth: true, Health: 9}, linkis.ErrInvalidArgument)
	// An ECM without engines may move to a tenant.
	h.operate(ModifyECM{ID: "ecm-a", SetLabels: true, Labels: labels(t, "tenant", "acme")})
	r = h.ask("t", "dave-IDE", "shell-1", "tenant", "acme")
	if r.ECM != "ecm-a" {
		t.Fatalf("tenant request placed on %s", r.ECM)
	}
}

func TestKillEngines(t *testing.T) {
	h := opHarness(t)
	var ids []ECID
	for i := range 4 {
		r := h.ask(fmt.Sprintf("a%d", i), "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*", linkis.LabelEMInstance, "ecm-a")
		h.start(r.EC)
		ids = append(ids, r.EC)
	}
	h.release("a0")
	h.release("a1") // two idle, two held on ecm-a
	b := h.ask("b0", "bob-IDE", "shell-1", linkis.LabelEMInstance, "ecm-a")
	h.start(b.EC)
	h.release("b0") // bob's, idle

	// Unknown engine, unknown ECM, nothing named: refused, nothing changes.
	h.refuseOp(KillEngines{ECs: []ECID{ids[0], 999}}, linkis.ErrUnknownNode)
	h.refuseOp(KillEngines{ECM: "ecm-z", IdleOnly: true}, linkis.ErrUnknownNode)
	h.refuseOp(KillEngines{}, linkis.ErrInvalidArgument)

	// Alice's idle engines only.
	r := h.operate(KillEngines{User: "alice", IdleOnly: true, Reason: "tidy"})
	if !reflect.DeepEqual(r.ECs, ids[:2]) {
		t.Fatalf("killed %v, want alice's idle %v", r.ECs, ids[:2])
	}
	for _, id := range ids[:2] {
		if e := h.ec(id); !e.Killing {
			t.Errorf("%v not killing", id)
		}
	}
	// Everything idle on ecm-a: bob's only now (alice's are being killed).
	r = h.operate(KillEngines{ECM: "ecm-a", IdleOnly: true})
	if !reflect.DeepEqual(r.ECs, []ECID{b.EC}) {
		t.Fatalf("killed %v, want bob's %v", r.ECs, b.EC)
	}
	// Named engines, held or not.
	r = h.operate(KillEngines{ECs: []ECID{ids[3], ids[2], ids[3]}})
	if !reflect.DeepEqual(r.ECs, []ECID{ids[2], ids[3]}) {
		t.Fatalf("killed %v", r.ECs)
	}
	if _, ok := h.s.Ask("a2"); ok {
		t.Fatal("the holder of a killed engine still holds it")
	}
}

func TestConfigurationInForce(t *testing.T) {
	h := opHarness(t)
	// Instance cap 1 for alice's shell engines, from IDE.
	h.operate(SetConfig{User: "alice", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyInstance: "1"}, Admin: true})
	if k := h.s.Key("alice-IDE,shell-1"); k.Ledger.Max.Instances != 1 || k.Ledger.Max.Memory != h.s.Config().DefaultQuota.Memory {
		t.Fatalf("quota in force: %+v", k.Ledger.Max)
	}
	first := h.ask("a1", "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
	h.start(first.EC)
	if _, err := h.s.Apply(withTime(h.askCmd("a2", "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*"), h.now)); !errors.Is(err, linkis.ErrQuotaExceeded) {
		t.Fatalf("second engine under a cap of 1: %v", err)
	}
	// Others are not capped; another creator neither.
	h.ask("b1", "bob-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
	h.ask("b2", "bob-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
	h.ask("n1", "alice-nightly", "shell-1", linkis.LabelReuseExclusion, "*")
	// Lowering a cap under what a label holds is refused.
	h.refuseOp(SetConfig{User: "bob", Creator: "*", EngineType: "*", Set: map[string]string{KeyInstance: "1"}, Admin: true}, linkis.ErrInvalidResource)

	// Engine memory and idle time become the next engines' startup params.
	h.operate(SetConfig{User: "*", Creator: "*", EngineType: "python", Set: map[string]string{KeyDriverMemory: "768m", KeyMaxFreeTime: "90s"}, Admin: true})
	p := h.ask("p1", "carol-IDE", "python-3")
	e := h.ec(p.EC)
	if e.Resource.Memory != 768*linkis.MiB {
		t.Fatalf("engine memory %d, want 768m", e.Resource.Memory)
	}
	launch := h.s.EffectsDue(h.now)
	var args string
	for _, ef := range launch {
		if ef.EC == p.EC && ef.Launch != nil {
			args = strings.Join(ef.Launch.Args, " ")
		}
	}
	if !strings.Contains(args, "engineconn.max.free.time=90s") || !strings.Contains(args, "engineconn.memory=768m") {
		t.Fatalf("launch args %q lack the configured params", args)
	}
	// The ask's own params win.
	q := h.apply(AskEngine{Time: h.now, ID: "p2", Nonce: 5, Labels: labels(t, linkis.LabelUserCreator, "carol-IDE", linkis.LabelEngineType, "python-3", linkis.LabelReuseExclusion, "*"),
		Params: map[string]string{ParamMemory: "1g"}}).Ask
	if got := h.ec(q.EC).Resource.Memory; got != linkis.GiB {
		t.Fatalf("the ask's own memory lost to the configuration: %d", got)
	}

	// The entrance's cap per consumer group.
	h.apply(ConfigureJobs{Time: h.now, Config: DefaultJobConfig()})
	h.operate(SetConfig{User: "dave", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyCreatorJobs: "1"}, Admin: true})
	for i := range 3 {
		h.apply(SubmitJob{Time: h.now, Key: uint64(100 + i), User: "dave", Creator: "IDE", EngineType: "shell-1"})
	}
	gs := h.s.JobGroups()
	if len(gs) != 1 || gs[0].Running != 1 || gs[0].Queued != 2 || gs[0].MaxRunning != 1 {
		t.Fatalf("groups under a cap of 1: %+v", gs)
	}
	// Raising it dispatches at once.
	r := h.operate(SetConfig{User: "dave", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyCreatorJobs: "2"}, Admin: true})
	if len(r.Jobs) != 1 || r.Jobs[0].State != linkis.JobScheduled {
		t.Fatalf("raising the cap dispatched %+v", r.Jobs)
	}
	// Removing it goes back to the default (5).
	h.operate(SetConfig{User: "dave", Creator: "IDE", EngineType: "*", Remove: []string{KeyCreatorJobs}, Admin: true})
	if gs := h.s.JobGroups(); gs[0].Running != 3 || gs[0].MaxRunning != 5 {
		t.Fatalf("after removal: %+v", gs)
	}
	if lv := h.s.ConfigLevels(); len(lv) != 2 {
		t.Fatalf("levels %v: an emptied level must go", lv)
	}
}

// A user's own limit is in force up to the administrators' value under
// it, whenever either was set: the entrance's running cap of erin's group
// follows an administrator who lowers erin's limit below her own value,
// and her value again when the limit is raised above it.
func TestAdminLimitCapsAUsersOwnValue(t *testing.T) {
	h := opHarness(t)
	h.apply(ConfigureJobs{Time: h.now, Config: DefaultJobConfig()})
	h.operate(SetConfig{User: "erin", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyCreatorJobs: "4"}})
	h.operate(SetConfig{User: "erin", Creator: "*", EngineType: "*", Set: map[string]string{KeyCreatorJobs: "2"}, Admin: true})
	for i := range 5 {
		h.apply(SubmitJob{Time: h.now, Key: uint64(200 + i), User: "erin", Creator: "IDE", EngineType: "shell-1"})
	}
	if gs := h.s.JobGroups(); len(gs) != 1 || gs[0].Running != 2 || gs[0].MaxRunning != 2 {
		t.Fatalf("erin's own cap 4 under an administrator's 2: %+v", gs)
	}
	h.operate(SetConfig{User: "erin", Creator: "*", EngineType: "*", Set: map[string]string{KeyCreatorJobs: "10"}, Admin: true})
	if gs := h.s.JobGroups(); gs[0].Running != 4 || gs[0].MaxRunning != 4 {
		t.Fatalf("the administrator's limit raised to 10 over erin's own 4: %+v", gs)
	}
}

func TestConfigurationBadInputChangesNothing(t *testing.T) {
	h := opHarness(t)
	h.operate(SetConfig{User: "alice", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "3"}, Admin: true})
	a := h.ask("a", "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
	h.ask("b", "alice-IDE", "shell-1", linkis.LabelReuseExclusion, "*")
	h.start(a.EC)
	level := func(set map[string]string) SetConfig {
		return SetConfig{User: "alice", Creator: "IDE", EngineType: "shell", Set: set, Admin: true}
	}
	cases := []struct {
		name string
		cmd  SetConfig
		kind error
		says string
	}{
		{"unknown key", level(map[string]string{"wds.linkis.rm.nope": "1"}), linkis.ErrInvalidArgument, "no such configuration key"},
		{"engine key for every engine", SetConfig{User: "alice", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyDriverMemory: "1g"}, Admin: true}, linkis.ErrInvalidArgument, "engine's own setting"},
		{"negative", level(map[string]string{KeyInstance: "-1"}), linkis.ErrInvalidArgument, KeyInstance},
		{"not a number", level(map[string]string{KeyInstance: "two"}), linkis.ErrInvalidArgument, "whole number"},
		{"out of range", level(map[string]string{KeyInstance: "101"}), linkis.ErrInvalidArgument, "out of range"},
		{"memory without unit", level(map[string]string{KeyClientMemory: "2048"}), linkis.ErrInvalidArgument, "needs a unit"},
		{"memory garbage", level(map[string]string{KeyDriverMemory: "lots"}), linkis.ErrInvalidArgument, KeyDriverMemory},
		{"duration without unit", level(map[string]string{KeyMaxFreeTime: "30"}), linkis.ErrInvalidArgument, "with a unit"},
		{"oversized value", level(map[string]string{KeyClientMemory: strings.Repeat("9", 200) + "g"}), linkis.ErrInvalidArgument, KeyClientMemory},
		{"cap below held", level(map[string]string{KeyInstance: "1"}), linkis.ErrInvalidResource, "already holds"},
		{"unknown engine type", SetConfig{User: "alice", Creator: "IDE", EngineType: "spark", Set: map[string]string{KeyInstance: "1"}, Admin: true}, linkis.ErrUnknownEngineType, "spark"},
		{"bad user", SetConfig{User: "al ice", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "1"}, Admin: true}, linkis.ErrInvalidArgument, "user"},
		{"nothing", level(nil), linkis.ErrInvalidArgument, "nothing"},
		{"user changes the administrator's value", SetConfig{User: "alice", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "2"}}, linkis.ErrPermission, "an administrator set it"},
		{"user removes the administrator's value", SetConfig{User: "alice", Creator: "IDE", EngineType: "*", Remove: []string{KeyInstance}}, linkis.ErrPermission, "an administrator set it"},
		{"user raises own cap under it", SetConfig{User: "alice", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyInstance: "5"}}, linkis.ErrPermission, "administrators set (3"},
		{"user raises own cap over the default", SetConfig{User: "bob", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "50"}}, linkis.ErrPermission, "administrators set (10"},
		{"user sets every user's", SetConfig{User: "*", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "5"}}, linkis.ErrPermission, "administrator"},
	}
	for _, c := range cases {
		err := h.refuseOp(c.cmd, c.kind)
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v does not say %q", c.name, err, c.says)
		}
	}
	// A user may lower their own, under the administrator's, and change
	// it again.
	h.operate(SetConfig{User: "bob", Creator: "IDE", EngineType: "*", Set: map[string]string{KeyInstance: "2"}})
	h.operate(SetConfig{User: "alice", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyInstance: "2"}})
	h.operate(SetConfig{User: "alice", Creator: "IDE", EngineType: "shell", Remove: []string{KeyInstance}})
}

func TestVariables(t *testing.T) {
	h := opHarness(t)
	h.operate(SetVariables{User: "alice", Vars: map[string]string{"city": "Paris", "n": "7"}})
	if got := h.s.Variables("alice"); !reflect.DeepEqual(got, map[string]string{"city": "Paris", "n": "7"}) {
		t.Fatalf("variables %v", got)
	}
	h.operate(SetVariables{User: "alice", Vars: map[string]string{"n": "8"}}) // replaces the whole set
	if got := h.s.Variables("alice"); !reflect.DeepEqual(got, map[string]string{"n": "8"}) {
		t.Fatalf("after replace: %v", got)
	}
	for _, bad := range []map[string]string{
		{"a}b": "x"}, {"has space": "x"}, {"": "x"}, {"${x}": "y"}, {strings.Repeat("v", 129): "x"},
		{"big": strings.Repeat("x", MaxVariableValue+1)}, {"bad": "\xff"},
	} {
		h.refuseOp(SetVariables{User: "alice", Vars: bad}, linkis.ErrInvalidArgument)
	}
	many := map[string]string{}
	for i := range MaxVariables + 1 {
		many[fmt.Sprintf("v%d", i)] = "x"
	}
	h.refuseOp(SetVariables{User: "alice", Vars: many}, linkis.ErrInvalidArgument)
	h.refuseOp(SetVariables{User: "not a user", Vars: map[string]string{"a": "b"}}, linkis.ErrInvalidArgument)
	h.operate(SetVariables{User: "alice"})
	if got := h.s.Variables("alice"); len(got) != 0 {
		t.Fatalf("cleared: %v", got)
	}
}

func TestEngineHistory(t *testing.T) {
	h := opHarness(t)
	a := h.ask("a", "alice-IDE", "shell-1")
	h.start(a.EC)
	h.release("a")
	h.advance(time.Second)
	h.apply(EngineEnded{EC: a.EC, Failed: true, Reason: "exit status 3 before it reported in", Retryable: false})
	b := h.ask("b", "bob-IDE", "python-3")
	h.advance(time.Second)
	h.apply(EngineEnded{EC: b.EC, Failed: true, Reason: "no python"})
	recs, n := h.s.EngineHistory(HistoryQuery{Limit: 10})
	if n != 2 || recs[0].ID != b.EC || recs[1].ID != a.EC {
		t.Fatalf("history %d %+v", n, recs)
	}
	r := recs[1]
	if r.User != "alice" || r.ECM == "" || !r.Started || r.Addr == "" || !r.Failed || r.Reason != "exit status 3 before it reported in" || r.EndedAt != h.now-int64(time.Second) {
		t.Fatalf("record %+v", r)
	}
	if recs[0].Started || recs[0].Addr != "" {
		t.Fatalf("a never-started engine: %+v", recs[0])
	}
	if got, n := h.s.EngineHistory(HistoryQuery{User: "alice", EngineType: "shell", Limit: 10}); n != 1 || got[0].ID != a.EC {
		t.Fatalf("filtered: %d %+v", n, got)
	}
	if got, ok := h.s.EndedEngine(b.EC); !ok || got.Reason != "no python" {
		t.Fatalf("EndedEngine: %+v %v", got, ok)
	}
	// The ring keeps the latest.
	for i := range MaxEngineHistory + 3 {
		r := h.ask(fmt.Sprintf("x%d", i), "carol-IDE", "sql-1")
		h.apply(EngineEnded{EC: r.EC, Failed: true, Reason: "x"})
	}
	_, n = h.s.EngineHistory(HistoryQuery{})
	if n != MaxEngineHistory {
		t.Fatalf("history holds %d, want %d", n, MaxEngineHistory)
	}
	if _, ok := h.s.EndedEngine(a.EC); ok {
		t.Fatal("the oldest record is still there")
	}
}

// TestListPagesMatchAFullSort checks the paged reads against sorting
// everything.
func TestListPagesMatchAFullSort(t *testing.T) {
	h := newHarness(t)
	for i := range 37 {
		kv := []string{}
		if i%3 == 0 {
			kv = []string{"yarnCluster", "c1"}
		}
		h.addECM(fmt.Sprintf("ecm-%02d", (i*7)%37), res(64, 32, 20), kv...)
	}
	h.operate(ModifyECM{ID: "ecm-05", SetLabels: true, Labels: labels(t, "tenant", "t1")})
	h.operate(ModifyECM{ID: "ecm-11", SetLabels: true, Labels: labels(t, "tenant", "t2")})
	users := []string{"u1", "u2", "u3"}
	for i := range 60 {
		r := h.ask(fmt.Sprintf("a%d", i), users[i%3]+"-IDE", []string{"shell-1", "python-3"}[i%2], linkis.LabelReuseExclusion, "*")
		if i%4 != 0 {
			h.start(r.EC)
		}
	}
	all := h.s.ECMs()
	for _, page := range []struct{ off, lim int }{{0, 5}, {5, 5}, {35, 10}, {40, 3}, {0, 100}} {
		got, n := h.s.ListECMs(ECMQuery{Offset: page.off, Limit: page.lim})
		want := all[min(page.off, len(all)):min(page.off+page.lim, len(all))]
		if n != len(all) || !reflect.DeepEqual(got, want) && len(want) > 0 {
			t.Fatalf("ECM page %+v: %d, got %v", page, n, ids(got))
		}
	}
	ecs := h.s.ECs()
	filter := func(keep func(ECInfo) bool) []ECInfo {
		var out []ECInfo
		for _, e := range ecs {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, c := range []struct {
		q    EngineQuery
		keep func(ECInfo) bool
	}{
		{EngineQuery{}, func(ECInfo) bool { return true }},
		{EngineQuery{Users: []string{"u2"}}, func(e ECInfo) bool { return e.User == "u2" }},
		{EngineQuery{Users: []string{"u1", "u3"}, EngineTypes: []string{"python"}}, func(e ECInfo) bool { return e.User != "u2" && e.EngineType.Type == "python" }},
		{EngineQuery{Statuses: []linkis.NodeStatus{linkis.StatusStarting}}, func(e ECInfo) bool { return e.Status == linkis.StatusStarting }},
		{EngineQuery{ECM: ecs[0].ECM}, func(e ECInfo) bool { return e.ECM == ecs[0].ECM }},
	} {
		want := filter(c.keep)
		for off := 0; off <= len(want)+2; off += 7 {
			c.q.Offset, c.q.Limit = off, 7
			got, n := h.s.ListEngines(c.q)
			w := want[min(off, len(want)):min(off+7, len(want))]
			if n != len(want) || len(got) != len(w) || len(w) > 0 && !reflect.DeepEqual(got, w) {
				t.Fatalf("engines %+v: total %d want %d, page %d want %d", c.q, n, len(want), len(got), len(w))
			}
		}
	}
	if got, n := h.s.ListECMs(ECMQuery{Tenant: "t", Limit: 9}); n != 2 || got[0].ID != "ecm-05" || got[1].ID != "ecm-11" {
		t.Fatalf("tenant filter: %d %v", n, ids(got))
	}
	owner := ecs[0].User
	if _, n := h.s.ListECMs(ECMQuery{Owner: owner, Limit: 1}); n == 0 || n > 37 {
		t.Fatalf("owner filter: %d", n)
	}
	keys, n := h.s.ListKeys(KeyQuery{User: "u1", Limit: 10})
	if n != 2 || keys[0].Key >= keys[1].Key {
		t.Fatalf("keys %d %+v", n, keys)
	}
}

func ids(ms []ECMInfo) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// adminRichState adds every kind of operator data to a rich state.
func adminRichState(t *testing.T) *State {
	s := richState(t)
	now := s.Now() + 1
	for _, c := range []Command{
		ModifyECM{Time: now, ID: "ecm2", SetHealth: true, Health: linkis.HealthUnHealthy},
		ModifyECM{Time: now, ID: "ecm1", SetLabels: true, Labels: codecLabels(t, "yarnCluster", "c7")},
		SetConfig{Time: now, User: "zed", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyInstance: "2", KeyDriverCores: "500m"}, Admin: true},
		SetConfig{Time: now, User: "*", Creator: "*", EngineType: "*", Set: map[string]string{KeyCreatorJobs: "9"}, Admin: true},
		SetConfig{Time: now, User: "zed", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyMaxFreeTime: "5m"}}, // the user's own
		SetVariables{Time: now, User: "alice", Vars: map[string]string{"a": "1", "b": "two"}},
		SetVariables{Time: now, User: "bob", Vars: map[string]string{"z": ""}},
	} {
		if _, err := s.Apply(c); err != nil {
			t.Fatalf("%v: %v", c.Type(), err)
		}
	}
	for _, e := range s.ECs()[:2] {
		if _, err := s.Apply(EngineEnded{Time: now, EC: e.ID, Failed: true, Reason: "gone"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := CheckInvariants(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAdminSnapshotRoundTrip(t *testing.T) {
	s := adminRichState(t)
	snap := s.Snapshot()
	r, err := Restore(snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again := r.Snapshot(); !bytes.Equal(again, snap) {
		t.Fatalf("Snapshot(Restore(snap)) differs at byte %d", firstDiff(again, snap))
	}
	for _, l := range s.ConfigLevels() {
		if !reflect.DeepEqual(r.ConfigValues(l), s.ConfigValues(l)) {
			t.Fatalf("level %v differs", l)
		}
	}
	h1, _ := s.EngineHistory(HistoryQuery{Limit: 100})
	h2, _ := r.EngineHistory(HistoryQuery{Limit: 100})
	if !reflect.DeepEqual(h1, h2) || len(h1) != 2 || !reflect.DeepEqual(r.Variables("alice"), s.Variables("alice")) {
		t.Fatal("history or variables differ after restore")
	}
	if hv, ok := r.OperatorHealth("ecm2"); !ok || hv != linkis.HealthUnHealthy {
		t.Fatal("drain lost in the snapshot")
	}
	// Who set what is kept: zed may change his own value, not the
	// administrator's.
	if err := r.CheckAdmin(SetConfig{Time: r.Now(), User: "zed", Creator: "IDE", EngineType: "shell", Set: map[string]string{KeyMaxFreeTime: "6m"}}); err != nil {
		t.Fatalf("zed's own value after a restore: %v", err)
	}
	if err := r.CheckAdmin(SetConfig{Time: r.Now(), User: "zed", Creator: "IDE", EngineType: "shell", Remove: []string{KeyInstance}}); !errors.Is(err, linkis.ErrPermission) {
		t.Fatalf("the administrator's value after a restore: %v", err)
	}
	// The restored state keeps the configuration in force.
	if got := r.Key("zed-IDE,shell-1").Ledger.Max.Instances; got != 2 {
		t.Fatalf("restored quota %d", got)
	}
	if gs := r.JobGroups(); len(gs) > 0 && gs[0].MaxRunning != 9 {
		t.Fatalf("restored cap %+v", gs)
	}
}

// A version 2 snapshot (written before the operator's part and the
// sessions) restores as a state without them.
func TestRestoreReadsVersion2(t *testing.T) {
	s := richState(t)
	v3 := s.Snapshot()
	r, err := Restore(olderSnapshot(t, s, v3, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), v3) {
		t.Fatal("a version 2 snapshot does not restore to the same state")
	}
}

func TestRestoreRejectsBadAdminSection(t *testing.T) {
	s := adminRichState(t)
	snap := s.Snapshot()
	// Every cut inside the trailing section is malformed (the full
	// truncation test covers the rest).
	for i := len(snap) - 40; i < len(snap); i++ {
		if _, err := Restore(snap[:i], nil); !errors.Is(err, linkis.ErrMalformed) {
			t.Fatalf("cut at %d of %d: %v", i, len(snap), err)
		}
	}
}
