package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/replay"
)

// replayUsage is the replay command's entry in the usage text.
const replayUsage = `  replay -c config.yaml --source S --from P1 --to P2 --topic T [--server-id N]
                                     re-send a MySQL/MariaDB source's binlog from P1
                                     through the first commit at or past P2 into
                                     topic T (created if missing), beside the running
                                     daemon; its checkpoint is not touched. P1 must be
                                     a transaction boundary: a position from
                                     checkpoints show or an event's source.position.
                                     --server-id defaults to the source's + 1000
`

// cmdReplay re-sends a stretch of binlog history into one topic; see
// package replay. Progress goes to stderr, the summary to stdout.
func cmdReplay(args []string, stdout, stderr io.Writer) error {
	fs, path := newFlags("replay")
	source := fs.String("source", "", "the source to replay (required)")
	from := fs.String("from", "", "binlog position to start at, a transaction boundary (required)")
	to := fs.String("to", "", "binlog position: stop after the first commit at or past it (required)")
	topic := fs.String("topic", "", "the topic receiving every replayed message (required)")
	serverID := fs.Uint("server-id", 0, fmt.Sprintf("replica server_id (default: the source's + %d)", replay.ServerIDOffset))
	progress := fs.Duration("progress", replay.DefaultProgressEvery, "progress line interval on stderr (0: none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *source == "" || *from == "" || *to == "" || *topic == "" {
		return fmt.Errorf("%w: replay needs --source, --from, --to and --topic", errUsage)
	}
	if *serverID > 1<<32-1 || *progress < 0 {
		return fmt.Errorf("%w: replay: --server-id must fit 32 bits, --progress must not be negative", errUsage)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	opts := replay.Options{
		Config: cfg, Source: *source, From: *from, To: *to, Topic: *topic, ServerID: uint32(*serverID),
		Progress: stderr, ProgressEvery: *progress, Logger: newLogger(stderr, cfg.Log.Level, cfg.Log.Format),
	}
	if *progress == 0 {
		opts.Progress = nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sum, err := replay.Run(ctx, opts)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	return sum.Write(stdout)
}
