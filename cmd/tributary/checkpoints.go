package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/checkpoints"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
	"github.com/tributary-cdc/tributary/internal/config"
)

func cmdCheckpoints(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: checkpoints needs list, show or rewind", errUsage)
	}
	fs, path := newFlags("checkpoints " + args[0])
	source := fs.String("source", "", "source name")
	to := fs.String("to", "", "position or RFC 3339 time to rewind to")
	asJSON := fs.Bool("json", false, "show: one JSON checkpoint per line (position, snapshot work encoded, times)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	store, err := badgerstore.Open(cfg.Checkpoints.Dir, badgerstore.WithHistoryLimit(cfg.Checkpoints.History))
	if err != nil {
		if errors.Is(err, badgerstore.ErrInUse) {
			return fmt.Errorf("%w (stop the running daemon before changing checkpoints)", err)
		}
		return err
	}
	defer store.Close()
	ctx := context.Background()

	switch args[0] {
	case "list":
		return listCheckpoints(ctx, store, stdout)
	case "show":
		if err := requireSource(fs, cfg, *source); err != nil {
			return err
		}
		if *asJSON {
			return showCheckpointsJSON(ctx, store, *source, stdout)
		}
		return showCheckpoints(ctx, store, *source, stdout)
	case "rewind":
		if err := requireSource(fs, cfg, *source); err != nil {
			return err
		}
		if *to == "" {
			return fmt.Errorf("%w: checkpoints rewind needs --to <position|time>", errUsage)
		}
		cp, err := rewindTarget(ctx, store, sourceKind(cfg, *source), *source, *to)
		if err != nil {
			return err
		}
		cp.SavedAt = time.Now()
		if err := store.Rewind(ctx, *source, cp); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "source %s rewound to %s; the next run re-emits every change after it\n", *source, cp.Position)
		return nil
	default:
		return fmt.Errorf("%w: unknown checkpoints command %q", errUsage, args[0])
	}
}

func requireSource(fs *flag.FlagSet, cfg *config.Config, name string) error {
	if name == "" {
		return fmt.Errorf("%w: %s needs --source", errUsage, fs.Name())
	}
	for _, s := range cfg.Sources {
		if s.Name == name {
			return nil
		}
	}
	return fmt.Errorf("source %q is not in the config", name)
}

// rewindTarget resolves --to: an RFC 3339 time picks the newest recorded
// checkpoint whose transactions committed at or before it; anything else is
// taken as a source position.
func rewindTarget(ctx context.Context, store *badgerstore.Store, kind capture.Kind, source, to string) (checkpoints.Checkpoint, error) {
	if t, err := time.Parse(time.RFC3339, to); err == nil {
		hist, err := store.History(ctx, source)
		if err != nil {
			return checkpoints.Checkpoint{}, err
		}
		for _, cp := range hist { // newest first
			if !cp.CommitTime.IsZero() && !cp.CommitTime.After(t) {
				return cp, nil
			}
		}
		return checkpoints.Checkpoint{}, fmt.Errorf("no recorded checkpoint of %s committed at or before %s (see `checkpoints show`); rewind to a position instead", source, t.Format(time.RFC3339))
	}
	reg, ok := capture.Lookup(kind)
	if !ok {
		return checkpoints.Checkpoint{}, fmt.Errorf("source %s is of unknown kind %q", source, kind)
	}
	// Whether the server still has the changes after the position is for
	// the next run to check: it stops saying so when they are gone.
	pos, err := reg.ParsePosition(to)
	if err != nil {
		return checkpoints.Checkpoint{}, fmt.Errorf("--to %q is neither an RFC 3339 time nor %s: %w", to, reg.PositionHelp, err)
	}
	// A position copied from an earlier version's checkpoint may carry its
	// snapshot work; it is kept, apart, as checkpoints now hold it.
	_, work, _ := strings.Cut(to, snapshot.LegacySeparator)
	return checkpoints.Checkpoint{Position: pos.String(), Snapshot: work}, nil
}

func sourceKind(cfg *config.Config, name string) capture.Kind {
	for _, s := range cfg.Sources {
		if s.Name == name {
			return s.Kind
		}
	}
	return ""
}

func listCheckpoints(ctx context.Context, store *badgerstore.Store, w io.Writer) error {
	sources, err := store.Sources(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tPOSITION\tCOMMITTED AT SOURCE\tSAVED\tSNAPSHOT PENDING")
	for _, s := range sources {
		cp, err := store.Load(ctx, s)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s, cp.Position, formatTime(cp.CommitTime), formatTime(cp.SavedAt), describeSnapshot(cp.Snapshot))
	}
	return tw.Flush()
}

func showCheckpoints(ctx context.Context, store *badgerstore.Store, source string, w io.Writer) error {
	hist, err := store.History(ctx, source)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tCOMMITTED AT SOURCE\tSAVED\tSNAPSHOT PENDING")
	for _, cp := range hist {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cp.Position, formatTime(cp.CommitTime), formatTime(cp.SavedAt), describeSnapshot(cp.Snapshot))
	}
	return tw.Flush()
}

// showCheckpointsJSON writes the source's history, newest first, as JSON
// lines, the snapshot work encoded as the checkpoint holds it.
func showCheckpointsJSON(ctx context.Context, store *badgerstore.Store, source string, w io.Writer) error {
	hist, err := store.History(ctx, source)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, cp := range hist {
		if err := enc.Encode(cp); err != nil {
			return err
		}
	}
	return nil
}

// describeSnapshot says which tables a checkpoint's snapshot work still
// reads ("-": none).
func describeSnapshot(enc string) string {
	if enc == "" {
		return "-"
	}
	st, err := snapshot.Decode(enc)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return st.String()
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
