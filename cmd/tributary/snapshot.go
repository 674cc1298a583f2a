package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/checkpoints"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/pipeline"
)

const snapshotUsage = `  snapshot -c config.yaml --source S --table db.table [--table ...] [--addr host:port]
                                     re-send tables while streaming continues:
                                     asks the running daemon (admin.addr), or,
                                     when none answers, queues them in the
                                     source's checkpoint for the next run
`

// snapshotTimeout bounds the request: the daemon checks the tables on the
// source server before it answers.
const snapshotTimeout = 30 * time.Second

// errNoDaemon means nothing listens at the admin address.
var errNoDaemon = errors.New("no daemon answering")

// tableFlags collects repeated --table flags (commas also separate).
type tableFlags []string

func (t *tableFlags) String() string { return strings.Join(*t, ",") }

func (t *tableFlags) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*t = append(*t, s)
		}
	}
	return nil
}

// cmdSnapshot queues an on-demand snapshot of tables of one source.
func cmdSnapshot(args []string, stdout io.Writer) error {
	fs, path := newFlags("snapshot")
	source := fs.String("source", "", "source name")
	addr := fs.String("addr", "", "admin address host:port of the running daemon (default: admin.addr from the config)")
	var tables tableFlags
	fs.Var(&tables, "table", "db.table to snapshot (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("%w: snapshot needs --table db.table", errUsage)
	}
	for _, t := range tables {
		if _, err := capture.ParseTableID(t); err != nil {
			return fmt.Errorf("%w: snapshot: --table %q: want db.table", errUsage, t)
		}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if err := requireSource(fs, cfg, *source); err != nil {
		return err
	}
	if *addr == "" {
		*addr = cfg.Admin.Addr
	}
	client, err := newAdminClient(cfg.Admin, *addr)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), snapshotTimeout)
	defer cancel()

	acc, err := client.requestSnapshot(ctx, *source, tables)
	if err == nil {
		fmt.Fprintf(stdout, "snapshot of %s queued on source %s by the daemon at %s; streaming continues.\n",
			strings.Join(acc.Tables, ", "), acc.Source, *addr)
		printFollow(stdout, *path, client)
		return nil
	}
	if !errors.Is(err, errNoDaemon) {
		return err
	}
	fmt.Fprintf(stdout, "%v; queuing the snapshot in the checkpoint store instead\n", err)
	return queueSnapshotOffline(ctx, cfg, *source, tables, stdout)
}

func printFollow(w io.Writer, path string, c *adminClient) {
	fmt.Fprintf(w, "Follow it with `tributary status -c %s --addr %s` (the checkpoint lists the snapshot work until it is done;\n", path, c.addr)
	fmt.Fprintf(w, "%s/status lists rows done per table, as do the tributary_snapshot_rows_* metrics) and in the daemon log (msg=\"snapshot progress\", msg=\"snapshot finished\").\n", c.base)
}

// requestSnapshot POSTs the request to the daemon's admin server.
func (c *adminClient) requestSnapshot(ctx context.Context, source string, tables []string) (admin.SnapshotAccepted, error) {
	var acc admin.SnapshotAccepted
	addr := c.addr
	q := url.Values{"source": {source}, "table": tables}
	path := "/snapshot?" + q.Encode()
	u := c.base + path
	resp, err := c.do(ctx, http.MethodPost, path)
	if p := tlsProblem(addr, err); p != nil {
		return acc, p
	}
	if err != nil {
		if noListener(err) {
			return acc, fmt.Errorf("%w at %s (%v)", errNoDaemon, addr, netCause(err))
		}
		return acc, fmt.Errorf("ask the daemon at %s: %w", addr, netCause(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := c.refusal(resp, body); err != nil {
		return acc, err
	}
	if resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(body, &acc); err != nil {
			return acc, fmt.Errorf("%s: not a tributary answer: %w", u, err)
		}
		return acc, nil
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return acc, fmt.Errorf("the daemon at %s refused the snapshot (%s): %s", addr, resp.Status, e.Error)
	}
	return acc, fmt.Errorf("%s answered %s: is it a tributary admin address of a version with snapshots? (admin.addr, --addr)", u, resp.Status)
}

// noListener reports whether err means nothing listens at the address (as
// opposed to a daemon that did not answer in time).
func noListener(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return false
}

// queueSnapshotOffline adds tables to the snapshot part of the source's
// committed checkpoint, recorded as a rewind so that `checkpoints show`
// lists it; the next run reads them while it streams.
func queueSnapshotOffline(ctx context.Context, cfg *config.Config, source string, tables []string, stdout io.Writer) error {
	sc := sourceConfig(cfg, source)
	if err := checkSnapshotTables(ctx, sc, tables); err != nil {
		if capture.IsSnapshotRequestError(err) {
			return err
		}
		fmt.Fprintf(stdout, "warning: could not check the tables on the server of source %s (%v); queued anyway, the next run checks them\n", sc.Name, err)
	}

	store, err := badgerstore.Open(cfg.Checkpoints.Dir, badgerstore.WithHistoryLimit(cfg.Checkpoints.History))
	if err != nil {
		if errors.Is(err, badgerstore.ErrInUse) {
			return fmt.Errorf("%w: a daemon holds the checkpoint store but does not answer at the admin address; pass its address with --addr (it logs admin=… at start)", err)
		}
		return err
	}
	defer store.Close()
	cp, err := store.Load(ctx, source)
	if errors.Is(err, checkpoints.ErrNotFound) {
		return fmt.Errorf("source %s has no checkpoint yet: start the daemon first (its first run starts at the server's current position; snapshot.mode initial reads every table then), then request the snapshot from it", source)
	}
	if err != nil {
		return err
	}
	next, added, err := addSnapshotTables(sc.Kind, cp, tables, time.Now())
	if err != nil {
		return err
	}
	if len(added) == 0 {
		fmt.Fprintf(stdout, "source %s: %s already queued in its checkpoint; nothing changed\n", source, strings.Join(tables, ", "))
		return nil
	}
	cp.Snapshot = next
	cp.SavedAt = time.Now()
	if err := store.Rewind(ctx, source, cp); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "source %s: snapshot of %s queued in its checkpoint at %s;\nthe next `tributary run` re-sends them while it streams, resuming at the last finished chunk after a crash.\n",
		source, strings.Join(added, ", "), cp.Position)
	fmt.Fprintf(stdout, "Follow it with `tributary status` (the checkpoint lists the snapshot work until it is done), `tributary checkpoints show --source %s`, and the daemon log (msg=\"snapshot progress\").\n", source)
	return nil
}

// addSnapshotTables returns the snapshot work of cp with tables added (a
// new snapshot, named after the checkpoint's position and now, when none
// is pending) and the tables actually added.
func addSnapshotTables(kind capture.Kind, cp checkpoints.Checkpoint, tables []string, now time.Time) (string, []string, error) {
	reg, ok := capture.Lookup(kind)
	if !ok {
		return "", nil, fmt.Errorf("checkpoint: unknown source kind %q", kind)
	}
	pos, err := reg.ParsePosition(cp.Position)
	if err != nil {
		return "", nil, fmt.Errorf("checkpoint: %w", err)
	}
	var st *snapshot.State
	if cp.Snapshot != "" {
		if st, err = snapshot.Decode(cp.Snapshot); err != nil {
			return "", nil, fmt.Errorf("checkpoint at %s: snapshot work: %w", cp.Position, err)
		}
	}
	st, added := snapshot.AddTables(st, snapshot.NewID(pos.String(), now), tables)
	if st == nil {
		return "", added, nil
	}
	return st.Encode(), added, nil
}

// snapshotChecker is a source that can check a snapshot request without
// running it.
type snapshotChecker interface {
	CheckSnapshotTables(ctx context.Context, tables []string) error
}

// checkSnapshotTables asks the source's server whether it can snapshot
// tables, as the daemon would.
func checkSnapshotTables(ctx context.Context, sc config.Source, tables []string) error {
	password, err := sc.Password()
	if err != nil {
		return err
	}
	reg, ok := sc.Registration()
	if !ok {
		return fmt.Errorf("sources[%s]: unknown kind %q", sc.Name, sc.Kind)
	}
	src, err := reg.NewSource(sc.Name, sc.Settings, password, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer src.Close()
	checker, ok := src.(snapshotChecker)
	if !ok {
		return fmt.Errorf("%s sources cannot check snapshot requests", reg.Title)
	}
	return checker.CheckSnapshotTables(ctx, tables)
}

func sourceConfig(cfg *config.Config, name string) config.Source {
	for _, s := range cfg.Sources {
		if s.Name == name {
			return s
		}
	}
	return config.Source{}
}

// snapshotRequests is the admin server's POST /snapshot: it forwards to
// the named source's pipeline and maps its errors to answers.
func snapshotRequests(names []string, pipes []*pipeline.Pipeline) admin.SnapshotFunc {
	return func(source string, tables []string) error {
		for i, n := range names {
			if n != source {
				continue
			}
			err := pipes[i].RequestSnapshot(tables)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, pipeline.ErrNotRunning):
				return tagged{admin.ErrUnavailable, err}
			case errors.Is(err, pipeline.ErrUnsupported), capture.IsSnapshotRequestError(err):
				return tagged{admin.ErrInvalid, err}
			}
			return err
		}
		return fmt.Errorf("%w %q (see sources in the config)", admin.ErrUnknownSource, source)
	}
}

// tagged is err, also matching tag in errors.Is, with err's text only.
type tagged struct{ tag, err error }

func (t tagged) Error() string   { return t.err.Error() }
func (t tagged) Unwrap() []error { return []error{t.tag, t.err} }

func sourceNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Sources))
	for i, s := range cfg.Sources {
		names[i] = s.Name
	}
	return names
}
