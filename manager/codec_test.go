package manager

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/golinkis/golinkis/linkis"
)

// Tests of the command encoding (codec.go, wire.go).
//
// Normalisation: the decoder returns nil for an empty label set, an empty
// params map and an empty Extra slice (it writes only a count, so it cannot
// tell nil from empty). normalizeCommand maps every empty value to nil on
// the input side before comparing with reflect.DeepEqual, so a test that
// fails tells a real change of value from this one deliberate ambiguity.

// codecT0 is 2026-01-01T00:00:00Z in Unix nanoseconds.
const codecT0 = int64(1767225600) * int64(time.Second)

// allCommandTypes lists every command type the codec knows.
func allCommandTypes() []CommandType {
	ts := make([]CommandType, 0, len(commandNames))
	for t := range commandNames {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

func codecLabels(t testing.TB, kv ...string) linkis.Labels {
	t.Helper()
	ls, err := linkis.NewLabels(kv...)
	if err != nil {
		t.Fatal(err)
	}
	return ls
}

func codecFullLoad() linkis.NodeLoad {
	return linkis.NodeLoad{
		MaxMemory: 128 * linkis.GiB, UsedMemory: 100 * linkis.GiB, FreeMemory: 28 * linkis.GiB, CPUPermille: 31999,
		RunningTasks: 17, PendingTasks: 3, SucceededTasks: 1 << 40, FailedTasks: math.MaxInt64,
	}
}

func codecFullConfig() Config {
	return Config{
		Seed:                0xfeedfacecafebeef,
		LockTimeout:         7 * time.Minute,
		ResourceLockTimeout: 13 * time.Minute,
		AskWaitTimeout:      9 * time.Minute,
		IdleTimeout:         2 * time.Hour,
		ECLostAfter:         11 * time.Minute,
		ECMLostAfter:        4 * time.Minute,
		NewECMStandby:       45 * time.Second,
		TickInterval:        250 * time.Millisecond,
		MaxTasksPerEC:       1 << 30,
		HotspotTopK:         64,
		MemoryLoadBuckets:   1000,
		MaxWaitersPerKey:    1 << 24,
		DefaultECMResource: linkis.Resource{Memory: 512 * linkis.GiB, MilliCores: 256_000, Instances: 200,
			Extra: []linkis.Quantity{{Name: "gpu", Value: 8}, {Name: "yarn.memory", Value: linkis.TiB}}},
		DefaultQuota: linkis.Resource{Memory: 40 * linkis.GiB, MilliCores: 20_000, Instances: 12,
			Extra: []linkis.Quantity{{Name: "gpu", Value: 2}}},
		ReclaimIdle: true,
	}
}

// sampleCommands returns one command of every type with every field set to
// a non-zero value, including labels, params, resources with extra
// dimensions and a full Config.
func sampleCommands(t testing.TB) []Command {
	t.Helper()
	return append([]Command{
		RegisterECM{Time: codecT0, ID: "ecm-host-01.example", Addr: "10.0.0.1:9101",
			Labels: codecLabels(t, "tenant", "acme", "yarnCluster", "c1", "route", "fast"),
			Max: linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 32_000, Instances: 20,
				Extra: []linkis.Quantity{{Name: "gpu", Value: 4}, {Name: "yarn.memory", Value: 1 << 40}}}, Replace: true},
		DeregisterECM{Time: codecT0 + 1, ID: "ecm-host-01.example", Force: true, Addr: "10.0.0.1:9101"},
		ECMHeartbeat{Time: codecT0 + 2, ID: "ecm-host-02", Health: linkis.HealthWarn, Load: codecFullLoad(), Addr: "10.0.0.2:9101"},
		ECHeartbeat{Time: codecT0 + 3, EC: 42, Status: linkis.StatusBusy, Health: linkis.HealthStockUnavailable, Load: codecFullLoad()},
		AskEngine{Time: codecT0 + 4, ID: "job-000123/ask-1", Nonce: 0xdeadbeefcafebabe,
			Labels: codecLabels(t, "userCreator", "alice-IDE", "engineType", "python-3", "tenant", "acme",
				"reuseExclusion", "10.0.0.2:20001;ec-7", "concurrentEngineConn", "3"),
			Params:      map[string]string{ParamMemory: "2g", ParamCores: "1.5", ParamExtraPref + "gpu": "1", "spark.executor.instances": "4"},
			LockTimeout: 3 * time.Minute, WaitTimeout: 90 * time.Second},
		EngineStarted{Time: codecT0 + 5, EC: 7, Addr: "10.0.0.2:20007"},
		EngineEnded{Time: codecT0 + 6, EC: 7, Failed: true, Reason: "exit status 137: OOM killed ☠", Retryable: true},
		ReleaseEngine{Time: codecT0 + 7, AskID: "job-000123/ask-1"},
		KillEngine{Time: codecT0 + 8, EC: 1 << 40, Reason: "operator asked"},
		RenewLock{Time: codecT0 + 9, AskID: "job-000124"},
		UnlockEngine{Time: codecT0 + 10, EC: 9, Token: LockToken(math.MaxUint64)},
		Tick{Time: math.MaxInt64},
		SetQuota{Time: codecT0 + 12, Key: "alice-IDE,python-3,acme",
			Max: linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 4000, Instances: 2,
				Extra: []linkis.Quantity{{Name: "gpu", Value: 1}}}, Reset: true},
		SetPluginParams{Time: codecT0 + 13, EngineType: "python-3",
			Params: map[string]string{ParamMemory: "1g", "python.version": "python3", "": "empty key sorts first"}},
		Configure{Time: codecT0 + 14, Config: codecFullConfig()},
		SetWarmPool{Time: codecT0 + 20, Key: "alice-IDE,python-3,acme", MinIdle: 3},
		SubmitJob{Time: codecT0 + 15, Key: math.MaxUint64, Nonce: math.MaxUint32, User: "alice", Creator: "IDE", EngineType: "shell-1",
			Request: []byte(`{"executionContent":{"code":"echo ☃"}}`), QueueTimeout: time.Minute, RunTimeout: time.Hour},
		UpdateJob{Time: codecT0 + 16, TaskID: math.MaxInt64, State: linkis.JobRunning, Reason: "why", Progress: 0.25, ProgressInfo: "1 of 4",
			Attempts: 3, Round: 2, EC: "ec-7", Results: []string{"ecm-a/ec-7/_0.jsonl"}, Log: []string{"INFO a", ""}, LogAfter: []string{"INFO b"}, Tail: []string{"out"},
			Task:      JobTask{Key: "exec_1_00000000-1.0", AskID: "exec_1_00000000-1.0", EC: "ec-7", ECM: "ecm-a", Addr: "10.0.0.2:20007", TaskID: "t-1"},
			TaskEnded: "exec_1_00000000-0.0", TaskLines: 12, Cleaned: true, Release: []string{"exec_1_00000000-1.0"}},
		KillJob{Time: codecT0 + 17, TaskID: 12, By: "alice"},
		ConfigureJobs{Time: codecT0 + 18, Config: JobConfig{QueueCapacity: 10, GroupMaxRunning: 2, MaxRunning: 7, Retain: 9, LogLines: 5, TailLines: 4,
			CreatorMaxRunning: map[string]int{"IDE": 3, "nightly": 0}, GroupOverrides: map[string]int{"IDE_alice_shell-1": 1},
			QueueTimeout: time.Second, RunTimeout: time.Minute, RetainFor: time.Hour}},
		ImportJob{Time: codecT0 + 19, Job: JobView{TaskID: 5, ExecID: "exec_5_x", User: "bob", Creator: "IDE", EngineType: "sql-1",
			Request: []byte("{}"), State: linkis.JobSucceed, Progress: 1, ProgressInfo: "done", Attempts: 1, Round: 1, EC: "ec-2",
			Reason: "r", KilledBy: "k", Results: []string{"a", "b"}, Tasks: []JobTask{{Key: "k", TaskID: "1"}},
			Log: []JobLogPart{{Lines: []string{"x"}}, {Task: JobTask{Key: "k", EC: "ec-2"}, Count: 3}}, Tail: []string{"t"},
			Created: 1, Updated: 2, Started: 3, Ended: 4, QueueTimeout: 5, RunTimeout: 6, Cleanup: true}},
	}, append(adminSampleCommands(t), sessionSampleCommands()...)...)
}

// normalizeCommand maps empty labels, params and extra dimensions to nil:
// the form DecodeCommand returns (see the file comment).
func normalizeCommand(c Command) Command {
	labels := func(ls linkis.Labels) linkis.Labels {
		if len(ls) == 0 {
			return nil
		}
		return ls
	}
	params := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return nil
		}
		return m
	}
	res := func(r linkis.Resource) linkis.Resource {
		if len(r.Extra) == 0 {
			r.Extra = nil
		}
		return r
	}
	switch c := c.(type) {
	case RegisterECM:
		c.Labels, c.Max = labels(c.Labels), res(c.Max)
		return c
	case AskEngine:
		c.Labels, c.Params = labels(c.Labels), params(c.Params)
		return c
	case SetQuota:
		c.Max = res(c.Max)
		return c
	case SetPluginParams:
		c.Params = params(c.Params)
		return c
	case Configure:
		c.Config.DefaultECMResource, c.Config.DefaultQuota = res(c.Config.DefaultECMResource), res(c.Config.DefaultQuota)
		return c
	case SubmitJob:
		c.Request = bytesOrNil(c.Request)
		return c
	case UpdateJob:
		c.Results, c.Log, c.LogAfter, c.Tail, c.Release = strsOrNil(c.Results), strsOrNil(c.Log), strsOrNil(c.LogAfter), strsOrNil(c.Tail), strsOrNil(c.Release)
		return c
	case ConfigureJobs:
		c.Config.CreatorMaxRunning, c.Config.GroupOverrides = capsOrNil(c.Config.CreatorMaxRunning), capsOrNil(c.Config.GroupOverrides)
		return c
	case ModifyECM, KillEngines, SetConfig, SetVariables:
		return normalizeAdminCommand(c)
	case ImportJob:
		v := &c.Job
		v.Request, v.Results, v.Tail = bytesOrNil(v.Request), strsOrNil(v.Results), strsOrNil(v.Tail)
		if len(v.Tasks) == 0 {
			v.Tasks = nil
		}
		if len(v.Log) == 0 {
			v.Log = nil
		}
		for i := range v.Log {
			v.Log[i].Lines = strsOrNil(v.Log[i].Lines)
		}
		v.Group, v.Position = "", 0 // derived: not encoded
		return c
	}
	return c
}

func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func strsOrNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func capsOrNil(m map[string]int) map[string]int {
	if len(m) == 0 {
		return nil
	}
	return m
}

// checkRoundTrip encodes c, decodes it, and requires the decoded command to
// equal the normalised input and to re-encode to the same bytes.
func checkRoundTrip(t testing.TB, c Command) []byte {
	t.Helper()
	b := EncodeCommand(c)
	got, err := DecodeCommand(b)
	if err != nil {
		t.Fatalf("%v: decode of its own encoding failed: %v\ncommand: %#v\nbytes: %x", c.Type(), err, c, b)
	}
	if want := normalizeCommand(c); !reflect.DeepEqual(got, want) {
		t.Fatalf("%v: round trip changed the command\n got: %#v\nwant: %#v", c.Type(), got, want)
	}
	if again := EncodeCommand(got); !bytes.Equal(again, b) {
		t.Fatalf("%v: re-encoding the decoded command gave other bytes\n got: %x\nwant: %x", c.Type(), again, b)
	}
	if b[0] != byte(c.Type()) || b[1] != commandVersion(c.Type()) {
		t.Fatalf("%v: header %x, want type %d version %d", c.Type(), b[:2], c.Type(), commandVersion(c.Type()))
	}
	return b
}

func TestCodecRoundTripEveryType(t *testing.T) {
	cmds := sampleCommands(t)
	seen := map[CommandType]bool{}
	for _, c := range cmds {
		seen[c.Type()] = true
		checkRoundTrip(t, c)
	}
	for _, typ := range allCommandTypes() {
		if !seen[typ] {
			t.Errorf("sampleCommands has no %v", typ)
		}
	}
	if len(allCommandTypes()) != 29 {
		t.Errorf("commands.go, jobcmds.go, admin.go and session.go define %d command types; this test was written for 29", len(allCommandTypes()))
	}
}

func TestCodecRoundTripZeroAndExtremeValues(t *testing.T) {
	// Zero values of every type, and empty (non-nil) collections: decoded as
	// nil, see normalizeCommand.
	for _, typ := range allCommandTypes() {
		c := zeroCommand(typ)
		checkRoundTrip(t, c)
	}
	for _, c := range []Command{
		RegisterECM{Time: -1, Labels: linkis.Labels{}, Max: linkis.Resource{Extra: []linkis.Quantity{}}},
		AskEngine{Time: math.MinInt64, Labels: linkis.Labels{}, Params: map[string]string{}, LockTimeout: -1, WaitTimeout: math.MaxInt64},
		SetPluginParams{Time: 1, Params: map[string]string{}},
		ECHeartbeat{Time: 1, EC: ECID(math.MaxUint64), Status: 255, Health: 255,
			Load: linkis.NodeLoad{MaxMemory: math.MinInt64, UsedMemory: -1, FreeMemory: math.MaxInt64}},
		SetQuota{Time: 1, Max: linkis.Resource{Memory: math.MinInt64, MilliCores: math.MaxInt64, Instances: -5}},
		Configure{Time: 1, Config: Config{MaxTasksPerEC: -1, HotspotTopK: math.MaxInt64, LockTimeout: math.MinInt64}},
		EngineEnded{Time: 1, EC: 1, Reason: strings.Repeat("r", MaxReasonLen)},
		ReleaseEngine{Time: 1, AskID: strings.Repeat("a", MaxAskIDLen)},
		UnlockEngine{Time: 1, Token: 0},
	} {
		checkRoundTrip(t, c)
	}
}

func zeroCommand(typ CommandType) Command {
	switch typ {
	case CmdRegisterECM:
		return RegisterECM{}
	case CmdDeregisterECM:
		return DeregisterECM{}
	case CmdECMHeartbeat:
		return ECMHeartbeat{}
	case CmdECHeartbeat:
		return ECHeartbeat{}
	case CmdAskEngine:
		return AskEngine{}
	case CmdEngineStarted:
		return EngineStarted{}
	case CmdEngineEnded:
		return EngineEnded{}
	case CmdReleaseEngine:
		return ReleaseEngine{}
	case CmdKillEngine:
		return KillEngine{}
	case CmdRenewLock:
		return RenewLock{}
	case CmdUnlockEngine:
		return UnlockEngine{}
	case CmdTick:
		return Tick{}
	case CmdSetQuota:
		return SetQuota{}
	case CmdSetPluginParams:
		return SetPluginParams{}
	case CmdConfigure:
		return Configure{}
	case CmdSetWarmPool:
		return SetWarmPool{}
	case CmdSubmitJob:
		return SubmitJob{}
	case CmdUpdateJob:
		return UpdateJob{}
	case CmdKillJob:
		return KillJob{}
	case CmdConfigureJobs:
		return ConfigureJobs{}
	case CmdImportJob:
		return ImportJob{Job: JobView{State: linkis.JobInited}} // a record always has a state
	}
	if c := adminZeroCommand(typ); c != nil {
		return c
	}
	if c := zeroSessionCommand(typ); c != nil {
		return c
	}
	panic("unknown command type " + typ.String())
}

// The largest legal AskEngine (64 params of the longest key and value, 64
// labels) decodes, and stays below MaxCommandSize.
func TestCodecLargestLegalAsk(t *testing.T) {
	c := AskEngine{Time: codecT0, ID: strings.Repeat("x", MaxAskIDLen), Nonce: math.MaxUint64, Params: map[string]string{}}
	for i := 0; i < MaxParams; i++ {
		k := strconv.Itoa(i) + strings.Repeat("k", MaxParamKeyLen)
		c.Params[k[:MaxParamKeyLen]] = strings.Repeat("v", MaxParamValueLen)
	}
	for i := 0; i < linkis.MaxLabels; i++ {
		k := "k" + strconv.Itoa(100+i) + strings.Repeat("x", linkis.MaxLabelKeyLen)
		c.Labels = append(c.Labels, linkis.Label{Key: k[:linkis.MaxLabelKeyLen], Value: strings.Repeat("v", linkis.MaxLabelValueLen)})
	}
	b := checkRoundTrip(t, c)
	if len(b) > MaxCommandSize {
		t.Fatalf("largest legal ask is %d bytes, over MaxCommandSize %d", len(b), MaxCommandSize)
	}
	t.Logf("largest legal AskEngine: %d bytes", len(b))
}

func TestCodecAppendCommand(t *testing.T) {
	var log []byte
	var ends []int
	cmds := sampleCommands(t)
	for _, c := range cmds {
		log = AppendCommand(log, c)
		ends = append(ends, len(log))
	}
	start := 0
	for i, c := range cmds {
		if !bytes.Equal(log[start:ends[i]], EncodeCommand(c)) {
			t.Fatalf("%v: AppendCommand wrote other bytes than EncodeCommand", c.Type())
		}
		start = ends[i]
	}
	prefix := []byte("prefix")
	out := AppendCommand(prefix[:len(prefix):len(prefix)], Tick{Time: 5})
	if string(out[:6]) != "prefix" || !bytes.Equal(out[6:], EncodeCommand(Tick{Time: 5})) {
		t.Fatalf("AppendCommand must keep the prefix: %x", out)
	}
}

// genBytesString draws a string of arbitrary bytes (not necessarily UTF-8:
// the codec must carry bytes as they are; validation is Apply's job).
func genBytesString(t *rapid.T, label string, max int) string {
	if rapid.IntRange(0, 9).Draw(t, label+".kind") < 8 {
		max = min(max, 24) // mostly short, sometimes up to the limit
	}
	return string(rapid.SliceOfN(rapid.Byte(), 0, max).Draw(t, label))
}

func genLabels(t *rapid.T, label string) linkis.Labels {
	m := rapid.MapOfN(
		rapid.Custom(func(t *rapid.T) string { return genBytesString(t, "key", linkis.MaxLabelKeyLen) }),
		rapid.Custom(func(t *rapid.T) string { return genBytesString(t, "value", linkis.MaxLabelValueLen) }),
		0, 8).Draw(t, label)
	var ls linkis.Labels
	for k, v := range m {
		ls = append(ls, linkis.Label{Key: k, Value: v})
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key })
	return ls
}

func genParams(t *rapid.T, label string) map[string]string {
	m := rapid.MapOfN(
		rapid.Custom(func(t *rapid.T) string { return genBytesString(t, "key", MaxParamKeyLen) }),
		rapid.Custom(func(t *rapid.T) string { return genBytesString(t, "value", MaxParamValueLen) }),
		0, 8).Draw(t, label)
	if len(m) == 0 && rapid.Bool().Draw(t, label+".nil") {
		return nil
	}
	return m
}

func genResource(t *rapid.T, label string) linkis.Resource {
	r := linkis.Resource{
		Memory:     rapid.Int64().Draw(t, label+".memory"),
		MilliCores: rapid.Int64().Draw(t, label+".cores"),
		Instances:  rapid.Int64().Draw(t, label+".instances"),
	}
	n := rapid.IntRange(0, linkis.MaxExtraDimensions).Draw(t, label+".extra")
	for i := 0; i < n; i++ {
		r.Extra = append(r.Extra, linkis.Quantity{Name: genBytesString(t, label+".name", 64), Value: rapid.Int64().Draw(t, label+".value")})
	}
	return r
}

func genLoad(t *rapid.T) linkis.NodeLoad {
	i := rapid.Int64()
	return linkis.NodeLoad{
		MaxMemory: i.Draw(t, "maxMemory"), UsedMemory: i.Draw(t, "usedMemory"), FreeMemory: i.Draw(t, "freeMemory"),
		CPUPermille: i.Draw(t, "cpu"), RunningTasks: i.Draw(t, "running"), PendingTasks: i.Draw(t, "pending"),
		SucceededTasks: i.Draw(t, "succeeded"), FailedTasks: i.Draw(t, "failed"),
	}
}

func genDur(t *rapid.T, label string) time.Duration {
	return time.Duration(rapid.Int64().Draw(t, label))
}

func genConfig(t *rapid.T) Config {
	return Config{
		Seed:        rapid.Uint64().Draw(t, "seed"),
		LockTimeout: genDur(t, "lock"), ResourceLockTimeout: genDur(t, "resLock"), AskWaitTimeout: genDur(t, "wait"),
		IdleTimeout: genDur(t, "idle"), ECLostAfter: genDur(t, "ecLost"), ECMLostAfter: genDur(t, "ecmLost"),
		NewECMStandby: genDur(t, "standby"), TickInterval: genDur(t, "tick"),
		MaxTasksPerEC: rapid.Int().Draw(t, "maxTasks"), HotspotTopK: rapid.Int().Draw(t, "topK"),
		MemoryLoadBuckets: rapid.Int().Draw(t, "buckets"), MaxWaitersPerKey: rapid.Int().Draw(t, "waiters"),
		DefaultECMResource: genResource(t, "ecmRes"), DefaultQuota: genResource(t, "quota"),
		ReclaimIdle: rapid.Bool().Draw(t, "reclaimIdle"),
	}
}

// genCommand draws a command of any type with every field random, within
// the decoder's length limits.
func genCommand() *rapid.Generator[Command] {
	return rapid.Custom(func(t *rapid.T) Command {
		typ := rapid.SampledFrom(allCommandTypes()).Draw(t, "type")
		at := rapid.Int64().Draw(t, "time")
		str := func(label string, max int) string { return genBytesString(t, label, max) }
		ecid := func() ECID { return ECID(rapid.Uint64().Draw(t, "ec")) }
		switch typ {
		case CmdRegisterECM:
			return RegisterECM{Time: at, ID: str("id", 128), Addr: str("addr", 300), Labels: genLabels(t, "labels"), Max: genResource(t, "max"),
				Replace: rapid.Bool().Draw(t, "replace")}
		case CmdDeregisterECM:
			return DeregisterECM{Time: at, ID: str("id", 128), Force: rapid.Bool().Draw(t, "force"), Addr: str("addr", 300)}
		case CmdECMHeartbeat:
			return ECMHeartbeat{Time: at, ID: str("id", 128), Health: linkis.NodeHealth(rapid.Byte().Draw(t, "health")), Load: genLoad(t),
				Addr: str("addr", 300)}
		case CmdECHeartbeat:
			return ECHeartbeat{Time: at, EC: ecid(), Status: linkis.NodeStatus(rapid.Byte().Draw(t, "status")),
				Health: linkis.NodeHealth(rapid.Byte().Draw(t, "health")), Load: genLoad(t)}
		case CmdAskEngine:
			return AskEngine{Time: at, ID: str("id", MaxAskIDLen), Nonce: rapid.Uint64().Draw(t, "nonce"),
				Labels: genLabels(t, "labels"), Params: genParams(t, "params"),
				LockTimeout: genDur(t, "lock"), WaitTimeout: genDur(t, "wait")}
		case CmdEngineStarted:
			return EngineStarted{Time: at, EC: ecid(), Addr: str("addr", 300)}
		case CmdEngineEnded:
			return EngineEnded{Time: at, EC: ecid(), Failed: rapid.Bool().Draw(t, "failed"), Reason: str("reason", MaxReasonLen),
				Retryable: rapid.Bool().Draw(t, "retryable")}
		case CmdReleaseEngine:
			return ReleaseEngine{Time: at, AskID: str("ask", MaxAskIDLen)}
		case CmdKillEngine:
			return KillEngine{Time: at, EC: ecid(), Reason: str("reason", MaxReasonLen)}
		case CmdRenewLock:
			return RenewLock{Time: at, AskID: str("ask", MaxAskIDLen)}
		case CmdUnlockEngine:
			return UnlockEngine{Time: at, EC: ecid(), Token: LockToken(rapid.Uint64().Draw(t, "token"))}
		case CmdTick:
			return Tick{Time: at}
		case CmdSetQuota:
			return SetQuota{Time: at, Key: str("key", 512), Max: genResource(t, "max"), Reset: rapid.Bool().Draw(t, "reset")}
		case CmdSetPluginParams:
			return SetPluginParams{Time: at, EngineType: str("et", 128), Params: genParams(t, "params")}
		case CmdConfigure:
			return Configure{Time: at, Config: genConfig(t)}
		case CmdSetWarmPool:
			return SetWarmPool{Time: at, Key: str("key", 512), MinIdle: rapid.Int().Draw(t, "minIdle")}
		case CmdSubmitJob:
			return SubmitJob{Time: at, Key: rapid.Uint64().Draw(t, "key"), Nonce: rapid.Uint32().Draw(t, "nonce"),
				User: str("user", maxJobName), Creator: str("creator", maxJobName), EngineType: str("et", maxJobName),
				Request: []byte(str("request", 4096)), QueueTimeout: genDur(t, "qt"), RunTimeout: genDur(t, "rt")}
		case CmdUpdateJob:
			strs := func(label string) []string {
				return rapid.SliceOfN(rapid.Custom(func(t *rapid.T) string { return genBytesString(t, label, 64) }), 0, 4).Draw(t, label)
			}
			return UpdateJob{Time: at, TaskID: rapid.Int64().Draw(t, "task"), State: linkis.JobState(rapid.Byte().Draw(t, "state")),
				Reason: str("reason", MaxReasonLen), Progress: rapid.Float64().Draw(t, "progress"), ProgressInfo: str("info", 64),
				Attempts: rapid.IntRange(-3, 1000).Draw(t, "attempts"), Round: rapid.IntRange(-3, 1000).Draw(t, "round"), EC: str("ec", maxJobName),
				Results: strs("results"), Log: strs("log"), Tail: strs("tail"),
				Task:      JobTask{Key: str("key", MaxAskIDLen), AskID: str("ask", MaxAskIDLen), TaskID: str("tid", 32), Addr: str("addr", 64)},
				TaskEnded: str("ended", MaxAskIDLen), TaskLines: rapid.IntRange(-1, 1<<20).Draw(t, "lines"), Cleaned: rapid.Bool().Draw(t, "cleaned")}
		case CmdKillJob:
			return KillJob{Time: at, TaskID: rapid.Int64().Draw(t, "task"), By: str("by", maxJobName)}
		case CmdConfigureJobs:
			return ConfigureJobs{Time: at, Config: JobConfig{QueueCapacity: rapid.IntRange(-5, 1<<20).Draw(t, "cap"),
				GroupMaxRunning: rapid.IntRange(-5, 100).Draw(t, "gmr"), MaxRunning: rapid.IntRange(-5, 1000).Draw(t, "mr"),
				CreatorMaxRunning: rapid.MapOfN(rapid.StringN(1, 8, 8), rapid.IntRange(-1, 9), 0, 3).Draw(t, "cmr"),
				QueueTimeout:      genDur(t, "qt"), RetainFor: genDur(t, "rf")}}
		case CmdImportJob:
			return ImportJob{Time: at, Job: JobView{TaskID: rapid.Int64().Draw(t, "task"), ExecID: str("exec", maxJobName),
				User: str("user", maxJobName), State: linkis.JobState(rapid.IntRange(1, 8).Draw(t, "state")),
				Log: []JobLogPart{{Lines: []string{str("line", 64)}, Count: rapid.IntRange(-1, 9).Draw(t, "count")}}}}
		}
		if c := genAdminCommand(t, typ, at); c != nil {
			return c
		}
		if c := genSessionCommand(t, typ, at); c != nil {
			return c
		}
		t.Fatalf("no generator for %v", typ)
		return nil
	})
}

func TestCodecRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCommand().Draw(t, "command")
		b := EncodeCommand(c)
		got, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("decode failed: %v\nbytes: %x", err, b)
		}
		if want := normalizeCommand(c); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip changed the command\n got: %#v\nwant: %#v", got, want)
		}
		if again := EncodeCommand(got); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding gave other bytes")
		}
		// Every strict prefix is malformed, and so is a trailing byte.
		i := rapid.IntRange(0, len(b)-1).Draw(t, "cut")
		if _, err := DecodeCommand(b[:i]); !errors.Is(err, linkis.ErrMalformed) {
			t.Fatalf("prefix of %d/%d bytes: want ErrMalformed, got %v", i, len(b), err)
		}
		if _, err := DecodeCommand(append(b[:len(b):len(b)], rapid.Byte().Draw(t, "extra"))); !errors.Is(err, linkis.ErrMalformed) {
			t.Fatalf("trailing byte: want ErrMalformed, got %v", err)
		}
	})
}

// codecPopulatedState returns a state with ECMs, engines in several phases
// and asks, for checks that a command changes nothing.
func codecPopulatedState(t testing.TB) *State {
	t.Helper()
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := codecT0
	apply := func(c Command) Result {
		t.Helper()
		r, err := s.Apply(c)
		if err != nil {
			t.Fatalf("%v: %v", c.Type(), err)
		}
		return r
	}
	uc := func(u string) linkis.Labels {
		return codecLabels(t, "userCreator", u+"-IDE", "engineType", "shell-1")
	}
	apply(RegisterECM{Time: now, ID: "ecm1", Addr: "ecm1:9101", Max: linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 32000, Instances: 20}})
	apply(RegisterECM{Time: now, ID: "ecm2", Addr: "ecm2:9101", Labels: codecLabels(t, "yarnCluster", "c1")})
	a := apply(AskEngine{Time: now, ID: "a1", Nonce: 1, Labels: uc("alice")}).Ask
	apply(AskEngine{Time: now, ID: "a2", Nonce: 2, Labels: uc("alice")})
	apply(EngineStarted{Time: now, EC: a.EC, Addr: "10.1.1.1:2000"})
	apply(AskEngine{Time: now, ID: "b1", Nonce: 3, Labels: uc("bob")})
	return s
}

func TestCodecUnknownTypeAndVersion(t *testing.T) {
	body := EncodeCommand(Tick{Time: codecT0})[2:]
	cases := []struct {
		name    string
		typ     CommandType
		version byte
	}{
		{"type 0", 0, bodyVersion},
		{"type 30", 30, bodyVersion},
		{"type 127", 0x7f, bodyVersion},
		{"known type, version 0", CmdAskEngine, 0},
		{"known type, version 2", CmdTick, 2},
		{"known type, version 255", CmdConfigure, 255},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, b := range [][]byte{
				append([]byte{byte(tc.typ), tc.version}, body...),
				{byte(tc.typ), tc.version},                              // header only
				append([]byte{byte(tc.typ), tc.version}, 0xff, 0xff, 1), // garbage body
			} {
				c, err := DecodeCommand(b)
				if !errors.Is(err, linkis.ErrUnknownCommand) || errors.Is(err, linkis.ErrMalformed) || c != nil {
					t.Fatalf("%x: want ErrUnknownCommand and no command, got %#v, %v", b, c, err)
				}
				b[0] |= IgnoreIfUnknown
				c, err = DecodeCommand(b)
				if err != nil {
					t.Fatalf("%x: with the ignore bit want Ignored, got %v", b, err)
				}
				want := Ignored{Kind: tc.typ, Version: tc.version}
				if c != want {
					t.Fatalf("%x: got %#v, want %#v", b, c, want)
				}
				s := codecPopulatedState(t)
				before := s.Snapshot()
				beforeEffects := s.EffectsDue(s.Now() + int64(time.Hour))
				r, err := s.Apply(c)
				if err != nil || !reflect.DeepEqual(r, Result{}) {
					t.Fatalf("Apply(Ignored) = %+v, %v; want an empty result", r, err)
				}
				if !bytes.Equal(before, s.Snapshot()) {
					t.Fatal("Apply(Ignored) changed the state")
				}
				if !reflect.DeepEqual(beforeEffects, s.EffectsDue(s.Now()+int64(time.Hour))) {
					t.Fatal("Apply(Ignored) changed the effects due")
				}
			}
		})
	}
	// A known type at the current version with the ignore bit set is
	// decoded normally: the bit only matters to decoders that do not know
	// the type.
	for _, c := range sampleCommands(t) {
		b := EncodeCommand(c)
		b[0] |= IgnoreIfUnknown
		got, err := DecodeCommand(b)
		if err != nil || !reflect.DeepEqual(got, normalizeCommand(c)) {
			t.Fatalf("%v with the ignore bit: got %#v, %v", c.Type(), got, err)
		}
	}
}

func TestCodecPrefixesAndTrailingBytes(t *testing.T) {
	encodings := [][]byte{}
	for _, c := range sampleCommands(t) {
		encodings = append(encodings, EncodeCommand(c))
	}
	for _, typ := range allCommandTypes() {
		encodings = append(encodings, EncodeCommand(zeroCommand(typ)))
	}
	for _, b := range encodings {
		for i := 0; i < len(b); i++ {
			if CommandType(b[0]) == CmdConfigure && i == len(b)-configExtLen {
				continue // a Configure written before the extension (TestCodecConfigureWithoutExtension)
			}
			prefix := append([]byte(nil), b[:i]...) // own backing array: no reads past the cut
			c, err := DecodeCommand(prefix)
			if !errors.Is(err, linkis.ErrMalformed) || c != nil {
				t.Fatalf("type %d: prefix of %d/%d bytes: want ErrMalformed, got %#v, %v", b[0], i, len(b), c, err)
			}
		}
		for _, extra := range []byte{0, 1, 0x80, 0xff} {
			c, err := DecodeCommand(append(append([]byte(nil), b...), extra))
			if !errors.Is(err, linkis.ErrMalformed) || c != nil {
				t.Fatalf("type %d with trailing %#x: want ErrMalformed, got %#v, %v", b[0], extra, c, err)
			}
		}
	}
	if _, err := DecodeCommand(nil); !errors.Is(err, linkis.ErrMalformed) {
		t.Fatalf("nil input: want ErrMalformed, got %v", err)
	}
}

// craftAsk builds an AskEngine encoding by hand with the wire helpers, so
// a test can put in lengths and orders the encoder never writes.
func craftAsk(body func(e *enc)) []byte {
	e := enc{}
	e.byte(byte(CmdAskEngine))
	e.byte(bodyVersion)
	e.i(codecT0)
	body(&e)
	return e.b
}

func TestCodecLengthsPastTheEnd(t *testing.T) {
	cases := map[string][]byte{
		"id length 1<<40": craftAsk(func(e *enc) { e.u(1 << 40); e.b = append(e.b, "abc"...) }),
		"id length 2^64-1": craftAsk(func(e *enc) {
			e.u(math.MaxUint64)
			e.b = append(e.b, "abc"...)
		}),
		"id length under its limit but past the end": craftAsk(func(e *enc) { e.u(100); e.b = append(e.b, "abc"...) }),
		"labels count 1<<40":                         craftAsk(func(e *enc) { e.str("a1"); e.u(1); e.u(1 << 40) }),
		"labels count at the limit, past the end":    craftAsk(func(e *enc) { e.str("a1"); e.u(1); e.u(linkis.MaxLabels) }),
		"label value length 1<<40": craftAsk(func(e *enc) {
			e.str("a1")
			e.u(1)
			e.u(1)
			e.str("k")
			e.u(1 << 40)
		}),
		"params count 1<<40": craftAsk(func(e *enc) { e.str("a1"); e.u(1); e.u(0); e.u(1 << 40) }),
		"param value length 4096 past the end": craftAsk(func(e *enc) {
			e.str("a1")
			e.u(1)
			e.u(0)
			e.u(1)
			e.str("k")
			e.u(MaxParamValueLen)
			e.b = append(e.b, "v"...)
		}),
		"register ECM extra count 1<<40": func() []byte {
			e := enc{}
			e.byte(byte(CmdRegisterECM))
			e.byte(bodyVersion)
			e.i(codecT0)
			e.str("ecm1")
			e.str("h:1")
			e.u(0)
			e.i(1)
			e.i(1)
			e.i(1)
			e.u(1 << 40)
			return e.b
		}(),
		"varint longer than 10 bytes": append([]byte{byte(CmdTick), bodyVersion}, bytes.Repeat([]byte{0xff}, 11)...),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := DecodeCommand(b)
			if !errors.Is(err, linkis.ErrMalformed) || c != nil {
				t.Fatalf("want ErrMalformed, got %#v, %v", c, err)
			}
			allocs := testing.AllocsPerRun(100, func() { _, _ = DecodeCommand(b) })
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const runs = 100
			for i := 0; i < runs; i++ {
				_, _ = DecodeCommand(b)
			}
			runtime.ReadMemStats(&after)
			perRun := (after.TotalAlloc - before.TotalAlloc) / runs
			// A few small allocations for the error are fine; a buffer sized
			// by the bogus length is not.
			if allocs > 10 || perRun > 4096 {
				t.Fatalf("decoding a %d-byte input allocated %.0f times, %d bytes per run", len(b), allocs, perRun)
			}
		})
	}
}

func TestCodecUnsortedOrDuplicateKeys(t *testing.T) {
	cases := map[string]Command{
		"labels unsorted":      RegisterECM{Time: codecT0, ID: "e", Addr: "h:1", Labels: linkis.Labels{{Key: "b", Value: "1"}, {Key: "a", Value: "2"}}},
		"labels duplicate":     RegisterECM{Time: codecT0, ID: "e", Addr: "h:1", Labels: linkis.Labels{{Key: "a", Value: "1"}, {Key: "a", Value: "2"}}},
		"ask labels duplicate": AskEngine{Time: codecT0, ID: "a", Labels: linkis.Labels{{Key: "engineType", Value: "shell-1"}, {Key: "userCreator", Value: "a-b"}, {Key: "userCreator", Value: "c-d"}}},
		"ask labels unsorted":  AskEngine{Time: codecT0, ID: "a", Labels: linkis.Labels{{Key: "userCreator", Value: "a-b"}, {Key: "engineType", Value: "shell-1"}}},
	}
	for name, c := range cases {
		b := EncodeCommand(c)
		if got, err := DecodeCommand(b); !errors.Is(err, linkis.ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %#v, %v", name, got, err)
		}
	}
	params := map[string][]byte{
		"params unsorted": craftAsk(func(e *enc) {
			e.str("a1")
			e.u(1)
			e.u(0)
			e.u(2)
			e.str("b")
			e.str("1")
			e.str("a")
			e.str("2")
			e.i(0)
			e.i(0)
		}),
		"params duplicate": craftAsk(func(e *enc) {
			e.str("a1")
			e.u(1)
			e.u(0)
			e.u(2)
			e.str("a")
			e.str("1")
			e.str("a")
			e.str("2")
			e.i(0)
			e.i(0)
		}),
	}
	for name, b := range params {
		if got, err := DecodeCommand(b); !errors.Is(err, linkis.ErrMalformed) {
			t.Errorf("%s: want ErrMalformed, got %#v, %v", name, got, err)
		}
	}
	// The crafted encoder really is the encoder's format: sorted, it decodes.
	ok := craftAsk(func(e *enc) {
		e.str("a1")
		e.u(1)
		e.u(0)
		e.u(2)
		e.str("a")
		e.str("1")
		e.str("b")
		e.str("2")
		e.i(0)
		e.i(0)
	})
	want := AskEngine{Time: codecT0, ID: "a1", Nonce: 1, Params: map[string]string{"a": "1", "b": "2"}}
	if got, err := DecodeCommand(ok); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("sorted crafted ask: got %#v, %v", got, err)
	}
}

func TestCodecTooLarge(t *testing.T) {
	b := EncodeCommand(AskEngine{Time: codecT0, ID: "a"})
	big := append(b, make([]byte, MaxCommandSize+1-len(b))...)
	c, err := DecodeCommand(big)
	if !errors.Is(err, linkis.ErrMalformed) || c != nil {
		t.Fatalf("want ErrMalformed, got %#v, %v", c, err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(MaxCommandSize)) {
		t.Fatalf("the size check must be what refused it: %v", err)
	}
	// Also for an input that would otherwise be unknown and ignorable: the
	// size limit comes first.
	big[0] = 0x7f | IgnoreIfUnknown
	if _, err := DecodeCommand(big); !errors.Is(err, linkis.ErrMalformed) {
		t.Fatalf("oversized ignorable input: want ErrMalformed, got %v", err)
	}
	// Exactly MaxCommandSize bytes is not refused for its size.
	at := big[:MaxCommandSize]
	at[0] = byte(CmdAskEngine)
	if _, err := DecodeCommand(at); err == nil || strings.Contains(err.Error(), strconv.Itoa(MaxCommandSize)) {
		t.Fatalf("a %d-byte input must fail for its trailing bytes, not its size: %v", MaxCommandSize, err)
	}
}

func TestCodecIsCompact(t *testing.T) {
	ask := AskEngine{
		Time: codecT0 + 123_456_789, ID: "job-000123", Nonce: 0x9e3779b97f4a7c15,
		Labels: codecLabels(t, "userCreator", "alice-IDE", "engineType", "python-3", "tenant", "acme"),
	}
	b := checkRoundTrip(t, ask)
	if len(b) >= 100 {
		t.Errorf("a typical AskEngine (3 labels, no params) encodes in %d bytes, want < 100", len(b))
	}
	typical := []Command{
		RegisterECM{Time: codecT0, ID: "ecm-01", Addr: "10.0.0.1:9101", Labels: codecLabels(t, "yarnCluster", "c1"),
			Max: linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 32000, Instances: 20}},
		DeregisterECM{Time: codecT0, ID: "ecm-01"},
		ECMHeartbeat{Time: codecT0, ID: "ecm-01", Load: linkis.NodeLoad{MaxMemory: 64 * linkis.GiB, UsedMemory: 20 * linkis.GiB, FreeMemory: 44 * linkis.GiB, CPUPermille: 350, RunningTasks: 4}},
		ECHeartbeat{Time: codecT0, EC: 1234, Status: linkis.StatusUnlock, Load: linkis.NodeLoad{RunningTasks: 1}},
		ask,
		EngineStarted{Time: codecT0, EC: 1234, Addr: "10.0.0.1:20123"},
		EngineEnded{Time: codecT0, EC: 1234, Reason: "exit 0"},
		ReleaseEngine{Time: codecT0, AskID: "job-000123"},
		KillEngine{Time: codecT0, EC: 1234},
		RenewLock{Time: codecT0, AskID: "job-000123"},
		UnlockEngine{Time: codecT0, EC: 1234, Token: 0x0123456789abcdef},
		Tick{Time: codecT0},
		SetQuota{Time: codecT0, Key: "alice-IDE,python-3", Max: linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 4000, Instances: 2}},
		SetPluginParams{Time: codecT0, EngineType: "python", Params: map[string]string{ParamMemory: "1g"}},
		Configure{Time: codecT0, Config: DefaultConfig()},
		SetWarmPool{Time: codecT0, Key: "alice-IDE,python-3", MinIdle: 2},
	}
	var sb strings.Builder
	for _, c := range typical {
		n := len(checkRoundTrip(t, c))
		sb.WriteString("\n  " + c.Type().String() + ": " + strconv.Itoa(n) + " bytes")
	}
	t.Logf("encoded sizes of typical commands:%s", sb.String())
	sb.Reset()
	for _, c := range sampleCommands(t) {
		sb.WriteString("\n  " + c.Type().String() + ": " + strconv.Itoa(len(EncodeCommand(c))) + " bytes")
	}
	t.Logf("encoded sizes of the fully populated samples:%s", sb.String())
}

// configExtLen is the encoded length of the configuration's extension.
const configExtLen = 1

// A Configure command written before the configuration's extension (a
// log entry of an older manager) leaves the state's extension as it is -
// the configured one, in a log written before the extension existed - as
// a snapshot of that time restores it (TestWarmPoolSnapshot); the rest of
// the configuration is replaced. It encodes again as it was written.
func TestCodecConfigureWithoutExtension(t *testing.T) {
	cfg := codecFullConfig()
	b := EncodeCommand(Configure{Time: codecT0, Config: cfg})
	old := b[:len(b)-configExtLen]
	c, err := DecodeCommand(old)
	if err != nil {
		t.Fatal(err)
	}
	if again := EncodeCommand(c); !bytes.Equal(again, old) {
		t.Fatalf("an old Configure encodes again as %d bytes, not the %d it was written with", len(again), len(old))
	}
	for _, reclaim := range []bool{false, true} {
		configured := DefaultConfig()
		configured.ReclaimIdle = reclaim
		s, err := New(configured, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(c); err != nil {
			t.Fatal(err)
		}
		want := normalizeCommand(Configure{Config: cfg}).(Configure).Config
		want.ReclaimIdle = reclaim
		if got := s.Config(); !reflect.DeepEqual(got, want) {
			t.Fatalf("configured with ReclaimIdle %v, an old Configure gave %+v, want %+v", reclaim, got, want)
		}
	}
}
