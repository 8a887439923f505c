package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Hand-written SVG charts: virtual time on x with round ticks (h:mm since
// the start), absolute units on y, faults marked (a shaded band for a
// window, a line for an instant, labelled). A chart has one panel per run
// compared (small multiples sharing both axes) or one panel where each run
// has its own colour and dash pattern.

// line is one series of a panel.
type line struct {
	name   string
	xs, ys []float64 // xs in seconds
	color  string
	dash   string // SVG stroke-dasharray; "" = solid
	width  float64
	band   []float64 // when set, a shaded band from ys-band to ys+band
}

// panel is one plot area.
type panel struct {
	title string
	lines []line
}

// chart is what lineChart draws.
type chart struct {
	title  string
	yLabel string
	yFmt   func(float64) string
	xLabel string
	xFmt   func(float64) string // nil: h:mm of seconds
	xTicks []float64            // nil: round time ticks
	panels []panel
	faults []FaultMark
	yMin   float64
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// dashes tell runs apart where colours are not enough (print, colour
// blindness): solid, dashed, dotted, dash-dot...
var dashes = []string{"", "8 4", "2 3", "10 3 2 3", "4 4", "14 4", "2 6", "6 2 2 2"}

// svg draws the chart.
func (c *chart) svg() string {
	const W, left, right, top, panelH, gap, bottom = 960.0, 80.0, 250.0, 44.0, 220.0, 34.0, 54.0
	n := max(len(c.panels), 1)
	H := top + float64(n)*panelH + float64(n-1)*gap + bottom
	pw := W - left - right
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymax := c.yMin
	for _, p := range c.panels {
		for _, l := range p.lines {
			for i, x := range l.xs {
				xmin, xmax = min(xmin, x), max(xmax, x)
				if i < len(l.ys) && !math.IsNaN(l.ys[i]) {
					y := l.ys[i]
					if l.band != nil && i < len(l.band) {
						y += l.band[i]
					}
					ymax = max(ymax, y)
				}
			}
		}
	}
	if math.IsInf(xmin, 0) {
		xmin, xmax = 0, 1
	}
	if c.xTicks == nil {
		xmin = 0
	}
	if xmax <= xmin {
		xmax = xmin + 1
	}
	ymax = niceCeil(ymax)
	X := func(x float64) float64 { return left + pw*(x-xmin)/(xmax-xmin) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%g" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, xmlEscape(c.title))
	ticks := c.xTicks
	xf := c.xFmt
	if ticks == nil {
		ticks = timeTicks(xmax)
		xf = clock
	}
	for pi := range n {
		y0 := top + float64(pi)*(panelH+gap)
		Y := func(y float64) float64 { return y0 + panelH*(1-y/ymax) }
		var p panel
		if pi < len(c.panels) {
			p = c.panels[pi]
		}
		if p.title != "" {
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" font-weight="bold">%s</text>`+"\n", left+4, y0-6, xmlEscape(p.title))
		}
		for i := 0; i <= 4; i++ {
			y := ymax * float64(i) / 4
			fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#ddd"/>`+"\n", left, Y(y), left+pw, Y(y))
			fmt.Fprintf(&b, `<text x="%g" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, Y(y)+4, xmlEscape(c.yFmt(y)))
		}
		for _, x := range ticks {
			if x < xmin || x > xmax {
				continue
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#eee"/>`+"\n", X(x), y0, X(x), y0+panelH)
		}
		for _, f := range c.faults {
			if f.At > xmax {
				continue
			}
			x1 := X(f.At)
			if f.For > 0 {
				x2 := X(min(f.At+f.For, xmax))
				fmt.Fprintf(&b, `<rect x="%.1f" y="%g" width="%.1f" height="%g" fill="#f4a582" fill-opacity="0.18"/>`+"\n", x1, y0, max(x2-x1, 1), panelH)
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#b2182b" stroke-width="1" stroke-dasharray="3 2"/>`+"\n", x1, y0, x1, y0+panelH)
		}
		if pi == 0 {
			for _, f := range c.faults {
				if f.At > xmax {
					continue
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="9" fill="#b2182b" transform="rotate(-90 %.1f %g)" text-anchor="end">%s</text>`+"\n",
					X(f.At)+3, y0+4, X(f.At)+3, y0+4, xmlEscape(faultShort(f.Kind)))
			}
		}
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>`+"\n", left, y0, pw, panelH)
		for _, l := range p.lines {
			if l.band != nil {
				var up, down []string
				for k := range l.xs {
					if k >= len(l.ys) || k >= len(l.band) || math.IsNaN(l.ys[k]) {
						break
					}
					up = append(up, fmt.Sprintf("%.1f,%.1f", X(l.xs[k]), Y(l.ys[k]+l.band[k])))
					down = append(down, fmt.Sprintf("%.1f,%.1f", X(l.xs[k]), Y(max(l.ys[k]-l.band[k], 0))))
				}
				for i, j := 0, len(down)-1; i < j; i, j = i+1, j-1 {
					down[i], down[j] = down[j], down[i]
				}
				fmt.Fprintf(&b, `<polygon fill="%s" fill-opacity="0.18" stroke="none" points="%s"/>`+"\n", l.color, strings.Join(append(up, down...), " "))
			}
			var pts strings.Builder
			for k, y := range l.ys {
				if k >= len(l.xs) || math.IsNaN(y) {
					break
				}
				fmt.Fprintf(&pts, "%.1f,%.1f ", X(l.xs[k]), Y(y))
			}
			dash := ""
			if l.dash != "" {
				dash = ` stroke-dasharray="` + l.dash + `"`
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="%g"%s points="%s"/>`+"\n", l.color, max(l.width, 1.5), dash, strings.TrimSpace(pts.String()))
		}
		for i, l := range p.lines {
			ly := y0 + 10 + float64(i)*18
			dash := ""
			if l.dash != "" {
				dash = ` stroke-dasharray="` + l.dash + `"`
			}
			fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="3"%s/>`+"\n", left+pw+12, ly, left+pw+40, ly, l.color, dash)
			fmt.Fprintf(&b, `<text x="%g" y="%g">%s</text>`+"\n", left+pw+46, ly+4, xmlEscape(l.name))
		}
		if pi == n-1 {
			for _, x := range ticks {
				if x < xmin || x > xmax {
					continue
				}
				fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", X(x), y0+panelH+16, xmlEscape(xf(x)))
			}
		}
		fmt.Fprintf(&b, `<text x="16" y="%g" transform="rotate(-90 16 %g)" text-anchor="middle">%s</text>`+"\n", y0+panelH/2, y0+panelH/2, xmlEscape(c.yLabel))
	}
	xl := c.xLabel
	if xl == "" {
		xl = "virtual time since the start (h:mm)"
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="middle">%s</text>`+"\n", left+pw/2, H-12, xmlEscape(xl))
	if len(c.faults) > 0 {
		fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="10" fill="#b2182b">faults: shaded = window, dashed = start</text>`+"\n", left+pw+12, H-12)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// timeTicks returns round tick positions (seconds) from 0 to xmax: the
// smallest step of 1, 2, 5, 10, 15, 30 minutes or 1, 2, 3, 4, 6, 12, 24
// hours (then whole days) that gives at most 10 ticks.
func timeTicks(xmax float64) []float64 {
	steps := []float64{60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if xmax/s <= 10 {
			step = s
			break
		}
	}
	for xmax/step > 10 {
		step += 86400
	}
	var out []float64
	for x := 0.0; x <= xmax+1e-9; x += step {
		out = append(out, x)
	}
	return out
}

// clock formats seconds since the start as h:mm.
func clock(sec float64) string {
	m := int64(math.Round(sec / 60))
	return strconv.FormatInt(m/60, 10) + ":" + fmt.Sprintf("%02d", m%60)
}

// faultShort names a fault kind on a chart.
func faultShort(kind string) string {
	return strings.ReplaceAll(kind, "_", " ")
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func xmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}

// fmtNum formats an axis value compactly.
func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }
