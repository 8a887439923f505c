package sim

import (
	"testing"
)

// Reviewer's reproducer: levels.add records a level's peak only when that
// level changes after the warm-up. The capacity levels are set once, when
// the hosts come up at the start (inside the warm-up), so their peak stays
// 0 and every Busy.*Peak (a ratio to the capacity's peak) reports 0 for
// any scenario with a warm-up and no host fault after it - while the one
// host was fully busy for most of the measured window.
func TestReviewBusyPeakWithWarmup(t *testing.T) {
	q := queueCase{name: "M/M/1", c: 1, lambda: 0.7, service: `{"dist": "exp", "mean": "1s"}`, jobs: 2000}
	r, err := Run(q.scenario(t), Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm-up %.0fs; busy cores mean %.3f, peak %.3f; held cores mean %.3f, peak %.3f",
		r.WarmupSeconds, r.Busy.CoresMean, r.Busy.CoresPeak, r.Held.CoresMean, r.Held.CoresPeak)
	if r.Busy.CoresMean > 0.5 && r.Busy.CoresPeak < r.Busy.CoresMean {
		t.Fatalf("busy cores peak %.3f is below their mean %.3f", r.Busy.CoresPeak, r.Busy.CoresMean)
	}
}
