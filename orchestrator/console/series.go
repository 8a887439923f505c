package console

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golinkis/golinkis/linkis"
	"github.com/golinkis/golinkis/manager"
	"github.com/golinkis/golinkis/orchestrator"
	"github.com/golinkis/golinkis/orchestrator/admin"
)

// sample is the cluster's totals at one time: the ECMs' ledgers summed.
type sample struct {
	at     time.Time
	ledger manager.Ledger
}

// series is a bounded ring of samples, oldest first.
type series struct {
	mu   sync.Mutex
	ring []sample
	head int // index of the oldest when full
	full bool
}

func newSeries(n int) *series { return &series{ring: make([]sample, 0, max(2, n))} }

func (s *series) add(x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, x)
		return
	}
	s.ring[s.head] = x
	s.head = (s.head + 1) % len(s.ring)
}

// since returns the samples taken at or after t, oldest first.
func (s *series) since(t time.Time) []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sample, 0, len(s.ring))
	for i := range s.ring {
		x := s.ring[(s.head+i)%len(s.ring)]
		if !x.at.Before(t) {
			out = append(out, x)
		}
	}
	return out
}

// sample takes the totals now, then every SampleEvery until ctx ends.
func (c *Console) sample(ctx context.Context) {
	t := time.NewTicker(c.cfg.SampleEvery)
	defer t.Stop()
	for {
		if l, err := c.totals(ctx); err == nil {
			c.series.add(sample{at: c.now(), ledger: l})
		} else if ctx.Err() == nil {
			c.log.Debug("console: sampling the resource totals", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// totals sums the ECMs' ledgers from this member's own state.
func (c *Console) totals(ctx context.Context) (manager.Ledger, error) {
	ctx = orchestrator.AllowStale(ctx)
	sys := admin.Caller{User: "console", Admin: true} // the console's own reading, shown to those the operator shows the ECMs
	var sum manager.Ledger
	for off := 0; ; off += admin.MaxPageSize {
		p, err := c.cfg.Operations.ECMs(ctx, sys, manager.ECMQuery{Offset: off, Limit: admin.MaxPageSize})
		if err != nil {
			return sum, err
		}
		for _, m := range p.Items {
			sum.Max, _ = sum.Max.Add(m.Ledger.Max)
			sum.Used, _ = sum.Used.Add(m.Ledger.Used)
			sum.Locked, _ = sum.Locked.Add(m.Ledger.Locked)
		}
		if off+len(p.Items) >= p.Total || len(p.Items) == 0 {
			return sum, nil
		}
	}
}

// chartData is one dimension's chart: SVG paths in a W×H box.
type chartData struct {
	Title             string
	W, H              int
	Max, Used, Locked string // polyline points
	Top, Mid          string // the y axis's labels
	Start, End        string // the x axis's labels
	Points            int
	Latest            string
}

// The charts' plot area.
const chartW, chartH = 600, 160

// charts draws the samples since from, and latest (the totals now, so
// that a member that just started draws a line): memory, cores and
// engines.
func (s *series) charts(now, from time.Time, latest *sample) []chartData {
	xs := s.since(from)
	if latest != nil {
		xs = append(xs, *latest)
	}
	dims := []struct {
		title string
		get   func(linkis.Resource) int64
		fmt   func(int64) string
	}{
		{"Memory", func(r linkis.Resource) int64 { return r.Memory }, fmtMem},
		{"Cores", func(r linkis.Resource) int64 { return r.MilliCores }, fmtCores},
		{"Engines", func(r linkis.Resource) int64 { return r.Instances }, func(n int64) string { return strconv.FormatInt(n, 10) }},
	}
	span := now.Sub(from).Seconds()
	out := make([]chartData, 0, len(dims))
	for _, d := range dims {
		cd := chartData{Title: d.title, W: chartW, H: chartH, Points: len(xs),
			Start: "-" + fmtDuration(int64(now.Sub(from))), End: "now"}
		var top int64 = 1
		for _, x := range xs {
			top = max(top, d.get(x.ledger.Max), d.get(x.ledger.Used)+d.get(x.ledger.Locked))
		}
		cd.Top, cd.Mid = d.fmt(top), d.fmt(top/2)
		line := func(val func(sample) int64) string {
			var b strings.Builder
			for i, x := range xs {
				px := float64(chartW) * x.at.Sub(from).Seconds() / span
				py := float64(chartH) * (1 - float64(val(x))/float64(top))
				if i > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprintf(&b, "%.1f,%.1f", px, py)
			}
			return b.String()
		}
		cd.Max = line(func(x sample) int64 { return d.get(x.ledger.Max) })
		cd.Used = line(func(x sample) int64 { return d.get(x.ledger.Used) })
		cd.Locked = line(func(x sample) int64 { return d.get(x.ledger.Used) + d.get(x.ledger.Locked) })
		if n := len(xs); n > 0 {
			l := xs[n-1].ledger
			cd.Latest = fmt.Sprintf("used %s, locked %s, of %s", d.fmt(d.get(l.Used)), d.fmt(d.get(l.Locked)), d.fmt(d.get(l.Max)))
		}
		out = append(out, cd)
	}
	return out
}

// barData is a used/locked/max bar: widths in percent of max.
type barData struct {
	Used, Locked float64 // percent
	Text         string
	Over         bool // used+locked above max
}

func bar(used, locked, maxv int64, f func(int64) string) barData {
	b := barData{Text: fmt.Sprintf("%s used + %s locked of %s", f(used), f(locked), f(maxv))}
	if maxv <= 0 {
		b.Over = used+locked > 0
		return b
	}
	b.Used = min(100, 100*float64(used)/float64(maxv))
	b.Locked = min(100-b.Used, 100*float64(locked)/float64(maxv))
	b.Over = used+locked > maxv
	return b
}

// fmtMem writes bytes to one decimal in the largest binary unit that
// fits ("23.5GiB"); exact sizes without a decimal ("256MiB").
func fmtMem(b int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10) + units[i]
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + units[i]
}

func fmtCores(milli int64) string {
	if milli%1000 == 0 {
		return strconv.FormatInt(milli/1000, 10)
	}
	return strconv.FormatFloat(float64(milli)/1000, 'f', -1, 64)
}

func pct(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtNanos(n int64) string {
	if n == 0 {
		return ""
	}
	return fmtTime(time.Unix(0, n))
}

// ago is how long before now t was.
func (c *Console) ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmtDuration(int64(c.now().Sub(t)))
}

// fmtDuration writes a duration to the second (to the hour past a day),
// without zero tails ("1h", "2m5s").
func fmtDuration(ns int64) string {
	d := time.Duration(max(0, ns)).Round(time.Second)
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
