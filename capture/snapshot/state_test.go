package snapshot

import (
	"encoding/base64"
	"encoding/json"
	"github.com/tributary-cdc/tributary/capture"
	"math"
	"reflect"
	"testing"
)

func TestStateEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state *State
	}{
		{"pending only", &State{ID: "0/16B3748", Pending: []string{"public.a", "public.b"}}},
		{"two active, one resuming", &State{ID: "b.000001:4@0-1-5", Active: []Cursor{
			{Table: "shop.b", After: []any{int64(-5), uint64(math.MaxUint64), "zoë|snapshot=x", []byte{0, 0xff}, float32(1.5), math.Inf(-1), []string{"a", "b"}, true, nil, json.RawMessage(`{"a":1}`)}},
			{Table: "shop.c"},
		}, Pending: []string{"shop.d"}}},
		{"dots in table", &State{Active: []Cursor{{Table: "db.t.with.dots", After: []any{"k"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.state.Encode())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.state) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, tt.state)
			}
		})
	}
}

func TestDecodeSingleTableForm(t *testing.T) {
	t.Parallel()
	// Written by versions before parallel reads: {"id":..,"table":..,"after":..,"pending":..}.
	old := base64.RawURLEncoding.EncodeToString([]byte(`{"id":"x","table":"shop.a","after":[{"i":"42"}],"pending":["shop.b"]}`))
	got, err := Decode(old)
	if err != nil {
		t.Fatal(err)
	}
	want := &State{ID: "x", Active: []Cursor{{Table: "shop.a", After: []any{int64(42)}}}, Pending: []string{"shop.b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestDecodeRefusesBadStates(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"", "!!!",
		base64.RawURLEncoding.EncodeToString([]byte("not json")),
		base64.RawURLEncoding.EncodeToString([]byte(`{"table":"nodot"}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"pending":["a.b","nodot"]}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"table":"a.b","after":[{"q":"1"}]}`)),
		base64.RawURLEncoding.EncodeToString([]byte(`{"id":"x"}`)),
	} {
		if s, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) = %+v, want an error", bad, s)
		}
	}
}

func TestStateMovesOn(t *testing.T) {
	t.Parallel()
	s := New("id", []string{"d.a", "d.b", "d.c"})
	s, started := s.Start(2)
	if len(started) != 2 || started[0].Table != "d.a" || started[1].Table != "d.b" || !reflect.DeepEqual(s.Pending, []string{"d.c"}) {
		t.Fatalf("Start(2) = %+v, started %+v", s, started)
	}
	before := s.Clone()
	s2 := s.Advance("d.a", []any{int64(7)})
	if !reflect.DeepEqual(s, before) {
		t.Errorf("Advance changed its receiver")
	}
	if c, _ := s2.Cursor("d.a"); !reflect.DeepEqual(c.After, []any{int64(7)}) {
		t.Errorf("cursor after Advance = %+v", c)
	}
	s3 := s2.Finish("d.b")
	if _, ok := s3.Cursor("d.b"); ok || !s3.Has("d.c") || !s3.Has("d.a") || s3.Has("d.b") {
		t.Errorf("Finish(d.b) = %+v", s3)
	}
	s4, started := s3.Start(2)
	if len(started) != 1 || started[0].Table != "d.c" || len(s4.Pending) != 0 {
		t.Errorf("Start after Finish = %+v, %+v", s4, started)
	}
	if s5 := s4.Finish("d.a").Finish("d.c"); s5 != nil {
		t.Errorf("finishing every table = %+v, want nil", s5)
	}
}

func TestAddTables(t *testing.T) {
	t.Parallel()
	s, added := AddTables(nil, "new", []string{"d.a", "d.b", "d.a"})
	if s.ID != "new" || !reflect.DeepEqual(added, []string{"d.a", "d.b"}) {
		t.Fatalf("AddTables(nil) = %+v, %v", s, added)
	}
	s, _ = s.Start(1)
	s2, added := AddTables(s, "other", []string{"d.a", "d.c"})
	if s2.ID != "new" || !reflect.DeepEqual(added, []string{"d.c"}) || !reflect.DeepEqual(s2.Pending, []string{"d.b", "d.c"}) {
		t.Errorf("AddTables(running) = %+v, %v", s2, added)
	}
	if len(s.Pending) != 1 {
		t.Errorf("AddTables changed its argument: %+v", s)
	}
}

func TestKeyStringSameForSameValues(t *testing.T) {
	t.Parallel()
	a := capture.KeyString([]any{"x", int64(1), []byte{1}}, []int{1, 2})
	b := capture.KeyString([]any{"y", int64(1), []byte{1}}, []int{1, 2})
	c := capture.KeyString([]any{"y", uint64(1), []byte{1}}, []int{1, 2})
	if a != b || a == c {
		t.Errorf("KeyString: %q %q %q", a, b, c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	captured := func(db, tbl string) bool { return db == "shop" }
	tests := []struct {
		cfg  Config
		errs int
	}{
		{Config{Mode: Initial, Parallel: 4, Tables: []string{"shop.a"}}, 0},
		{Config{Mode: "always"}, 1},
		{Config{Parallel: 17}, 1},
		{Config{Tables: []string{"nodot", "other.a"}}, 2},
		{Config{ChunkSize: -1, RowsPerSecond: -1}, 2},
	}
	for _, tt := range tests {
		if errs := tt.cfg.Validate("sources[x].snapshot", captured); len(errs) != tt.errs {
			t.Errorf("Validate(%+v) = %v, want %d errors", tt.cfg, errs, tt.errs)
		}
	}
}
