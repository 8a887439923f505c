package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 9, 15, 0, 0, time.UTC) }

func TestDateVariables(t *testing.T) {
	all := "${run_date} ${run_date_std} ${run_today} ${run_today_std} ${run_mon} ${run_mon_std} " +
		"${run_month_begin} ${run_month_begin_std} ${run_month_end} ${run_month_end_std}"
	cases := []struct {
		name      string
		submitted time.Time
		want      string
	}{
		{"mid month", day(2024, 5, 15), "20240514 2024-05-14 20240515 2024-05-15 202405 2024-05 20240501 2024-05-01 20240531 2024-05-31"},
		{"first of month: run_date is last month's end", day(2024, 5, 1), "20240430 2024-04-30 20240501 2024-05-01 202404 2024-04 20240401 2024-04-01 20240430 2024-04-30"},
		{"new year's day", day(2025, 1, 1), "20241231 2024-12-31 20250101 2025-01-01 202412 2024-12 20241201 2024-12-01 20241231 2024-12-31"},
		{"leap day", day(2024, 3, 1), "20240229 2024-02-29 20240301 2024-03-01 202402 2024-02 20240201 2024-02-01 20240229 2024-02-29"},
		{"no leap day in 2023", day(2023, 3, 1), "20230228 2023-02-28 20230301 2023-03-01 202302 2023-02 20230201 2023-02-01 20230228 2023-02-28"},
		{"no leap day in 1900", day(1900, 3, 1), "19000228 1900-02-28 19000301 1900-03-01 190002 1900-02 19000201 1900-02-01 19000228 1900-02-28"},
		{"leap day in 2000", day(2000, 3, 1), "20000229 2000-02-29 20000301 2000-03-01 200002 2000-02 20000201 2000-02-01 20000229 2000-02-29"},
	}
	for _, c := range cases {
		got, err := Substitute(all, nil, c.submitted)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v\nwant %q", c.name, got, err, c.want)
		}
	}
}

// The dates come from the submission time in its own location, not from
// the clock of the machine that runs the job.
func TestDateVariablesUseSubmissionLocation(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	at := time.Date(2024, 6, 1, 1, 0, 0, 0, tokyo) // still May 31 in UTC
	got, err := Substitute("${run_today}", nil, at)
	if err != nil || got != "20240601" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestDateArithmetic(t *testing.T) {
	at := day(2024, 3, 1) // run_date 2024-02-29
	cases := map[string]string{
		"${run_date-1}":             "20240228",
		"${run_date+1}":             "20240301",
		"${run_date+7}":             "20240307",
		"${run_date - 29}":          "20240131",
		"${run_date+366}":           "20250301",
		"${run_date_std-365}":       "2023-03-01",
		"${run_today-1}":            "20240229",
		"${run_today_std+31}":       "2024-04-01",
		"${run_mon-1}":              "202401",
		"${run_mon+11}":             "202501",
		"${run_mon_std-2}":          "2023-12",
		"${run_month_begin-1}":      "20240101",
		"${run_month_begin_std+1}":  "2024-03-01",
		"${run_month_end-1}":        "20240131",
		"${run_month_end+1}":        "20240331",
		"${run_month_end_std+12}":   "2025-02-28",
		"${run_month_end-12}":       "20230228",
		"${run_date+0}":             "20240229",
		"a${run_date}b${run_mon}c":  "a20240229b202402c",
		"$${run_date} ${run_date}":  "${run_date} 20240229",
		"no variables at all":       "no variables at all",
		"$ { } $x {run_date} $$ ok": "$ { } $x {run_date} $$ ok",
	}
	for in, want := range cases {
		got, err := Substitute(in, nil, at)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	// Month arithmetic from a 31st lands in the right month.
	got, err := Substitute("${run_month_end+1} ${run_mon+1}", nil, day(2024, 2, 1)) // run_date 2024-01-31
	if err != nil || got != "20240229 202402" {
		t.Fatalf("from Jan 31: %q %v", got, err)
	}
}

func TestUserVariables(t *testing.T) {
	at := day(2024, 5, 15)
	vars := Values{"table": "db.events", "n": "10", "run_date": "20231231"}
	got, err := Substitute("select * from ${table} limit ${n} -- ${run_date} ${run_today} ${run_month_begin_std} ${run_mon-1}", vars, at)
	want := "select * from db.events limit 10 -- 20231231 20240101 2023-12-01 202311"
	if err != nil || got != want {
		t.Fatalf("got %q %v\nwant %q", got, err, want)
	}
	// A user's value is not substituted again.
	got, err = Substitute("${a}", Values{"a": "${run_date}"}, at)
	if err != nil || got != "${run_date}" {
		t.Fatalf("got %q %v", got, err)
	}
	// A user variable shadows a date variable of the same name.
	got, err = Substitute("${run_mon}", Values{"run_mon": "x"}, at)
	if err != nil || got != "x" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestVariableErrors(t *testing.T) {
	at := day(2024, 5, 15)
	cases := []struct {
		code  string
		vars  Values
		field string
		names string
	}{
		{"echo ${nope}", nil, "variable", "nope"},
		{"echo ${nope}", nil, "variable", "--var nope=VALUE"}, // what to do about it, on the command line
		{"echo ${run_dates}", nil, "variable", "run_dates"},
		{"echo ${a-1}", Values{"a": "x1"}, "variable", "arithmetic"},
		{"echo ${a+1}", Values{"a": "NaN"}, "variable", "arithmetic"},
		{"echo ${run_date", nil, codeField, "closing"},
		{"echo ${}", nil, "variable", "a name is"},
		{"echo ${a b}", nil, "variable", "a b"},
		{"echo ${HOME:-x}", nil, "variable", "HOME:-x"},
		{"echo ${run_date+x}", nil, "variable", "offset"},
		{"echo ${run_date+-1}", nil, "variable", "offset"},
		{"echo ${run_date+100001}", nil, "variable", "offset"},
		{"echo ${run_date}", Values{"run_date": "2024-01-01"}, "params.variable.run_date", "yyyyMMdd"},
		{"echo ${run_date}", Values{"run_date": "20240230"}, "params.variable.run_date", "yyyyMMdd"},
		{"echo", Values{"run_date": "x"}, "params.variable.run_date", "yyyyMMdd"},
		{"echo", Values{"bad name": "x"}, "params.variable", "letters"},
	}
	for _, c := range cases {
		_, err := Substitute(c.code, c.vars, at)
		var le *linkis.Error
		if !errors.As(err, &le) || !errors.Is(err, linkis.ErrInvalidArgument) || le.Field != c.field || !strings.Contains(err.Error(), c.names) {
			t.Errorf("%q %v: got %v, want field %s naming %q", c.code, c.vars, err, c.field, c.names)
		}
	}
}

func BenchmarkSubstitute(b *testing.B) {
	at := day(2024, 5, 15)
	vars := Values{"table": "db.events"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Substitute("select * from ${table} where dt = '${run_date_std}'", vars, at); err != nil {
			b.Fatal(err)
		}
	}
}

// Substitution stops as soon as the code outgrows the limit: a small
// request cannot make the orchestrator build a huge string.
func TestSubstituteBoundsTheExpansion(t *testing.T) {
	vars := Values{"x": strings.Repeat("y", 64<<10)}
	code := strings.Repeat("${x}", 100000) // 6.4 GB if expanded
	_, err := Substitute(code, vars, day(2024, 3, 1))
	if !errors.Is(err, linkis.ErrInvalidArgument) || fieldOf(err) != codeField {
		t.Fatalf("err %v", err)
	}
}

// Arithmetic on a user variable whose value is a number, as Linkis does it
// (its documented request: {"f": "20.1"} with code ${f-1}).
func TestNumericUserVariableArithmetic(t *testing.T) {
	vars := Values{"f": "20.1", "n": "5", "big": "9223372036854775807", "neg": "-3", "e": "1e3"}
	got, err := Substitute("${f-1} ${n+2} ${n-10} ${neg+3} ${big-1} ${e+1}", vars, day(2024, 5, 15))
	want := "19.1 7 -5 0 9223372036854775806 1001"
	if err != nil || got != want {
		t.Fatalf("got %q %v, want %q", got, err, want)
	}
}

// The quarter, half-year and year variables and last month, as Linkis has
// them; their arithmetic counts their own periods.
func TestPeriodVariables(t *testing.T) {
	at := day(2024, 5, 16) // run_date 2024-05-15
	cases := map[string]string{
		"${run_quarter_begin} ${run_quarter_end}":                 "20240401 20240630",
		"${run_quarter_begin_std} ${run_quarter_end_std}":         "2024-04-01 2024-06-30",
		"${run_quarter_begin-1} ${run_quarter_end-2}":             "20240101 20231231",
		"${run_quarter_end+3}":                                    "20250331",
		"${run_half_year_begin} ${run_half_year_end}":             "20240101 20240630",
		"${run_half_year_begin_std+1} ${run_half_year_end_std+1}": "2024-07-01 2024-12-31",
		"${run_year_begin} ${run_year_end}":                       "20240101 20241231",
		"${run_year_begin_std-1} ${run_year_end_std+1}":           "2023-01-01 2025-12-31",
		"${run_last_mon_now} ${run_last_mon_now_std}":             "202404 2024-04",
		"${run_last_mon_now-4}":                                   "202312",
	}
	for in, want := range cases {
		got, err := Substitute(in, nil, at)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	// From New Year's Day, run_date is in last year's last quarter and half.
	got, err := Substitute("${run_quarter_end} ${run_half_year_end}", nil, day(2024, 1, 1)) // run_date 2023-12-31
	if err != nil || got != "20231231 20231231" {
		t.Fatalf("got %q %v", got, err)
	}
}

// References names what Substitute would look up, each once; the entrance
// keeps with a job only the global variables it names.
func TestReferences(t *testing.T) {
	for code, want := range map[string]string{
		"":                             "",
		"echo ${a} ${b+1} ${ a } ${c}": "a b c",
		"$${x} ${y}":                   "y",
		"$${a ${b}":                    "b",
		"${bad name} ${ok}":            "ok",
		"${unclosed":                   "",
		"${run_date-7} ${n}":           "run_date n",
	} {
		if got := strings.Join(References(code), " "); got != want {
			t.Errorf("References(%q) = %q, want %q", code, got, want)
		}
	}
}

// A job's own variables win over the user's global ones.
func TestGlobalsUnderJobVariables(t *testing.T) {
	spec := &Spec{User: "alice", Submitted: day(2024, 5, 15), Globals: Values{"city": "Paris", "n": "1"},
		Request: JobRequest{ExecutionContent: ExecutionContent{Code: "${city} ${n} ${n+1}"}, Params: Params{Variable: Values{"n": "41"}},
			Labels: map[string]string{linkis.LabelEngineType: "shell-1", linkis.LabelUserCreator: "alice-IDE"}}}
	j, err := convert(spec, withGlobals(spec.Globals, spec.Request.Params.Variable))
	if err != nil || j.code != "Paris 41 42" {
		t.Fatalf("code %q, %v", j.code, err)
	}
	spec.Globals = nil
	if _, err := convert(spec, withGlobals(spec.Globals, spec.Request.Params.Variable)); err == nil {
		t.Fatal("without the globals, ${city} must be unknown")
	}
}
