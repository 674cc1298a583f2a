package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

const testSalt = "pepper"

// testEnv is the environment Compile sees in tests.
func testEnv(name string) (string, bool) {
	switch name {
	case "TRIBUTARY_MASK_SALT":
		return testSalt, true
	case "EMPTY_SALT":
		return "", true
	}
	return "", false
}

// custColumns are crm.customers' columns, id first (the key).
var custColumns = []string{"id", "cust_nm", "email", "phone", "is_vip", "amount", "created", "status", "country", "internal_notes"}

func custTable(db, name string, cols ...string) *capture.Table {
	if cols == nil {
		cols = custColumns
	}
	t := &capture.Table{Database: db, Name: name, Key: []int{0}}
	for _, c := range cols {
		t.Columns = append(t.Columns, capture.Column{Name: c})
	}
	return t
}

// custRow is a crm.customers row; set overrides columns by name.
func custRow(set map[string]any) []any {
	row := []any{int64(42), "Zoë", "zoe@example.com", "+49 170 1234567", int64(1), "1234.50",
		"2024-07-01 12:00:00.123456", "active", "DE", "likes cats"}
	for name, v := range set {
		for i, c := range custColumns {
			if c == name {
				row[i] = v
			}
		}
	}
	return row
}

// event builds the single event of a change on tab as source "crm" (MySQL).
func event(t testing.TB, tab *capture.Table, op capture.Op, before, after []any) *transform.Event {
	t.Helper()
	evs := events(t, "crm", transform.ConnectorMySQL, tab, op, before, after)
	if len(evs) != 1 {
		t.Fatalf("Build gave %d events, want 1", len(evs))
	}
	return &evs[0]
}

func events(t testing.TB, source, connector string, tab *capture.Table, op capture.Op, before, after []any) []transform.Event {
	t.Helper()
	evs, err := transform.Build(source, connector, &capture.Change{
		Op: op, Table: tab, Before: before, After: after,
		Position: "bin.000001:4", EventPosition: "bin.000001:100", RowIndex: 0,
		CommitTime: time.Unix(1706745599, 0),
	}, time.Unix(1706745600, 0))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return evs
}

func mustCompile(t testing.TB, cfgs ...Config) *Mapper {
	t.Helper()
	m, err := Compile(cfgs, testEnv, WithTopicPrefix("cdc"))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return m
}

// mustApply maps ev of source crm and fails unless the table is mapped and
// Apply succeeds.
func mustApply(t testing.TB, m *Mapper, source string, ev *transform.Event) []Output {
	t.Helper()
	out, mapped, err := m.Apply(nil, source, ev)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if !mapped {
		t.Fatalf("Apply: table %s.%s not mapped", ev.Source.Database, ev.Source.Table)
	}
	return out
}

// rowErr maps ev and returns the RowError it must fail with.
func rowErr(t testing.TB, m *Mapper, ev *transform.Event) *RowError {
	t.Helper()
	_, _, err := m.Apply(nil, "crm", ev)
	var re *RowError
	if !errors.As(err, &re) {
		t.Fatalf("Apply: got %v, want a *RowError", err)
	}
	return re
}

// rowJSON encodes a row image ("null" for nil).
func rowJSON(t testing.TB, r transform.Row) string {
	t.Helper()
	b, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatalf("encode row: %v", err)
	}
	return string(b)
}

// outJSON encodes an output, checking it is valid JSON.
func outJSON(t testing.TB, o *Output) string {
	t.Helper()
	b, err := o.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	return string(b)
}

// hmacHex is the expected hash mask of an encoded value.
func hmacHex(encoded string) string {
	h := hmac.New(sha256.New, []byte(testSalt))
	h.Write([]byte(encoded))
	return hex.EncodeToString(h.Sum(nil))
}

func ptr[T any](v T) *T { return &v }
