package linkis

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// splitPairs turns fuzz input into label pairs: one pair a line, key and
// value split at the first '='. A line without '=' is a key with an empty
// value. A later line with the same key replaces the earlier one.
func splitPairs(s string) map[string]string {
	m := make(map[string]string)
	for _, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func FuzzParseLabels(f *testing.F) {
	for _, seed := range []string{
		"",
		"userCreator=hadoop-IDE\nengineType=spark-2.4.3",
		"userCreator=alice-IDE\nengineType=python-python-3\ntenant=t1\nengineConnMode=once\nexecuteOnce=true\nconcurrentEngineConn=15\nreuseExclusion=h2:1;h1:1\nemInstance=ecm:9102\nengineInstance=ec:1\ncodeType=py",
		"userCreator=hadoop-IDE\nengineType=spark-2.4.3\nreuseExclusion=*",
		"userCreator=hadoop\nengineType=spark",
		"engineType=spark-2.4.3",
		"userCreator=hadoop-IDE",
		"a=1\nb=2\na=3",
		"=v\nk=",
		"1a=x",
		"k= leading",
		"k=\x00\x7f\u0085",
		"k=\xff\xfe",
		"k=" + strings.Repeat("v", 257),
		strings.Repeat("k", 65) + "=v",
		"tenant=a,b\nuserCreator=a-b\nengineType=c-d",
		"concurrentEngineConn=0000000001\nuserCreator=u-c\nengineType=t-v",
		"Z=1\na=2\nB=3\n_=4\nz=5",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := splitPairs(s)
		ls, err := ParseLabels(m)
		if err != nil {
			if !errors.Is(err, ErrInvalidLabel) {
				t.Fatalf("ParseLabels error %v does not wrap ErrInvalidLabel", err)
			}
			if ls != nil {
				t.Fatalf("ParseLabels returned %v with error %v", ls, err)
			}
			return
		}
		if len(ls) != len(m) {
			t.Fatalf("ParseLabels returned %d labels for %d pairs", len(ls), len(m))
		}
		if len(ls) > MaxLabels {
			t.Fatalf("%d labels accepted, at most %d allowed", len(ls), MaxLabels)
		}
		for i := 1; i < len(ls); i++ {
			if ls[i-1].Key >= ls[i].Key {
				t.Fatalf("labels not strictly sorted at %d: %q, %q", i, ls[i-1].Key, ls[i].Key)
			}
		}
		for k, v := range m {
			got, ok := ls.Get(k)
			if !ok || got != v {
				t.Fatalf("Get(%q) = %q, %v; want %q", k, got, ok, v)
			}
		}
		for _, l := range ls {
			if err := ValidateLabel(l.Key, l.Value); err != nil {
				t.Fatalf("accepted label %v fails ValidateLabel: %v", l, err)
			}
			if strings.ContainsAny(l.Key, "=,\n") || strings.ContainsAny(l.Value, "\n\x00") {
				t.Fatalf("accepted label %q holds a separator", l)
			}
		}
		if !CoreMatch(ls, ls) {
			t.Fatalf("CoreMatch(%v, itself) = false", ls)
		}
		if !CoreMatch(ls, ls.Core()) {
			t.Fatalf("CoreMatch(%v, its core) = false", ls)
		}

		// The same pairs through NewLabels give the same set.
		kv := make([]string, 0, 2*len(ls))
		for i := len(ls) - 1; i >= 0; i-- {
			kv = append(kv, ls[i].Key, ls[i].Value)
		}
		ls2, err := NewLabels(kv...)
		if err != nil || ls2.String() != ls.String() {
			t.Fatalf("NewLabels = %v, %v; ParseLabels = %v", ls2, err, ls)
		}

		r, err := ParseEngineRequest(ls)
		if err != nil {
			// Every value was validated, so only a missing label can fail.
			if !errors.Is(err, ErrMissingLabel) {
				t.Fatalf("ParseEngineRequest(%v) = %v, want only ErrMissingLabel after ParseLabels", ls, err)
			}
			_, hasUC := ls.Get(LabelUserCreator)
			_, hasET := ls.Get(LabelEngineType)
			if hasUC && hasET {
				t.Fatalf("ParseEngineRequest(%v) reports a missing label that is present: %v", ls, err)
			}
			return
		}
		if uc, _ := ls.Get(LabelUserCreator); r.UserCreator.String() != uc {
			t.Fatalf("UserCreator %v does not print back as %q", r.UserCreator, uc)
		}
		if et, _ := ls.Get(LabelEngineType); r.EngineType.String() != et {
			t.Fatalf("EngineType %v does not print back as %q", r.EngineType, et)
		}
		if tenant, _ := ls.Get(LabelTenant); r.Tenant != tenant {
			t.Fatalf("Tenant = %q, want %q", r.Tenant, tenant)
		}
		if r.Concurrency < 0 || r.Concurrency > MaxConcurrency {
			t.Fatalf("Concurrency %d out of range", r.Concurrency)
		}
		// The combined key splits back into its parts.
		parts := strings.Split(r.Key(), ",")
		want := 2
		if r.Tenant != "" {
			want = 3
		}
		if len(parts) != want || parts[0] != r.UserCreator.String() || parts[1] != r.EngineType.String() {
			t.Fatalf("Key() = %q is ambiguous for %+v", r.Key(), r)
		}
		_ = r.Dedicated()
	})
}

func FuzzParseResourceStrings(f *testing.F) {
	for _, seed := range []string{
		"", "0", "512m", "2g", "2GiB", "1.5g", "1024", "1024b", "-1g", "abc", "1e9", "NaN", "Inf",
		"9999999999t", "4194303t", "4194304t", "2", "1.5", "500m", "0.0005", "+1", " 2g ",
		"0x10", "1_0", ".5", "5.", "1ib", "gib", strings.Repeat("9", 400),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mem, err := ParseMemory(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidResource) || mem != 0 {
				t.Fatalf("ParseMemory(%q) = %d, %v", s, mem, err)
			}
		} else {
			if mem < 0 {
				t.Fatalf("ParseMemory(%q) = %d, negative", s, mem)
			}
			// Formatting and parsing back gives the same amount.
			back, err := ParseMemory(FormatMemory(mem))
			if err != nil || back != mem {
				t.Fatalf("ParseMemory(FormatMemory(%d) = %q) = %d, %v", mem, FormatMemory(mem), back, err)
			}
			if r := (Resource{Memory: mem}); r.Validate() != nil {
				t.Fatalf("memory %d is not a valid resource", mem)
			}
		}

		milli, err := ParseCores(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidResource) || milli != 0 {
				t.Fatalf("ParseCores(%q) = %d, %v", s, milli, err)
			}
		} else {
			if milli < 0 {
				t.Fatalf("ParseCores(%q) = %d, negative", s, milli)
			}
			back, err := ParseCores(strconv.FormatInt(milli, 10) + "m")
			if err != nil || back != milli {
				t.Fatalf("ParseCores(%dm) = %d, %v", milli, back, err)
			}
			if milli < 1<<40 {
				str := formatCores(milli)
				if back, err := ParseCores(str); err != nil || back != milli {
					t.Fatalf("ParseCores(formatCores(%d) = %q) = %d, %v", milli, str, back, err)
				}
			}
		}
	})
}
