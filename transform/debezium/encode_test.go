package debezium

import (
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// ordersTable is shop.orders(id int unsigned PK, status enum, total decimal(10,2), note text).
func ordersTable() *capture.Table {
	return &capture.Table{
		Database: "shop", Name: "orders",
		Columns: []capture.Column{
			{Name: "id", Type: "int unsigned"}, {Name: "status", Type: "enum"},
			{Name: "total", Type: "decimal(10,2)"}, {Name: "note", Type: "text"},
		},
		Key: []int{0},
	}
}

const mysqlSource = `{"version":"tributary","connector":"mysql","name":"main","ts_ms":1706745599000,"snapshot":"false",` +
	`"db":"shop","sequence":null,"ts_us":1706745599000000,"ts_ns":1706745599000000000,"table":"orders","server_id":7,` +
	`"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:23","file":"binlog.000003","pos":1200,"row":2,"thread":null,"query":null}`

const envelopeTail = `"transaction":null,"op":%s,"ts_ms":1706745600123,"ts_us":1706745600123000,"ts_ns":1706745600123000000}`

func tail(op string) string { return strings.Replace(envelopeTail, "%s", `"`+op+`"`, 1) }

func TestEnvelopeWithoutSchemas(t *testing.T) {
	t.Parallel()
	row := []any{uint64(42), "paid", "10.50", "rush"}
	tests := []struct {
		name      string
		c         *capture.Change
		wantKey   string
		wantValue string
	}{
		{
			"insert",
			mysqlChange(ordersTable(), capture.OpCreate, nil, row),
			`{"id":42}`,
			`{"before":null,"after":{"id":42,"status":"paid","total":"10.50","note":"rush"},"source":` + mysqlSource + `,` + tail("c"),
		},
		{
			"update with absent column (binlog_row_image=NOBLOB)",
			mysqlChange(ordersTable(), capture.OpUpdate,
				[]any{uint64(42), "new", "10.50", capture.Absent}, []any{uint64(42), "paid", "10.50", capture.Absent}),
			`{"id":42}`,
			`{"before":{"id":42,"status":"new","total":"10.50","note":null},"after":{"id":42,"status":"paid","total":"10.50","note":null},"source":` + mysqlSource + `,` + tail("u"),
		},
		{
			"snapshot read",
			func() *capture.Change {
				c := mysqlChange(ordersTable(), capture.OpRead, nil, row)
				c.Snapshot, c.GTID = true, ""
				return c
			}(),
			`{"id":42}`,
			`{"before":null,"after":{"id":42,"status":"paid","total":"10.50","note":"rush"},"source":` +
				strings.NewReplacer(`"snapshot":"false"`, `"snapshot":"true"`, `"gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:23"`, `"gtid":null`).Replace(mysqlSource) +
				`,` + tail("r"),
		},
		{
			"truncate has no key",
			mysqlChange(ordersTable(), capture.OpTruncate, nil, nil),
			``,
			`{"before":null,"after":null,"source":` + mysqlSource + `,` + tail("t"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs := build(t, transform.ConnectorMySQL, tt.c)
			key, value := encode(t, &evs[0], tt.c.Table, Options{})
			if string(key) != tt.wantKey {
				t.Errorf("key = %s, want %s", key, tt.wantKey)
			}
			if string(value) != tt.wantValue {
				t.Errorf("value =\n%s\nwant\n%s", value, tt.wantValue)
			}
		})
	}
}

func TestDeleteAndTombstone(t *testing.T) {
	t.Parallel()
	table := ordersTable()
	c := mysqlChange(table, capture.OpDelete, []any{uint64(42), "paid", "10.50", "rush"}, nil)
	msgs := messages(t, build(t, transform.ConnectorMySQL, c), table, Options{})
	want := []message{
		{[]byte(`{"id":42}`), []byte(`{"before":{"id":42,"status":"paid","total":"10.50","note":"rush"},"after":null,"source":` + mysqlSource + `,` + tail("d"))},
		{[]byte(`{"id":42}`), nil},
	}
	checkMessages(t, msgs, want)
}

func TestKeyChange(t *testing.T) {
	t.Parallel()
	// Debezium writes a key change as delete (old key), tombstone, create (new key).
	table := ordersTable()
	c := mysqlChange(table, capture.OpUpdate,
		[]any{uint64(42), "paid", "10.50", "rush"}, []any{uint64(43), "paid", "10.50", capture.Absent})
	msgs := messages(t, build(t, transform.ConnectorMySQL, c), table, Options{})
	want := []message{
		{[]byte(`{"id":42}`), []byte(`{"before":{"id":42,"status":"paid","total":"10.50","note":"rush"},"after":null,"source":` + mysqlSource + `,` + tail("d"))},
		{[]byte(`{"id":42}`), nil},
		{[]byte(`{"id":43}`), []byte(`{"before":null,"after":{"id":43,"status":"paid","total":"10.50","note":"rush"},"source":` + mysqlSource + `,` + tail("c"))},
	}
	checkMessages(t, msgs, want)
}

func checkMessages(t *testing.T, got, want []message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Key) != string(want[i].Key) {
			t.Errorf("message %d key = %s, want %s", i, got[i].Key, want[i].Key)
		}
		if (got[i].Value == nil) != (want[i].Value == nil) || string(got[i].Value) != string(want[i].Value) {
			t.Errorf("message %d value =\n%s\nwant\n%s", i, got[i].Value, want[i].Value)
		}
	}
}

func TestEnvelopeWithSchemas(t *testing.T) {
	t.Parallel()
	table := &capture.Table{
		Database: "shop", Name: "orders",
		Columns: []capture.Column{{Name: "id", Type: "int"}, {Name: "paid_at", Type: "timestamp(3)"}},
		Key:     []int{0},
	}
	c := mysqlChange(table, capture.OpCreate, nil, []any{int64(1), "2024-02-01T08:00:00.500Z"})
	ev := &build(t, transform.ConnectorMySQL, c)[0]
	key, value := encode(t, ev, table, Options{Schemas: true, ConnectorName: ConnectorMariaDB, TopicPrefix: "dbz", Version: "tributary-1.4.0"})

	wantKey := compact(t, `{
	  "schema": {"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"dbz.shop.orders.Key"},
	  "payload": {"id":1}
	}`)
	if string(key) != wantKey {
		t.Errorf("key =\n%s\nwant\n%s", key, wantKey)
	}
	row := `[{"type":"int32","optional":false,"field":"id"},` +
		`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"paid_at"}]`
	wantValue := compact(t, `{
	  "schema": {"type":"struct","fields":[
	    {"type":"struct","fields":`+row+`,"optional":true,"name":"dbz.shop.orders.Value","field":"before"},
	    {"type":"struct","fields":`+row+`,"optional":true,"name":"dbz.shop.orders.Value","field":"after"},
	    {"type":"struct","fields":[
	      {"type":"string","optional":false,"field":"version"},
	      {"type":"string","optional":false,"field":"connector"},
	      {"type":"string","optional":false,"field":"name"},
	      {"type":"int64","optional":false,"field":"ts_ms"},
	      {"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},
	      {"type":"string","optional":false,"field":"db"},
	      {"type":"string","optional":true,"field":"sequence"},
	      {"type":"int64","optional":true,"field":"ts_us"},
	      {"type":"int64","optional":true,"field":"ts_ns"},
	      {"type":"string","optional":true,"field":"table"},
	      {"type":"int64","optional":false,"field":"server_id"},
	      {"type":"string","optional":true,"field":"gtid"},
	      {"type":"string","optional":false,"field":"file"},
	      {"type":"int64","optional":false,"field":"pos"},
	      {"type":"int32","optional":false,"field":"row"},
	      {"type":"int64","optional":true,"field":"thread"},
	      {"type":"string","optional":true,"field":"query"}
	    ],"optional":false,"name":"io.debezium.connector.mariadb.Source","version":1,"field":"source"},
	    {"type":"struct","fields":[
	      {"type":"string","optional":false,"field":"id"},
	      {"type":"int64","optional":false,"field":"total_order"},
	      {"type":"int64","optional":false,"field":"data_collection_order"}
	    ],"optional":true,"name":"event.block","version":1,"field":"transaction"},
	    {"type":"string","optional":false,"field":"op"},
	    {"type":"int64","optional":true,"field":"ts_ms"},
	    {"type":"int64","optional":true,"field":"ts_us"},
	    {"type":"int64","optional":true,"field":"ts_ns"}
	  ],"optional":false,"name":"dbz.shop.orders.Envelope","version":2},
	  "payload": {"before":null,"after":{"id":1,"paid_at":"2024-02-01T08:00:00.500Z"},
	    "source":{"version":"tributary-1.4.0","connector":"mariadb","name":"dbz","ts_ms":1706745599000,"snapshot":"false",
	      "db":"shop","sequence":null,"ts_us":1706745599000000,"ts_ns":1706745599000000000,"table":"orders","server_id":7,
	      "gtid":"3e11fa47-71ca-11e1-9e33-c80aa9429562:23","file":"binlog.000003","pos":1200,"row":2,"thread":null,"query":null},
	    "transaction":null,"op":"c","ts_ms":1706745600123,"ts_us":1706745600123000,"ts_ns":1706745600123000000}
	}`)
	if string(value) != wantValue {
		t.Errorf("value =\n%s\nwant\n%s", value, wantValue)
	}
}

func TestPostgresEnvelope(t *testing.T) {
	t.Parallel()
	// public.docs(id int8 PK, body text, blob bytea, n int4); default replica identity.
	table := &capture.Table{
		Database: "public", Name: "docs",
		Columns: []capture.Column{{Name: "id", Type: "int8"}, {Name: "body", Type: "text"}, {Name: "blob", Type: "bytea"}, {Name: "n", Type: "int4"}},
		Key:     []int{0},
	}
	source := `{"version":"tributary","connector":"postgresql","name":"main","ts_ms":1706745599000,"snapshot":"false",` +
		`"db":"app","sequence":"[\"23803648\",\"23803720\"]","ts_us":1706745599000000,"ts_ns":1706745599000000000,` +
		`"schema":"public","table":"docs","txId":7781,"lsn":23803720,"xmin":null,"origin":null,"origin_lsn":null}`
	tests := []struct {
		name      string
		c         *capture.Change
		wantKey   string
		wantValue string
	}{
		{
			// Unchanged TOASTed values are Debezium's placeholder; old row not logged.
			"update with unchanged TOAST",
			pgChange(table, capture.OpUpdate, nil, []any{int64(5), capture.Absent, capture.Absent, int64(2)}),
			`{"id":5}`,
			`{"before":null,"after":{"id":5,"body":"__debezium_unavailable_value","blob":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ==","n":2},"source":` + source + `,` + tail("u"),
		},
		{
			// REPLICA IDENTITY DEFAULT logs only the key of a deleted row.
			"delete with key-only old row",
			pgChange(table, capture.OpDelete, []any{int64(5), capture.Absent, capture.Absent, capture.Absent}, nil),
			`{"id":5}`,
			`{"before":{"id":5,"body":null,"blob":null,"n":null},"after":null,"source":` + source + `,` + tail("d"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs := build(t, transform.ConnectorPostgres, tt.c)
			key, value := encode(t, &evs[0], table, Options{Database: "app"})
			if string(key) != tt.wantKey {
				t.Errorf("key = %s, want %s", key, tt.wantKey)
			}
			if string(value) != tt.wantValue {
				t.Errorf("value =\n%s\nwant\n%s", value, tt.wantValue)
			}
		})
	}
}

func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	table := ordersTable()
	ev := &build(t, transform.ConnectorMySQL, mysqlChange(table, capture.OpCreate, nil, []any{uint64(1), "new", "1.00", "x"}))[0]
	pgTable := oneColumn("public", "text")
	pgEv := &build(t, transform.ConnectorPostgres, pgChange(pgTable, capture.OpCreate, nil, []any{int64(1), "x"}))[0]
	tests := []struct {
		name  string
		ev    *transform.Event
		table *capture.Table
		opts  Options
		want  string
	}{
		{"postgres connector for mysql", ev, table, Options{ConnectorName: ConnectorPostgreSQL}, "does not fit"},
		{"mariadb for postgres", pgEv, pgTable, Options{ConnectorName: ConnectorMariaDB, Database: "app"}, "does not fit"},
		{"postgres without database", pgEv, pgTable, Options{}, "Database"},
		{"bad bigint mode", ev, table, Options{BigintUnsigned: "string"}, "bigint unsigned mode"},
	}
	for _, tt := range tests {
		if _, _, err := Encode(tt.ev, tt.table, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestEncoderCachesPerTable(t *testing.T) {
	t.Parallel()
	table := ordersTable()
	enc := NewEncoder(Options{Schemas: true})
	for i := range 3 {
		c := mysqlChange(table, capture.OpCreate, nil, []any{uint64(i), "new", "1.00", "x"})
		ev := &build(t, transform.ConnectorMySQL, c)[0]
		if _, _, err := enc.Encode(ev, table); err != nil {
			t.Fatal(err)
		}
	}
	if len(enc.tables) != 1 {
		t.Errorf("%d cached tables, want 1", len(enc.tables))
	}
}
