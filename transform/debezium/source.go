package debezium

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tributary-cdc/tributary/transform"
)

// sourceBlock is Debezium's source struct for ev, filled from Tributary's
// source block and event id. Fields Tributary cannot know are null (see
// docs/debezium.md).
func (tc *tableCodec) sourceBlock(ev *transform.Event) (transform.Row, error) {
	s := &ev.Source
	pos, row, err := eventPosition(ev)
	if err != nil {
		return nil, err
	}
	snapshot := "false"
	if s.Snapshot {
		snapshot = "true"
	}
	out := transform.Row{
		{Name: "version", Value: tc.opts.Version},
		{Name: "connector", Value: tc.opts.ConnectorName},
		{Name: "name", Value: tc.opts.TopicPrefix},
		{Name: "ts_ms", Value: s.TsMs},
		{Name: "snapshot", Value: snapshot},
	}
	if tc.opts.postgres() {
		lsn := pgLSN(strings.Split(pos, ":")[0])
		return append(out,
			transform.Field{Name: "db", Value: tc.opts.Database},
			transform.Field{Name: "sequence", Value: pgSequence(pgLSN(s.Position), lsn)},
			transform.Field{Name: "ts_us", Value: s.TsMs * 1_000},
			transform.Field{Name: "ts_ns", Value: s.TsMs * 1_000_000},
			transform.Field{Name: "schema", Value: s.Database},
			transform.Field{Name: "table", Value: s.Table},
			transform.Field{Name: "txId", Value: optionalInt(s.TxID)},
			transform.Field{Name: "lsn", Value: lsn},
			transform.Field{Name: "xmin", Value: nil},
			// Debezium 3.5+: the replication origin of a transaction that
			// logical replication applied; pgoutput's Origin messages are
			// not read, so always null.
			transform.Field{Name: "origin", Value: nil},
			transform.Field{Name: "origin_lsn", Value: nil},
		), nil
	}
	file, offset := binlogOffset(pos)
	if offset == nil {
		// An id named by the transaction's GTID (a source with failover
		// addresses): the file and offset are the transaction's start.
		txPos, _, _ := strings.Cut(s.Position, "@")
		if file, offset = binlogOffset(txPos); offset == nil {
			return nil, fmt.Errorf("event position %q is not a binlog file:offset, nor is the transaction's %q", pos, s.Position)
		}
	}
	var gtid any
	if s.GTID != "" {
		gtid = s.GTID
	}
	return append(out,
		transform.Field{Name: "db", Value: s.Database},
		transform.Field{Name: "sequence", Value: nil},
		transform.Field{Name: "ts_us", Value: s.TsMs * 1_000},
		transform.Field{Name: "ts_ns", Value: s.TsMs * 1_000_000},
		transform.Field{Name: "table", Value: s.Table},
		transform.Field{Name: "server_id", Value: int64(s.ServerID)},
		transform.Field{Name: "gtid", Value: gtid},
		transform.Field{Name: "file", Value: file},
		transform.Field{Name: "pos", Value: offset},
		transform.Field{Name: "row", Value: int64(row)},
		transform.Field{Name: "thread", Value: nil},
		transform.Field{Name: "query", Value: nil},
	), nil
}

// binlogOffset splits "file:offset"; offset is nil when pos is not one.
func binlogOffset(pos string) (file string, offset any) {
	if i := strings.LastIndexByte(pos, ':'); i >= 0 {
		if n, err := strconv.ParseInt(pos[i+1:], 10, 64); err == nil && !strings.Contains(pos[:i], ":") && !isGTID(pos[:i]) {
			return pos[:i], n
		}
	}
	return pos, nil
}

// isGTID tells a MySQL GTID's "uuid" (or "uuid:tag") from a file name.
func isGTID(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}

// eventPosition recovers the source event position and row index from the
// event id "<source>:<event position>#<row>[.0|.1]" (docs/events.md).
func eventPosition(ev *transform.Event) (pos string, row int, err error) {
	rest, ok := strings.CutPrefix(ev.ID, ev.Source.Name+":")
	i := strings.LastIndexByte(rest, '#')
	if !ok || i < 0 {
		return "", 0, fmt.Errorf("event id %q is not <source>:<position>#<row>", ev.ID)
	}
	idx, _, _ := strings.Cut(rest[i+1:], ".")
	row, err = strconv.Atoi(idx)
	if err != nil {
		return "", 0, fmt.Errorf("event id %q has no row index", ev.ID)
	}
	return rest[:i], row, nil
}

// pgLSN parses PostgreSQL's "X/Y" LSN notation; nil when s is not one.
func pgLSN(s string) any {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return nil
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return nil
	}
	return int64(h<<32 | l)
}

// pgSequence is Debezium's PostgreSQL source.sequence: a JSON array, as a
// string, of the last commit LSN and the event's LSN, in decimal.
func pgSequence(lastCommit, lsn any) any {
	part := func(v any) string {
		if n, ok := v.(int64); ok {
			return `"` + strconv.FormatInt(n, 10) + `"`
		}
		return "null"
	}
	return "[" + part(lastCommit) + "," + part(lsn) + "]"
}

// optionalInt parses a decimal id such as the PostgreSQL xid; nil when empty
// or not a number.
func optionalInt(s string) any {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil
	}
	return n
}
