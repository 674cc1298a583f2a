package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	driver "github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// ErrPositionGone means the server no longer has the binlog the position
// points into (purged, or from another server). Resuming cannot succeed: the
// changes in between are lost to the binlog and the tables must be
// re-snapshotted, or the checkpoint rewound to a file the server still has.
var ErrPositionGone = errors.New("binlog position no longer on the server")

// errMasterFatalReadingBinlog is ER_MASTER_FATAL_ERROR_READING_BINLOG, which
// the server sends on the dump connection for a missing or purged file.
const errMasterFatalReadingBinlog = 1236

// ErrPositionAhead means the resume position lies past the server's
// current binlog position: the checkpoint comes from another server or
// from before this one was restored from a backup. Streaming would skip
// whatever the server writes below that position, so the source stops.
var ErrPositionAhead = errors.New("position ahead of the server")

// checkNotAhead refuses a resume position past the end of the server's
// current binlog file. (A file the server does not list, later or not,
// is ErrPositionGone: the server answers that it cannot find it.)
func (s *Source) checkNotAhead(ctx context.Context, db *sql.DB, from Position) error {
	cur, err := s.currentPosition(ctx, db)
	if err != nil {
		return err
	}
	if from.File != cur.File || from.Pos <= cur.Pos {
		return nil
	}
	return fmt.Errorf("%w: resume position %s is past %s's current binlog position %s (%s): the checkpoint is from another server, or this one was restored from a backup or had its binlogs reset; streaming would skip what it writes below that position — rewind the checkpoint (checkpoints rewind) or re-snapshot",
		ErrPositionAhead, from.File+":"+fmt.Sprint(from.Pos), s.server, cur.File+":"+fmt.Sprint(cur.Pos), s.addr())
}

// readError wraps a binlog read error with where it happened, turning a
// missing file into ErrPositionGone.
func (s *Source) readError(at Position, err error) error {
	var me *gmysql.MyError
	if errors.As(err, &me) && me.Code == errMasterFatalReadingBinlog && strings.Contains(me.Message, "not in the master's binlog") {
		// MariaDB's own check of a GTID dump's start (gtid_strict_mode).
		return fmt.Errorf("read binlog after %s: %w: %s at %s says %q — the server was behind the checkpoint's, or has diverged from it; re-snapshot (snapshot.mode when_needed), or point the source at a server that has them",
			at, ErrGTIDsMissing, s.server, s.addr(), me.Message)
	}
	if errors.As(err, &me) && me.Code == errMasterFatalReadingBinlog && positionGone(me.Message) {
		return fmt.Errorf("read binlog at %s: %w: %s at %s says %q; the checkpoint's binlog file is no longer on the server (purged by binlog expiry or PURGE BINARY LOGS, or the server was replaced) — re-snapshot the captured tables, or rewind the checkpoint to a file listed by SHOW BINARY LOGS",
			at, ErrPositionGone, s.server, s.addr(), me.Message)
	}
	return fmt.Errorf("read binlog at %s from %s: %w", at, s.addr(), err)
}

// positionGone tells a purged/unknown file or position from other fatal
// binlog read errors (1236 is also sent for corrupt events, for example).
func positionGone(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{
		"could not find first log file name", // file not in the binlog index
		"could not open log file",            // listed but missing on disk
		"purged",                             // MySQL GTID: required binlogs purged
		"could not find gtid state",          // MariaDB GTID: position older than the oldest binlog
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// accessDenied reports a login or privilege the server refused: 1045
// (wrong user or password), 1044 (no access to a database), 1227 (a
// privilege the statement needs, e.g. REPLICATION CLIENT). Retrying with
// the same credentials cannot succeed, so the source stops and says so.
func accessDenied(err error) bool {
	refused := func(code uint16) bool { return code == 1045 || code == 1044 || code == 1227 }
	var me *gmysql.MyError
	if errors.As(err, &me) && refused(me.Code) {
		return true
	}
	var de *driver.MySQLError
	return errors.As(err, &de) && refused(de.Number)
}

// permanentIfRefused turns a refused login or privilege into a
// *capture.PermanentError naming the settings to fix.
func (s *Source) permanentIfRefused(err error) error {
	if err != nil && accessDenied(err) {
		hint := ""
		if s.cfg.TLS.Mode == tlsconf.Disable {
			hint = fmt.Sprintf("; sources[%s].tls.mode is disable, and a user created REQUIRE SSL or X509 is refused without TLS", s.name)
		}
		return &capture.PermanentError{Err: fmt.Errorf("%w (check sources[%s].user and its password_env or password_file, and the user's grants%s)", err, s.name, hint)}
	}
	return s.permanentIfTLS(err)
}
