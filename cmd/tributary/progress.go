package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/progress"
)

// progressInterval is how often the snapshot bars are redrawn: often enough
// to look live, seldom enough to cost nothing next to the snapshot.
const progressInterval = 250 * time.Millisecond

// newProgressScreen returns the screen the snapshot bars share with the log
// on stderr, or nil when mode (--progress) leaves them off: "never"; "auto"
// (the default) when stderr is not a terminal, so files and pipes only get
// the log; "always" draws even then.
func newProgressScreen(mode string, stderr io.Writer) (*progress.Screen, error) {
	switch mode {
	case "never":
		return nil, nil
	case "auto":
		if f, ok := stderr.(*os.File); !ok || !progress.IsTerminal(f) {
			return nil, nil
		}
	case "always":
	default:
		return nil, fmt.Errorf("%w: run: --progress must be auto, always or never, not %q", errUsage, mode)
	}
	return progress.NewScreen(stderr), nil
}

// startProgress draws the snapshot tables of sources (named by names) on
// bars until the returned stop is called, which erases the bars.
func startProgress(bars *progress.Screen, stderr io.Writer, names []string, sources []capture.SnapshotReporter) (stop func()) {
	poll := func() []progress.Row {
		var rows []progress.Row
		for i, s := range sources {
			for _, t := range s.SnapshotProgress() {
				rows = append(rows, progress.Row{Source: names[i], TableProgress: t})
			}
		}
		return rows
	}
	width := func() int { return 80 }
	if f, ok := stderr.(*os.File); ok {
		width = func() int { return progress.Width(f) }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		progress.Run(ctx, bars, poll, width, progressInterval)
	}()
	return func() { cancel(); <-done }
}
