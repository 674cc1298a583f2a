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
	"github.com/google/uuid"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
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

	// inTx: inside a group that only XID, an exact COMMIT/ROLLBACK, the
	// end of an XA prepare or XA COMMIT/ROLLBACK ends (BEGIN, MariaDB's
	// non-standalone GTID event, XA START). Outside it a Query event is a
	// transaction of its own (DDL).
	inTx       bool
	txGTID     string    // GTID of the open transaction, "" without GTIDs
	txRows     int       // rows of the open transaction emitted so far (GTID event ids)
	txCommitTS time.Time // MySQL 8 original commit time, zero when unknown
	txOpen     bool      // a transaction started (GTID, BEGIN or rows) and has not committed
	lastCommit time.Time // commit time of the last transaction

	xaOpen   bool              // inside an XA prepare group (xa.go)
	xaXID    string            // its XID, once known
	xaBuf    []*capture.Change // its rows, held until XA COMMIT
	prepared []*preparedXA     // prepared XA transactions, oldest first

	// payload is the MySQL 8 compressed transaction being read (nil
	// outside one): its inner events take their positions from it.
	payload *payloadAt

	snap *snapshot.Engine[Position] // nil unless a snapshot runs alongside (snapshot_stream.go)
	// lastRowAt is, per table, the position of the last rows event the
	// loop emitted: a MariaDB snapshot chunk must see that event's
	// transaction (coversEmitted).
	lastRowAt map[[2]string]Position

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
	if hdr.LogPos > 0 && st.payload == nil {
		st.lastPos = hdr.LogPos // a heartbeat too: it names the server's position
	}
	switch hdr.EventType {
	case replication.HEARTBEAT_EVENT, replication.HEARTBEAT_LOG_EVENT_V2:
		return st.heartbeat(ctx)
	}
	if isXAPrepare(hdr) {
		st.xaPrepared(hdr)
		return nil
	}
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDListEvent:
		if gs, ok := st.gset.(*gmysql.MariadbGTIDSet); ok {
			for i := range e.GTIDs {
				// A list repeats GTIDs the set has (a GTID dump starts
				// with its start position): never move a server's back.
				g := e.GTIDs[i]
				if have := gs.Sets[g.DomainID][g.ServerID]; have == nil || have.SequenceNumber < g.SequenceNumber {
					_ = gs.AddSet(&g)
				}
			}
		}
	case *replication.PreviousGTIDsEvent:
		if st.gset != nil && e.GTIDSets != "" {
			_ = st.gset.Update(e.GTIDSets)
		}
	case *replication.MariadbGTIDEvent:
		// A GTID event stands in for BEGIN unless the group is standalone
		// (DDL and other statements with no COMMIT after them).
		st.txGTID, st.txRows = e.GTID.String(), 0
		st.inTx = !e.IsStandalone()
		st.txOpen = true
		if e.Flags&mariaDBPreparedXA != 0 {
			st.startXA("")
		}
	case *replication.GTIDEvent:
		st.mysqlGTID(e, "")
	case *replication.GtidTaggedLogEvent:
		st.mysqlGTID(&e.GTIDEvent, e.Tag)
	case *replication.TransactionPayloadEvent:
		return st.compressed(ctx, hdr, e)
	case *replication.QueryEvent:
		return st.query(ctx, hdr, e)
	case *replication.XIDEvent:
		return st.commit(ctx, hdr)
	case *replication.TableMapEvent:
		return st.tableMap(e)
	case *replication.RowsEvent:
		return st.rows(ctx, hdr, e)
	}
	// Annotate/rows-query events, checkpoints and others carry nothing to
	// capture.
	return nil
}

// heartbeat handles the server's heartbeat: it sends one only after it had
// nothing more to send for a heartbeat period, so between transactions the
// stream is caught up as of now. A Commit at the resume position with the
// current time says so, and the checkpoint's commit time (the lag an
// operator watches) stays fresh on an idle source instead of growing
// until the next write.
func (st *streamState) heartbeat(ctx context.Context) error {
	if st.txOpen || st.xaOpen || len(st.prepared) > 0 {
		return nil
	}
	pos := st.resumePos()
	if st.snap != nil {
		pos.Snapshot = st.snap.State()
	}
	st.src.stats.commits.Add(1)
	if err := st.h.Commit(ctx, commitAt(pos, time.Now())); err != nil {
		return fmt.Errorf("handle heartbeat at %s: %w", pos, err)
	}
	return nil
}

// mysqlGTID opens a MySQL transaction group. MySQL writes BEGIN after the
// GTID event for transactions, nothing for DDL.
func (st *streamState) mysqlGTID(e *replication.GTIDEvent, tag string) {
	st.txGTID = ""
	if e.GNO > 0 { // anonymous transactions (gtid_mode=OFF) have GNO 0
		if u, err := uuid.FromBytes(e.SID); err == nil {
			st.txGTID = formatMySQLGTID(u.String(), tag, e.GNO)
		}
	}
	st.txCommitTS, st.txRows = e.OriginalCommitTime(), 0
	st.inTx = false
	st.txOpen = true
}

// endGroup moves the boundary past the group ending with the event hdr
// describes and adds its GTID to the executed set.
func (st *streamState) endGroup(hdr *replication.EventHeader) Position {
	if st.gset != nil && st.txGTID != "" {
		if err := st.gset.Update(st.txGTID); err != nil {
			st.src.log.Warn("cannot add GTID to the executed set", "gtid", st.txGTID, "err", err)
		}
	}
	pos := Position{File: st.file, Pos: st.endOf(hdr), Server: st.boundary.Server}
	if st.gset != nil {
		pos.GTIDSet = st.gset.String()
	}
	st.boundary = pos
	st.inTx, st.txOpen, st.txGTID, st.txCommitTS, st.txRows = false, false, "", time.Time{}, 0
	return pos
}

// commit ends the open transaction at the end of the event hdr describes.
// The Commit carries resumePos: the boundary, unless an XA transaction is
// prepared (xa.go).
func (st *streamState) commit(ctx context.Context, hdr *replication.EventHeader) error {
	st.endGroup(hdr)
	pos := st.resumePos()
	st.lastCommit = eventTime(hdr)
	st.src.stats.commits.Add(1)
	if st.snap != nil {
		pos.Snapshot = st.snap.State() // the snapshot's progress travels with the checkpoint
	}
	if err := st.h.Commit(ctx, commitAt(pos, st.lastCommit)); err != nil {
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
		// query (a ROLLBACK one when they changed such tables and rolled
		// back). ROLLBACK TO [SAVEPOINT] stays inside the transaction.
		if endsTransaction(q, kw) {
			return st.commit(ctx, hdr)
		}
		if st.inTx {
			return nil
		}
	case "SAVEPOINT", "RELEASE":
		if st.inTx {
			return nil // never a boundary
		}
	case "XA":
		return st.xaQuery(ctx, hdr, q)
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
	at := st.startOf(hdr)
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
		sc := capture.SchemaChange{Database: db, Statement: q, Position: st.boundary.eventString(), CommitTime: eventTime(hdr)}
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
		return nil, fmt.Errorf("look up JSON columns of %s on %s: %w", key, st.src.addr(), err)
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
	evPos := st.startOf(hdr)
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
	txID := st.txID()
	// The same for every row of the event. A source that can fail over
	// names rows by their transaction's GTID and their index in it, which
	// every server of the topology logs alike; file offsets differ.
	position, eventPosition, first := st.boundary.eventString(), st.eventName(hdr), 0
	if st.src.gtidEventIDs() && st.txGTID != "" {
		eventPosition, first = st.txGTID, st.txRows
		st.txRows += len(e.Rows) / step
	}
	for i := 0; i+step <= len(e.Rows); i += step {
		c := &capture.Change{
			Op: op, Table: info.table,
			Position: position, EventPosition: eventPosition, RowIndex: first + i/step,
			ServerID: hdr.ServerID, GTID: st.txGTID, TxID: txID, CommitTime: commitTime,
		}
		img, err := st.image(info, e, i, evPos)
		if err != nil {
			return err
		}
		switch op {
		case capture.OpCreate:
			c.After = img
		case capture.OpDelete:
			c.Before = img
		case capture.OpUpdate:
			c.Before = img
			if c.After, err = st.image(info, e, i+1, evPos); err != nil {
				return err
			}
		}
		if st.xaOpen {
			st.xaBuf = append(st.xaBuf, c) // emitted at XA COMMIT (xa.go)
			continue
		}
		if err := st.emit(ctx, c, evPos); err != nil {
			return err
		}
	}
	return nil
}

// emit hands one row change, which takes effect at the event at, to the
// handler.
func (st *streamState) emit(ctx context.Context, c *capture.Change, at Position) error {
	if st.lastRowAt == nil {
		st.lastRowAt = make(map[[2]string]Position)
	}
	st.lastRowAt[[2]string{c.Table.Database, c.Table.Name}] = at
	st.snap.Observe(c.Table, at, c.Before, c.After)
	st.src.stats.changes.Add(1)
	if err := st.h.Change(ctx, c); err != nil {
		return fmt.Errorf("handle change at %s row %d: %w", c.EventPosition, c.RowIndex, err)
	}
	return nil
}

// txID names the open transaction: its GTID, else the boundary before it.
func (st *streamState) txID() string {
	if st.txGTID != "" {
		return st.txGTID
	}
	return st.boundary.File + ":" + strconv.FormatUint(uint64(st.boundary.Pos), 10)
}

// endsTransaction reports whether q, starting with kw (COMMIT or
// ROLLBACK), ends the transaction: COMMIT [WORK] or ROLLBACK [WORK], not
// ROLLBACK TO [SAVEPOINT] s.
func endsTransaction(q, kw string) bool {
	f := strings.Fields(strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(stripComments(q)), ";")))
	if len(f) == 0 || strings.TrimSuffix(f[0], ";") != kw {
		return false
	}
	rest := f[1:]
	if len(rest) > 0 && rest[0] == "WORK" {
		rest = rest[1:]
	}
	return len(rest) == 0 || rest[0] != "TO"
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
			// The same bytes come back after a restart: stop, don't loop.
			return nil, &capture.PermanentError{Err: fmt.Errorf("read binlog at %s: table %s.%s column %s (%s): %w", at, info.table.Database, info.table.Name, cols[j].Name, cols[j].Type, err)}
		}
	}
	if k < len(e.SkippedColumns) {
		for _, j := range e.SkippedColumns[k] {
			out[j] = capture.Absent
		}
	}
	return out, nil
}

// gtidEventIDs reports whether event ids derive from GTIDs: for a source
// with failover addresses (Config.FailoverAddrs).
func (s *Source) gtidEventIDs() bool { return len(s.cfg.FailoverAddrs) > 0 }
