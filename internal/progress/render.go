package progress

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tributary-cdc/tributary/capture"
)

// Row is one table of one source's snapshot.
type Row struct {
	Source string
	capture.TableProgress
}

// The bar shrinks to fit the terminal, but not below barMin: past that the
// line is cut instead, so the numbers stay legible on wide terminals.
const (
	barMin = 10
	barMax = 30
)

// Render formats one line per row:
//
//	crm shop.orders [#########.....................]  30% 60,000/200,000 rows  12,345 rows/s  ETA 11s
//	crm shop.users  [##############################] done 84,000 rows  9,876 rows/s
//
// A table without an estimate shows rows and rate only; an estimate below
// the rows done counts as the rows done. Sources and tables are padded
// into columns. Lines are cut to width-1 columns: a line that wrapped would
// take two rows and break the cursor-up redraw. now stands for the current
// time, so a done table's rate is its mean rate only when rendered as soon
// as it is seen done, as Run does (Tracker prints it once).
func Render(rows []Row, width int, now time.Time) []string {
	if len(rows) == 0 {
		return nil
	}
	stats := make([]string, len(rows))
	srcW, tableW, statW := 0, 0, 0
	for i, r := range rows {
		stats[i] = statsText(r.TableProgress, now)
		srcW = max(srcW, utf8.RuneCountInString(r.Source))
		tableW = max(tableW, utf8.RuneCountInString(r.Table))
		statW = max(statW, utf8.RuneCountInString(stats[i]))
	}
	barW := min(max(width-1-srcW-tableW-len("  [] ")-statW, barMin), barMax)
	lines := make([]string, len(rows))
	for i, r := range rows {
		name := padRight(r.Source, srcW) + " " + padRight(r.Table, tableW)
		lines[i] = cut(name+" ["+bar(r.TableProgress, barW)+"] "+stats[i], width-1)
	}
	return lines
}

func padRight(s string, n int) string {
	return s + strings.Repeat(" ", max(n-utf8.RuneCountInString(s), 0))
}

// statsText is the part after the bar: percentage, rows, rate and ETA.
func statsText(p capture.TableProgress, now time.Time) string {
	rate := rateAt(p, now)
	if p.Done {
		return fmt.Sprintf("done %s rows  %s rows/s", group(p.RowsDone), group(int64(rate+0.5)))
	}
	if p.RowsTotal <= 0 {
		return fmt.Sprintf("     %s rows  %s rows/s", group(p.RowsDone), group(int64(rate+0.5)))
	}
	total := max(p.RowsTotal, p.RowsDone)
	s := fmt.Sprintf("%3d%% %s/%s rows  %s rows/s", percent(p), group(p.RowsDone), group(total), group(int64(rate+0.5)))
	if rate > 0 && total > p.RowsDone {
		eta := time.Duration(float64(total-p.RowsDone) / rate * float64(time.Second))
		s += "  ETA " + shortDuration(eta)
	}
	return s
}

// percent of the estimate done; a running table stays below 100% even
// when the estimate was too low, as it is not finished.
func percent(p capture.TableProgress) int {
	if p.RowsTotal <= 0 {
		return 0
	}
	pc := int(p.RowsDone * 100 / max(p.RowsTotal, p.RowsDone))
	if !p.Done {
		pc = min(pc, 99)
	}
	return pc
}

// bar draws the done share in width cells; blank when there is no estimate
// rather than an empty bar, which would read as 0%.
func bar(p capture.TableProgress, width int) string {
	switch {
	case p.Done:
		return strings.Repeat("#", width)
	case p.RowsTotal <= 0:
		return strings.Repeat(" ", width)
	}
	n := int(int64(width) * p.RowsDone / max(p.RowsTotal, p.RowsDone))
	if n >= width { // only done tables get a full bar
		n = width - 1
	}
	return strings.Repeat("#", n) + strings.Repeat(".", width-n)
}

// rateAt is TableProgress.Rate at now instead of the wall clock, which
// keeps Render a pure function.
func rateAt(p capture.TableProgress, now time.Time) float64 {
	if p.Started.IsZero() {
		return 0
	}
	if el := now.Sub(p.Started).Seconds(); el > 0 {
		return float64(p.RowsDone) / el
	}
	return 0
}

// group writes n with thousands separators: 1234567 → "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// shortDuration is d in at most two units, rounded up so that a table
// about to finish never shows "ETA 0s": 9s, 4m05s, 2h03m.
func shortDuration(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	switch {
	case secs < 60:
		return fmt.Sprintf("%ds", secs)
	case secs < 3600:
		return fmt.Sprintf("%dm%02ds", secs/60, secs%60)
	default:
		return fmt.Sprintf("%dh%02dm", secs/3600, secs%3600/60)
	}
}

// cut shortens s to at most n runes; n < 1 means no limit.
func cut(s string, n int) string {
	if n < 1 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
