package manager

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// Fuzz targets for the command decoder and for Restore.
//
//	go test -run '^$' -fuzz '^FuzzDecodeCommand$' -fuzztime 60s ./manager
//	go test -run '^$' -fuzz '^FuzzRestore$' -fuzztime 60s ./manager
//
// testdata/fuzz/FuzzDecodeCommand/077d603d0467cf22 is the input that found
// the bug TestConfigureRefusesDefaultQuotaBelowHeld guards against.

// fuzzBaseCommands builds the small state FuzzDecodeCommand applies decoded
// commands to: three ECMs (one of a tenant), a serial engine held by an ask,
// a free one, a concurrent engine with a free slot, an engine starting for
// a queue of waiting asks, a once engine starting for its owner, and an
// engine being killed. Engine ids are 1-6, ask ids are listed in fuzzAsks.
func fuzzBaseCommands() []Command {
	t := codecT0
	ls := func(kv ...string) linkis.Labels {
		l, err := linkis.NewLabels(kv...)
		if err != nil {
			panic(err)
		}
		return l
	}
	return []Command{
		RegisterECM{Time: t, ID: "ecm1", Addr: "ecm1:9101", Max: linkis.Resource{Memory: 64 * linkis.GiB, MilliCores: 32_000, Instances: 20, Extra: []linkis.Quantity{{Name: "gpu", Value: 2}}}},
		RegisterECM{Time: t, ID: "ecm2", Addr: "ecm2:9101", Labels: ls("yarnCluster", "c1")},
		RegisterECM{Time: t, ID: "ecm3", Addr: "ecm3:9101", Labels: ls("tenant", "acme"), Max: linkis.Resource{Memory: 8 * linkis.GiB, MilliCores: 4000, Instances: 3}},
		SetQuota{Time: t, Key: "bob-IDE,python-3", Max: linkis.Resource{Memory: 4 * linkis.GiB, MilliCores: 4000, Instances: 1}},
		AskEngine{Time: t, ID: "held", Nonce: 101, Labels: ls("userCreator", "alice-IDE", "engineType", "shell-1")},                                                // ec-1
		EngineStarted{Time: t, EC: 1, Addr: "10.0.0.1:20001"},                                                                                                      //
		AskEngine{Time: t, ID: "gone", Nonce: 102, Labels: ls("userCreator", "alice-IDE", "engineType", "sql-1")},                                                  // ec-2
		EngineStarted{Time: t, EC: 2, Addr: "10.0.0.2:20002"},                                                                                                      //
		ReleaseEngine{Time: t + 1, AskID: "gone"},                                                                                                                  // ec-2 free
		AskEngine{Time: t + 2, ID: "conc", Nonce: 103, Labels: ls("userCreator", "carol-IDE", "engineType", "python-3", "concurrentEngineConn", "3")},              // ec-3
		EngineStarted{Time: t + 2, EC: 3, Addr: "10.0.0.3:20003"},                                                                                                  //
		AskEngine{Time: t + 3, ID: "wait1", Nonce: 104, Labels: ls("userCreator", "bob-IDE", "engineType", "python-3")},                                            // ec-4 starting
		AskEngine{Time: t + 3, ID: "wait2", Nonce: 105, Labels: ls("userCreator", "bob-IDE", "engineType", "python-3")},                                            // waits
		AskEngine{Time: t + 4, ID: "once", Nonce: 106, Labels: ls("userCreator", "dave-IDE", "engineType", "shell-1", "engineConnMode", "once", "tenant", "acme")}, // ec-5
		AskEngine{Time: t + 5, ID: "doomed", Nonce: 107, Labels: ls("userCreator", "erin-IDE", "engineType", "sql-1", "emInstance", "ecm2")},                       // ec-6
		EngineStarted{Time: t + 5, EC: 6, Addr: "10.0.0.6:20006"},
		KillEngine{Time: t + 6, EC: 6, Reason: "fuzz"},
		ECMHeartbeat{Time: t + 7, ID: "ecm1", Load: linkis.NodeLoad{MaxMemory: 64 * linkis.GiB, RunningTasks: 2}},
	}
}

// fuzzState returns a fresh copy of the base state, with a transition
// checker installed.
func fuzzState(t testing.TB) (*State, *TransitionChecker) {
	t.Helper()
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range fuzzBaseCommands() {
		if _, err := s.Apply(c); err != nil {
			t.Fatalf("base command %d (%v): %v", i, c.Type(), err)
		}
	}
	checker := &TransitionChecker{}
	s.SetObserver(checker)
	return s, checker
}

// fuzzCommandSeeds are commands that mean something to the base state.
func fuzzCommandSeeds(t testing.TB) []Command {
	s, _ := fuzzState(t)
	now := s.Now()
	tok := func(id string) LockToken {
		a, _ := s.Ask(id)
		return a.Token
	}
	ls := func(kv ...string) linkis.Labels { return codecLabels(t, kv...) }
	minute := int64(time.Minute)
	return []Command{
		AskEngine{Time: now, ID: "new", Nonce: 1, Labels: ls("userCreator", "alice-IDE", "engineType", "sql-1")},
		AskEngine{Time: now, ID: "new", Nonce: 5, Labels: ls("userCreator", "carol-IDE", "engineType", "python-3")},
		AskEngine{Time: now, ID: "new", Nonce: 2, Labels: ls("userCreator", "bob-IDE", "engineType", "python-3")},
		AskEngine{Time: now, ID: "new", Nonce: 3, Labels: ls("userCreator", "alice-IDE", "engineType", "shell-1", "engineInstance", "10.0.0.2:20002")},
		AskEngine{Time: now, ID: "new", Nonce: 4, Labels: ls("userCreator", "zed-IDE", "engineType", "python-3", "tenant", "acme", "reuseExclusion", "*"),
			Params: map[string]string{ParamMemory: "2g", ParamExtraPref + "gpu": "1"}, LockTimeout: time.Minute, WaitTimeout: time.Minute},
		AskEngine{Time: now, ID: "held", Nonce: 101, Labels: ls("userCreator", "alice-IDE", "engineType", "shell-1")},
		EngineStarted{Time: now, EC: 4, Addr: "10.0.0.4:20004"},
		EngineStarted{Time: now, EC: 5, Addr: "10.0.0.5:20005"},
		EngineStarted{Time: now, EC: 1, Addr: "10.0.0.1:20001"},
		EngineEnded{Time: now, EC: 6},
		EngineEnded{Time: now, EC: 4, Failed: true, Reason: "boom", Retryable: true},
		EngineEnded{Time: now, EC: 1, Failed: true},
		ReleaseEngine{Time: now, AskID: "held"},
		ReleaseEngine{Time: now, AskID: "wait2"},
		ReleaseEngine{Time: now, AskID: "once"},
		KillEngine{Time: now, EC: 3},
		KillEngine{Time: now, EC: 4, Reason: "r"},
		RenewLock{Time: now + 4*minute, AskID: "conc"},
		UnlockEngine{Time: now, EC: 1, Token: tok("held")},
		UnlockEngine{Time: now, EC: 3, Token: tok("conc")},
		ECHeartbeat{Time: now, EC: 3, Status: linkis.StatusBusy, Load: linkis.NodeLoad{RunningTasks: 1}},
		ECHeartbeat{Time: now, EC: 1, Status: linkis.StatusUnlock},
		ECHeartbeat{Time: now, EC: 5, Status: linkis.StatusShuttingDown},
		ECHeartbeat{Time: now, EC: 4, Status: linkis.StatusFailed},
		ECMHeartbeat{Time: now, ID: "ecm2", Health: linkis.HealthUnHealthy},
		Tick{Time: now + minute},
		Tick{Time: now + 6*minute},
		Tick{Time: now + 13*minute},
		Tick{Time: now + 120*minute},
		SetQuota{Time: now, Key: "bob-IDE,python-3", Reset: true},
		SetQuota{Time: now, Key: "", Max: linkis.Resource{Memory: linkis.GiB, MilliCores: 1000, Instances: 1}},
		SetPluginParams{Time: now, EngineType: "python", Params: map[string]string{ParamMemory: "3g"}},
		Configure{Time: now, Config: DefaultConfig()},
		SetWarmPool{Time: now, Key: "alice-IDE,python-3", MinIdle: 1},
		SetWarmPool{Time: now, Key: "bob-IDE,shell-1", MinIdle: 0},
		DeregisterECM{Time: now, ID: "ecm1"},
		DeregisterECM{Time: now, ID: "ecm2", Force: true},
		RegisterECM{Time: now, ID: "ecm9", Addr: "ecm9:1", Labels: ls("tenant", "acme")},
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range fuzzCommandSeeds(f) {
		f.Add(EncodeCommand(c))
	}
	for _, c := range sampleCommands(f) {
		f.Add(EncodeCommand(c))
	}
	for _, typ := range allCommandTypes() {
		f.Add(EncodeCommand(zeroCommand(typ)))
	}
	f.Add([]byte{})
	f.Add([]byte{0x7f | IgnoreIfUnknown, 1})
	f.Add([]byte{byte(CmdTick) | IgnoreIfUnknown, 2, 0})
	f.Add([]byte{16, 1, 2})

	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			if c != nil {
				t.Fatalf("DecodeCommand returned %#v with error %v", c, err)
			}
			if !errors.Is(err, linkis.ErrMalformed) && !errors.Is(err, linkis.ErrUnknownCommand) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnknownCommand", err)
			}
			if errors.Is(err, linkis.ErrUnknownCommand) && (len(b) < 2 || b[0]&IgnoreIfUnknown != 0) {
				t.Fatalf("ErrUnknownCommand for input %x", b)
			}
			return
		}
		s, checker := fuzzState(t)
		before := s.Snapshot()
		if ig, ok := c.(Ignored); ok {
			// An ignored command has no body to re-encode; it must have
			// carried the bit, and applying it changes nothing.
			if b[0]&IgnoreIfUnknown == 0 || ig.Kind != CommandType(b[0]&^IgnoreIfUnknown) || ig.Version != b[1] {
				t.Fatalf("input %x decoded as %#v", b, ig)
			}
			if r, err := s.Apply(c); err != nil || !reflect.DeepEqual(r, Result{}) {
				t.Fatalf("Apply(Ignored) = %+v, %v", r, err)
			}
			if !bytes.Equal(before, s.Snapshot()) {
				t.Fatal("Apply(Ignored) changed the state")
			}
			return
		}
		enc := EncodeCommand(c)
		c2, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("re-encoded %v does not decode: %v\ncommand: %#v", c.Type(), err, c)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("decode(encode(c)) != c\n got: %#v\nwant: %#v", c2, c)
		}
		if !bytes.Equal(EncodeCommand(c2), enc) {
			t.Fatal("encoding is not stable")
		}

		_, applyErr := s.Apply(c)
		if applyErr != nil {
			var le *linkis.Error
			if !errors.As(applyErr, &le) {
				t.Fatalf("%v refused with an untyped error: %v", c.Type(), applyErr)
			}
			if after := s.Snapshot(); !bytes.Equal(before, after) {
				t.Fatalf("%v failed with %v but changed the state\ncommand: %#v", c.Type(), applyErr, c)
			}
		}
		if err := CheckInvariants(s); err != nil {
			t.Fatalf("after %v (apply error: %v): invariant broken: %v\ncommand: %#v", c.Type(), applyErr, err, c)
		}
		if err := checker.Err(); err != nil {
			t.Fatalf("after %v: illegal transition: %v\ncommand: %#v", c.Type(), err, c)
		}
	})
}

func FuzzRestore(f *testing.F) {
	empty, err := New(DefaultConfig(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(empty.Snapshot())
	base, _ := fuzzState(f)
	f.Add(base.Snapshot())
	f.Add(richState(f).Snapshot())
	lg := buildCommandLog(f, 7, 120)
	s := newLogState(f)
	for i, c := range lg.cmds {
		_, _ = s.Apply(c)
		if i%60 == 59 {
			f.Add(s.Snapshot())
		}
	}
	f.Add([]byte{})
	f.Add([]byte(snapshotMagic))
	f.Add([]byte(snapshotMagic + "\x01"))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Restore(data, nil)
		if err != nil {
			if s != nil {
				t.Fatal("Restore returned a state with an error")
			}
			if !errors.Is(err, linkis.ErrMalformed) {
				t.Fatalf("Restore error %v is not ErrMalformed", err)
			}
			return
		}
		if err := CheckInvariants(s); err != nil {
			t.Fatalf("restored state breaks an invariant: %v", err)
		}
		snap := s.Snapshot()
		s2, err := Restore(snap, nil)
		if err != nil {
			t.Fatalf("the restored state's own snapshot is refused: %v", err)
		}
		if again := s2.Snapshot(); !bytes.Equal(again, snap) {
			t.Fatalf("Snapshot/Restore is not stable: differs at byte %d of %d", firstDiff(again, snap), len(snap))
		}
	})
}

// Bugs found by FuzzDecodeCommand (and the generated logs). Each is the
// smallest reproduction.

// TestEqualNoncesGetDistinctLockTokens: two asks with the same nonce
// granted one concurrent engine get distinct tokens. Regression: the token
// was mix64(nonce ^ mix64(ec id)), so they shared one, broke CheckLocks,
// and an UnlockEngine released whichever grant came first.
func TestEqualNoncesGetDistinctLockTokens(t *testing.T) {
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ls := codecLabels(t, "userCreator", "carol-IDE", "engineType", "python-3", "concurrentEngineConn", "2")
	for _, c := range []Command{
		RegisterECM{Time: codecT0, ID: "ecm1", Addr: "ecm1:9101"},
		AskEngine{Time: codecT0, ID: "a1", Labels: ls}, // Nonce 0
		EngineStarted{Time: codecT0, EC: 1, Addr: "10.0.0.1:20001"},
		AskEngine{Time: codecT0, ID: "a2", Labels: ls}, // Nonce 0 again
	} {
		if _, err := s.Apply(c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	a1, _ := s.Ask("a1")
	a2, _ := s.Ask("a2")
	if a1.Status != AskGranted || a2.Status != AskGranted || a1.EC != a2.EC || a1.Token == a2.Token {
		t.Errorf("both asks hold one engine under distinct tokens: %+v %+v", a1, a2)
	}
	if err := CheckInvariants(s); err != nil {
		t.Errorf("a1 (%v, token %v) and a2 (%v, token %v): %v", a1.EC, a1.Token, a2.EC, a2.Token, err)
	}
}

// TestConfigureRefusesDefaultQuotaBelowHeld: Configure refuses a default
// quota below what a key without its own quota holds, as SetQuota does,
// changing nothing. Regression: it used to accept it and break CheckLedger.
func TestConfigureRefusesDefaultQuotaBelowHeld(t *testing.T) {
	s, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Command{
		RegisterECM{Time: codecT0, ID: "ecm1", Addr: "ecm1:9101"},
		AskEngine{Time: codecT0, ID: "a1", Nonce: 1, Labels: codecLabels(t, "userCreator", "alice-IDE", "engineType", "shell-1")},
	} {
		if _, err := s.Apply(c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
	}
	tiny := linkis.Resource{Memory: linkis.MiB, MilliCores: 100, Instances: 1}
	if _, err := s.Apply(SetQuota{Time: codecT0, Max: tiny}); !errors.Is(err, linkis.ErrInvalidResource) {
		t.Fatalf("SetQuota of a default below what a key holds: want ErrInvalidResource, got %v", err)
	}
	cfg := DefaultConfig()
	cfg.DefaultQuota = tiny
	before := s.Snapshot()
	_, err = s.Apply(Configure{Time: codecT0, Config: cfg})
	if err == nil {
		if ierr := CheckInvariants(s); ierr != nil {
			t.Fatalf("Configure accepted a default quota below what a key holds: %v", ierr)
		}
	} else if !bytes.Equal(before, s.Snapshot()) {
		t.Fatalf("Configure refused (%v) but changed the state", err)
	}
}
