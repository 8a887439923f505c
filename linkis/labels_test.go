package linkis

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// mustLabels builds a label set from key, value pairs or fails the test.
func mustLabels(t *testing.T, kv ...string) Labels {
	t.Helper()
	ls, err := NewLabels(kv...)
	if err != nil {
		t.Fatalf("NewLabels(%q): %v", kv, err)
	}
	return ls
}

// wantKind fails the test unless err wraps kind (or is nil when kind is nil).
func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if err == nil {
		t.Errorf("%s: got no error, want %v", what, kind)
		return
	}
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %q does not wrap %v", what, err, kind)
	}
}

func TestParseUserCreator(t *testing.T) {
	for _, tc := range []struct {
		in            string
		user, creator string
		ok            bool
	}{
		{"hadoop-IDE", "hadoop", "IDE", true},
		{"alice-IDE", "alice", "IDE", true},
		{"a-b", "a", "b", true},
		{"user.name_1-app_2.x", "user.name_1", "app_2.x", true},
		{"alice@corp-IDE", "alice@corp", "IDE", true},
		{"alice-IDE@x", "alice", "IDE@x", true},
		{strings.Repeat("u", 64) + "-" + strings.Repeat("c", 64), strings.Repeat("u", 64), strings.Repeat("c", 64), true},

		{"", "", "", false},
		{"hadoop", "", "", false},
		{"-IDE", "", "", false},
		{"hadoop-", "", "", false},
		{"-", "", "", false},
		{"hadoop-IDE-x", "", "", false}, // exactly one '-'
		{"ha doop-IDE", "", "", false},
		{"hadoop-I,DE", "", "", false},
		{"hadoop-IDÉ", "", "", false},
		{"hadoop-IDE\n", "", "", false},
		{strings.Repeat("u", 65) + "-IDE", "", "", false},
		{"hadoop-" + strings.Repeat("c", 65), "", "", false},
	} {
		got, err := ParseUserCreator(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseUserCreator(%q)", tc.in), err, ErrInvalidLabel)
			if got != (UserCreator{}) {
				t.Errorf("ParseUserCreator(%q) = %+v on error, want zero value", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseUserCreator(%q): %v", tc.in, err)
			continue
		}
		if got.User != tc.user || got.Creator != tc.creator {
			t.Errorf("ParseUserCreator(%q) = %+v, want user %q creator %q", tc.in, got, tc.user, tc.creator)
		}
		if got.String() != tc.in {
			t.Errorf("ParseUserCreator(%q).String() = %q, want the input back", tc.in, got.String())
		}
	}
}

func TestParseEngineType(t *testing.T) {
	for _, tc := range []struct {
		in         string
		typ, vers  string
		ok         bool
		errContain string
	}{
		{"spark-2.4.3", "spark", "2.4.3", true, ""},
		{"python-python-3", "python", "python-3", true, ""}, // split at the FIRST '-'
		{"python-3", "python", "3", true, ""},
		{"hive-2.3.3", "hive", "2.3.3", true, ""},
		{"jdbc-4", "jdbc", "4", true, ""},
		{"flink_sql-1.12.2-SNAPSHOT", "flink_sql", "1.12.2-SNAPSHOT", true, ""},
		{"a1-v_1.X", "a1", "v_1.X", true, ""},
		{"spark--1", "spark", "-1", true, ""}, // version may hold '-', even first
		{strings.Repeat("t", 32) + "-" + strings.Repeat("v", 32), strings.Repeat("t", 32), strings.Repeat("v", 32), true, ""},

		{"", "", "", false, "type-version"},
		{"spark", "", "", false, "type-version"},
		{"-2.4.3", "", "", false, "type must be"},
		{"spark-", "", "", false, "version"},
		{"Spark-2.4.3", "", "", false, "lower-case"},
		{"spa rk-2", "", "", false, "lower-case"},
		{"spark.x-2", "", "", false, "lower-case"},
		{"spark-2.4 3", "", "", false, "version"},
		{"spark-2@4", "", "", false, "version"},
		{"spark-2,4", "", "", false, "version"},
		{strings.Repeat("t", 33) + "-1", "", "", false, "type must be"},
		{"spark-" + strings.Repeat("v", 33), "", "", false, "version"},
	} {
		got, err := ParseEngineType(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseEngineType(%q)", tc.in), err, ErrInvalidLabel)
			if err != nil && !strings.Contains(err.Error(), tc.errContain) {
				t.Errorf("ParseEngineType(%q) error %q, want it to mention %q", tc.in, err, tc.errContain)
			}
			if got != (EngineType{}) {
				t.Errorf("ParseEngineType(%q) = %+v on error, want zero value", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseEngineType(%q): %v", tc.in, err)
			continue
		}
		if got.Type != tc.typ || got.Version != tc.vers {
			t.Errorf("ParseEngineType(%q) = {%q %q}, want {%q %q}", tc.in, got.Type, got.Version, tc.typ, tc.vers)
		}
		if got.String() != tc.in {
			t.Errorf("ParseEngineType(%q).String() = %q, want the input back", tc.in, got.String())
		}
	}
}

func TestParseEngineConnMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want EngineConnMode
		ok   bool
	}{
		{"computation", ModeComputation, true},
		{"once", ModeOnce, true},
		{"cluster", ModeCluster, true},
		{"", 0, false},
		{"Once", 0, false},
		{"ONCE", 0, false},
		{" once", 0, false},
		{"computation_with_once", 0, false},
		{"interactive", 0, false},
	} {
		got, err := ParseEngineConnMode(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseEngineConnMode(%q)", tc.in), err, ErrInvalidLabel)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseEngineConnMode(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if got.String() != tc.in {
			t.Errorf("%v.String() = %q, want %q", tc.want, got.String(), tc.in)
		}
	}
	if ModeComputation != 0 {
		t.Errorf("ModeComputation = %d, want the zero value", ModeComputation)
	}
}

func TestParseConcurrency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1", 1, true},
		{"15", 15, true},
		{"300", 300, true},
		{"10000", 10000, true},
		{"0001", 1, true},
		{"", 0, false},
		{"0", 0, false},
		{"10001", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{" 5", 0, false},
		{"5 ", 0, false},
		{"five", 0, false},
		{"0x10", 0, false},
		{"1e3", 0, false},
		{"999999999", 0, false},
		{"9999999999", 0, false},
		{"99999999999999999999999", 0, false},
	} {
		got, err := ParseConcurrency(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseConcurrency(%q)", tc.in), err, ErrInvalidLabel)
			if got != 0 {
				t.Errorf("ParseConcurrency(%q) = %d on error, want 0", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseConcurrency(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseReuseExclusion(t *testing.T) {
	for _, tc := range []struct {
		in        string
		all       bool
		instances []string
		ok        bool
	}{
		{"*", true, nil, true},
		{"host1:9101", false, []string{"host1:9101"}, true},
		{"b:2;a:1", false, []string{"a:1", "b:2"}, true}, // sorted
		{"inst3;inst1;inst2", false, []string{"inst1", "inst2", "inst3"}, true},
		{"", false, nil, false},
		{";", false, nil, false},
		{"a;", false, nil, false},
		{";a", false, nil, false},
		{"a;;b", false, nil, false},
		{"a;*", false, nil, false},
		{"**", false, nil, false},
		{"a b", false, nil, false},
		{"a; b", false, nil, false},
	} {
		got, err := ParseReuseExclusion(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseReuseExclusion(%q)", tc.in), err, ErrInvalidLabel)
			if got.All || len(got.Instances) != 0 {
				t.Errorf("ParseReuseExclusion(%q) = %+v on error, want zero value", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseReuseExclusion(%q): %v", tc.in, err)
			continue
		}
		if got.All != tc.all || len(got.Instances) != len(tc.instances) ||
			(len(tc.instances) > 0 && !reflect.DeepEqual(got.Instances, tc.instances)) {
			t.Errorf("ParseReuseExclusion(%q) = %+v, want All=%v Instances=%q", tc.in, got, tc.all, tc.instances)
		}
	}
}

func TestReuseExclusionExcludes(t *testing.T) {
	all, err := ParseReuseExclusion("*")
	if err != nil {
		t.Fatal(err)
	}
	some, err := ParseReuseExclusion("host3:1;host1:1;host2:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    ReuseExclusion
		inst string
		want bool
	}{
		{all, "host1:1", true},
		{all, "anything", true},
		{all, "", true},
		{some, "host1:1", true},
		{some, "host2:1", true},
		{some, "host3:1", true},
		{some, "host0:1", false},
		{some, "host4:1", false},
		{some, "host1:2", false},
		{some, "host1", false},
		{some, "", false},
		{ReuseExclusion{}, "host1:1", false},
		{ReuseExclusion{}, "", false},
	} {
		if got := tc.r.Excludes(tc.inst); got != tc.want {
			t.Errorf("%+v.Excludes(%q) = %v, want %v", tc.r, tc.inst, got, tc.want)
		}
	}
}

func TestValidateLabel(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name       string
		key, value string
		ok         bool
	}{
		{"plain", "codeType", "sql", true},
		{"unknown key", "myLabel", "anything goes here", true},
		{"key with digits and punctuation", "a1_b.c-d", "v", true},
		{"key max length", "k" + long(MaxLabelKeyLen-1), "v", true},
		{"value max length", "route", long(MaxLabelValueLen), true},
		{"inner space", "codeType", "a b", true},
		{"unicode value", "codeType", "数据", true},
		{"userCreator", LabelUserCreator, "hadoop-IDE", true},
		{"engineType", LabelEngineType, "spark-2.4.3", true},
		{"tenant", LabelTenant, "team-a.prod_1", true},
		{"yarnCluster", LabelYarnCluster, "cluster-1", true},
		{"engineConnMode", LabelEngineConnMode, "once", true},
		{"concurrentEngineConn", LabelConcurrentEngineConn, "15", true},
		{"reuseExclusion", LabelReuseExclusion, "*", true},
		{"executeOnce true", LabelExecuteOnce, "true", true},
		{"executeOnce false", LabelExecuteOnce, "false", true},

		// bad keys
		{"empty key", "", "v", false},
		{"key too long", "k" + long(MaxLabelKeyLen), "v", false},
		{"key starts with digit", "1abc", "v", false},
		{"key starts with underscore", "_abc", "v", false},
		{"key starts with dash", "-abc", "v", false},
		{"key with space", "a b", "v", false},
		{"key with equals", "a=b", "v", false},
		{"key with comma", "a,b", "v", false},
		{"key with colon", "a:b", "v", false},
		{"key with newline", "ab\n", "v", false},
		{"key with NUL", "a\x00", "v", false},
		{"key leading space", " ab", "v", false},
		{"key non-ASCII", "clé", "v", false},
		{"key non-UTF-8", "a\xff", "v", false},

		// bad values
		{"empty value", "codeType", "", false},
		{"value too long", "route", long(MaxLabelValueLen + 1), false},
		{"value NUL", "codeType", "a\x00b", false},
		{"value tab", "codeType", "a\tb", false},
		{"value newline", "codeType", "a\nb", false},
		{"value CR", "codeType", "a\rb", false},
		{"value ESC", "codeType", "a\x1bb", false},
		{"value DEL", "codeType", "a\x7fb", false},
		{"value C1 NEL", "codeType", "a\u0085b", false},
		{"value C1 CSI", "codeType", "a\u009bb", false},
		{"value leading space", "codeType", " sql", false},
		{"value trailing space", "codeType", "sql ", false},
		{"value only space", "codeType", " ", false},
		{"value leading NBSP", "codeType", "\u00a0sql", false},
		{"value non-UTF-8", "codeType", "a\xffb", false},
		{"value truncated UTF-8", "codeType", "\xe6\x95", false},

		// well-known keys with bad values
		{"bad userCreator", LabelUserCreator, "hadoop", false},
		{"bad engineType", LabelEngineType, "spark", false},
		{"bad tenant comma", LabelTenant, "a,b", false},
		{"bad tenant at", LabelTenant, "a@b", false},
		{"bad tenant too long", LabelTenant, long(65), false},
		{"bad yarnCluster", LabelYarnCluster, "c 1", false},
		{"bad engineConnMode", LabelEngineConnMode, "twice", false},
		{"bad concurrentEngineConn", LabelConcurrentEngineConn, "0", false},
		{"bad reuseExclusion", LabelReuseExclusion, "a;;b", false},
		{"bad executeOnce", LabelExecuteOnce, "yes", false},
		{"bad executeOnce case", LabelExecuteOnce, "True", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateLabel(tc.key, tc.value)
			if tc.ok {
				if err != nil {
					t.Fatalf("ValidateLabel(%q, %q): %v", tc.key, tc.value, err)
				}
				return
			}
			wantKind(t, fmt.Sprintf("ValidateLabel(%q, %q)", tc.key, tc.value), err, ErrInvalidLabel)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ValidateLabel(%q, %q) error %T is not an *Error", tc.key, tc.value, err)
			}
			if e.Field == "" {
				t.Errorf("ValidateLabel(%q, %q) error %q names no field", tc.key, tc.value, err)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	in := map[string]string{
		"zeta":           "1",
		LabelUserCreator: "hadoop-IDE",
		LabelEngineType:  "spark-2.4.3",
		"alpha":          "2",
		"Beta":           "3",
		LabelCodeType:    "sql",
	}
	ls, err := ParseLabels(in)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := []string{"Beta", "alpha", "codeType", "engineType", "userCreator", "zeta"}
	var keys []string
	for _, l := range ls {
		keys = append(keys, l.Key)
	}
	if !reflect.DeepEqual(keys, wantKeys) {
		t.Errorf("ParseLabels keys = %q, want %q", keys, wantKeys)
	}
	for k, v := range in {
		got, ok := ls.Get(k)
		if !ok || got != v {
			t.Errorf("Get(%q) = %q, %v; want %q, true", k, got, ok, v)
		}
	}
	for _, k := range []string{"", "a", "beta", "codetype", "zz", "userCreatorX", "Alpha"} {
		if v, ok := ls.Get(k); ok || v != "" {
			t.Errorf("Get(%q) = %q, %v; want absent", k, v, ok)
		}
	}
	if !reflect.DeepEqual(ls.Map(), in) {
		t.Errorf("Map() = %v, want %v", ls.Map(), in)
	}
	if want := "Beta=3,alpha=2,codeType=sql,engineType=spark-2.4.3,userCreator=hadoop-IDE,zeta=1"; ls.String() != want {
		t.Errorf("String() = %q, want %q", ls.String(), want)
	}

	// The empty set.
	empty, err := ParseLabels(nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("ParseLabels(nil) = %v, %v; want empty", empty, err)
	}
	if _, ok := empty.Get("a"); ok {
		t.Error("empty.Get found a key")
	}
	if empty.String() != "" {
		t.Errorf("empty.String() = %q", empty.String())
	}
	var zero Labels
	if _, ok := zero.Get(LabelUserCreator); ok || len(zero.Map()) != 0 || zero.String() != "" || zero.Core() != nil {
		t.Error("the zero Labels is not the empty set")
	}

	// An invalid label anywhere rejects the whole set.
	_, err = ParseLabels(map[string]string{"a": "1", "b c": "2"})
	wantKind(t, "ParseLabels with a bad key", err, ErrInvalidLabel)
	_, err = ParseLabels(map[string]string{"a": "1", LabelEngineType: "spark"})
	wantKind(t, "ParseLabels with a bad engineType", err, ErrInvalidLabel)
}

func TestParseLabelsMaxLabels(t *testing.T) {
	m := make(map[string]string)
	for i := 0; i < MaxLabels; i++ {
		m[fmt.Sprintf("k%03d", i)] = "v"
	}
	ls, err := ParseLabels(m)
	if err != nil {
		t.Fatalf("%d labels: %v", MaxLabels, err)
	}
	if len(ls) != MaxLabels {
		t.Fatalf("got %d labels, want %d", len(ls), MaxLabels)
	}
	if !sort.SliceIsSorted(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key }) {
		t.Error("labels not sorted")
	}
	m["k999"] = "v"
	_, err = ParseLabels(m)
	wantKind(t, fmt.Sprintf("ParseLabels with %d labels", MaxLabels+1), err, ErrInvalidLabel)

	kv := make([]string, 0, 2*(MaxLabels+1))
	for i := 0; i <= MaxLabels; i++ {
		kv = append(kv, fmt.Sprintf("k%03d", i), "v")
	}
	_, err = NewLabels(kv...)
	wantKind(t, fmt.Sprintf("NewLabels with %d labels", MaxLabels+1), err, ErrInvalidLabel)
	if _, err := NewLabels(kv[:2*MaxLabels]...); err != nil {
		t.Errorf("NewLabels with %d labels: %v", MaxLabels, err)
	}
}

func TestNewLabels(t *testing.T) {
	ls, err := NewLabels("b", "2", "a", "1", "c", "3")
	if err != nil {
		t.Fatal(err)
	}
	want := Labels{{"a", "1"}, {"b", "2"}, {"c", "3"}}
	if !reflect.DeepEqual(ls, want) {
		t.Errorf("NewLabels = %v, want %v", ls, want)
	}
	if v, ok := ls.Get("b"); !ok || v != "2" {
		t.Errorf("Get(b) = %q, %v", v, ok)
	}

	if ls, err := NewLabels(); err != nil || len(ls) != 0 {
		t.Errorf("NewLabels() = %v, %v; want empty", ls, err)
	}

	for _, tc := range []struct {
		name string
		kv   []string
	}{
		{"odd", []string{"a", "1", "b"}},
		{"single", []string{"a"}},
		{"duplicate key", []string{"a", "1", "b", "2", "a", "1"}},
		{"duplicate key other value", []string{"a", "1", "a", "2"}},
		{"bad key", []string{"1a", "1"}},
		{"empty value", []string{"a", ""}},
	} {
		ls, err := NewLabels(tc.kv...)
		wantKind(t, "NewLabels "+tc.name, err, ErrInvalidLabel)
		if ls != nil {
			t.Errorf("NewLabels %s returned labels %v with the error", tc.name, ls)
		}
	}
	_, err = NewLabels("a", "1", "a", "2")
	if err == nil || !strings.Contains(err.Error(), `a "2"`) {
		t.Errorf("duplicate key error %q should name the key and value", err)
	}
}

func TestLabelsCore(t *testing.T) {
	ls := mustLabels(t,
		LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3", LabelTenant, "t1",
		LabelCodeType, "sql", LabelRoute, "r", "custom", "x")
	want := Labels{{LabelEngineType, "spark-2.4.3"}, {LabelTenant, "t1"}, {LabelUserCreator, "hadoop-IDE"}}
	if got := ls.Core(); !reflect.DeepEqual(got, want) {
		t.Errorf("Core() = %v, want %v", got, want)
	}
	if got := mustLabels(t, LabelCodeType, "sql").Core(); len(got) != 0 {
		t.Errorf("Core() of non-core labels = %v, want empty", got)
	}
}

func TestCoreMatch(t *testing.T) {
	base := []string{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3"}
	with := func(kv ...string) []string { return append(append([]string{}, base...), kv...) }
	for _, tc := range []struct {
		name string
		a, b []string
		want bool
	}{
		{"identical", base, base, true},
		{"both empty", nil, nil, true},
		{"non-core only vs empty", []string{LabelCodeType, "sql"}, nil, true},
		{"non-core labels ignored", with(LabelCodeType, "sql", LabelYarnCluster, "c1"), with(LabelRoute, "r", LabelConcurrentEngineConn, "15"), true},
		{"non-core value differs", with(LabelCodeType, "sql"), with(LabelCodeType, "py"), true},
		{"unknown labels ignored", with("aaa", "1", "zzz", "2"), with("mmm", "3"), true},
		{"same tenant", with(LabelTenant, "t1"), with(LabelTenant, "t1", LabelCodeType, "sql"), true},
		{"tenant vs none", with(LabelTenant, "t1"), base, false},
		{"none vs tenant", base, with(LabelTenant, "t1"), false},
		{"tenant vs none plus non-core", with(LabelTenant, "t1"), with(LabelCodeType, "t1"), false},
		{"different tenant", with(LabelTenant, "t1"), with(LabelTenant, "t2"), false},
		{"user mismatch", base, []string{LabelUserCreator, "alice-IDE", LabelEngineType, "spark-2.4.3"}, false},
		{"creator mismatch", base, []string{LabelUserCreator, "hadoop-shell", LabelEngineType, "spark-2.4.3"}, false},
		{"engine version mismatch", base, []string{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-3.0.0"}, false},
		{"engine type mismatch", base, []string{LabelUserCreator, "hadoop-IDE", LabelEngineType, "hive-2.4.3"}, false},
		{"missing engineType", base, []string{LabelUserCreator, "hadoop-IDE"}, false},
		{"missing userCreator", []string{LabelEngineType, "spark-2.4.3"}, base, false},
		{"core vs empty", base, nil, false},
		{"empty vs core", nil, base, false},
		{"same values under different core keys", []string{LabelTenant, "x"}, []string{LabelUserCreator, "a-x"}, false},
	} {
		a, b := mustLabels(t, tc.a...), mustLabels(t, tc.b...)
		if got := CoreMatch(a, b); got != tc.want {
			t.Errorf("%s: CoreMatch(%v, %v) = %v, want %v", tc.name, a, b, got, tc.want)
		}
		if got := CoreMatch(b, a); got != tc.want {
			t.Errorf("%s: CoreMatch is not symmetric: CoreMatch(%v, %v) = %v, want %v", tc.name, b, a, got, tc.want)
		}
	}
}

func TestParseEngineRequest(t *testing.T) {
	t.Run("minimal", func(t *testing.T) {
		ls := mustLabels(t, LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3")
		r, err := ParseEngineRequest(ls)
		if err != nil {
			t.Fatal(err)
		}
		want := EngineRequest{
			Labels:      ls,
			UserCreator: UserCreator{"hadoop", "IDE"},
			EngineType:  EngineType{"spark", "2.4.3"},
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("ParseEngineRequest = %+v, want %+v", r, want)
		}
		if r.Mode != ModeComputation || r.ExecuteOnce || r.Concurrency != 0 || r.ReuseExclusion.All || r.Tenant != "" {
			t.Errorf("defaults wrong: %+v", r)
		}
		if r.Dedicated() {
			t.Error("a plain computation request is Dedicated")
		}
		if got, want := r.Key(), "hadoop-IDE,spark-2.4.3"; got != want {
			t.Errorf("Key() = %q, want %q", got, want)
		}
	})

	t.Run("full", func(t *testing.T) {
		ls := mustLabels(t,
			LabelUserCreator, "alice-IDE",
			LabelEngineType, "python-python-3",
			LabelTenant, "team1",
			LabelEngineConnMode, "once",
			LabelExecuteOnce, "true",
			LabelConcurrentEngineConn, "15",
			LabelReuseExclusion, "h2:1;h1:1",
			LabelEMInstance, "ecm1:9102",
			LabelEngineInstance, "ec1:40000",
			LabelCodeType, "py",
		)
		r, err := ParseEngineRequest(ls)
		if err != nil {
			t.Fatal(err)
		}
		want := EngineRequest{
			Labels:         ls,
			UserCreator:    UserCreator{"alice", "IDE"},
			EngineType:     EngineType{"python", "python-3"},
			Tenant:         "team1",
			Mode:           ModeOnce,
			ExecuteOnce:    true,
			Concurrency:    15,
			ReuseExclusion: ReuseExclusion{Instances: []string{"h1:1", "h2:1"}},
			EMInstance:     "ecm1:9102",
			EngineInstance: "ec1:40000",
		}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("ParseEngineRequest =\n %+v\nwant\n %+v", r, want)
		}
		if got, want := r.Key(), "alice-IDE,python-python-3,team1"; got != want {
			t.Errorf("Key() = %q, want %q", got, want)
		}
	})

	t.Run("missing", func(t *testing.T) {
		for _, tc := range []struct {
			kv      []string
			missing string
		}{
			{nil, LabelUserCreator},
			{[]string{LabelEngineType, "spark-2.4.3"}, LabelUserCreator},
			{[]string{LabelUserCreator, "hadoop-IDE"}, LabelEngineType},
			{[]string{LabelUserCreator, "hadoop-IDE", LabelCodeType, "sql"}, LabelEngineType},
			{[]string{LabelCodeType, "sql", LabelTenant, "t"}, LabelUserCreator},
		} {
			_, err := ParseEngineRequest(mustLabels(t, tc.kv...))
			wantKind(t, fmt.Sprintf("ParseEngineRequest(%q)", tc.kv), err, ErrMissingLabel)
			if errors.Is(err, ErrInvalidLabel) {
				t.Errorf("ParseEngineRequest(%q): missing label also reported as invalid: %v", tc.kv, err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.missing) {
				t.Errorf("ParseEngineRequest(%q) error %q does not name %s", tc.kv, err, tc.missing)
			}
		}
	})

	// Malformed values are rejected even when the Labels were not built by
	// ParseLabels (ParseEngineRequest re-parses what it decodes).
	t.Run("malformed", func(t *testing.T) {
		ok := Labels{{LabelEngineType, "spark-2.4.3"}, {LabelUserCreator, "hadoop-IDE"}}
		for _, tc := range []struct {
			key, value string
		}{
			{LabelUserCreator, "hadoop"},
			{LabelUserCreator, "hadoop-IDE-x"},
			{LabelEngineType, "spark"},
			{LabelEngineType, "Spark-2"},
			{LabelEngineConnMode, "twice"},
			{LabelExecuteOnce, "1"},
			{LabelConcurrentEngineConn, "0"},
			{LabelConcurrentEngineConn, "10001"},
			{LabelReuseExclusion, ""},
			{LabelReuseExclusion, "a;*"},
		} {
			m := ok.Map()
			m[tc.key] = tc.value
			ls := make(Labels, 0, len(m))
			for k, v := range m {
				ls = append(ls, Label{k, v})
			}
			sort.Slice(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key })
			_, err := ParseEngineRequest(ls)
			what := fmt.Sprintf("ParseEngineRequest(%s=%q)", tc.key, tc.value)
			wantKind(t, what, err, ErrInvalidLabel)
			if errors.Is(err, ErrMissingLabel) {
				t.Errorf("%s: reported as missing: %v", what, err)
			}
			var e *Error
			if errors.As(err, &e) && e.Field != tc.key {
				t.Errorf("%s: error field %q, want %q", what, e.Field, tc.key)
			}
		}
	})
}

func TestEngineRequestDedicated(t *testing.T) {
	base := []string{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3"}
	for _, tc := range []struct {
		kv   []string
		want bool
	}{
		{nil, false},
		{[]string{LabelEngineConnMode, "computation"}, false},
		{[]string{LabelEngineConnMode, "once"}, true},
		{[]string{LabelEngineConnMode, "cluster"}, true}, // not a reusable computation engine either
		{[]string{LabelExecuteOnce, "true"}, true},
		{[]string{LabelExecuteOnce, "false"}, false},
		{[]string{LabelReuseExclusion, "*"}, true},
		{[]string{LabelReuseExclusion, "h1:1;h2:2"}, false},
		{[]string{LabelConcurrentEngineConn, "10"}, false},
		{[]string{LabelTenant, "t1"}, false},
	} {
		r, err := ParseEngineRequest(mustLabels(t, append(append([]string{}, base...), tc.kv...)...))
		if err != nil {
			t.Fatalf("%q: %v", tc.kv, err)
		}
		if got := r.Dedicated(); got != tc.want {
			t.Errorf("Dedicated() with %q = %v, want %v", tc.kv, got, tc.want)
		}
	}
}

func TestCombinedKey(t *testing.T) {
	uc := UserCreator{"hadoop", "IDE"}
	et := EngineType{"spark", "2.4.3"}
	if got, want := CombinedKey(uc, et, ""), "hadoop-IDE,spark-2.4.3"; got != want {
		t.Errorf("CombinedKey without tenant = %q, want %q", got, want)
	}
	if got, want := CombinedKey(uc, et, "t1"), "hadoop-IDE,spark-2.4.3,t1"; got != want {
		t.Errorf("CombinedKey with tenant = %q, want %q", got, want)
	}
	if got, want := CombinedKey(UserCreator{"alice", "shell"}, EngineType{"python", "python-3"}, ""), "alice-shell,python-python-3"; got != want {
		t.Errorf("CombinedKey = %q, want %q", got, want)
	}
	if CombinedLabelKey("") != CombinedUserCreatorEngineType || CombinedLabelKey("t1") != CombinedUserCreatorEngineTypeTenant {
		t.Errorf("CombinedLabelKey wrong: %q, %q", CombinedLabelKey(""), CombinedLabelKey("t1"))
	}
	if CombinedUserCreatorEngineType != "combined_userCreator_engineType" {
		t.Errorf("CombinedUserCreatorEngineType = %q", CombinedUserCreatorEngineType)
	}
	// Distinct requests get distinct keys.
	keys := map[string]string{}
	for _, kv := range [][]string{
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3"},
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3", LabelTenant, "t1"},
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3", LabelTenant, "t2"},
		{LabelUserCreator, "hadoop-shell", LabelEngineType, "spark-2.4.3"},
		{LabelUserCreator, "alice-IDE", LabelEngineType, "spark-2.4.3"},
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-3.0.0"},
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "hive-2.4.3"},
	} {
		r, err := ParseEngineRequest(mustLabels(t, kv...))
		if err != nil {
			t.Fatal(err)
		}
		if prev, dup := keys[r.Key()]; dup {
			t.Errorf("requests %s and %v share key %q", prev, r.Labels, r.Key())
		}
		keys[r.Key()] = r.Labels.String()
	}
}

func TestFeatureOf(t *testing.T) {
	for _, tc := range []struct {
		key  string
		want Feature
	}{
		{LabelUserCreator, FeatureCore},
		{LabelEngineType, FeatureCore},
		{LabelTenant, FeatureCore},
		{LabelYarnCluster, FeatureSuitable},
		{LabelCodeType, FeatureSuitable},
		{LabelEMInstance, FeatureSuitable},
		{LabelEngineInstance, FeatureSuitable},
		{LabelRoute, FeaturePrioritized},
		{LabelLoadBalance, FeaturePrioritized},
		{LabelConcurrentEngineConn, FeatureOptional},
		{LabelReuseExclusion, FeatureOptional},
		{LabelEngineConnMode, FeatureOptional},
		{LabelExecuteOnce, FeatureOptional},
		{LabelFixedEngineConn, FeatureOptional},
		{LabelBindEngine, FeatureOptional},
		{LabelJobQueuingTimeout, FeatureOptional},
		{LabelJobRunningTimeout, FeatureOptional},
		{LabelJobRetryCount, FeatureOptional},
		{LabelJobRetryTimeout, FeatureOptional},
		{"", FeatureUnknown},
		{"custom", FeatureUnknown},
		{"usercreator", FeatureUnknown}, // keys are case-sensitive
		{CombinedUserCreatorEngineType, FeatureUnknown},
	} {
		if got := FeatureOf(tc.key); got != tc.want {
			t.Errorf("FeatureOf(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func TestFeatureWeight(t *testing.T) {
	for _, tc := range []struct {
		f      Feature
		weight float64
		name   string
	}{
		{FeatureCore, 2.0, "CORE"},
		{FeatureSuitable, 1.0, "SUITABLE"},
		{FeaturePrioritized, 0.8, "PRIORITIZED"},
		{FeatureOptional, 0.5, "OPTIONAL"},
		{FeatureUnknown, 0.3, "UNKNOWN"},
	} {
		if got := tc.f.Weight(); got != tc.weight {
			t.Errorf("%v.Weight() = %v, want %v", tc.f, got, tc.weight)
		}
		if got := tc.f.String(); got != tc.name {
			t.Errorf("Feature(%d).String() = %q, want %q", tc.f, got, tc.name)
		}
	}
	// Out-of-range features weigh as UNKNOWN and print without panicking.
	for _, f := range []Feature{5, 42, 255} {
		if got := f.Weight(); got != 0.3 {
			t.Errorf("Feature(%d).Weight() = %v, want 0.3", f, got)
		}
		if got, want := f.String(), fmt.Sprintf("Feature(%d)", f); got != want {
			t.Errorf("Feature(%d).String() = %q, want %q", f, got, want)
		}
	}
}

func TestLabelString(t *testing.T) {
	if got := (Label{"a", "b=c"}).String(); got != "a=b=c" {
		t.Errorf("Label.String() = %q", got)
	}
}

func TestAppendKeyMatchesKey(t *testing.T) {
	for _, kv := range [][]string{
		{LabelUserCreator, "hadoop-IDE", LabelEngineType, "spark-2.4.3"},
		{LabelUserCreator, "a.b@c-x_y", LabelEngineType, "python-python-3", LabelTenant, "team-1"},
	} {
		ls, err := NewLabels(kv...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseEngineRequest(ls)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(r.AppendKey([]byte("prefix:"))); got != "prefix:"+r.Key() {
			t.Errorf("AppendKey = %q, Key = %q", got, r.Key())
		}
	}
}
