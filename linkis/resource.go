package linkis

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Byte sizes for memory quantities.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
	TiB int64 = 1 << 40
)

// MaxExtraDimensions bounds the named extra dimensions of one resource.
const MaxExtraDimensions = 16

// Quantity is one named extra resource dimension (for example "gpu" or
// "yarn.memory").
type Quantity struct {
	Name  string
	Value int64
}

// Resource is a multi-dimensional amount: memory in bytes, CPU in
// milli-cores, EngineConn instances, and named extra dimensions sorted by
// name. Every dimension is non-negative. A Resource is a value: operations
// return new values and never modify their operands, so the Extra slice may
// be shared. The zero value is the empty amount.
type Resource struct {
	Memory     int64      // bytes
	MilliCores int64      // 1000 = one core
	Instances  int64      // EngineConn processes
	Extra      []Quantity // sorted by Name, unique, no zero values
}

// Validate checks that every dimension is non-negative and the extra
// dimensions are well formed.
func (r Resource) Validate() error {
	if r.Memory < 0 {
		return ValueError(ErrInvalidResource, "memory", strconv.FormatInt(r.Memory, 10), "must not be negative")
	}
	if r.MilliCores < 0 {
		return ValueError(ErrInvalidResource, "cores", formatCores(r.MilliCores), "must not be negative")
	}
	if r.Instances < 0 {
		return ValueError(ErrInvalidResource, "instances", strconv.FormatInt(r.Instances, 10), "must not be negative")
	}
	if len(r.Extra) > MaxExtraDimensions {
		return Errorf(ErrInvalidResource, "extra", "%d extra dimensions, at most %d allowed", len(r.Extra), MaxExtraDimensions)
	}
	for i, q := range r.Extra {
		if !isName(q.Name, 64, true) {
			return ValueError(ErrInvalidResource, "extra", q.Name, "dimension name must be 1-64 letters, digits, '_', '.' or '-'")
		}
		if q.Value <= 0 {
			return ValueError(ErrInvalidResource, q.Name, strconv.FormatInt(q.Value, 10), "must be positive (omit zero dimensions)")
		}
		if i > 0 && r.Extra[i-1].Name >= q.Name {
			return ValueError(ErrInvalidResource, "extra", q.Name, "dimensions must be sorted by name and unique")
		}
	}
	return nil
}

// IsZero reports whether every dimension is zero.
func (r Resource) IsZero() bool {
	return r.Memory == 0 && r.MilliCores == 0 && r.Instances == 0 && len(r.Extra) == 0
}

// Equal reports whether r and o are the same amount.
func (r Resource) Equal(o Resource) bool {
	if r.Memory != o.Memory || r.MilliCores != o.MilliCores || r.Instances != o.Instances || len(r.Extra) != len(o.Extra) {
		return false
	}
	for i := range r.Extra {
		if r.Extra[i] != o.Extra[i] {
			return false
		}
	}
	return true
}

// ExtraValue returns the value of a named extra dimension, 0 when absent.
func (r Resource) ExtraValue(name string) int64 {
	i := sort.Search(len(r.Extra), func(i int) bool { return r.Extra[i].Name >= name })
	if i < len(r.Extra) && r.Extra[i].Name == name {
		return r.Extra[i].Value
	}
	return 0
}

// Add returns r+o, or ErrResourceOverflow if any dimension would overflow.
func (r Resource) Add(o Resource) (Resource, error) {
	var out Resource
	var ok1, ok2, ok3 bool
	out.Memory, ok1 = addChecked(r.Memory, o.Memory)
	out.MilliCores, ok2 = addChecked(r.MilliCores, o.MilliCores)
	out.Instances, ok3 = addChecked(r.Instances, o.Instances)
	if !ok1 || !ok2 || !ok3 {
		return Resource{}, Errorf(ErrResourceOverflow, "", "%v + %v overflows", r, o)
	}
	if len(r.Extra) == 0 && len(o.Extra) == 0 {
		return out, nil
	}
	var err error
	out.Extra, err = mergeExtra(r.Extra, o.Extra, false)
	if err != nil {
		return Resource{}, Errorf(ErrResourceOverflow, "", "%v + %v overflows", r, o)
	}
	return out, nil
}

// Sub returns r-o, or ErrInvalidResource if any dimension would go
// negative: resources are never negative.
func (r Resource) Sub(o Resource) (Resource, error) {
	if !o.FitsIn(r) {
		return Resource{}, Errorf(ErrInvalidResource, "", "%v - %v would be negative", r, o)
	}
	out := Resource{Memory: r.Memory - o.Memory, MilliCores: r.MilliCores - o.MilliCores, Instances: r.Instances - o.Instances}
	if len(o.Extra) == 0 {
		out.Extra = r.Extra
		return out, nil
	}
	out.Extra, _ = mergeExtra(r.Extra, o.Extra, true)
	return out, nil
}

// SubFloor returns r-o with every dimension floored at zero.
func (r Resource) SubFloor(o Resource) Resource {
	out := Resource{
		Memory:     max(r.Memory-o.Memory, 0),
		MilliCores: max(r.MilliCores-o.MilliCores, 0),
		Instances:  max(r.Instances-o.Instances, 0),
	}
	for _, q := range r.Extra {
		if v := q.Value - o.ExtraValue(q.Name); v > 0 {
			out.Extra = append(out.Extra, Quantity{q.Name, v})
		}
	}
	return out
}

// FitsIn reports whether every dimension of r is ≤ the same dimension of
// left; an extra dimension absent from left counts as zero.
func (r Resource) FitsIn(left Resource) bool {
	if r.Memory > left.Memory || r.MilliCores > left.MilliCores || r.Instances > left.Instances {
		return false
	}
	for _, q := range r.Extra {
		if q.Value > left.ExtraValue(q.Name) {
			return false
		}
	}
	return true
}

// FitsInQuota reports whether r fits in left where left is what remains of
// a quota: like FitsIn, except that extra dimensions the quota does not
// name are unlimited.
func (r Resource) FitsInQuota(left, quota Resource) bool {
	if r.Memory > left.Memory || r.MilliCores > left.MilliCores || r.Instances > left.Instances {
		return false
	}
	for _, q := range r.Extra {
		if quota.ExtraValue(q.Name) != 0 && q.Value > left.ExtraValue(q.Name) {
			return false
		}
	}
	return true
}

// String formats as "memory=2GiB cores=1.5 instances=1 gpu=2".
func (r Resource) String() string {
	var b strings.Builder
	b.WriteString("memory=")
	b.WriteString(FormatMemory(r.Memory))
	b.WriteString(" cores=")
	b.WriteString(formatCores(r.MilliCores))
	b.WriteString(" instances=")
	b.WriteString(strconv.FormatInt(r.Instances, 10))
	for _, q := range r.Extra {
		b.WriteByte(' ')
		b.WriteString(q.Name)
		b.WriteByte('=')
		b.WriteString(strconv.FormatInt(q.Value, 10))
	}
	return b.String()
}

// NewExtra returns extra dimensions from a map, sorted, zero values
// dropped, validated.
func NewExtra(m map[string]int64) ([]Quantity, error) {
	var out []Quantity
	for k, v := range m {
		if v < 0 {
			return nil, ValueError(ErrInvalidResource, k, strconv.FormatInt(v, 10), "must not be negative")
		}
		if v > 0 {
			out = append(out, Quantity{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if err := (Resource{Extra: out}).Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

func mergeExtra(a, b []Quantity, sub bool) ([]Quantity, error) {
	out := make([]Quantity, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i].Name < b[j].Name:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].Name < a[i].Name:
			// Sub gets here only for a dimension of b that a lacks, which
			// FitsIn refuses unless b is invalid (a value ≤ 0).
			out = append(out, b[j])
			j++
		default:
			var v int64
			ok := true
			if sub {
				v = a[i].Value - b[j].Value
			} else {
				v, ok = addChecked(a[i].Value, b[j].Value)
			}
			if !ok {
				return nil, ErrResourceOverflow
			}
			if v != 0 {
				out = append(out, Quantity{a[i].Name, v})
			}
			i++
			j++
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func addChecked(a, b int64) (int64, bool) {
	c := a + b
	if (c > a) != (b > 0) && b != 0 {
		return 0, false
	}
	return c, true
}

// ParseMemory parses a memory quantity as Linkis writes them: a number with
// an optional unit b, k, m, g or t (case-insensitive, optionally followed by
// "b" or "ib": "512m", "2g", "2GiB", "1.5g"). A bare number is bytes.
func ParseMemory(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t, binary := strings.CutSuffix(t, "ib") // "ib" only after k, m, g or t
	if !binary {
		t = strings.TrimSuffix(t, "b")
	}
	unit := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			unit = KiB
		case 'm':
			unit = MiB
		case 'g':
			unit = GiB
		case 't':
			unit = TiB
		}
		if unit != 1 {
			t = t[:n-1]
		}
	}
	if binary && unit == 1 {
		return 0, ValueError(ErrInvalidResource, "memory", s, "\"ib\" must follow a unit k, m, g or t")
	}
	v, err := parseScaled(t, unit)
	if err != nil {
		return 0, ValueError(ErrInvalidResource, "memory", s, err.Error())
	}
	return v, nil
}

// ParseCores parses a CPU quantity into milli-cores: "2" (cores), "1.5" or
// "500m" (milli-cores).
func ParseCores(s string) (int64, error) {
	t := strings.TrimSpace(s)
	var v int64
	var err error
	if strings.HasSuffix(t, "m") {
		v, err = parseScaled(t[:len(t)-1], 1)
	} else {
		v, err = parseScaled(t, 1000)
	}
	if err != nil {
		return 0, ValueError(ErrInvalidResource, "cores", s, err.Error())
	}
	return v, nil
}

type parseErr string

func (p parseErr) Error() string { return string(p) }

// parseScaled parses a non-negative decimal number and multiplies it by
// unit, rounding to the nearest integer and rejecting overflow.
func parseScaled(t string, unit int64) (int64, error) {
	if t == "" {
		return 0, parseErr("must be a number with an optional unit")
	}
	if t[0] == '-' {
		return 0, parseErr("must not be negative")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(t, "eExXpP_") {
		return 0, parseErr("must be a number with an optional unit")
	}
	if f < 0 {
		return 0, parseErr("must not be negative")
	}
	v := f * float64(unit)
	if v >= math.MaxInt64/2 {
		return 0, parseErr("too large")
	}
	return int64(math.Round(v)), nil
}

// FormatMemory formats bytes with the largest exact binary unit.
func FormatMemory(b int64) string {
	for _, u := range []struct {
		n int64
		s string
	}{{TiB, "TiB"}, {GiB, "GiB"}, {MiB, "MiB"}, {KiB, "KiB"}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(b/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(b, 10) + "B"
}

func formatCores(m int64) string {
	if m%1000 == 0 {
		return strconv.FormatInt(m/1000, 10)
	}
	return strconv.FormatFloat(float64(m)/1000, 'f', -1, 64)
}
