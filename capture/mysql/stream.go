package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture"
)

// streamState follows one binlog stream: the current file, the last
// transaction boundary (the resumable position) and the open transaction.
type streamState struct {
	src *Source
	h   capture.Handler
	db  *sql.DB

	file     string         // binlog file of the events being read
	boundary Position       // end of the last transaction: where a resume starts
	gset     gmysql.GTIDSet // executed GTIDs up to boundary; nil if unknown
	lastPos  uint32         // end of the last event read, for error messages

	inTx       bool      // between BEGIN and COMMIT/XID
	txGTID     string    // GTID of the open transaction, "" without GTIDs
	txCommitTS time.Time // MySQL 8 original commit time, zero when unknown
	txOpen     bool      // a transaction started (GTID, BEGIN or rows) and has not committed
	lastCommit time.Time // commit time of the last transaction

	snap *snapMerge // nil unless a snapshot runs alongside (snapshot_stream.go)

	tables   map[uint64]*tableInfo      // by table id, from table maps
	jsonCols map[string]map[string]bool // MariaDB JSON columns by "db.table"
}

func newStreamState(s *Source, db *sql.DB, h capture.Handler, start Position, gset gmysql.GTIDSet) *streamState {
	b := start
	if gset != nil {
		b.GTIDSet = gset.String()
	}
	return &streamState{
		src: s, h: h, db: db,
		file: start.File, boundary: b, gset: gset, lastPos: start.Pos,
		tables:   make(map[uint64]*tableInfo),
		jsonCols: make(map[string]map[string]bool),
	}
}

// readPos is the position after the last event read.
func (st *streamState) readPos() Position { return Position{File: st.file, Pos: st.lastPos} }

func (st *streamState) handle(ctx context.Context, ev *replication.BinlogEvent) error {
	hdr := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		// The server sends a fake rotate (timestamp 0) first, naming the file
		// it streams from; a real rotate closes a file. Both only move the
		// file name: the boundary stays valid, as a resume from the end of
		// the old file continues in the next.
		st.file = string(e.NextLogName)
		st.lastPos = uint32(e.Position)
		return nil
	case *replication.FormatDescriptionEvent:
		return nil
	}
	if hdr.LogPos > 0 {
		st.lastPos = hdr.LogPos
	}
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDListEvent:
		if gs, ok := st.gset.(*gmysql.MariadbGTIDSet); ok {
			for i := range e.GTIDs {
				g := e.GTIDs[i]
				_ = gs.AddSet(&g)
			}
		}
	case *replication.PreviousGTIDsEvent:
		if st.gset != nil && e.GTIDSets != "" {
			_ = st.gset.Update(e.GTIDSets)
		}
	case *replication.MariadbGTIDEvent:
		st.txGTID = e.GTID.String()
		st.inTx = false
		st.txOpen = true
	case *replication.GTIDEvent:
		st.txGTID = ""
		if e.GNO > 0 { // anonymous transactions (gtid_mode=OFF) have GNO 0
			if gs, err := e.GTIDNext(); err == nil {
				st.txGTID = gs.String()
			}
		}
		st.txCommitTS = e.OriginalCommitTime()
		st.inTx = false
		st.txOpen = true
	case *replication.QueryEvent:
		return st.query(ctx, hdr, e)
	case *replication.XIDEvent:
		return st.commit(ctx, hdr)
	case *replication.TableMapEvent:
		return st.tableMap(e)
	case *replication.RowsEvent:
		return st.rows(ctx, hdr, e)
	}
	// Heartbeats, annotate/rows-query events, checkpoints and others carry
	// nothing to capture.
	return nil
}

// commit ends the open transaction at the end of the event hdr describes.
func (st *streamState) commit(ctx context.Context, hdr *replication.EventHeader) error {
	if st.gset != nil && st.txGTID != "" {
		if err := st.gset.Update(st.txGTID); err != nil {
			st.src.log.Warn("cannot add GTID to the executed set", "gtid", st.txGTID, "err", err)
		}
	}
	pos := Position{File: st.file, Pos: hdr.LogPos}
	if st.gset != nil {
		pos.GTIDSet = st.gset.String()
	}
	st.boundary = pos
	st.inTx, st.txOpen, st.txGTID, st.txCommitTS = false, false, "", time.Time{}
	st.lastCommit = eventTime(hdr)
	st.src.stats.commits.Add(1)
	if st.snap != nil {
		pos.Snapshot = st.snap.state // the snapshot's progress travels with the checkpoint
	}
	if err := st.h.Commit(ctx, capture.Commit{Position: pos.String(), CommitTime: st.lastCommit}); err != nil {
		return fmt.Errorf("handle commit at %s: %w", pos, err)
	}
	return nil
}

// eventTime is the header timestamp: whole seconds, taken when the statement
// that wrote the event started — not a commit time in the strict sense.
func eventTime(hdr *replication.EventHeader) time.Time {
	return time.Unix(int64(hdr.Timestamp), 0).UTC()
}

func (st *streamState) query(ctx context.Context, hdr *replication.EventHeader, e *replication.QueryEvent) error {
	q := string(e.Query)
	switch kw := firstKeyword(q); kw {
	case "BEGIN":
		st.inTx, st.txOpen = true, true
		return nil
	case "COMMIT", "ROLLBACK":
		// Transactions touching non-transactional tables end in a COMMIT
		// query (a ROLLBACK one when they changed such tables and rolled back).
		if rest := strings.TrimSpace(strings.ToUpper(stripComments(q))); rest == kw || strings.HasPrefix(rest, kw+" ") || strings.HasPrefix(rest, kw+";") {
			return st.commit(ctx, hdr)
		}
	}
	if err := st.statement(ctx, hdr, string(e.Schema), q); err != nil {
		return err
	}
	if st.inTx {
		return nil // statement-based DML inside BEGIN...COMMIT
	}
	// Outside BEGIN, a statement is its own transaction (DDL always is).
	return st.commit(ctx, hdr)
}

// statement handles a query event that is neither BEGIN nor COMMIT.
func (st *streamState) statement(ctx context.Context, hdr *replication.EventHeader, schema, q string) error {
	log := st.src.log
	at := Position{File: st.file, Pos: hdr.LogPos - hdr.EventSize}
	switch stmt := classify(q); stmt.kind {
	case stmtDML:
		st.src.stats.statementDML.Add(1)
		log.Warn("row change logged as a statement (binlog_format=STATEMENT/MIXED in that session); its rows are not captured",
			"at", at.String(), "statement", stmt.verb, "database", schema)
	case stmtDDL:
		db := schema
		if stmt.db != "" {
			db = stmt.db
		}
		switch {
		case stmt.table != "":
			if !st.src.filter.match(db, stmt.table) {
				return nil
			}
		case stmt.dbOnly && stmt.db != "":
			if !st.src.filter.matchDatabase(db) {
				return nil
			}
		default:
			if db != "" && !st.src.filter.matchDatabase(db) {
				return nil
			}
			st.src.stats.unparsedDDL.Add(1)
			log.Info("DDL without a recognisable table name; emitted as is", "at", at.String(), "statement", stmt.verb, "database", db)
		}
		// The definition may have changed: JSON columns and table maps are
		// looked up afresh (table maps also change signature on ALTER).
		clear(st.jsonCols)
		st.src.stats.schema.Add(1)
		sc := capture.SchemaChange{Database: db, Statement: q, Position: st.boundary.String(), CommitTime: eventTime(hdr)}
		if err := st.h.Schema(ctx, sc); err != nil {
			return fmt.Errorf("handle schema change at %s: %w", at, err)
		}
	default:
		// Account management (may carry password hashes), SAVEPOINT, XA,
		// FLUSH and the like: nothing to capture. Never log the text.
		log.Debug("statement ignored", "at", at.String(), "statement", stmt.verb)
	}
	return nil
}

func (st *streamState) tableMap(tm *replication.TableMapEvent) error {
	db, name := string(tm.Schema), string(tm.Table)
	if !st.src.filter.match(db, name) {
		delete(st.tables, tm.TableID)
		return nil
	}
	if cur := st.tables[tm.TableID]; cur != nil && cur.sig == tableSignature(tm) {
		return nil
	}
	var jsonCols map[string]bool
	if st.src.cfg.Flavor == FlavorMariaDB && hasTextBlob(tm) {
		var err error
		if jsonCols, err = st.mariaDBJSONColumns(db, name); err != nil {
			return err
		}
	}
	info, err := buildTable(tm, jsonCols, st.src.cfg.KeyColumns[db+"."+name])
	if err != nil {
		return fmt.Errorf("read binlog at %s: %w", st.readPos(), err)
	}
	st.tables[tm.TableID] = info
	return nil
}

// hasTextBlob reports whether tm has a BLOB/TEXT column, the only kind that
// can be a MariaDB JSON column.
func hasTextBlob(tm *replication.TableMapEvent) bool {
	for _, t := range tm.ColumnType {
		if t == gmysql.MYSQL_TYPE_BLOB {
			return true
		}
	}
	return false
}

// mariaDBJSONColumns finds MariaDB's JSON columns: JSON is an alias of
// LONGTEXT plus a CHECK (json_valid(`col`)) constraint, so the binlog cannot
// tell them from text. The answer describes the table as it is now, which is
// right while the stream is close to the server's present.
func (st *streamState) mariaDBJSONColumns(db, table string) (map[string]bool, error) {
	key := db + "." + table
	if cols, ok := st.jsonCols[key]; ok {
		return cols, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := st.db.QueryContext(ctx,
		`SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
		 WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ? AND CHECK_CLAUSE LIKE 'json_valid(%'`, db, table)
	if err != nil {
		return nil, fmt.Errorf("look up JSON columns of %s on %s: %w", key, st.src.cfg.Addr, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var clause string
		if err := rows.Scan(&clause); err != nil {
			return nil, fmt.Errorf("look up JSON columns of %s: %w", key, err)
		}
		if c, ok := jsonValidColumn(clause); ok {
			cols[c] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up JSON columns of %s: %w", key, err)
	}
	st.jsonCols[key] = cols
	return cols, nil
}

// jsonValidColumn extracts col from "json_valid(`col`)".
func jsonValidColumn(clause string) (string, bool) {
	s := strings.TrimSpace(clause)
	if !strings.HasPrefix(strings.ToLower(s), "json_valid(") || !strings.HasSuffix(s, ")") {
		return "", false
	}
	inner := strings.TrimSpace(s[len("json_valid(") : len(s)-1])
	if len(inner) >= 2 && inner[0] == '`' && inner[len(inner)-1] == '`' {
		return strings.ReplaceAll(inner[1:len(inner)-1], "``", "`"), true
	}
	if inner != "" && !strings.ContainsAny(inner, " (),") {
		return inner, true
	}
	return "", false
}

func (st *streamState) rows(ctx context.Context, hdr *replication.EventHeader, e *replication.RowsEvent) error {
	if e.Table == nil || !st.src.filter.match(string(e.Table.Schema), string(e.Table.Table)) {
		st.src.stats.excluded.Add(1)
		return nil
	}
	info := st.tables[e.TableID]
	if info == nil {
		return fmt.Errorf("read binlog at %s: rows event for table id %d without its table map", st.readPos(), e.TableID)
	}
	evPos := Position{File: st.file, Pos: hdr.LogPos - hdr.EventSize}
	st.txOpen = true
	var op capture.Op
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = capture.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = capture.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = capture.OpDelete
	default:
		return fmt.Errorf("read binlog at %s: unknown rows event type %s", evPos, hdr.EventType)
	}
	commitTime := st.txCommitTS
	if commitTime.IsZero() {
		commitTime = eventTime(hdr)
	}
	txID := st.txGTID
	if txID == "" {
		txID = st.boundary.File + ":" + strconv.FormatUint(uint64(st.boundary.Pos), 10)
	}
	// The same for every row of the event.
	position, eventPosition := st.boundary.String(), evPos.String()
	for i := 0; i+step <= len(e.Rows); i += step {
		c := &capture.Change{
			Op: op, Table: info.table,
			Position: position, EventPosition: eventPosition, RowIndex: i / step,
			ServerID: hdr.ServerID, GTID: st.txGTID, TxID: txID, CommitTime: commitTime,
		}
		first, err := st.image(info, e, i, evPos)
		if err != nil {
			return err
		}
		switch op {
		case capture.OpCreate:
			c.After = first
		case capture.OpDelete:
			c.Before = first
		case capture.OpUpdate:
			c.Before = first
			if c.After, err = st.image(info, e, i+1, evPos); err != nil {
				return err
			}
		}
		if st.snap != nil {
			st.snap.observe(info.table, evPos, c.Before, c.After)
		}
		st.src.stats.changes.Add(1)
		if err := st.h.Change(ctx, c); err != nil {
			return fmt.Errorf("handle change at %s row %d: %w", evPos, i/step, err)
		}
	}
	return nil
}

// image converts row image k of e; columns the server did not log are
// capture.Absent.
func (st *streamState) image(info *tableInfo, e *replication.RowsEvent, k int, at Position) ([]any, error) {
	raw := e.Rows[k]
	cols := info.table.Columns
	if len(raw) != len(cols) {
		return nil, fmt.Errorf("read binlog at %s: table %s.%s: row has %d columns, table map %d", at, info.table.Database, info.table.Name, len(raw), len(cols))
	}
	out := make([]any, len(raw))
	for j, v := range raw {
		var err error
		if out[j], err = info.decoders[j].convert(v); err != nil {
			return nil, fmt.Errorf("read binlog at %s: table %s.%s column %s (%s): %w", at, info.table.Database, info.table.Name, cols[j].Name, cols[j].Type, err)
		}
	}
	if k < len(e.SkippedColumns) {
		for _, j := range e.SkippedColumns[k] {
			out[j] = capture.Absent
		}
	}
	return out, nil
}
