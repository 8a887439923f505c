package orchestrator

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golinkis/golinkis/api"
	"github.com/golinkis/golinkis/linkis"
)

// Date variables, as Linkis users write them. They are computed from the
// job's submission time (Spec.Submitted, in its location), so a re-run
// substitutes the same dates. run_date is the day before submission, as in
// Linkis; a user variable named run_date (yyyyMMdd) moves every date
// variable with it.
const (
	VarRunDate          = "run_date"              // yyyyMMdd, the day before submission
	VarRunDateStd       = "run_date_std"          // yyyy-MM-dd
	VarRunToday         = "run_today"             // run_date + 1 day, yyyyMMdd
	VarRunTodayStd      = "run_today_std"         // yyyy-MM-dd
	VarRunMon           = "run_mon"               // run_date's month, yyyyMM
	VarRunMonStd        = "run_mon_std"           // yyyy-MM
	VarRunMonthBegin    = "run_month_begin"       // first day of run_date's month, yyyyMMdd
	VarRunMonthBeginStd = "run_month_begin_std"   // yyyy-MM-dd
	VarRunMonthEnd      = "run_month_end"         // last day of run_date's month, yyyyMMdd
	VarRunMonthEndStd   = "run_month_end_std"     // yyyy-MM-dd
	maxVariableOffset   = 100000                  // |n| in ${name+n}
	dateLayout          = "20060102"              // yyyyMMdd
	dateStdLayout       = "2006-01-02"            // yyyy-MM-dd
	monLayout, monStd   = "200601", "2006-01"     // yyyyMM, yyyy-MM
	varOpen             = "${"                    // opens a variable
	varEscape           = "$${"                   // a literal "${"
	varField            = "variable"              // the field of errors about a variable
	codeField           = "executionContent.code" // the field of errors about the code
)

// dateVar describes one date variable: how it prints a date, and what
// its arithmetic counts: days, or periods of months (run_mon*, run_month_*:
// months; run_quarter_*: quarters; run_half_year_*: half years;
// run_year_*: years).
type dateVar struct {
	layout string
	months int                               // months a period; 0: the variable counts days
	shift  func(runDate time.Time) time.Time // from run_date to the variable's date (the first of its period)
	end    bool                              // the last day of the period rather than its first
}

func same(d time.Time) time.Time    { return d }
func nextDay(d time.Time) time.Time { return d.AddDate(0, 0, 1) }

// periodBegin returns the first day of the period of months (1, 3, 6, 12,
// counted from January) d is in.
func periodBegin(d time.Time, months int) time.Time {
	m := (int(d.Month())-1)/months*months + 1
	return time.Date(d.Year(), time.Month(m), 1, 0, 0, 0, 0, d.Location())
}
func monthBegin(d time.Time) time.Time    { return periodBegin(d, 1) }
func quarterBegin(d time.Time) time.Time  { return periodBegin(d, 3) }
func halfYearBegin(d time.Time) time.Time { return periodBegin(d, 6) }
func yearBegin(d time.Time) time.Time     { return periodBegin(d, 12) }
func lastMonth(d time.Time) time.Time     { return monthBegin(d).AddDate(0, -1, 0) }

var dateVars = map[string]dateVar{
	VarRunDate:          {layout: dateLayout, shift: same},
	VarRunDateStd:       {layout: dateStdLayout, shift: same},
	VarRunToday:         {layout: dateLayout, shift: nextDay},
	VarRunTodayStd:      {layout: dateStdLayout, shift: nextDay},
	VarRunMon:           {layout: monLayout, months: 1, shift: monthBegin},
	VarRunMonStd:        {layout: monStd, months: 1, shift: monthBegin},
	VarRunMonthBegin:    {layout: dateLayout, months: 1, shift: monthBegin},
	VarRunMonthBeginStd: {layout: dateStdLayout, months: 1, shift: monthBegin},
	VarRunMonthEnd:      {layout: dateLayout, months: 1, shift: monthBegin, end: true},
	VarRunMonthEndStd:   {layout: dateStdLayout, months: 1, shift: monthBegin, end: true},
	// The longer periods and last month, as Linkis has them.
	"run_last_mon_now":        {layout: monLayout, months: 1, shift: lastMonth},
	"run_last_mon_now_std":    {layout: monStd, months: 1, shift: lastMonth},
	"run_quarter_begin":       {layout: dateLayout, months: 3, shift: quarterBegin},
	"run_quarter_begin_std":   {layout: dateStdLayout, months: 3, shift: quarterBegin},
	"run_quarter_end":         {layout: dateLayout, months: 3, shift: quarterBegin, end: true},
	"run_quarter_end_std":     {layout: dateStdLayout, months: 3, shift: quarterBegin, end: true},
	"run_half_year_begin":     {layout: dateLayout, months: 6, shift: halfYearBegin},
	"run_half_year_begin_std": {layout: dateStdLayout, months: 6, shift: halfYearBegin},
	"run_half_year_end":       {layout: dateLayout, months: 6, shift: halfYearBegin, end: true},
	"run_half_year_end_std":   {layout: dateStdLayout, months: 6, shift: halfYearBegin, end: true},
	"run_year_begin":          {layout: dateLayout, months: 12, shift: yearBegin},
	"run_year_begin_std":      {layout: dateStdLayout, months: 12, shift: yearBegin},
	"run_year_end":            {layout: dateLayout, months: 12, shift: yearBegin, end: true},
	"run_year_end_std":        {layout: dateStdLayout, months: 12, shift: yearBegin, end: true},
}

// value prints the variable for run date d shifted by n days or periods.
// Period arithmetic starts from the first of the period, so it never
// overflows into the next one (Jan 31 + 1 month is in February).
func (v dateVar) value(d time.Time, n int) string {
	t := v.shift(d)
	if v.months == 0 {
		return t.AddDate(0, 0, n).Format(v.layout)
	}
	t = t.AddDate(0, n*v.months, 0)
	if v.end {
		t = t.AddDate(0, v.months, -1)
	}
	return t.Format(v.layout)
}

// Variables holds what ${name} may refer to in one job: the user's
// variables and the date variables of its run date.
type Variables struct {
	user    Values
	runDate time.Time // midnight, in the submission's location
}

// NewVariables returns the variables of a job submitted at submitted with
// the user's variables. A user variable run_date must be yyyyMMdd; it
// replaces the default (the day before submission) for every date
// variable.
func NewVariables(user Values, submitted time.Time) (Variables, error) {
	loc := submitted.Location()
	y, m, d := submitted.Date()
	v := Variables{user: user, runDate: time.Date(y, m, d, 0, 0, 0, 0, loc).AddDate(0, 0, -1)}
	if s, ok := user[VarRunDate]; ok {
		t, err := time.ParseInLocation(dateLayout, s, loc)
		if err != nil || t.Format(dateLayout) != s {
			return Variables{}, linkis.ValueError(linkis.ErrInvalidArgument, "params.variable.run_date", s, "must be a date as yyyyMMdd, e.g. 20240131")
		}
		v.runDate = t
	}
	for name := range user {
		if !validVarName(name) {
			return Variables{}, linkis.ValueError(linkis.ErrInvalidArgument, "params.variable", name, "a variable name is 1-128 letters, digits or '_'")
		}
	}
	return v, nil
}

// Lookup returns the value of ${name}, or of ${name+n} / ${name-n} when
// n is not 0: days, or periods for run_mon, run_month_*, run_quarter_*,
// run_half_year_* and run_year_*, on the date variables; plain addition on a user variable whose value is a number
// (as Linkis: {"f": "20.1"} makes ${f-1} 19.1). A user variable shadows a
// date variable of the same name, except run_date, which moves all of
// them.
func (v Variables) Lookup(name string, n int) (string, error) {
	if s, ok := v.user[name]; ok && name != VarRunDate {
		if n == 0 {
			return s, nil
		}
		if sum, ok := addNumber(s, n); ok {
			return sum, nil
		}
		return "", linkis.ValueError(linkis.ErrInvalidArgument, varField, name, "arithmetic works on the date variables (run_date, run_today, run_mon, run_month_begin, run_month_end, run_quarter_*, run_half_year_*, run_year_* and their _std forms) and on variables whose value is a number")
	}
	dv, ok := dateVars[name]
	if !ok {
		return "", linkis.ValueError(linkis.ErrInvalidArgument, varField, name, "unknown variable: give it a value (--var "+name+"=VALUE on the command line, params.variable in a request), or write $${"+name+"} for a literal ${"+name+"}")
	}
	return dv.value(v.runDate, n), nil
}

// addNumber adds n to s when s is a number: exactly when s is a whole
// number (and the sum fits), else as Linkis does, in floating point,
// written without a trailing ".0".
func addNumber(s string, n int) (string, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if sum := i + int64(n); (n > 0) == (sum > i) {
			return strconv.FormatInt(sum, 10), true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	return strconv.FormatFloat(f+float64(n), 'f', -1, 64), true
}

// Substitute replaces every ${name} (and ${name+n}, ${name-n}) in code
// with its value in one pass: values are not substituted again. "$${"
// writes a literal "${". An unknown variable, a malformed "${" or
// arithmetic on a variable neither a date nor a number is an error naming
// it, and so is code that grows past api.MaxCodeBytes.
func (v Variables) Substitute(code string) (string, error) {
	i := strings.Index(code, varOpen)
	if i < 0 {
		return code, nil // the common case: nothing to do, nothing allocated
	}
	var b strings.Builder
	b.Grow(len(code) + 16)
	for i >= 0 {
		if i > 0 && code[i-1] == '$' {
			// "$${": a literal "${"; the first '$' is dropped.
			b.WriteString(code[:i-1])
			b.WriteString(varOpen)
			code = code[i+len(varOpen):]
			i = strings.Index(code, varOpen)
			continue
		}
		b.WriteString(code[:i])
		rest := code[i+len(varOpen):]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", linkis.ValueError(linkis.ErrInvalidArgument, codeField, preview(code[i:]), "a \"${\" without its closing \"}\" (write \"$${\" for a literal \"${\")")
		}
		name, n, err := parseRef(rest[:end])
		if err != nil {
			return "", err
		}
		val, err := v.Lookup(name, n)
		if err != nil {
			return "", err
		}
		if b.Len()+len(val) > api.MaxCodeBytes {
			// Stop before a few bytes of references make a huge string.
			return "", linkis.Errorf(linkis.ErrInvalidArgument, codeField, "more than %d bytes after substitution", api.MaxCodeBytes)
		}
		b.WriteString(val)
		code = rest[end+1:]
		i = strings.Index(code, varOpen)
	}
	b.WriteString(code)
	return b.String(), nil
}

// Substitute replaces the variables in code for a job submitted at
// submitted with the user's variables (see Variables.Substitute).
func Substitute(code string, user Values, submitted time.Time) (string, error) {
	v, err := NewVariables(user, submitted)
	if err != nil {
		return "", err
	}
	return v.Substitute(code)
}

// withGlobals layers a job's own variables over the user's global ones.
func withGlobals(globals, own Values) Values {
	if len(globals) == 0 {
		return own
	}
	out := make(Values, len(globals)+len(own))
	for k, v := range globals {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

// References returns the names code refers to as ${name} (or ${name+n},
// ${name-n}), each once, in the order they first appear; "$${" and
// malformed references are skipped. The entrance keeps with a job only
// the global variables its code uses.
func References(code string) []string {
	var out []string
	for {
		i := strings.Index(code, varOpen)
		if i < 0 {
			return out
		}
		rest := code[i+len(varOpen):]
		if i > 0 && code[i-1] == '$' {
			code = rest // "$${": a literal, as Substitute reads it
			continue
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return out
		}
		if name, _, err := parseRef(rest[:end]); err == nil && !slices.Contains(out, name) {
			out = append(out, name)
		}
		code = rest[end+1:]
	}
}

// parseRef reads "name", "name+n" or "name-n" (spaces allowed around the
// sign and the number).
func parseRef(ref string) (string, int, error) {
	s := strings.TrimSpace(ref)
	cut := strings.IndexAny(s, "+-")
	name, num := s, ""
	if cut >= 0 {
		name, num = strings.TrimSpace(s[:cut]), strings.TrimSpace(s[cut+1:])
	}
	if !validVarName(name) {
		return "", 0, linkis.ValueError(linkis.ErrInvalidArgument, varField, ref, "a variable is ${name}, ${name+n} or ${name-n}; a name is 1-128 letters, digits or '_' (write \"$${\" for a literal \"${\")")
	}
	if cut < 0 {
		return name, 0, nil
	}
	n, err := strconv.Atoi(num)
	if err != nil || num == "" || num[0] < '0' || num[0] > '9' || n > maxVariableOffset {
		return "", 0, linkis.ValueError(linkis.ErrInvalidArgument, varField, ref, "the offset must be a whole number from 0 to 100000")
	}
	if s[cut] == '-' {
		n = -n
	}
	return name, n, nil
}

func validVarName(s string) bool { return linkis.ValidVariableName(s) }

// preview is the start of s, for an error message.
func preview(s string) string {
	if len(s) > 32 {
		return s[:32]
	}
	return s
}
