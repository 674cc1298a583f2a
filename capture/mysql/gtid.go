package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
)

// missingGTIDs is what of checkpoint (a position's GTID set) the server
// db is connected to has not executed, in text ("" when it has it all).
// MariaDB's GTIDs are per-domain sequences (gtid_strict_mode keeps them
// increasing), so the server has a domain's transactions up to its
// gtid_binlog_pos; MySQL's are sets, compared with gtid_executed.
func (s *Source) missingGTIDs(ctx context.Context, db *sql.DB, checkpoint string) (string, error) {
	query := "SELECT @@GLOBAL.gtid_executed"
	if s.cfg.Flavor == FlavorMariaDB {
		query = "SELECT @@GLOBAL.gtid_binlog_pos"
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

func missingMariaDB(checkpoint, have string) (string, error) {
	want, err := mariaDBDomainPos(checkpoint)
	if err != nil {
		return "", err
	}
	got, err := mariaDBDomainPos(have)
	if err != nil {
		return "", err
	}
	var missing []string
	for d, w := range want {
		g := got[d]
		if g.SequenceNumber >= w.SequenceNumber {
			continue
		}
		at := "none of the domain"
		if g.SequenceNumber > 0 {
			at = "up to " + g.String()
		}
		missing = append(missing, fmt.Sprintf("domain %d sequence numbers %d-%d (the checkpoint is at %s, the server has %s)",
			d, g.SequenceNumber+1, w.SequenceNumber, w.String(), at))
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
