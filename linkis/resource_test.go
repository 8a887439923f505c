package linkis

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// res builds a Resource; extra is name, value, name, value...
func res(mem, milli, inst int64, extra ...any) Resource {
	r := Resource{Memory: mem, MilliCores: milli, Instances: inst}
	for i := 0; i < len(extra); i += 2 {
		r.Extra = append(r.Extra, Quantity{extra[i].(string), int64(extra[i+1].(int))})
	}
	return r
}

func TestResourceAdd(t *testing.T) {
	const max = math.MaxInt64
	for _, tc := range []struct {
		name     string
		a, b     Resource
		want     Resource
		overflow bool
	}{
		{"zero", Resource{}, Resource{}, Resource{}, false},
		{"plain", res(GiB, 1000, 1), res(2*GiB, 500, 2), res(3*GiB, 1500, 3), false},
		{"zero right", res(GiB, 1000, 1, "gpu", 1), Resource{}, res(GiB, 1000, 1, "gpu", 1), false},
		{"zero left", Resource{}, res(GiB, 1000, 1, "gpu", 1), res(GiB, 1000, 1, "gpu", 1), false},
		{"extra merge", res(0, 0, 0, "a", 1, "c", 3), res(0, 0, 0, "b", 2, "c", 4, "d", 5), res(0, 0, 0, "a", 1, "b", 2, "c", 7, "d", 5), false},
		{"extra disjoint", res(0, 0, 0, "z", 1), res(0, 0, 0, "a", 2), res(0, 0, 0, "a", 2, "z", 1), false},
		{"max exactly", res(max-1, max-1, max-1, "g", max-1), res(1, 1, 1, "g", 1), res(max, max, max, "g", max), false},

		{"memory overflow", res(max, 0, 0), res(1, 0, 0), Resource{}, true},
		{"cores overflow", res(0, max, 0), res(0, 1, 0), Resource{}, true},
		{"instances overflow", res(0, 0, max), res(0, 0, 1), Resource{}, true},
		{"memory overflow big", res(max/2+1, 0, 0), res(max/2+1, 0, 0), Resource{}, true},
		{"extra overflow", res(1, 1, 1, "gpu", max), res(1, 1, 1, "gpu", 1), Resource{}, true},
		{"extra overflow second dim", res(0, 0, 0, "a", 1, "b", max), res(0, 0, 0, "a", 1, "b", max), Resource{}, true},
		{"extra overflow with other dims fine", res(GiB, 1000, 1, "x", max/2+1), res(GiB, 1000, 1, "x", max/2+1), Resource{}, true},
	} {
		got, err := tc.a.Add(tc.b)
		if tc.overflow {
			wantKind(t, tc.name, err, ErrResourceOverflow)
			if !got.IsZero() {
				t.Errorf("%s: Add returned %v with the error, want zero", tc.name, got)
			}
			// Addition commutes, overflow included.
			_, err = tc.b.Add(tc.a)
			wantKind(t, tc.name+" (swapped)", err, ErrResourceOverflow)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: %v + %v = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: sum %v is invalid: %v", tc.name, got, err)
		}
		if swapped, err := tc.b.Add(tc.a); err != nil || !swapped.Equal(got) {
			t.Errorf("%s: Add does not commute: %v, %v", tc.name, swapped, err)
		}
	}
}

func TestResourceSub(t *testing.T) {
	for _, tc := range []struct {
		name    string
		a, b    Resource
		want    Resource
		invalid bool
	}{
		{"zero", Resource{}, Resource{}, Resource{}, false},
		{"plain", res(3*GiB, 1500, 3), res(GiB, 500, 1), res(2*GiB, 1000, 2), false},
		{"to zero", res(GiB, 1000, 1, "gpu", 2), res(GiB, 1000, 1, "gpu", 2), Resource{}, false},
		{"extra kept", res(GiB, 0, 0, "gpu", 2), res(GiB, 0, 0), res(0, 0, 0, "gpu", 2), false},
		{"extra partly", res(0, 0, 0, "a", 5, "b", 3, "c", 1), res(0, 0, 0, "b", 3, "c", 1), res(0, 0, 0, "a", 5), false},
		{"extra decreased", res(0, 0, 0, "a", 5, "b", 3), res(0, 0, 0, "a", 2), res(0, 0, 0, "a", 3, "b", 3), false},

		{"memory negative", res(GiB, 1000, 1), res(GiB+1, 0, 0), Resource{}, true},
		{"cores negative", res(GiB, 1000, 1), res(0, 1001, 0), Resource{}, true},
		{"instances negative", res(GiB, 1000, 1), res(0, 0, 2), Resource{}, true},
		{"extra negative", res(0, 0, 0, "gpu", 1), res(0, 0, 0, "gpu", 2), Resource{}, true},
		{"extra absent on the left", res(GiB, 0, 0), res(0, 0, 0, "gpu", 1), Resource{}, true},
		{"extra absent between", res(0, 0, 0, "a", 1, "c", 1), res(0, 0, 0, "b", 1), Resource{}, true},
		{"from zero", Resource{}, res(1, 0, 0), Resource{}, true},
	} {
		got, err := tc.a.Sub(tc.b)
		if tc.invalid {
			wantKind(t, tc.name, err, ErrInvalidResource)
			if !got.IsZero() {
				t.Errorf("%s: Sub returned %v with the error, want zero", tc.name, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !got.Equal(tc.want) {
			t.Errorf("%s: %v - %v = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: difference %v is invalid: %v", tc.name, got, err)
		}
		// (a - b) + b == a
		back, err := got.Add(tc.b)
		if err != nil || !back.Equal(tc.a) {
			t.Errorf("%s: (a-b)+b = %v, %v; want %v", tc.name, back, err, tc.a)
		}
	}
}

func TestResourceSubFloor(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Resource
		want Resource
	}{
		{"zero", Resource{}, Resource{}, Resource{}},
		{"plain", res(3*GiB, 1500, 3), res(GiB, 500, 1), res(2*GiB, 1000, 2)},
		{"floored", res(GiB, 1000, 1), res(2*GiB, 3000, 5), Resource{}},
		{"mixed", res(GiB, 1000, 1), res(2*GiB, 500, 1), res(0, 500, 0)},
		{"extra floored and dropped", res(0, 0, 0, "a", 1, "b", 5), res(0, 0, 0, "a", 3, "b", 2), res(0, 0, 0, "b", 3)},
		{"extra absent on the left ignored", res(0, 0, 0, "b", 5), res(0, 0, 0, "a", 3, "c", 2), res(0, 0, 0, "b", 5)},
		{"extra absent on the right kept", res(0, 0, 0, "a", 4), res(GiB, 0, 0), res(0, 0, 0, "a", 4)},
		{"everything", res(GiB, 1000, 1, "a", 1), res(GiB, 1000, 1, "a", 1), Resource{}},
	} {
		got := tc.a.SubFloor(tc.b)
		if !got.Equal(tc.want) {
			t.Errorf("%s: %v SubFloor %v = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%s: result %v invalid: %v", tc.name, got, err)
		}
	}
}

func TestResourceFitsIn(t *testing.T) {
	left := res(4*GiB, 2000, 2, "gpu", 2)
	for _, tc := range []struct {
		name string
		r    Resource
		want bool
	}{
		{"zero", Resource{}, true},
		{"equal", left, true},
		{"smaller", res(GiB, 1000, 1), true},
		{"extra smaller", res(GiB, 1000, 1, "gpu", 1), true},
		{"memory over", res(4*GiB+1, 0, 0), false},
		{"cores over", res(0, 2001, 0), false},
		{"instances over", res(0, 0, 3), false},
		{"extra over", res(0, 0, 0, "gpu", 3), false},
		{"extra absent from left counts as zero", res(0, 0, 0, "fpga", 1), false},
		{"extra absent from left, other present", res(0, 0, 0, "a", 1, "gpu", 1), false},
	} {
		if got := tc.r.FitsIn(left); got != tc.want {
			t.Errorf("%s: %v FitsIn %v = %v, want %v", tc.name, tc.r, left, got, tc.want)
		}
	}
	if !(Resource{}).FitsIn(Resource{}) {
		t.Error("zero does not fit in zero")
	}
	if res(1, 0, 0).FitsIn(Resource{}) {
		t.Error("1 byte fits in zero")
	}
}

func TestResourceFitsInQuota(t *testing.T) {
	quota := res(20*GiB, 10000, 10, "gpu", 4)
	left := res(4*GiB, 2000, 2, "gpu", 1)
	for _, tc := range []struct {
		name  string
		r     Resource
		left  Resource
		quota Resource
		want  bool
	}{
		{"zero", Resource{}, left, quota, true},
		{"equal to left", left, left, quota, true},
		{"fits", res(GiB, 1000, 1, "gpu", 1), left, quota, true},
		{"memory over", res(4*GiB+1, 0, 0), left, quota, false},
		{"cores over", res(0, 2001, 0), left, quota, false},
		{"instances over", res(0, 0, 3), left, quota, false},
		{"quota dim over left", res(0, 0, 0, "gpu", 2), left, quota, false},
		{"quota dim used up", res(0, 0, 0, "gpu", 1), res(GiB, 0, 0), quota, false},
		{"unnamed dim unlimited", res(0, 0, 0, "fpga", 1000), left, quota, true},
		{"unnamed dim unlimited, named fits", res(GiB, 0, 0, "fpga", 1000, "gpu", 1), left, quota, true},
		{"unnamed dim unlimited, named over", res(GiB, 0, 0, "fpga", 1000, "gpu", 2), left, quota, false},
		{"no extra quota at all", res(0, 0, 0, "gpu", 99), res(GiB, 1, 1), res(GiB, 1, 1), true},
	} {
		if got := tc.r.FitsInQuota(tc.left, tc.quota); got != tc.want {
			t.Errorf("%s: %v FitsInQuota(left %v, quota %v) = %v, want %v", tc.name, tc.r, tc.left, tc.quota, got, tc.want)
		}
	}
}

func TestResourceEqual(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Resource
		want bool
	}{
		{"zero", Resource{}, Resource{}, true},
		{"nil and empty extra", Resource{Extra: nil}, Resource{Extra: []Quantity{}}, true},
		{"same", res(GiB, 1, 2, "a", 1), res(GiB, 1, 2, "a", 1), true},
		{"memory", res(GiB, 1, 2), res(GiB+1, 1, 2), false},
		{"cores", res(GiB, 1, 2), res(GiB, 2, 2), false},
		{"instances", res(GiB, 1, 2), res(GiB, 1, 3), false},
		{"extra value", res(0, 0, 0, "a", 1), res(0, 0, 0, "a", 2), false},
		{"extra name", res(0, 0, 0, "a", 1), res(0, 0, 0, "b", 1), false},
		{"extra length", res(0, 0, 0, "a", 1), res(0, 0, 0, "a", 1, "b", 1), false},
		{"extra vs none", res(0, 0, 0, "a", 1), Resource{}, false},
	} {
		if got := tc.a.Equal(tc.b); got != tc.want {
			t.Errorf("%s: %v.Equal(%v) = %v, want %v", tc.name, tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.Equal(tc.a); got != tc.want {
			t.Errorf("%s: Equal not symmetric", tc.name)
		}
	}
}

func TestResourceValidate(t *testing.T) {
	seventeen := Resource{}
	for i := 0; i < MaxExtraDimensions+1; i++ {
		seventeen.Extra = append(seventeen.Extra, Quantity{fmt.Sprintf("d%02d", i), 1})
	}
	sixteen := Resource{Extra: seventeen.Extra[:MaxExtraDimensions]}
	for _, tc := range []struct {
		name  string
		r     Resource
		ok    bool
		field string
	}{
		{"zero", Resource{}, true, ""},
		{"plain", res(GiB, 1000, 1, "gpu", 2, "yarn.memory", 5), true, ""},
		{"max values", res(math.MaxInt64, math.MaxInt64, math.MaxInt64, "x", math.MaxInt64), true, ""},
		{"sixteen extras", sixteen, true, ""},
		{"name with dash", res(0, 0, 0, "a-b_c.d", 1), true, ""},

		{"negative memory", res(-1, 0, 0), false, "memory"},
		{"negative cores", res(0, -1, 0), false, "cores"},
		{"negative instances", res(0, 0, -1), false, "instances"},
		{"min memory", res(math.MinInt64, 0, 0), false, "memory"},
		{"negative extra", res(0, 0, 0, "gpu", -1), false, "gpu"},
		{"zero extra", res(0, 0, 0, "gpu", 0), false, "gpu"},
		{"zero extra after valid", res(0, 0, 0, "a", 1, "gpu", 0), false, "gpu"},
		{"unsorted extras", res(0, 0, 0, "b", 1, "a", 1), false, "extra"},
		{"duplicate extras", res(0, 0, 0, "a", 1, "a", 2), false, "extra"},
		{"empty extra name", res(0, 0, 0, "", 1), false, "extra"},
		{"extra name with space", res(0, 0, 0, "g pu", 1), false, "extra"},
		{"extra name with '='", res(0, 0, 0, "g=1", 1), false, "extra"},
		{"extra name too long", res(0, 0, 0, strings.Repeat("a", 65), 1), false, "extra"},
		{"seventeen extras", seventeen, false, "extra"},
	} {
		err := tc.r.Validate()
		if tc.ok {
			if err != nil {
				t.Errorf("%s: Validate(%v): %v", tc.name, tc.r, err)
			}
			continue
		}
		wantKind(t, tc.name, err, ErrInvalidResource)
		if e, ok := err.(*Error); !ok || e.Field != tc.field {
			t.Errorf("%s: error %#v, want an *Error about field %q", tc.name, err, tc.field)
		}
	}
}

func TestNewExtra(t *testing.T) {
	got, err := NewExtra(map[string]int64{"yarn.memory": 5, "gpu": 2, "fpga": 0, "a": 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []Quantity{{"a", 1}, {"gpu", 2}, {"yarn.memory", 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewExtra = %v, want %v (sorted, zeros dropped)", got, want)
	}
	if got, err := NewExtra(nil); err != nil || len(got) != 0 {
		t.Errorf("NewExtra(nil) = %v, %v", got, err)
	}
	if got, err := NewExtra(map[string]int64{"a": 0, "b": 0}); err != nil || len(got) != 0 {
		t.Errorf("NewExtra(all zero) = %v, %v", got, err)
	}

	_, err = NewExtra(map[string]int64{"gpu": -1})
	wantKind(t, "NewExtra negative", err, ErrInvalidResource)
	_, err = NewExtra(map[string]int64{"g pu": 1})
	wantKind(t, "NewExtra bad name", err, ErrInvalidResource)
	_, err = NewExtra(map[string]int64{"": 1})
	wantKind(t, "NewExtra empty name", err, ErrInvalidResource)

	m := map[string]int64{}
	for i := 0; i <= MaxExtraDimensions; i++ {
		m[fmt.Sprintf("d%d", i)] = 1
	}
	_, err = NewExtra(m)
	wantKind(t, "NewExtra too many", err, ErrInvalidResource)
	m["d0"] = 0 // back to sixteen non-zero dimensions
	if got, err := NewExtra(m); err != nil || len(got) != MaxExtraDimensions {
		t.Errorf("NewExtra(16 non-zero) = %v, %v", got, err)
	}
}

func TestResourceExtraValue(t *testing.T) {
	r := res(0, 0, 0, "a", 1, "c", 3, "e", 5)
	for name, want := range map[string]int64{"a": 1, "c": 3, "e": 5, "": 0, "b": 0, "d": 0, "f": 0, "A": 0} {
		if got := r.ExtraValue(name); got != want {
			t.Errorf("ExtraValue(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestResourceIsZero(t *testing.T) {
	if !(Resource{}).IsZero() || !(Resource{Extra: []Quantity{}}).IsZero() {
		t.Error("zero resource not IsZero")
	}
	for _, r := range []Resource{res(1, 0, 0), res(0, 1, 0), res(0, 0, 1), res(0, 0, 0, "a", 1)} {
		if r.IsZero() {
			t.Errorf("%v.IsZero() = true", r)
		}
	}
}

// Add, Sub and SubFloor are value operations: they must never write into
// their operands' Extra slices, even when those have spare capacity.
func TestResourceValueSemantics(t *testing.T) {
	mk := func() Resource {
		extra := make([]Quantity, 2, 8) // spare capacity invites append-in-place bugs
		extra[0], extra[1] = Quantity{"a", 10}, Quantity{"c", 30}
		return Resource{Memory: 10 * GiB, MilliCores: 10000, Instances: 10, Extra: extra}
	}
	mkSmall := func() Resource {
		extra := make([]Quantity, 2, 8)
		extra[0], extra[1] = Quantity{"a", 1}, Quantity{"b", 2}
		return Resource{Memory: GiB, MilliCores: 1000, Instances: 1, Extra: extra}
	}
	snapshot := func(r Resource) []Quantity { return append([]Quantity(nil), r.Extra[:cap(r.Extra)]...) }
	check := func(what string, r Resource, before []Quantity) {
		t.Helper()
		if after := r.Extra[:cap(r.Extra)]; !reflect.DeepEqual(after, before) {
			t.Errorf("%s modified an operand's Extra: %v, was %v", what, after, before)
		}
	}

	a, b := mk(), mkSmall()
	sa, sb := snapshot(a), snapshot(b)
	sum, err := a.Add(b)
	if err != nil {
		t.Fatal(err)
	}
	check("Add (receiver)", a, sa)
	check("Add (argument)", b, sb)
	sum.Extra[0].Value = 999 // mutating the result must not reach the operands
	check("mutating Add's result (receiver)", a, sa)
	check("mutating Add's result (argument)", b, sb)

	a, b = mk(), mkSmall()
	sa, sb = snapshot(a), snapshot(b)
	sum, err = a.Add(Resource{Extra: b.Extra})
	if err != nil {
		t.Fatal(err)
	}
	sum.Extra[0].Value = 999
	check("Add extras only (receiver)", a, sa)
	check("Add extras only (argument)", b, sb)

	a, b = mk(), Resource{Extra: []Quantity{{"a", 1}}}
	sa, sb = snapshot(a), snapshot(b)
	diff, err := a.Sub(b)
	if err != nil {
		t.Fatal(err)
	}
	check("Sub (receiver)", a, sa)
	check("Sub (argument)", b, sb)
	if want := []Quantity{{"a", 9}, {"c", 30}}; !reflect.DeepEqual(diff.Extra, want) {
		t.Errorf("Sub extras = %v, want %v", diff.Extra, want)
	}
	diff.Extra[0].Value = 999
	check("mutating Sub's result", a, sa)

	a, b = mk(), Resource{Extra: []Quantity{{"a", 10}}}
	sa = snapshot(a)
	if _, err := a.Sub(b); err != nil {
		t.Fatal(err)
	}
	check("Sub removing a dimension", a, sa)

	a, b = mk(), mkSmall()
	sa, sb = snapshot(a), snapshot(b)
	_ = a.SubFloor(b)
	check("SubFloor (receiver)", a, sa)
	check("SubFloor (argument)", b, sb)
}

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512m", 512 * MiB, true},
		{"2g", 2 * GiB, true},
		{"2G", 2 * GiB, true},
		{"2GiB", 2 * GiB, true},
		{"2gib", 2 * GiB, true},
		{"2GB", 2 * GiB, true},
		{"1.5g", 3 * GiB / 2, true},
		{"0.5k", 512, true},
		{"1024", 1024, true},
		{"1024b", 1024, true},
		{"1024B", 1024, true},
		{"0", 0, true},
		{"0g", 0, true},
		{"1k", KiB, true},
		{"1KiB", KiB, true},
		{"100g", 100 * GiB, true},
		{"1t", TiB, true},
		{"2TiB", 2 * TiB, true},
		{" 20g ", 20 * GiB, true},
		{"4194303t", 4194303 * TiB, true}, // just under the limit

		{"", 0, false},
		{" ", 0, false},
		{"g", 0, false},
		{"gib", 0, false},
		{"b", 0, false},
		{"ib", 0, false},
		{"-1g", 0, false},
		{"-1", 0, false},
		{"-0", 0, false},
		{" -1g", 0, false},
		{"abc", 0, false},
		{"1e9", 0, false},
		{"1E9", 0, false},
		{"1e3g", 0, false},
		{"0x10", 0, false},
		{"0x1p4", 0, false},
		{"1_000", 0, false},
		{"NaN", 0, false},
		{"nan", 0, false},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{"infinity", 0, false},
		{"1 g", 0, false},
		{"1gg", 0, false},
		{"1x", 0, false},
		{"1p", 0, false},
		{"1.2.3g", 0, false},
		{"1ib", 0, false},   // "ib" only after a unit letter
		{"1bib", 0, false},  // ditto
		{"1gbib", 0, false}, // ditto
		{"4194304t", 0, false},
		{"9999999999t", 0, false},
		{"9223372036854775807", 0, false},
		{"99999999999999999999999999999", 0, false},
		{strings.Repeat("9", 400), 0, false},
	} {
		got, err := ParseMemory(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseMemory(%q) = %d", tc.in, got), err, ErrInvalidResource)
			if got != 0 {
				t.Errorf("ParseMemory(%q) = %d on error, want 0", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	_, err := ParseMemory("-1g")
	if err == nil || !strings.Contains(err.Error(), `memory "-1g"`) || !strings.Contains(err.Error(), "negative") {
		t.Errorf("ParseMemory(-1g) error %q should quote the value and say it is negative", err)
	}
}

func TestParseCores(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2", 2000, true},
		{"1.5", 1500, true},
		{"500m", 500, true},
		{"0.5", 500, true},
		{"0.25", 250, true},
		{"0", 0, true},
		{"0m", 0, true},
		{"100", 100000, true},
		{"2500m", 2500, true},
		{" 2 ", 2000, true},
		{"0.001", 1, true},

		{"", 0, false},
		{"m", 0, false},
		{"-1", 0, false},
		{"-500m", 0, false},
		{"-0", 0, false},
		{"abc", 0, false},
		{"2c", 0, false},
		{"500M", 0, false},
		{"2 cores", 0, false},
		{"1e3", 0, false},
		{"1E3", 0, false},
		{"0x10", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"1.5.0", 0, false},
		{"5mm", 0, false},
		{"9223372036854775807", 0, false},
		{"9223372036854775807m", 0, false},
		{strings.Repeat("9", 400), 0, false},
	} {
		got, err := ParseCores(tc.in)
		if !tc.ok {
			wantKind(t, fmt.Sprintf("ParseCores(%q) = %d", tc.in, got), err, ErrInvalidResource)
			if got != 0 {
				t.Errorf("ParseCores(%q) = %d on error, want 0", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCores(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatMemory(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1023, "1023B"},
		{KiB, "1KiB"},
		{1536, "1536B"}, // 1.5 KiB: no exact unit
		{2048, "2KiB"},
		{MiB, "1MiB"},
		{512 * MiB, "512MiB"},
		{GiB, "1GiB"},
		{3 * GiB / 2, "1536MiB"},
		{2 * GiB, "2GiB"},
		{1024 * GiB, "1TiB"},
		{3 * TiB, "3TiB"},
		{TiB + 1, "1099511627777B"},
		{GiB + KiB, "1048577KiB"},
	} {
		if got := FormatMemory(tc.in); got != tc.want {
			t.Errorf("FormatMemory(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// FormatMemory's output parses back to the same number.
	for _, b := range []int64{0, 1, 1023, KiB, 1536, MiB, 3 * GiB / 2, 7 * GiB, 5 * TiB, TiB + 1, GiB + KiB} {
		got, err := ParseMemory(FormatMemory(b))
		if err != nil || got != b {
			t.Errorf("ParseMemory(FormatMemory(%d) = %q) = %d, %v", b, FormatMemory(b), got, err)
		}
	}
}

func TestResourceString(t *testing.T) {
	for _, tc := range []struct {
		r    Resource
		want string
	}{
		{Resource{}, "memory=0B cores=0 instances=0"},
		{res(2*GiB, 1500, 1, "gpu", 2), "memory=2GiB cores=1.5 instances=1 gpu=2"},
		{res(512*MiB, 2000, 3), "memory=512MiB cores=2 instances=3"},
		{res(100, 1, 0, "a", 1, "b.c", 20), "memory=100B cores=0.001 instances=0 a=1 b.c=20"},
		{res(20*GiB, 10000, 10), "memory=20GiB cores=10 instances=10"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
