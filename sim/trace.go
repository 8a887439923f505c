package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// A trace is a CSV file with a header line naming its columns, in any
// order:
//
//	submit_time  when the job is submitted: seconds since the start (a
//	             number) or a Go duration ("1h2m3s"); lines must be in
//	             non-decreasing order of submit_time
//	user         the submitting user
//	creator      the application (IDE, scheduler...)
//	engine_type  type-version, one of the scenario's engines
//	memory       engine memory (e.g. 2g); empty = the engine's default
//	cores        engine cores (e.g. 1, 500m); empty = the engine's default
//	duration     how long the job runs once it holds an engine
//
// Other columns are ignored. Blank lines and lines starting with # are
// skipped.
var traceColumns = []string{"submit_time", "user", "creator", "engine_type", "memory", "cores", "duration"}

// TraceError is a problem in a trace file, naming the file, the line and
// the column.
type TraceError struct {
	File   string
	Line   int
	Column string
	Msg    string
}

// Error returns "file:line: column C: message".
func (e *TraceError) Error() string {
	s := e.File
	if s == "" {
		s = "trace"
	}
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Column != "" {
		s += ": column " + e.Column
	}
	return s + ": " + e.Msg
}

// traceTables are the names and sizes a trace uses.
type traceTables struct {
	users, creators []string
	resources       []resAmount
}

// resAmount is a per-job engine size (0 = the engine's default).
type resAmount struct{ memory, milliCores int64 }

// interner fills traceTables, giving each distinct name or size an index.
type interner struct {
	t               *traceTables
	users, creators map[string]int32
	sizes           map[resAmount]int32
}

func newInterner() *interner {
	return &interner{t: &traceTables{}, users: map[string]int32{}, creators: map[string]int32{}, sizes: map[resAmount]int32{}}
}

func internName(m map[string]int32, list *[]string, s string) int32 {
	if i, ok := m[s]; ok {
		return i
	}
	i := int32(len(*list))
	m[s] = i
	*list = append(*list, s)
	return i
}

func (in *interner) user(s string) int32    { return internName(in.users, &in.t.users, s) }
func (in *interner) creator(s string) int32 { return internName(in.creators, &in.t.creators, s) }

// size returns the index of a job size, -1 for the engine's default.
func (in *interner) size(a resAmount) int32 {
	if a == (resAmount{}) {
		return -1
	}
	i, ok := in.sizes[a]
	if !ok {
		i = int32(len(in.t.resources))
		in.sizes[a] = i
		in.t.resources = append(in.t.resources, a)
	}
	return i
}

// maxTraceJobs bounds a trace.
const maxTraceJobs = MaxJobs

// LoadTrace reads the CSV trace r (named name in errors) into the scenario,
// checking every line against the scenario's engines and duration.
func (sc *Scenario) LoadTrace(r io.Reader, name string) error {
	jobs, tables, err := ParseTrace(r, name, sc.engineIndex(), time.Duration(sc.Duration))
	if err != nil {
		return err
	}
	sc.trace = jobs
	sc.traceTables = tables
	return nil
}

func (sc *Scenario) engineIndex() map[string]int {
	m := map[string]int{}
	for i, e := range sc.Engines {
		m[e.Type] = i
	}
	return m
}

// ParseTrace reads a CSV trace. engines maps the known engine types to
// their index; a job submitted after horizon (when positive) is an error.
func ParseTrace(r io.Reader, name string, engines map[string]int, horizon time.Duration) ([]jobSpec, *traceTables, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	bad := func(line int, col, format string, args ...any) error {
		return &TraceError{File: name, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, bad(1, "", "empty trace: want a header line naming the columns %s", strings.Join(traceColumns, ","))
	}
	if err != nil {
		return nil, nil, csvError(name, err)
	}
	hline, _ := cr.FieldPos(0)
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; dup {
			return nil, nil, bad(hline, h, "the column is named twice")
		}
		col[h] = i
	}
	var missing []string
	for _, c := range traceColumns {
		if _, ok := col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, bad(hline, "", "the header lacks the column(s) %s (want %s)", strings.Join(missing, ", "), strings.Join(traceColumns, ","))
	}
	in := newInterner()
	var jobs []jobSpec
	var prev int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		field := func(c string) (string, error) {
			i := col[c]
			if i >= len(rec) {
				return "", bad(line, c, "missing: the line has %d fields, the header %d", len(rec), len(header))
			}
			return strings.TrimSpace(rec[i]), nil
		}
		var v [7]string
		for i, c := range traceColumns {
			if v[i], err = field(c); err != nil {
				return nil, nil, err
			}
		}
		if len(jobs) >= maxTraceJobs {
			return nil, nil, bad(line, "", "more than %d jobs", maxTraceJobs)
		}
		submit, err := parseDuration(v[0])
		switch {
		case err != nil:
			return nil, nil, bad(line, "submit_time", "%v", err)
		case submit < 0:
			return nil, nil, bad(line, "submit_time", "negative time %v", submit)
		case int64(submit) < prev:
			return nil, nil, bad(line, "submit_time", "%v is before the previous line's %v: the trace must be sorted by submit_time", submit, time.Duration(prev))
		case horizon > 0 && submit > horizon:
			return nil, nil, bad(line, "submit_time", "%v is after the scenario's duration %v", submit, horizon)
		}
		prev = int64(submit)
		if _, err := linkis.ParseUserCreator(v[1] + "-" + "x"); err != nil || v[1] == "" || strings.Contains(v[1], "-") {
			return nil, nil, bad(line, "user", "%q is not a user name (letters, digits, '_')", v[1])
		}
		if _, err := linkis.ParseUserCreator("x-" + v[2]); err != nil || v[2] == "" || strings.Contains(v[2], "-") {
			return nil, nil, bad(line, "creator", "%q is not a creator name (letters, digits, '_')", v[2])
		}
		et, ok := engines[v[3]]
		if !ok {
			return nil, nil, bad(line, "engine_type", "unknown engine type %q: list it under the scenario's engines", v[3])
		}
		var amt resAmount
		if v[4] != "" {
			if amt.memory, err = linkis.ParseMemory(v[4]); err != nil || amt.memory <= 0 {
				return nil, nil, bad(line, "memory", "%q is not a positive memory size like 512m or 2g", v[4])
			}
		}
		if v[5] != "" {
			if amt.milliCores, err = linkis.ParseCores(v[5]); err != nil || amt.milliCores < 0 {
				return nil, nil, bad(line, "cores", "%q is not a number of cores like 1 or 500m", v[5])
			}
		}
		runtime, err := parseDuration(v[6])
		switch {
		case err != nil:
			return nil, nil, bad(line, "duration", "%v", err)
		case runtime < 0:
			return nil, nil, bad(line, "duration", "negative duration %v", runtime)
		}
		jobs = append(jobs, jobSpec{
			submit: int64(submit), runtime: int64(runtime), engine: int32(et), res: in.size(amt),
			user: in.user(v[1]), creator: in.creator(v[2]),
		})
	}
	if len(jobs) == 0 {
		return nil, nil, bad(hline, "", "the trace has a header but no jobs")
	}
	return jobs, in.t, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &TraceError{File: name, Line: pe.Line, Msg: "malformed CSV: " + pe.Err.Error()}
	}
	return &TraceError{File: name, Msg: err.Error()}
}
