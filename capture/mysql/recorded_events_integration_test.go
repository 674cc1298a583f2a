package mysql

import (
	"context"
	"reflect"
	"strings"
	"testing"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// recordTransaction runs one INSERT on MariaDB and returns its table map,
// rows and XID events as the server sent them: the parts from which the
// tests below build MySQL 8 event sequences no server here can write.
func recordTransaction(t *testing.T) (name string, tableMap, rows, xid *replication.BinlogEvent) {
	t.Helper()
	db, name := testDB(t)
	testenv.Exec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	start := positionOf(t, serverPosition(t, db))
	testenv.Exec(t, db, "INSERT INTO t VALUES (1, 2)")
	s := testSource(t, name, nil)
	syncer, err := s.newSyncer(s.cfg.Heartbeat, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.dropSyncer(syncer)
	streamer, err := syncer.StartSync(gmysql.Position{Name: start.File, Pos: start.Pos})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for xid == nil {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("read binlog: %v", err)
		}
		switch e := ev.Event.(type) {
		case *replication.TableMapEvent:
			if string(e.Schema) == name {
				tableMap = ev
			}
		case *replication.RowsEvent:
			if string(e.Table.Schema) == name {
				rows = ev
			}
		case *replication.XIDEvent:
			if rows != nil {
				xid = ev
			}
		}
	}
	return name, tableMap, rows, xid
}

func at(end, size uint32, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{LogPos: end, EventSize: size, Timestamp: 1}, Event: e}
}

func query(end uint32, q string) *replication.BinlogEvent {
	return at(end, 50, &replication.QueryEvent{Query: []byte(q)})
}

// TestRecordedMySQL8Sequences feeds the stream MySQL 8 event sequences:
// a compressed transaction (binlog_transaction_compression=ON), a tagged
// GTID (8.3+) and an atomic CREATE TABLE … SELECT (8.0.21+), each one
// transaction with one row.
func TestRecordedMySQL8Sequences(t *testing.T) {
	t.Parallel()
	name, tm, rows, xid := recordTransaction(t)
	sid := uuid.MustParse("3e11fa47-71ca-11e1-9e33-c80aa9429562")
	gtid := &replication.GTIDEvent{SID: sid[:], GNO: 7}
	tagged := &replication.GtidTaggedLogEvent{GTIDEvent: replication.GTIDEvent{SID: sid[:], GNO: 5, Tag: "app"}}

	tests := []struct {
		name      string
		events    []*replication.BinlogEvent
		wantGTID  string
		wantSet   string
		wantEvent string // EventPosition of the row
		wantEnd   uint32 // the Commit's offset
		schemas   int
	}{{
		name: "compressed transaction",
		events: []*replication.BinlogEvent{
			at(1100, 100, gtid),
			at(2000, 900, &replication.TransactionPayloadEvent{Events: []*replication.BinlogEvent{query(0, "BEGIN"), tm, rows, xid}}),
		},
		wantGTID: sid.String() + ":7", wantSet: sid.String() + ":1-7", wantEvent: "binlog.000001:1100+2", wantEnd: 2000,
	}, {
		name: "tagged GTID",
		events: []*replication.BinlogEvent{
			at(1100, 100, tagged), query(1200, "BEGIN"), tm, rows, xid,
		},
		wantGTID: sid.String() + ":app:5", wantSet: sid.String() + ":1-6:app:5", wantEnd: xid.Header.LogPos,
	}, {
		name: "atomic CREATE TABLE ... SELECT",
		events: []*replication.BinlogEvent{
			at(1100, 100, gtid), query(1200, "BEGIN"),
			at(1300, 100, &replication.QueryEvent{Schema: []byte(name), Query: []byte("CREATE TABLE `t` (`id` int NOT NULL, `v` int, PRIMARY KEY (`id`)) START TRANSACTION")}),
			tm, rows, xid,
		},
		wantGTID: sid.String() + ":7", wantSet: sid.String() + ":1-7", wantEnd: xid.Header.LogPos, schemas: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSource(t, name, func(c *Config) { c.Flavor = FlavorMySQL })
			gset, err := parseMySQLGTIDSet(sid.String() + ":1-6")
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			st := newStreamState(s, nil, rec, Position{File: "binlog.000001", Pos: 1000}, gset)
			for _, ev := range tt.events {
				if err := st.handle(context.Background(), ev); err != nil {
					t.Fatalf("handle: %v", err)
				}
			}
			changes, commits, schemas, all := rec.snapshot()
			if len(changes) != 1 || len(commits) != 1 || len(schemas) != tt.schemas {
				t.Fatalf("got %d changes, %d commits, %d schema changes; want 1, 1, %d", len(changes), len(commits), len(schemas), tt.schemas)
			}
			if _, ok := all[len(all)-1].(capture.Commit); !ok {
				t.Errorf("the Commit is not the last event: %v", all)
			}
			c := changes[0]
			if c.GTID != tt.wantGTID || c.TxID != tt.wantGTID {
				t.Errorf("change gtid %q txid %q, want %q", c.GTID, c.TxID, tt.wantGTID)
			}
			if !reflect.DeepEqual(c.After, []any{int64(1), int64(2)}) {
				t.Errorf("change after %v", c.After)
			}
			if tt.wantEvent != "" && c.EventPosition != tt.wantEvent {
				t.Errorf("event position %q, want %q", c.EventPosition, tt.wantEvent)
			}
			p := positionOf(t, commits[0].Position)
			if p.Pos != tt.wantEnd || p.GTIDSet != tt.wantSet {
				t.Errorf("commit at %s, want offset %d with GTID set %s", commits[0].Position, tt.wantEnd, tt.wantSet)
			}
			if !strings.HasPrefix(c.Position, "binlog.000001:1000@") {
				t.Errorf("change position %s, want the boundary before the transaction", c.Position)
			}
		})
	}
}
