// Package mysql captures row changes from a MySQL or MariaDB binary log. It
// registers as a replica (go-mysql's BinlogSyncer), decodes row events with
// the column metadata the server logs under binlog_row_metadata=FULL, and
// hands canonical capture.Change values to a capture.Handler.
package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
)

// Source reads one server's binlog. It implements capture.Source.
//
// Stream may be called again after it returned (for example to resume from
// the last committed position after an error); calls must not overlap.
type Source struct {
	name   string
	cfg    Config
	log    *slog.Logger
	filter filter
	server string // "MariaDB" or "MySQL", for messages

	// active is the address of the server in use (failover.go); nil
	// until one was chosen: cfg.Addr.
	active atomic.Pointer[string]

	mu     sync.Mutex
	db     *sql.DB
	syncer *replication.BinlogSyncer
	closed bool

	stats     stats
	plainOnce sync.Once         // the "no TLS offered" warning (tls.go)
	progress  snapshot.Progress // of the running snapshot, for SnapshotProgress

	// On-demand snapshots (snapshot_request.go): tables requested and not
	// yet taken by the stream loop, the plain loop's wake-up, and the
	// snapshot loop's signal.
	reqMu     sync.Mutex
	requested []string
	wakePlain context.CancelFunc
	snapWake  chan struct{}
}

var _ capture.Source = (*Source)(nil)

// New builds a source from a validated configuration; it does not connect.
func New(name string, cfg Config, logger *slog.Logger) (*Source, error) {
	cfg.Defaults()
	if err := cfg.Validate("sources[" + name + "]"); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	server := "MariaDB"
	if cfg.Flavor == FlavorMySQL {
		server = "MySQL"
	}
	log := logger.With("component", "capture/mysql", "source", name)
	cfg.driverLog = newDriverLog(log)
	return &Source{
		name:   name,
		cfg:    cfg,
		log:    log,
		filter: filter{include: cfg.Include, exclude: cfg.Exclude},
		server: server,

		snapWake: make(chan struct{}, 1),
	}, nil
}

// Stats counts what the source has seen since it was built.
type Stats struct {
	Changes          uint64 // row changes handed to the handler
	Commits          uint64 // transaction boundaries handed to the handler
	SchemaChanges    uint64 // DDL statements handed to the handler
	UnparsedDDL      uint64 // DDL whose table could not be read from the statement (still emitted)
	StatementDML     uint64 // INSERT/UPDATE/DELETE logged as statements: their rows are NOT captured
	ExcludedRowsEvts uint64 // rows events of tables outside include/exclude, skipped undecoded
	XAUnseen         uint64 // XA COMMITs of transactions prepared before the stream started: rows not captured
	ChunkRereads     uint64 // MariaDB snapshot chunks read again: their snapshot was older than an emitted change
}

type stats struct {
	changes, commits, schema, unparsedDDL, statementDML, excluded, xaUnseen, chunkRereads atomic.Uint64
}

// Stats returns the counters; safe to call concurrently with Stream.
func (s *Source) Stats() Stats {
	return Stats{
		Changes:          s.stats.changes.Load(),
		Commits:          s.stats.commits.Load(),
		SchemaChanges:    s.stats.schema.Load(),
		UnparsedDDL:      s.stats.unparsedDDL.Load(),
		StatementDML:     s.stats.statementDML.Load(),
		ExcludedRowsEvts: s.stats.excluded.Load(),
		XAUnseen:         s.stats.xaUnseen.Load(),
		ChunkRereads:     s.stats.chunkRereads.Load(),
	}
}

// Close stops a running Stream and releases connections. Safe to call more
// than once and after Stream returned.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.syncer != nil {
		s.syncer.Close()
		s.syncer = nil
	}
	if s.db != nil {
		err := s.db.Close()
		s.db = nil
		return err
	}
	return nil
}

// sqlDB returns the source's SQL connection pool (preflight, positions,
// JSON column lookups), opening it on first use: to addr, or, with
// failover addresses, to the first server that answers (selectServer).
func (s *Source) sqlDB() (*sql.DB, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errors.New("source is closed")
	}
	if s.db != nil {
		defer s.mu.Unlock()
		return s.db, nil
	}
	s.mu.Unlock()
	if len(s.cfg.FailoverAddrs) > 0 {
		return s.selectServer(context.Background())
	}
	db, err := s.openPool(s.addr())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		db.Close()
		return nil, errors.New("source is closed")
	case s.db != nil: // opened meanwhile by another caller
		db.Close()
		return s.db, nil
	}
	s.db = db
	return db, nil
}

// openPool opens a connection pool to addr; it does not connect.
func (s *Source) openPool(addr string) (*sql.DB, error) {
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr = s.cfg.User, s.cfg.Password, "tcp", addr
	mc.Timeout, mc.ReadTimeout = 10*time.Second, s.cfg.ReadTimeout
	cfg := s.cfg
	cfg.Addr = addr
	if err := cfg.applyTLS(s.name, mc); err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	return db, nil
}

// eventReadAhead is how many binlog events go-mysql decodes ahead of the
// handler.
const eventReadAhead = 256

func (s *Source) newSyncer(heartbeat time.Duration, tlsCfg *tls.Config) (*replication.BinlogSyncer, error) {
	f := s.filter
	host, portStr, _ := net.SplitHostPort(s.addr())
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("sources[%s] address %q: port: %w", s.name, s.addr(), err)
	}
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:  s.cfg.ServerID,
		Flavor:    string(s.cfg.Flavor),
		TLSConfig: tlsCfg,
		Host:      host,
		Port:      uint16(port),
		User:      s.cfg.User,
		Password:  s.cfg.Password,
		// DECIMAL as shopspring decimal.Decimal: never a float on the way.
		UseDecimal: true,
		// Valid DATETIME/TIMESTAMP values as time.Time, formatted by
		// values.go without go-mysql's fmt.Sprintf (a fifth of its parser's
		// time); zero and out-of-range dates still arrive as strings.
		// TIMESTAMP is an instant, in UTC here and marked with Z later.
		ParseTime:               true,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         heartbeat,
		ReadTimeout:             s.cfg.ReadTimeout,
		// go-mysql reads ahead into a queue of decoded events (10240 by
		// default: ~180 MB of 8 KiB rows events and their rows while
		// pipeline backpressure holds the reader). A short queue keeps
		// memory flat through a transaction of any size; the pipeline's
		// in-flight bounds do the buffering.
		EventCacheCount: eventReadAhead,
		// go-mysql would reconnect at the next event, which can be inside a
		// transaction and after its table maps; Stream returns instead and the
		// caller resumes from the last committed position.
		DisableRetrySync: true,
		// XID/Query events would otherwise carry a cloned GTID set each; the
		// source keeps its own.
		DiscardGTIDSet: true,
		Logger:         slog.New(minLevel{s.log.Handler(), slog.LevelWarn}),
		// Rows of excluded tables are skipped before their values are decoded.
		RowsEventDecodeFunc: func(re *replication.RowsEvent, data []byte) error {
			pos, err := re.DecodeHeader(data)
			if err != nil {
				return err
			}
			if re.Table != nil && !f.match(string(re.Table.Schema), string(re.Table.Table)) {
				return nil
			}
			return re.DecodeData(pos, data)
		},
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		syncer.Close()
		return nil, errors.New("source is closed")
	}
	s.syncer = syncer
	return syncer, nil
}

func (s *Source) dropSyncer(syncer *replication.BinlogSyncer) {
	s.mu.Lock()
	if s.syncer == syncer {
		s.syncer = nil
	}
	s.mu.Unlock()
	syncer.Close()
}

// Stream implements capture.Source. It checks the server (see preflight.go),
// then reads from `from` (a Position string; empty: the server's current
// position). Every Change carries the position of the start of its
// transaction and every Commit the position right after it, so resuming from
// a Commit's position never starts inside a transaction.
//
// A dropped connection ends Stream with an error; the caller resumes from the
// last Commit position it made durable.
//
// A Resume with snapshot work (see snapshot.State) also runs that
// snapshot alongside the stream (streamWithSnapshot), up to
// snapshot.parallel tables at once; the Commits carry its progress until it
// is finished.
//
// A misconfigured server (ErrPreflight) or a position the server no longer
// has (ErrPositionGone) comes back as a *capture.PermanentError: restarting
// from the same checkpoint cannot fix either. With snapshot mode
// when_needed, a checkpoint whose binlog file is gone restarts at the
// server's current position with a fresh snapshot instead.
func (s *Source) Stream(ctx context.Context, from capture.Resume, h capture.Handler) error {
	err := s.stream(ctx, from, h)
	if errors.Is(err, ErrPreflight) || errors.Is(err, ErrPositionGone) || errors.Is(err, ErrPositionAhead) || errors.Is(err, ErrGTIDsMissing) {
		return &capture.PermanentError{Err: err}
	}
	return s.permanentIfRefused(err)
}

// CurrentPosition is the server's current binlog position, where a source
// without a checkpoint starts. With snapshot mode initial or when_needed it
// carries snapshot work naming every table to read, so that the pipeline
// durably records "snapshot pending" before anything is streamed.
func (s *Source) CurrentPosition(ctx context.Context) (capture.Resume, error) {
	p, err := s.currentPositionWithGTID(ctx)
	if err != nil {
		// The first call on a source without a checkpoint: a refused login
		// shows here before Stream's preflight.
		return capture.Resume{}, s.permanentIfRefused(err)
	}
	if s.cfg.Snapshot.Active() {
		if p.Snapshot, err = s.newSnapshot(ctx, p.String()); err != nil {
			return capture.Resume{}, err
		}
	}
	return p.Resume(), nil
}

// currentPositionWithGTID is the server's current position with its GTID set.
func (s *Source) currentPositionWithGTID(ctx context.Context) (Position, error) {
	db, err := s.sqlDB()
	if err != nil {
		return Position{}, err
	}
	p, err := s.currentPosition(ctx, db)
	if err != nil {
		return Position{}, err
	}
	if p.Server, err = s.serverIdentity(ctx, db); err != nil {
		return Position{}, err
	}
	if p.GTIDSet == "" {
		gset, err := s.startGTIDSet(ctx, db, p)
		if err != nil {
			return Position{}, err
		}
		if gset != nil {
			p.GTIDSet = gset.String()
		}
	}
	return p, nil
}

func (s *Source) stream(ctx context.Context, from capture.Resume, h capture.Handler) error {
	if len(s.cfg.FailoverAddrs) > 0 {
		s.dropPool() // choose the server again: the last one may be gone
	}
	db, err := s.sqlDB()
	if err != nil {
		return err
	}
	warnings, err := preflight(ctx, db, s.server, s.addr(), s.cfg.User)
	for _, w := range warnings {
		s.log.Warn(w)
	}
	if err != nil {
		return err
	}
	if err := s.checkKeys(ctx, db); err != nil {
		return err
	}
	ident, err := s.serverIdentity(ctx, db)
	if err != nil {
		return err
	}
	var start Position
	byGTID := false
	first := from.Position == ""
	if first {
		if start, err = s.currentPosition(ctx, db); err != nil {
			return err
		}
	} else if start, err = ParseResume(from); err != nil {
		return err
	} else if byGTID, err = s.resumeByGTID(ctx, db, start, ident); err != nil {
		if !errors.Is(err, ErrGTIDsMissing) || s.cfg.Snapshot.Mode != SnapshotWhenNeeded {
			return err
		}
		// when_needed: a fresh snapshot from here replaces the stream.
		if start, err = s.resnapshotAtCurrent(ctx, start, err.Error()); err != nil {
			return err
		}
		byGTID = false
	} else if !byGTID {
		if err := s.checkNotAhead(ctx, db, start); err != nil {
			return err
		}
	}
	snap := start.Snapshot
	start.Snapshot = nil
	if first && s.cfg.Snapshot.Active() {
		if snap, err = s.newSnapshot(ctx, start.String()); err != nil {
			return err
		}
	} else if !first && !byGTID && s.cfg.Snapshot.Mode == SnapshotWhenNeeded {
		if start, snap, err = s.resnapshotIfGone(ctx, db, start, snap); err != nil {
			return err
		}
	}
	gset, err := s.startGTIDSet(ctx, db, start)
	if err != nil {
		return err
	}

	// The server sends a heartbeat only after a whole period without
	// events, so the last transaction before a silence (whose binlog
	// timestamp is in whole seconds, up to 1 s early) would age a full
	// period before the heartbeat commit refreshes the lag: up to
	// heartbeat + 1 s. Asking for half the period keeps an idle source's
	// lag within heartbeat/2 + 1 s (+ the checkpoint interval), under 2×
	// heartbeat for any heartbeat above about 1.1 s.
	heartbeat := s.cfg.Heartbeat / 2
	if snap != nil {
		// The stream loop notices a chunk's high watermark as soon as the
		// server's heartbeat position passes it, also when nothing is written.
		heartbeat = min(heartbeat, time.Second)
	}
	tlsCfg, err := s.binlogTLS(ctx, db)
	if err != nil {
		return err
	}
	if byGTID && s.cfg.Flavor == FlavorMariaDB {
		at, err := s.locateGTID(ctx, heartbeat, tlsCfg, start.GTIDSet)
		if err != nil {
			return err
		}
		start, byGTID = Position{File: at.File, Pos: at.Pos, GTIDSet: start.GTIDSet}, false
	} else if byGTID {
		// Offsets are the new server's, learnt from its first events.
		start = Position{GTIDSet: start.GTIDSet}
	}
	start.Server = ident
	syncer, err := s.newSyncer(heartbeat, tlsCfg)
	if err != nil {
		return err
	}
	defer s.dropSyncer(syncer)
	var streamer *replication.BinlogStreamer
	if byGTID {
		dump, err := s.dumpGTIDSet(start.GTIDSet)
		if err != nil {
			return &capture.PermanentError{Err: err}
		}
		if streamer, err = syncer.StartSyncGTID(dump); err != nil {
			return s.readError(start, err)
		}
		s.log.Info("streaming binlog by GTID", "after", dump.String(), "server", ident.String(), "addr", s.addr())
	} else {
		if streamer, err = syncer.StartSync(gmysql.Position{Name: start.File, Pos: start.Pos}); err != nil {
			return s.readError(start, err)
		}
		s.log.Info("streaming binlog", "from", start.String(), "addr", s.addr())
	}

	st := newStreamState(s, db, h, start, gset)
	if snap != nil {
		s.log.Info("snapshot running alongside the stream", "snapshot_id", snap.ID, "resuming", len(snap.Active),
			"tables_pending", len(snap.Pending), "parallel", s.cfg.Snapshot.Parallel)
		err := s.streamWithSnapshot(ctx, streamer, st, snap)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	// The plain loop; an on-demand snapshot request (RequestSnapshot)
	// cancels loopCtx, which only interrupts the wait for the next event
	// (none is lost), and the stream continues in snapshot mode.
	loopCtx, wake := context.WithCancel(ctx)
	defer wake()
	s.setWake(wake)
	defer s.setWake(nil)
	for {
		ev, err := streamer.GetEvent(loopCtx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if loopCtx.Err() != nil {
				break // a snapshot was requested
			}
			return s.readError(st.readPos(), err)
		}
		if err := st.handle(ctx, ev); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	s.setWake(nil)
	s.log.Info("on-demand snapshot requested; the stream continues in snapshot mode", "at", st.readPos().String())
	err = s.streamWithSnapshot(ctx, streamer, st, nil)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// resnapshotIfGone handles snapshot mode when_needed: when the checkpoint's
// binlog file is gone, streaming restarts at the server's current position
// with a fresh snapshot of every table (replacing pending, the snapshot
// the checkpoint carried), instead of failing.
func (s *Source) resnapshotIfGone(ctx context.Context, db *sql.DB, start Position, pending *snapshot.State) (Position, *snapshot.State, error) {
	listed, err := binlogListed(ctx, db, start.File)
	if err != nil || listed {
		return start, pending, err
	}
	cur, err := s.resnapshotAtCurrent(ctx, start, "the checkpoint's binlog file is no longer on the server")
	if err != nil {
		return start, pending, err
	}
	snap := cur.Snapshot
	cur.Snapshot = nil
	return cur, snap, nil
}

// minLevel drops go-mysql's chatty records below a level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.level && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.level}
}

func (m minLevel) WithGroup(g string) slog.Handler { return minLevel{m.Handler.WithGroup(g), m.level} }

// isClosed reports whether Close was called.
func (s *Source) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
