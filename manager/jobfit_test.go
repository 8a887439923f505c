package manager

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestFitMakesUpdatesEncodable: whatever a run heard, the fitted update
// passes the log's decoder, keeps what it can (the newest tail lines, the
// first and last of the orchestrator's lines, the first results) and says
// in the log what it cut.
func TestFitMakesUpdatesEncodable(t *testing.T) {
	long := strings.Repeat("é", MaxJobLineBytes) // 2 bytes each: clipped mid-way must stay UTF-8
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	for _, c := range []struct {
		name  string
		ok    bool // encodable before Fit
		u     UpdateJob
		check func(t *testing.T, f UpdateJob)
	}{
		{"long lines and reason", false, UpdateJob{TaskID: 1, Progress: -1, State: 5, Reason: long, Log: []string{long}, Tail: []string{long}}, func(t *testing.T, f UpdateJob) {
			if len(f.Reason) > MaxReasonLen || len(f.Log[0]) > MaxJobLineBytes || len(f.Tail[0]) > MaxJobLineBytes {
				t.Fatal("not clipped")
			}
			if !utf8.ValidString(f.Reason) || !utf8.ValidString(f.Log[0]) {
				t.Fatal("clipped inside a character")
			}
		}},
		{"tail beyond the record's", true, UpdateJob{TaskID: 1, Progress: -1, Tail: append(many(500, "old"), "newest")}, func(t *testing.T, f UpdateJob) {
			if len(f.Tail) != 200 || f.Tail[199] != "newest" {
				t.Fatalf("tail %d lines, last %q", len(f.Tail), f.Tail[len(f.Tail)-1])
			}
		}},
		{"1100 results", false, UpdateJob{TaskID: 1, Progress: -1, Results: many(1100, "r"), TaskEnded: "k"}, func(t *testing.T, f UpdateJob) {
			if len(f.Results) != MaxJobResults || len(f.LogAfter) != 1 || !strings.Contains(f.LogAfter[0], "1100 result sets") {
				t.Fatalf("%d results, log after %q", len(f.Results), f.LogAfter)
			}
		}},
		{"a megabyte of own lines", false, UpdateJob{TaskID: 1, Progress: -1, Log: append(append([]string{"first"}, many(600, strings.Repeat("l", 4000))...), "last")}, func(t *testing.T, f UpdateJob) {
			if f.Log[0] != "first" || f.Log[len(f.Log)-2] != "last" || !strings.Contains(f.Log[len(f.Log)-1], "log lines were cut") {
				t.Fatalf("kept %d lines: %q ... %q", len(f.Log), f.Log[0], f.Log[len(f.Log)-2:])
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeCommand(AppendCommand(nil, c.u)); (err == nil) != c.ok {
				t.Fatal("the case is not what it claims unfitted")
			}
			f := c.u.Fit(200)
			if _, err := DecodeCommand(AppendCommand(nil, f)); err != nil {
				t.Fatalf("fitted, still refused: %v", err)
			}
			c.check(t, f)
		})
	}
}
