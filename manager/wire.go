package manager

import (
	"encoding/binary"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// enc appends the compact binary form shared by commands and snapshots:
// unsigned varints, zig-zag signed varints, length-prefixed strings.
type enc struct{ b []byte }

func (e *enc) u(v uint64)  { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) byte(v byte) { e.b = append(e.b, v) }
func (e *enc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *enc) str(s string)        { e.u(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) dur(d time.Duration) { e.i(int64(d)) }

func (e *enc) res(r linkis.Resource) {
	e.i(r.Memory)
	e.i(r.MilliCores)
	e.i(r.Instances)
	e.u(uint64(len(r.Extra)))
	for _, q := range r.Extra {
		e.str(q.Name)
		e.i(q.Value)
	}
}

func (e *enc) labels(ls linkis.Labels) {
	e.u(uint64(len(ls)))
	for _, l := range ls {
		e.str(l.Key)
		e.str(l.Value)
	}
}

// params writes a map in key order, so equal maps encode equally.
func (e *enc) params(m map[string]string) {
	keys := paramNames(m)
	e.u(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

func (e *enc) load(l linkis.NodeLoad) {
	for _, v := range [...]int64{l.MaxMemory, l.UsedMemory, l.FreeMemory, l.CPUPermille, l.RunningTasks, l.PendingTasks, l.SucceededTasks, l.FailedTasks} {
		e.i(v)
	}
}

// dec reads what enc wrote. The first problem sticks in err and every later
// read returns zero values, so decoders check err once at the end. Nothing
// is allocated for a length that exceeds what is left of the input.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = linkis.Errorf(linkis.ErrMalformed, what, "truncated or invalid")
	}
}

func (d *dec) u() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) i() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail("bool")
	return false
}

// count reads a length and checks it against a limit and against what is
// left (each element takes at least minSize bytes).
func (d *dec) count(what string, limit, minSize int) int {
	n := d.u()
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) || n*uint64(minSize) > uint64(len(d.b)) {
		d.err = linkis.Errorf(linkis.ErrMalformed, what, "length %d is over its limit or past the end", n)
		return 0
	}
	return int(n)
}

func (d *dec) str(what string, limit int) string {
	n := d.count(what, limit, 1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *dec) dur() time.Duration { return time.Duration(d.i()) }

func (d *dec) res() linkis.Resource {
	r := linkis.Resource{Memory: d.i(), MilliCores: d.i(), Instances: d.i()}
	if n := d.count("extra", linkis.MaxExtraDimensions, 2); n > 0 {
		r.Extra = make([]linkis.Quantity, n)
		for j := range r.Extra {
			r.Extra[j] = linkis.Quantity{Name: d.str("extra.name", 64), Value: d.i()}
		}
	}
	return r
}

// labels reads a label set and checks it is sorted with unique keys; the
// values are checked where they are used.
func (d *dec) labels() linkis.Labels {
	n := d.count("labels", linkis.MaxLabels, 2)
	if n == 0 {
		return nil
	}
	ls := make(linkis.Labels, n)
	for j := range ls {
		ls[j] = linkis.Label{Key: d.str("label.key", linkis.MaxLabelKeyLen), Value: d.str("label.value", linkis.MaxLabelValueLen)}
		if j > 0 && ls[j-1].Key >= ls[j].Key && d.err == nil {
			d.err = linkis.Errorf(linkis.ErrMalformed, "labels", "keys not sorted and unique")
		}
	}
	return ls
}

func (d *dec) params() map[string]string {
	n := d.count("params", MaxParams, 2)
	if n == 0 || d.err != nil {
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for j := 0; j < n; j++ {
		k := d.str("param.key", MaxParamKeyLen)
		if j > 0 && k <= prev && d.err == nil {
			d.err = linkis.Errorf(linkis.ErrMalformed, "params", "keys not sorted and unique")
		}
		m[k] = d.str("param.value", MaxParamValueLen)
		prev = k
	}
	return m
}

func (d *dec) load() linkis.NodeLoad {
	return linkis.NodeLoad{
		MaxMemory: d.i(), UsedMemory: d.i(), FreeMemory: d.i(), CPUPermille: d.i(),
		RunningTasks: d.i(), PendingTasks: d.i(), SucceededTasks: d.i(), FailedTasks: d.i(),
	}
}
