package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// A source may list several servers of one replication topology: addr
// and failover_addrs. Each Stream (every restart after an error) connects
// to the first that answers, starting with the one that answered last, so
// a healthy promoted server is kept even when the old primary comes back.
// The server's identity is compared with the checkpoint's: on the same
// server the stream resumes at the checkpoint's file and offset, on
// another by the checkpoint's GTID set, after checking that the server has
// every transaction of it (gtid.go).

// ErrGTIDsMissing means the server lacks transactions the checkpoint has
// read from another server: a replica promoted while it was behind. Its
// tables are not what the emitted changes say, and streaming on would
// silently skip those transactions, so the source stops (or re-snapshots
// under snapshot mode when_needed).
var ErrGTIDsMissing = errors.New("the server lacks GTIDs the checkpoint has")

// connectTimeout bounds each address's first connection while choosing a
// server, so a silent dead host cannot hold up the next address for long.
const connectTimeout = 5 * time.Second

// addrs is every configured address: addr first, then failover_addrs.
func (c Config) addrs() []string { return append([]string{c.Addr}, c.FailoverAddrs...) }

// addr is the address of the server the source uses now.
func (s *Source) addr() string {
	if a := s.active.Load(); a != nil {
		return *a
	}
	return s.cfg.Addr
}

// candidates orders the addresses to try: the one used last, then the
// configured order.
func (s *Source) candidates() []string {
	all := s.cfg.addrs()
	if a := s.active.Load(); a != nil {
		if i := slices.Index(all, *a); i > 0 {
			all = append([]string{*a}, slices.Delete(all, i, i+1)...)
		}
	}
	return all
}

// selectServer connects to the first candidate that answers and makes it
// the source's server. Every address failing is a retryable error naming
// each (a refused login stays recognisable to permanentIfRefused).
func (s *Source) selectServer(ctx context.Context) (*sql.DB, error) {
	var errs []error
	for _, a := range s.candidates() {
		db, err := s.openPool(a)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, connectTimeout)
		err = db.PingContext(pctx)
		cancel()
		if err == nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch {
			case s.closed:
				db.Close()
				return nil, errors.New("source is closed")
			case s.db != nil: // chosen meanwhile by another caller (the lag probe)
				db.Close()
				return s.db, nil
			}
			if prev := s.addr(); prev != a {
				s.log.Warn("connected to another server of the source", "addr", a, "previous_addr", prev)
			}
			s.active.Store(&a)
			s.db = db
			return db, nil
		}
		db.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.Warn("server of the source does not answer; trying the next", "addr", a, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", a, err))
	}
	return nil, fmt.Errorf("no server of sources[%s].addr and failover_addrs answers: %w", s.name, errors.Join(errs...))
}

// dropPool closes the SQL pool, so that the next use chooses a server
// again (a source with failover addresses, at the start of each Stream).
func (s *Source) dropPool() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db != nil {
		s.db.Close()
		s.db = nil
	}
}

// resumeByGTID decides whether start is resumed by GTID on the server db
// is connected to (identity cur) rather than by file and offset: when the
// checkpoint was written by another server, names no file, or predates
// server identities and the server is a failover address. A GTID resume
// needs the checkpoint's GTID set and every transaction of it on the
// server.
func (s *Source) resumeByGTID(ctx context.Context, db *sql.DB, start Position, cur ServerIdentity) (bool, error) {
	switch {
	case start.GTIDOnly():
	case start.Server.Known() && !start.Server.Same(cur):
		s.log.Warn("the server is not the one that wrote the checkpoint (failover, or another server behind the address): resuming by GTID",
			"checkpoint", start.String(), "checkpoint_server", start.Server.String(), "server", cur.String(), "addr", s.addr())
	case !start.Server.Known() && s.addr() != s.cfg.Addr:
		s.log.Warn("the checkpoint does not say which server wrote it and the source uses a failover address: resuming by GTID",
			"checkpoint", start.String(), "server", cur.String(), "addr", s.addr())
	default:
		return false, nil
	}
	if start.Server.Domain != "" && cur.Domain != "" && start.Server.Domain != cur.Domain {
		s.log.Info("the server writes in another GTID domain than the checkpoint's server", "checkpoint_domain", start.Server.Domain, "gtid_domain_id", cur.Domain)
	}
	if start.GTIDSet == "" {
		hint := "MariaDB always logs GTIDs"
		if s.cfg.Flavor == FlavorMySQL {
			hint = "on MySQL set gtid_mode=ON and enforce_gtid_consistency=ON"
		}
		return false, &capture.PermanentError{Err: fmt.Errorf("resume %s on %s at %s (%s): the checkpoint has no GTID set, and a file offset means nothing on another server (%s); rewind the checkpoint to a position of this server or re-snapshot",
			start, s.server, s.addr(), cur, hint)}
	}
	missing, err := s.missingGTIDs(ctx, db, start.GTIDSet)
	if err != nil {
		return false, err
	}
	if missing != "" {
		return true, fmt.Errorf("%w: %s at %s (%s) has not executed %s, which the checkpoint %s read from %s; the promoted server was behind (replication lag or a skipped transaction), and those changes were emitted but are not in its tables — re-snapshot (snapshot.mode when_needed does it by itself), or point the source at a server that has them",
			ErrGTIDsMissing, s.server, s.addr(), cur, missing, start, start.Server)
	}
	return true, nil
}

// resnapshotAtCurrent restarts a when_needed source at the server's
// current position with a fresh snapshot of every table, because the
// checkpoint cannot be resumed here (why).
func (s *Source) resnapshotAtCurrent(ctx context.Context, start Position, why string) (Position, error) {
	cur, err := s.currentPositionWithGTID(ctx)
	if err != nil {
		return start, err
	}
	if cur.Snapshot, err = s.newSnapshot(ctx, cur.String()); err != nil {
		return start, err
	}
	s.log.Warn(why+"; snapshot mode when_needed: streaming from the server's current position and re-reading every table. Changes between the checkpoint and now are not emitted as changes: the snapshot replaces them (rows deleted, or only on the old server, in between are not seen)",
		"checkpoint", start.String(), "restart_at", cur.eventString())
	return cur, nil
}
