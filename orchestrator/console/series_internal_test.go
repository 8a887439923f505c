package console

import (
	"strings"
	"testing"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
)

// The series keeps the last n samples, oldest first, and the charts place
// them on the hour: the oldest at the left edge, now at the right, the
// top at the largest value.
func TestSeriesAndCharts(t *testing.T) {
	s := newSeries(4)
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for i := range 6 {
		s.add(sample{at: t0.Add(time.Duration(i) * 20 * time.Minute), ledger: manager.Ledger{
			Max:  linkis.Resource{Memory: 8 << 30, MilliCores: 4000, Instances: 10},
			Used: linkis.Resource{Memory: int64(i) << 30, MilliCores: int64(i) * 500, Instances: int64(i)}}})
	}
	got := s.since(time.Time{})
	if len(got) != 4 || !got[0].at.Equal(t0.Add(40*time.Minute)) || !got[3].at.Equal(t0.Add(100*time.Minute)) {
		t.Fatalf("the ring holds %v", got)
	}
	now := t0.Add(100 * time.Minute)
	cs := s.charts(now, now.Add(-time.Hour), nil)
	if len(cs) != 3 || cs[0].Title != "Memory" || cs[0].Top != "8GiB" || cs[0].Start != "-1h" {
		t.Fatalf("charts: %+v", cs)
	}
	// Samples at -60, -40, -20 and 0 minutes: x = 0, 200, 400, 600; used
	// 2, 3, 4, 5 GiB of a top of 8: y = 120, 100, 80, 60.
	if cs[0].Used != "0.0,120.0 200.0,100.0 400.0,80.0 600.0,60.0" {
		t.Fatalf("memory used: %q", cs[0].Used)
	}
	if !strings.HasPrefix(cs[0].Max, "0.0,0.0 ") || cs[0].Latest != "used 5GiB, locked 0B, of 8GiB" {
		t.Fatalf("memory max %q, latest %q", cs[0].Max, cs[0].Latest)
	}
	if b := bar(3, 1, 8, fmtCores); b.Used != 37.5 || b.Locked != 12.5 || b.Over {
		t.Fatalf("bar: %+v", b)
	}
	if b := bar(9, 1, 8, fmtCores); b.Used != 100 || b.Locked != 0 || !b.Over {
		t.Fatalf("an over-full bar: %+v", b)
	}
}
