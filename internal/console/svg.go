package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The charts are drawn here rather than by a JavaScript library: the page
// then needs no vendored code, nothing to pin or update, and what a chart
// shows is tested in Go. The SVG holds only numbers and fixed words (no
// source names, no error texts), so the page can insert it as markup.
const (
	chartWidth  = 600
	chartHeight = 160
	padLeft     = 64 // y-axis labels
	padRight    = 8
	padTop      = 10
	padBottom   = 22 // x-axis labels
)

// point is one value at one time; NaN breaks the line.
type point struct {
	at time.Time
	v  float64
}

func lagChart(now time.Time, h []sample) Chart {
	pts := make([]point, len(h))
	for i, s := range h {
		pts[i] = point{s.at, s.lagMs}
	}
	return render(now, "Lag", pts, formatMs)
}

// throughputChart draws events/s between consecutive samples.
func throughputChart(now time.Time, h []sample) Chart {
	pts := make([]point, 0, len(h))
	for i := 1; i < len(h); i++ {
		v := math.NaN()
		if r := rate(h[i-1].at, h[i-1].delivered, h[i].at, h[i].delivered); r != nil {
			v = *r
		}
		pts = append(pts, point{h[i].at, v})
	}
	return render(now, "Events per second", pts, formatRate)
}

// render draws pts over the History before now: a line per run of known
// values, three horizontal grid lines labelled with format, and the time
// axis in minutes ago.
func render(now time.Time, title string, pts []point, format func(float64) string) Chart {
	pts = downsample(pts, maxChartPoints)
	top, last, n := 0.0, math.NaN(), 0
	for _, p := range pts {
		if !math.IsNaN(p.v) {
			top, last = max(top, p.v), p.v
			n++
		}
	}
	top = niceCeil(top)
	span := timeSpan(now, pts)
	plotW := float64(chartWidth - padLeft - padRight)
	plotH := float64(chartHeight - padTop - padBottom)
	x := func(t time.Time) float64 {
		ago := now.Sub(t).Seconds()
		return padLeft + plotW*(1-ago/span.Seconds())
	}
	y := func(v float64) float64 { return padTop + plotH*(1-v/top) }

	var b strings.Builder
	summary := fmt.Sprintf("%s over the last %s: now %s, highest %s, %d points", title, spanText(span), orDash(last, format), format(maxOf(pts)), n)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" class="chart" role="img" data-points="%d" aria-label="%s">`,
		chartWidth, chartHeight, n, summary)
	fmt.Fprintf(&b, `<title>%s</title>`, summary)
	for _, frac := range []float64{0, 0.5, 1} {
		gy := y(top * frac)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, chartWidth-padRight, gy, gy)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, padLeft-6, gy+4, format(top*frac))
	}
	for i, frac := range []float64{1, 0.75, 0.5, 0.25, 0} {
		ago := time.Duration(frac * float64(span))
		gx := x(now.Add(-ago))
		label := "now"
		if ago > 0 {
			label = "−" + agoText(ago)
		}
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, gx, chartHeight-6, anchor, label)
	}
	var run []string
	flush := func() {
		switch len(run) {
		case 0:
		case 1: // a lone value is a dot, not an invisible line
			xy := strings.Split(run[0], ",")
			fmt.Fprintf(&b, `<circle class="dot" cx="%s" cy="%s" r="2.5"/>`, xy[0], xy[1])
		default:
			fmt.Fprintf(&b, `<polyline class="line" points="%s"/>`, strings.Join(run, " "))
		}
		run = run[:0]
	}
	for _, p := range pts {
		if math.IsNaN(p.v) || now.Sub(p.at) > span {
			flush()
			continue
		}
		run = append(run, fmt.Sprintf("%.1f,%.1f", x(p.at), y(p.v)))
	}
	flush()
	b.WriteString(`</svg>`)
	return Chart{SVG: b.String(), Points: n, SpanSeconds: span.Seconds()}
}

// spans are the time axis' lengths: the shortest that holds every sample,
// so that a daemon started a minute ago does not draw a sliver at the
// right edge of an hour.
var spans = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, History}

func timeSpan(now time.Time, pts []point) time.Duration {
	if len(pts) == 0 {
		return spans[0]
	}
	oldest := now.Sub(pts[0].at)
	for _, s := range spans {
		if oldest <= s {
			return s
		}
	}
	return History
}

func spanText(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return agoText(d)
}

// agoText writes a tick's distance from now: seconds below two minutes.
func agoText(d time.Duration) string {
	if d < 2*time.Minute {
		return strconv.Itoa(int(d.Round(time.Second).Seconds())) + " s"
	}
	return trim(d.Minutes(), 1) + " min"
}

// maxChartPoints bounds the points a chart draws: about two pixels each
// at its width, and a page of many sources stays small (an hour at 1 s is
// 3,600 samples).
const maxChartPoints = 300

// downsample merges runs of consecutive points into at most limit points,
// each at its run's last time with its highest known value, so that a peak
// survives; a run with no known value stays a gap.
func downsample(pts []point, limit int) []point {
	if len(pts) <= limit {
		return pts
	}
	size := (len(pts) + limit - 1) / limit
	out := make([]point, 0, limit)
	for i := 0; i < len(pts); i += size {
		run := pts[i:min(i+size, len(pts))]
		p := point{at: run[len(run)-1].at, v: math.NaN()}
		for _, q := range run {
			if !math.IsNaN(q.v) && (math.IsNaN(p.v) || q.v > p.v) {
				p.v = q.v
			}
		}
		out = append(out, p)
	}
	return out
}

func maxOf(pts []point) float64 {
	m := 0.0
	for _, p := range pts {
		if !math.IsNaN(p.v) {
			m = max(m, p.v)
		}
	}
	return m
}

func orDash(v float64, format func(float64) string) string {
	if math.IsNaN(v) {
		return "unknown"
	}
	return format(v)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so the grid
// lines fall on round numbers; 1 for zero or less.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// formatMs writes a duration in milliseconds in the largest fitting unit.
func formatMs(ms float64) string {
	switch {
	case ms < 10:
		return trim(ms, 1) + " ms"
	case ms < 1000:
		return trim(ms, 0) + " ms"
	case ms < 60_000:
		return trim(ms/1000, 1) + " s"
	case ms < 3_600_000:
		return trim(ms/60_000, 1) + " min"
	}
	return trim(ms/3_600_000, 1) + " h"
}

// formatRate writes a per-second rate with k/M suffixes.
func formatRate(v float64) string {
	switch {
	case v < 1000:
		return trim(v, 1) + "/s"
	case v < 1e6:
		return trim(v/1e3, 1) + "k/s"
	}
	return trim(v/1e6, 1) + "M/s"
}

// trim formats v with at most prec decimals and no trailing zeros.
func trim(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
