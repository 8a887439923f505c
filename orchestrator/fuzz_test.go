package orchestrator

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
)

// FuzzSubstitute: Substitute never panics; it either fails with an
// ErrInvalidArgument *linkis.Error, or leaves no ${known} variable behind
// (when nothing in the input spells one literally: no "$${" escape and no
// "$" in the user's value).
func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "echo ${run_date}", "${run_mon-1}${run_month_end+13}", "${", "${}", "$${x}", "${a}", "${ run_today_std - 3 }", "${run_date+99999}", "}${x${y}}"} {
		f.Add(s, "v", int64(0))
	}
	f.Fuzz(func(t *testing.T, code, value string, sec int64) {
		at := time.Unix(sec%(400*365*86400), 0).UTC()
		vars := Values{"a": value}
		out, err := Substitute(code, vars, at)
		if err != nil {
			var le *linkis.Error
			if !errors.As(err, &le) || !errors.Is(err, linkis.ErrInvalidArgument) || le.Field == "" {
				t.Fatalf("error %v is not an invalid_argument *linkis.Error naming a field", err)
			}
			return
		}
		if strings.Contains(code, varEscape) || strings.Contains(value, "$") {
			return
		}
		for name := range dateVars {
			if strings.Contains(out, "${"+name+"}") {
				t.Fatalf("%q → %q still holds ${%s}", code, out, name)
			}
		}
		if strings.Contains(out, "${a}") {
			t.Fatalf("%q → %q still holds ${a}", code, out)
		}
	})
}
