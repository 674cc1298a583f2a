// Package progress draws a terminal progress bar per snapshot table (rows
// done of the estimate, rate, ETA), redrawn in place below the log output.
// Logs and metrics carry the same numbers for non-terminal use.
package progress

import (
	"context"
	"os"
	"strconv"
	"time"
)

// Tracker splits each poll into tables to print once as done and tables
// still running (the bars). The zero value is ready to use.
type Tracker struct {
	printed map[string]bool // keys of rows already printed as done
}

// Next returns the done rows not printed before and the running rows, each
// in poll order. A table snapshotted again (a new Started) is new; one that
// runs again after it was printed as done gets a bar again.
func (t *Tracker) Next(rows []Row) (done, running []Row) {
	seen := make(map[string]bool, len(rows))
	for _, r := range rows {
		k := key(r)
		seen[k] = true
		switch {
		case !r.Done:
			delete(t.printed, k)
			running = append(running, r)
		case !t.printed[k]:
			if t.printed == nil {
				t.printed = map[string]bool{}
			}
			t.printed[k] = true
			done = append(done, r)
		}
	}
	// A restarted source reports its tables afresh, so forgotten keys never
	// come back; dropping them bounds the map.
	for k := range t.printed {
		if !seen[k] {
			delete(t.printed, k)
		}
	}
	return done, running
}

func key(r Row) string {
	return r.Source + "\x00" + r.Table + "\x00" + strconv.FormatInt(r.Started.UnixNano(), 10)
}

// Run polls the snapshot tables every interval and shows them on s, until
// ctx is done; it then erases the bars. width reports the terminal's
// columns at each poll, so a resized terminal is followed.
func Run(ctx context.Context, s *Screen, poll func() []Row, width func() int, interval time.Duration) {
	var t Tracker
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		done, running := t.Next(poll())
		// One Render keeps done lines and bars in the same columns.
		lines := Render(append(done, running...), width(), time.Now())
		_ = s.Update(lines[:len(done)], lines[len(done):]) // a broken terminal is not worth stopping for
		select {
		case <-ctx.Done():
			_ = s.Update(nil, nil)
			return
		case <-tick.C:
		}
	}
}

// IsTerminal reports whether f is a terminal. A character device that does
// not answer the terminal size query (/dev/null) is not one, where that
// query exists.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	_, ok := termWidth(f)
	return ok
}

// Width is f's width in columns: the terminal's, else $COLUMNS, else 80.
func Width(f *os.File) int {
	if w, ok := termWidth(f); ok && w > 0 {
		return w
	}
	if w, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && w > 0 {
		return w
	}
	return 80
}
