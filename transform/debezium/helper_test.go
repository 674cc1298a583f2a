package debezium

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// testNow is the build time of test events (ts_ms 1706745600123).
var testNow = time.Date(2024, 2, 1, 0, 0, 0, 123_000_000, time.UTC)

// testCommit is the source commit time of test changes (ts_ms 1706745599000).
var testCommit = time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC)

// oneColumn is db.t(id bigint PRIMARY KEY, v <typ>).
func oneColumn(db, typ string) *capture.Table {
	return &capture.Table{
		Database: db, Name: "t",
		Columns: []capture.Column{{Name: "id", Type: "bigint"}, {Name: "v", Type: typ}},
		Key:     []int{0},
	}
}

// mysqlChange is a change on t at binlog.000003:1200, row 2.
func mysqlChange(t *capture.Table, op capture.Op, before, after []any) *capture.Change {
	return &capture.Change{
		Op: op, Table: t, Before: before, After: after,
		Position: "binlog.000003:1000", EventPosition: "binlog.000003:1200", RowIndex: 2,
		ServerID: 7, GTID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23", CommitTime: testCommit,
	}
}

// pgChange is a change on t in the transaction committed at 0/16B3748.
func pgChange(t *capture.Table, op capture.Op, before, after []any) *capture.Change {
	return &capture.Change{
		Op: op, Table: t, Before: before, After: after,
		Position: "0/16B3700", EventPosition: "0/16B3748:0", TxID: "7781", CommitTime: testCommit,
	}
}

// build builds c as source "main", failing the test on error.
func build(t *testing.T, connector string, c *capture.Change) []transform.Event {
	t.Helper()
	evs, err := transform.Build("main", connector, c, testNow)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return evs
}

// encode encodes ev, failing the test on error or invalid JSON.
func encode(t *testing.T, ev *transform.Event, table *capture.Table, o Options) (key, value []byte) {
	t.Helper()
	key, value, err := Encode(ev, table, o)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if key != nil && !json.Valid(key) {
		t.Fatalf("invalid key JSON: %s", key)
	}
	if !json.Valid(value) {
		t.Fatalf("invalid value JSON: %s", value)
	}
	return key, value
}

// compact removes insignificant whitespace from an expected JSON literal.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad expected JSON %s: %v", s, err)
	}
	return b.String()
}

// message is what the pipeline hands the sink; a nil Value is a tombstone.
type message struct {
	Key, Value []byte
}

// messages encodes evs as the handler does in Debezium mode: each event,
// and after a delete a tombstone with the same key.
func messages(t *testing.T, evs []transform.Event, table *capture.Table, o Options) []message {
	t.Helper()
	enc := NewEncoder(o)
	var out []message
	for i := range evs {
		key, value, err := enc.Encode(&evs[i], table)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		out = append(out, message{key, value})
		if evs[i].Op == capture.OpDelete {
			out = append(out, message{Key: key})
		}
	}
	return out
}
