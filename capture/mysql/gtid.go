package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture"
)

// missingGTIDs is what of checkpoint (a position's GTID set) the server
// db is connected to has not executed, in text ("" when it has it all).
// MariaDB's GTIDs are per-domain sequences (gtid_strict_mode keeps them
// increasing); its gtid_binlog_state holds each domain and server_id's
// last GTID in the binlog, so the server has a checkpoint GTID d-s-n when
// its state for d and s has reached n (a sequence number alone is not
// enough: a promoted server may have written the same number itself).
// MySQL's are sets, compared with gtid_executed.
func (s *Source) missingGTIDs(ctx context.Context, db *sql.DB, checkpoint string) (string, error) {
	query := "SELECT @@GLOBAL.gtid_executed"
	if s.cfg.Flavor == FlavorMariaDB {
		query = "SELECT @@GLOBAL.gtid_binlog_state"
	}
	var have sql.NullString
	if err := db.QueryRowContext(ctx, query).Scan(&have); err != nil {
		return "", fmt.Errorf("read the GTIDs %s at %s has executed: %w", s.server, s.addr(), err)
	}
	if s.cfg.Flavor == FlavorMariaDB {
		return missingMariaDB(checkpoint, have.String)
	}
	return missingMySQL(checkpoint, have.String)
}

// mariaDBDomainPos is a MariaDB GTID set reduced to the last GTID of each
// domain (the highest sequence number): gtid_slave_pos's form, which a
// GTID dump starts after. The stream's set keeps one GTID per domain and
// server_id; after a failover a domain has two.
func mariaDBDomainPos(text string) (map[uint32]gmysql.MariadbGTID, error) {
	out := map[uint32]gmysql.MariadbGTID{}
	for _, part := range strings.Split(strings.ReplaceAll(text, " ", ""), ",") {
		if part == "" {
			continue
		}
		g, err := gmysql.ParseMariadbGTID(part)
		if err != nil {
			return nil, fmt.Errorf("parse MariaDB GTID set %q: %w", text, err)
		}
		if cur, ok := out[g.DomainID]; !ok || g.SequenceNumber > cur.SequenceNumber {
			out[g.DomainID] = *g
		}
	}
	return out, nil
}

// missingMariaDB compares each GTID of checkpoint with have, a
// gtid_binlog_state (one GTID per domain and server_id).
func missingMariaDB(checkpoint, have string) (string, error) {
	want, err := gmysql.ParseMariadbGTIDSet(checkpoint)
	if err != nil {
		return "", fmt.Errorf("parse MariaDB GTID set %q: %w", checkpoint, err)
	}
	got, err := gmysql.ParseMariadbGTIDSet(have)
	if err != nil {
		return "", fmt.Errorf("parse MariaDB GTID state %q: %w", have, err)
	}
	gotSets := got.(*gmysql.MariadbGTIDSet).Sets
	var missing []string
	for d, servers := range want.(*gmysql.MariadbGTIDSet).Sets {
		for sid, w := range servers {
			var last uint64
			if g := gotSets[d][sid]; g != nil {
				last = g.SequenceNumber
			}
			if last >= w.SequenceNumber {
				continue
			}
			at := "none of server_id " + strconv.FormatUint(uint64(sid), 10) + "'s in the domain"
			if last > 0 {
				at = fmt.Sprintf("server_id %d's up to %d-%d-%d", sid, d, sid, last)
			}
			missing = append(missing, fmt.Sprintf("domain %d sequence numbers %d-%d of server_id %d (the checkpoint has %s, the server's binlog %s)",
				d, last+1, w.SequenceNumber, sid, w.String(), at))
		}
	}
	sort.Strings(missing)
	return strings.Join(missing, "; "), nil
}

func missingMySQL(checkpoint, have string) (string, error) {
	want, err := parseMySQLGTIDSet(checkpoint)
	if err != nil {
		return "", err
	}
	got, err := parseMySQLGTIDSet(have)
	if err != nil {
		return "", err
	}
	diff := &mysqlGTIDSet{sets: map[string]gmysql.IntervalSlice{}}
	for k, iv := range want.sets {
		if d := subtractIntervals(iv, got.sets[k]); len(d) > 0 {
			diff.sets[k] = d
		}
	}
	return diff.String(), nil
}

// subtractIntervals is a minus b; both normalised (sorted, disjoint), as
// IntervalSlice keeps them; intervals are half-open [Start, Stop).
func subtractIntervals(a, b gmysql.IntervalSlice) gmysql.IntervalSlice {
	var out gmysql.IntervalSlice
	for _, in := range a {
		lo := in.Start
		for _, cut := range b {
			if cut.Stop <= lo || cut.Start >= in.Stop {
				continue
			}
			if cut.Start > lo {
				out = append(out, gmysql.Interval{Start: lo, Stop: cut.Start})
			}
			lo = max(lo, cut.Stop)
		}
		if lo < in.Stop {
			out = append(out, gmysql.Interval{Start: lo, Stop: in.Stop})
		}
	}
	return out
}

// dumpGTIDSet is the GTID set a GTID dump starts after, in the form
// go-mysql's BinlogSyncer sends: one GTID per domain on MariaDB; on MySQL
// a *MysqlGTIDSet, which cannot hold tagged GTIDs (MySQL 8.3+), so a set
// with tags is refused rather than re-reading those transactions.
func (s *Source) dumpGTIDSet(text string) (gmysql.GTIDSet, error) {
	if s.cfg.Flavor == FlavorMariaDB {
		pos, err := mariaDBDomainPos(text)
		if err != nil {
			return nil, err
		}
		parts := make([]string, 0, len(pos))
		for _, g := range pos {
			parts = append(parts, g.String())
		}
		sort.Strings(parts)
		return gmysql.ParseMariadbGTIDSet(strings.Join(parts, ","))
	}
	set, err := parseMySQLGTIDSet(text)
	if err != nil {
		return nil, err
	}
	for k := range set.sets {
		if strings.Contains(k, ":") {
			return nil, fmt.Errorf("resume by GTID from %q: the set has tagged GTIDs (%s), which the binlog client cannot send; resume on the server that wrote the checkpoint, or rewind the checkpoint", text, k)
		}
	}
	return gmysql.ParseMysqlGTIDSet(set.String())
}

// compareGTIDSets orders two positions' GTID sets by containment: -1 when
// a is within b, +1 when b is within a, 0 when equal; an error when
// neither contains the other (diverged servers) or a set is unreadable.
func compareGTIDSets(a, b string) (int, error) {
	aInB, err := gtidWithin(a, b)
	if err != nil {
		return 0, err
	}
	bInA, err := gtidWithin(b, a)
	if err != nil {
		return 0, err
	}
	switch {
	case aInB && bInA:
		return 0, nil
	case aInB:
		return -1, nil
	case bInA:
		return 1, nil
	}
	return 0, fmt.Errorf("GTID sets %q and %q are not ordered: neither contains the other", a, b)
}

// gtidWithin reports whether every GTID of a is in b. MariaDB sets (no
// ':') compare by each domain's last sequence number.
func gtidWithin(a, b string) (bool, error) {
	if !strings.Contains(a+b, ":") {
		m, err := missingMariaDB(a, b)
		return m == "", err
	}
	m, err := missingMySQL(a, b)
	return m == "", err
}

// locateGTID finds, on the MariaDB server the source is connected to,
// the binlog file and offset where the transaction after the GTID
// position text starts: a GTID dump reports it with its first transaction
// (or, when nothing follows yet, with its first heartbeat). The stream
// then reads from there by file and offset, as on the checkpoint's own
// server. (go-mysql v1.13's GTID dump keeps a pointer to each MariaDB GTID
// event's GTID in its running set and moves it forward in place as later
// events are parsed, so events still queued for the reader would carry a
// later transaction's GTID.)
func (s *Source) locateGTID(ctx context.Context, heartbeat time.Duration, tlsCfg *tls.Config, text string) (Position, error) {
	dump, err := s.dumpGTIDSet(text)
	if err != nil {
		return Position{}, &capture.PermanentError{Err: err}
	}
	syncer, err := s.newSyncer(heartbeat, tlsCfg)
	if err != nil {
		return Position{}, err
	}
	defer s.dropSyncer(syncer)
	streamer, err := syncer.StartSyncGTID(dump)
	if err != nil {
		return Position{}, s.readError(Position{GTIDSet: text}, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	file := ""
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return Position{}, s.readError(Position{GTIDSet: text}, err)
		}
		h := ev.Header
		switch {
		case h.EventType == replication.ROTATE_EVENT:
			file = string(ev.Event.(*replication.RotateEvent).NextLogName)
		case file == "" || h.LogPos == 0:
		case h.EventType == replication.MARIADB_GTID_EVENT:
			at := Position{File: file, Pos: h.LogPos - h.EventSize}
			s.log.Info("found the checkpoint's GTID position in the server's binlog", "after", dump.String(), "at", at.String(), "addr", s.addr())
			return at, nil
		case h.EventType == replication.HEARTBEAT_EVENT, h.EventType == replication.HEARTBEAT_LOG_EVENT_V2:
			at := Position{File: file, Pos: h.LogPos}
			s.log.Info("the server has nothing after the checkpoint's GTID position yet; its binlog ends", "after", dump.String(), "at", at.String(), "addr", s.addr())
			return at, nil
		}
	}
}
