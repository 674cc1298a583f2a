// Package postgres captures row changes from PostgreSQL's write-ahead log
// through a logical replication slot and the built-in pgoutput plugin
// (protocol version 1, no streaming of in-progress transactions), and hands
// canonical capture.Change values to a capture.Handler.
//
// Positions are LSNs in PostgreSQL's notation ("0/16B3748"). The server
// keeps WAL for the slot until it is confirmed: Source confirms only what
// the caller passed to Confirm, after the events before it are durable.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// Source reads one database's changes through one replication slot. It
// implements capture.Source and capture.Positioner.
//
// Stream may be called again after it returned (to resume from the last
// committed position after an error); calls must not overlap. Confirm and
// SlotStatus may be called from any goroutine at any time.
type Source struct {
	name   string
	cfg    Config
	log    *slog.Logger
	filter filter

	// confirmed is the highest LSN passed to Confirm. It is the only
	// position ever reported to the server as written, flushed and applied.
	confirmed atomic.Uint64

	// active is the address of the server in use (failover.go); nil
	// until one was chosen: cfg.Addr. version is its
	// server_version_num, read by checkServer.
	active  atomic.Pointer[string]
	version atomic.Int64
	// readsPrimary: a table reader's connection goes to the first
	// candidate not in recovery (openDB).
	readsPrimary bool

	dbMu   ctxMutex
	db     *pgx.Conn // catalog queries and heartbeats
	mu     sync.Mutex
	cancel context.CancelFunc // of the running Stream
	closed bool

	// Snapshots (snapshot.go): the running Stream's machinery, and tables
	// requested while none runs.
	progress  snapshot.Progress
	reqMu     sync.Mutex
	run       *snapRun
	requested []string

	// toast fills unchanged TOASTed columns (toast.go); nil: left absent.
	toast         ToastCache
	toastUnfilled func(int)
}

var (
	_ capture.Source     = (*Source)(nil)
	_ capture.Positioner = (*Source)(nil)
)

// New builds a source from a configuration (defaults are applied, then it
// is validated); it does not connect.
func New(name string, cfg Config, logger *slog.Logger) (*Source, error) {
	cfg.Defaults(name)
	if err := cfg.Validate("sources[" + name + "]"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Source{
		name:   name,
		cfg:    cfg,
		log:    logger.With("component", "capture/postgres", "source", name),
		filter: filter{include: cfg.Include, exclude: cfg.Exclude},
	}, nil
}

// Confirm tells the source that everything up to position (a Commit
// position this source emitted, or a checkpoint it resumed from) is durable
// downstream. From then on the server is told it may discard WAL before
// position: the slot's confirmed_flush_lsn moves there with the next status
// update. The caller must call it only after the checkpoint holding position
// is committed; a later restart can then never need WAL before it.
//
// Confirm is safe to call from any goroutine, before, during or after
// Stream. Positions lower than an earlier one are ignored; an unparsable
// position is logged and ignored.
func (s *Source) Confirm(position string) {
	lsn, _, err := ParsePosition(position)
	if err != nil {
		s.log.Warn("confirm: not a position, ignored", "position", position, "err", err)
		return
	}
	for {
		cur := s.confirmed.Load()
		if uint64(lsn) <= cur || s.confirmed.CompareAndSwap(cur, uint64(lsn)) {
			return
		}
	}
}

// Close stops a running Stream and releases connections. Safe to call more
// than once and after Stream returned.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closed = true
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.dbMu.Lock(context.Background()) //nolint:errcheck // never ends
	defer s.dbMu.Unlock()
	if s.db != nil {
		err := s.db.Close(context.Background())
		s.db = nil
		return err
	}
	return nil
}

// connString is a libpq keyword/value string for the configured server.
// The session settings make the text output of values canonical (see kind).
func (s *Source) connString(replication bool) string { return s.connStringFor(s.addr(), replication) }

// connStringFor is connString for the server at addr.
func (s *Source) connStringFor(addr string, replication bool) string {
	host, port, _ := net.SplitHostPort(addr)
	q := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	kv := []string{
		"host=" + q(host), "port=" + q(port), "user=" + q(s.cfg.User), "password=" + q(s.cfg.Password),
		"dbname=" + q(s.cfg.Database),
		"application_name=" + q("tributary_"+identifier(s.name)),
		"TimeZone=UTC", "DateStyle=ISO", "IntervalStyle=iso_8601", "extra_float_digits=3", "bytea_output=hex",
		"connect_timeout=10",
	}
	kv = append(kv, s.cfg.tlsParams()...)
	if replication {
		kv = append(kv, "replication=database")
	}
	return strings.Join(kv, " ")
}

// replicationConn opens a walsender connection to the configured database.
func (s *Source) replicationConn(ctx context.Context) (*pgconn.PgConn, error) {
	cfg, err := s.pgconnConfig(true)
	if err != nil {
		return nil, err
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open replication connection to %s/%s: %w", s.addr(), s.cfg.Database, err)
	}
	return conn, nil
}

// withDB runs f on the source's SQL connection, opening it on first use and
// reopening it after a failure.
func (s *Source) withDB(ctx context.Context, f func(*pgx.Conn) error) error {
	if err := s.dbMu.Lock(ctx); err != nil {
		return fmt.Errorf("wait for the SQL connection to %s: %w", s.addr(), err)
	}
	defer s.dbMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return errors.New("source is closed")
	}
	if s.db == nil || s.db.IsClosed() {
		db, err := s.openDB(ctx)
		if err != nil {
			return fmt.Errorf("connect to %s/%s: %w", s.addr(), s.cfg.Database, err)
		}
		s.db = db
	}
	return f(s.db)
}

// CurrentPosition returns the slot's confirmed_flush_lsn, creating the slot
// first when it is absent and create_slot is on (a new slot's position is
// its consistent point: changes committed after it are streamed).
//
// It is the first call a source without a checkpoint makes: a refused
// login or privilege, a misconfiguration and a gone slot come back as
// *capture.PermanentError here already.
func (s *Source) CurrentPosition(ctx context.Context) (capture.Resume, error) {
	pos, err := s.currentPosition(ctx)
	return pos, s.permanentIfRefused(permanentIfPreflight(err))
}

func (s *Source) currentPosition(ctx context.Context) (capture.Resume, error) {
	if err := s.checkServer(ctx); err != nil {
		return capture.Resume{}, err
	}
	slot, err := s.ensureSlot(ctx, "")
	if err != nil {
		return capture.Resume{}, err
	}
	r := capture.Resume{Position: slot.confirmed.String()}
	if s.cfg.Snapshot.Active() {
		snap, err := s.newSnapshot(ctx, slot.confirmed.String())
		if err != nil {
			return capture.Resume{}, err
		}
		if snap != nil {
			r.Snapshot = snap.Encode()
		}
	}
	return r, nil
}

func permanentIfPreflight(err error) error {
	if errors.Is(err, ErrPreflight) || errors.Is(err, ErrSlotGone) {
		return &capture.PermanentError{Err: err}
	}
	return err
}

// refusedCodes are the SQLSTATEs of a login or privilege the server
// refused: invalid password, invalid authorization (no pg_hba.conf entry,
// unknown role), insufficient privilege (e.g. a role without REPLICATION
// opening a walsender, or without SELECT on a snapshotted table). The same
// credentials fail the same way after any restart, so retrying from the
// checkpoint would only loop.
var refusedCodes = map[string]bool{"28P01": true, "28000": true, "42501": true}

// refused reports whether err is such a refusal.
func refused(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && refusedCodes[pe.Code]
}

// permanentIfRefused turns a refusal into a *capture.PermanentError naming
// the settings to fix.
func (s *Source) permanentIfRefused(err error) error {
	if err != nil && refused(err) {
		var pe *capture.PermanentError
		if errors.As(err, &pe) {
			return err
		}
		hint := ""
		var pg *pgconn.PgError
		switch {
		case s.cfg.sslMode() == string(tlsconf.Disable):
			hint = fmt.Sprintf("; sources[%s].tls.mode is disable, and pg_hba.conf may accept the role only over TLS (hostssl)", s.name)
		case errors.As(err, &pg) && strings.Contains(pg.Message, "certificate"):
			hint = fmt.Sprintf("; the server wants a client certificate its CA signed, whose CN is the user: sources[%s].tls.cert_file and key_file", s.name)
		}
		return &capture.PermanentError{Err: fmt.Errorf("%w (check sources[%s].user and its password_env or password_file, and the role's REPLICATION/SELECT grants%s)", err, s.name, hint)}
	}
	return s.permanentIfTLS(err)
}

// isClosed reports whether Close was called.
func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
