package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/tributary-cdc/tributary/capture"
)

// FuzzEventJSON builds events from arbitrary values and checks that the
// output is valid JSON whenever encoding succeeds, that valid UTF-8 text
// always encodes and decodes back to itself, and that integers are exact.
func FuzzEventJSON(f *testing.F) {
	f.Add("Ada", "name", []byte{0, 1}, int64(-1), uint64(math.MaxUint64), 0.1, float32(1.5), true, `{"a":1}`, false)
	f.Add("ok 👍 数据", "we\"ird", []byte{}, int64(math.MinInt64), uint64(0), math.NaN(), float32(math.Inf(-1)), false, `[]`, true)
	f.Add("\xff", "\u2028", []byte(nil), int64(0), uint64(1), math.Inf(1), float32(0), false, `{"a":`, false)
	f.Add("\x00\n\"\\", "", []byte("x"), int64(7), uint64(7), -0.0, float32(-0.0), true, `"\ud800"`, true)
	f.Fuzz(func(t *testing.T, s, col string, bin []byte, i int64, u uint64, f64 float64, f32 float32, b bool, doc string, absent bool) {
		tab := &capture.Table{
			Database: "db",
			Name:     col,
			Columns: []capture.Column{
				{Name: "id"}, {Name: col}, {Name: "bin"}, {Name: "u"}, {Name: "f64"},
				{Name: "f32"}, {Name: "b"}, {Name: "doc"}, {Name: "set"}, {Name: "null"},
			},
			Key: []int{0, 3},
		}
		var last any = nil
		if absent {
			last = capture.Absent
		}
		row := []any{i, s, bin, u, f64, f32, b, json.RawMessage(doc), []string{s, col}, last}
		evs, err := Build("src", ConnectorMySQL, &capture.Change{
			Op: capture.OpCreate, Table: tab, After: row, EventPosition: s, RowIndex: int(i % 1000),
		}, testNow)
		if err != nil {
			if s == "" {
				return // empty event position is rejected
			}
			t.Fatalf("Build: %v", err)
		}
		out, err := evs[0].AppendJSON(nil)
		textOK := utf8.ValidString(s) && utf8.ValidString(col)
		docOK := json.Valid([]byte(doc)) && utf8.ValidString(doc)
		if err != nil {
			if textOK && docOK {
				t.Fatalf("AppendJSON failed on valid input: %v", err)
			}
			if !textOK && !errors.Is(err, ErrInvalidUTF8) {
				t.Fatalf("AppendJSON on invalid UTF-8: %v, want ErrInvalidUTF8", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		var back struct {
			ID  string
			Key struct {
				ID json.Number
				U  json.Number
			}
			After map[string]any
		}
		d := json.NewDecoder(bytes.NewReader(out))
		d.UseNumber()
		if err := d.Decode(&back); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		if want := "src:" + s + "#" + strconv.Itoa(int(i%1000)); back.ID != want {
			t.Errorf("id = %q, want %q", back.ID, want)
		}
		if back.Key.ID.String() != strconv.FormatInt(i, 10) || back.Key.U.String() != strconv.FormatUint(u, 10) {
			t.Errorf("key %v/%v, want %d/%d", back.Key.ID, back.Key.U, i, u)
		}
		fixed := map[string]bool{"id": true, "bin": true, "u": true, "f64": true, "f32": true, "b": true, "doc": true, "set": true, "null": true}
		if !fixed[col] && back.After[col] != s {
			t.Errorf("after[%q] = %q, want %q", col, back.After[col], s)
		}
	})
}
