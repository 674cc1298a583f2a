package transform

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// testNow is the build time used by tests; its ts_ms is 1706745600123.
var testNow = time.Date(2024, 2, 1, 0, 0, 0, 123_000_000, time.UTC)

// usersTable is db.users(id PK, name, email).
func usersTable() *capture.Table {
	return &capture.Table{
		Database: "shop",
		Name:     "users",
		Columns:  []capture.Column{{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar(64)"}, {Name: "email", Type: "varchar(255)"}},
		Key:      []int{0},
	}
}

// change returns a MySQL-like change on usersTable at binlog.000003:1200#row.
func change(op capture.Op, before, after []any) *capture.Change {
	return &capture.Change{
		Op:            op,
		Table:         usersTable(),
		Before:        before,
		After:         after,
		Position:      "binlog.000003:1000",
		EventPosition: "binlog.000003:1200",
		RowIndex:      2,
		ServerID:      7,
		GTID:          "3e11fa47-71ca-11e1-9e33-c80aa9429562:23",
		CommitTime:    time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC),
	}
}

// mustBuild builds c as source "main" from MySQL, failing the test on error.
func mustBuild(t *testing.T, c *capture.Change) []Event {
	t.Helper()
	evs, err := Build("main", ConnectorMySQL, c, testNow)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return evs
}

// mustJSON encodes ev, failing the test on error or invalid JSON.
func mustJSON(t *testing.T, ev *Event) string {
	t.Helper()
	b, err := ev.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("AppendJSON produced invalid JSON: %s", b)
	}
	return string(b)
}
