package manager

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func TestPluginRegistryVersions(t *testing.T) {
	p := NewPlugins()
	std := Plugin{Type: "spark", Version: "*", Concurrency: 1, Resources: StandardResources{Memory: linkis.GiB, MilliCores: 1000}, Launcher: StandardLauncher{}}
	v3 := std
	v3.Version, v3.Concurrency = "3.2.1", 4
	for _, pl := range []Plugin{std, v3} {
		if err := p.Register(pl); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Register(v3); !errors.Is(err, linkis.ErrDuplicate) {
		t.Fatalf("second registration: want ErrDuplicate, got %v", err)
	}
	for _, bad := range []Plugin{
		{Type: "Spark", Version: "1", Concurrency: 1, Resources: std.Resources, Launcher: std.Launcher},
		{Type: "spark", Version: "", Concurrency: 1, Resources: std.Resources, Launcher: std.Launcher},
		{Type: "spark", Version: "2", Concurrency: 0, Resources: std.Resources, Launcher: std.Launcher},
		{Type: "spark", Version: "2", Concurrency: 1, Launcher: std.Launcher},
	} {
		if err := p.Register(bad); err == nil {
			t.Errorf("plugin %+v must be refused", bad)
		}
	}
	got, err := p.Lookup(linkis.EngineType{Type: "spark", Version: "3.2.1"})
	if err != nil || got.Concurrency != 4 {
		t.Fatalf("exact version first: %+v %v", got, err)
	}
	got, err = p.Lookup(linkis.EngineType{Type: "spark", Version: "2.4.3"})
	if err != nil || got.Version != "*" {
		t.Fatalf("other versions fall back to *: %+v %v", got, err)
	}
	if _, err := p.Lookup(linkis.EngineType{Type: "hive", Version: "1"}); !errors.Is(err, linkis.ErrUnknownEngineType) {
		t.Fatalf("unknown type: %v", err)
	}
	only := NewPlugins()
	if err := only.Register(v3); err != nil {
		t.Fatal(err)
	}
	if _, err := only.Lookup(linkis.EngineType{Type: "spark", Version: "1"}); !errors.Is(err, linkis.ErrUnknownEngineType) {
		t.Fatalf("a version without a plugin and no *: %v", err)
	}
}

// A fourth engine is added without touching the built-in ones.
func TestCustomPluginDrivesResourcesAndLaunch(t *testing.T) {
	p := DefaultPlugins()
	err := p.Register(Plugin{
		Type: "trino", Version: "*", Concurrency: 8,
		Resources: ResourceFunc(func(params map[string]string) (linkis.Resource, error) {
			return linkis.Resource{Memory: 3 * linkis.GiB, MilliCores: 2000, Instances: 1}, nil
		}),
		Launcher: LaunchFunc(func(c LaunchContext) (LaunchRequest, error) {
			return LaunchRequest{Ticket: c.Ticket, EngineType: c.EngineType, User: c.User, Command: "/opt/trino/bin/launch", Args: []string{c.Ticket.String()}, Resource: c.Resource}, nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, p)
	h.addECM("ecm1", res(64, 32, 20))
	a := h.ask("a", "dave-IDE", "trino-400")
	e := h.ec(a.EC)
	if !e.Resource.Equal(linkis.Resource{Memory: 3 * linkis.GiB, MilliCores: 2000, Instances: 1}) || e.Capacity != 8 {
		t.Fatalf("the plugin decides resource and concurrency: %+v", e)
	}
	eff := h.s.EffectsDue(h.now)
	if len(eff) != 1 || eff[0].Launch.Command != "/opt/trino/bin/launch" || eff[0].Launch.Args[0] != a.EC.String() {
		t.Fatalf("the plugin builds the launch: %+v", eff)
	}
}

func TestStandardPluginParams(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	h.apply(SetPluginParams{EngineType: "python", Params: map[string]string{ParamMemory: "1g", ParamCores: "2", "python.version": "3.11"}})
	h.apply(SetPluginParams{EngineType: "python-3", Params: map[string]string{ParamMemory: "3g"}})
	a := h.apply(AskEngine{ID: "a", Labels: labels(t, "userCreator", "u-c", "engineType", "python-3"), Params: map[string]string{ParamCores: "500m"}}).Ask
	e := h.ec(a.EC)
	if !e.Resource.Equal(linkis.Resource{Memory: 3 * linkis.GiB, MilliCores: 500, Instances: 1}) {
		t.Fatalf("type defaults < version defaults < ask params: %v", e.Resource)
	}
	launch := h.s.EffectsDue(h.now)[0].Launch
	want := []string{"engineconn", "--ticket", a.EC.String(), "--engine", "python-3",
		"--param", ParamCores + "=500m", "--param", ParamMemory + "=3g", "--param", "python.version=3.11"}
	if launch.Command != EngineConnCommand || !slices.Equal(launch.Args, want) {
		t.Fatalf("launch: %s %q", launch.Command, launch.Args)
	}
	if launch.Env["LINKIS_USER"] != "u" || launch.Env["LINKIS_TICKET"] != a.EC.String() {
		t.Fatalf("launch env: %v", launch.Env)
	}
	h.apply(SetPluginParams{EngineType: "python-3"})
	b := h.apply(AskEngine{ID: "b", Labels: labels(t, "userCreator", "v-c", "engineType", "python-3")}).Ask
	if got := h.ec(b.EC).Resource.Memory; got != linkis.GiB {
		t.Fatalf("removing the version's params falls back to the type's: %d", got)
	}
}

func TestEffectsDue(t *testing.T) {
	h := newHarness(t)
	h.addECM("ecm1", res(64, 32, 20))
	if got := h.s.EffectsDue(h.now); len(got) != 0 {
		t.Fatalf("nothing due on a fresh state: %+v", got)
	}
	a := h.ask("a", "alice-IDE", "shell-1")
	b := h.ask("b", "bob-IDE", "shell-1")
	h.start(b.EC)
	h.apply(KillEngine{EC: b.EC})
	got := h.s.EffectsDue(h.now + int64(time.Second))
	if len(got) != 3 || got[0].Kind != EffectLaunch || got[0].EC != a.EC || got[0].ECMAddr != "ecm1:9101" ||
		got[1].Kind != EffectKill || got[1].EC != b.EC || got[2].Kind != EffectTick {
		t.Fatalf("want launch a, kill b, tick: %+v", got)
	}
	// Effects are a pure function: asking twice gives the same answer and
	// changes nothing.
	before := h.s.Snapshot()
	again := h.s.EffectsDue(h.now + int64(time.Second))
	if len(again) != len(got) || string(before) != string(h.s.Snapshot()) {
		t.Fatal("EffectsDue must be pure")
	}
	h.advance(time.Second)
	h.apply(Tick{})
	if got := h.s.EffectsDue(h.now); len(got) != 2 {
		t.Fatalf("a tick just applied is not due again: %+v", got)
	}
}

// The jdbc engine's plugin: a concurrent engine, launched like the other
// built-ins, that refuses a secret as a start-up parameter (the ask would
// put it in the Raft log and on the engine's command line).
func TestJDBCPlugin(t *testing.T) {
	p := DefaultPlugins()
	pl, err := p.Lookup(linkis.EngineType{Type: "jdbc", Version: "4"})
	if err != nil || pl.Concurrency != 10 {
		t.Fatalf("%+v %v", pl, err)
	}
	r, err := pl.Resources.Resource(map[string]string{ParamMemory: "1g"})
	if err != nil || r.Memory != linkis.GiB || r.MilliCores != 500 || r.Instances != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, k := range []string{"jdbc.password", "wds.linkis.jdbc.password", "x.Secret"} {
		_, err := pl.Resources.Resource(map[string]string{k: "Pw-1"})
		if !errors.Is(err, linkis.ErrInvalidArgument) || !strings.Contains(err.Error(), k) || strings.Contains(err.Error(), "Pw-1") {
			t.Errorf("%s: %v", k, err)
		}
	}
	lr, err := pl.Launcher.Build(LaunchContext{Ticket: 7, EngineType: linkis.EngineType{Type: "jdbc", Version: "4"}, User: "alice",
		Params: map[string]string{"engineconn.max.free.time": "10m"}})
	if err != nil || lr.Command != EngineConnCommand || !slices.Contains(lr.Args, "jdbc-4") || !slices.Contains(lr.Args, "engineconn.max.free.time=10m") {
		t.Fatalf("%+v %v", lr, err)
	}
}
