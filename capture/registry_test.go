package capture

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

type fakeSettings struct{}

func (fakeSettings) Validate(string) error { return nil }

var errFakeSnapshot = errors.New("fake: invalid snapshot request")

// fakeRegistration is complete: each test removes what it checks.
func fakeRegistration() Registration {
	return Registration{
		Title:       "Fake",
		NewSettings: func() Settings { return &fakeSettings{} },
		Defaults:    func(Settings, string) {},
		NewSource: func(string, Settings, string, *slog.Logger) (Source, error) {
			return nil, errors.New("fake")
		},
		NewTableReader: func(string, Settings, string) (TableReader, error) {
			return nil, errors.New("fake")
		},
		ParsePosition:      func(string) (Position, error) { return nil, errors.New("fake") },
		PositionHelp:       "a fake position",
		ErrSnapshotRequest: errFakeSnapshot,
		Debezium:           func(Settings) (string, string) { return "fake", "" },
		LogAttrs:           func(Settings) []any { return nil },
	}
}

func TestRegisterRefusesIncompleteRegistrations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   Kind
		modify func(*Registration)
		want   string
	}{
		{"empty kind", "", func(*Registration) {}, "empty kind"},
		{"no title", "k", func(r *Registration) { r.Title = "" }, "no Title"},
		{"no settings", "k", func(r *Registration) { r.NewSettings = nil }, "no NewSettings"},
		{"no defaults", "k", func(r *Registration) { r.Defaults = nil }, "no Defaults"},
		{"no source", "k", func(r *Registration) { r.NewSource = nil }, "no NewSource"},
		{"no table reader", "k", func(r *Registration) { r.NewTableReader = nil }, "no NewTableReader"},
		{"no position parser", "k", func(r *Registration) { r.ParsePosition = nil }, "no ParsePosition"},
		{"no position help", "k", func(r *Registration) { r.PositionHelp = "" }, "no PositionHelp"},
		{"no snapshot error", "k", func(r *Registration) { r.ErrSnapshotRequest = nil }, "no ErrSnapshotRequest"},
		{"no debezium", "k", func(r *Registration) { r.Debezium = nil }, "no Debezium"},
		{"no log attrs", "k", func(r *Registration) { r.LogAttrs = nil }, "no LogAttrs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := fakeRegistration()
			tc.modify(&reg)
			var r Registry
			got := panicText(func() { r.Register(tc.kind, reg) })
			if !strings.Contains(got, tc.want) {
				t.Errorf("panic %q, want it to contain %q", got, tc.want)
			}
			if len(r.Kinds()) != 0 {
				t.Errorf("kinds %v after a refused registration", r.Kinds())
			}
		})
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	t.Parallel()
	var r Registry
	r.Register("k", fakeRegistration())
	if got := panicText(func() { r.Register("k", fakeRegistration()) }); !strings.Contains(got, "twice for kind k") {
		t.Errorf("panic %q", got)
	}
}

func TestRegistryLookup(t *testing.T) {
	t.Parallel()
	var r Registry
	if _, ok := r.Lookup("a"); ok {
		t.Fatal("an empty registry found a kind")
	}
	if kinds := r.Kinds(); len(kinds) != 0 {
		t.Fatalf("empty registry lists %v", kinds)
	}
	binlog := fakeRegistration()
	binlog.Title = "Binlog"
	binlog.ServerID = func(Settings) uint32 { return 7 }
	wal := fakeRegistration()
	wal.Title = "WAL"
	wal.NoHistory = "the server keeps no history"
	r.Register("wal", wal)
	r.Register("binlog", binlog)

	tests := []struct {
		kind         Kind
		found        bool
		title        string
		canReplay    bool
		usesServerID bool
	}{
		{"binlog", true, "Binlog", true, true},
		{"wal", true, "WAL", false, false},
		{"oracle", false, "", false, false},
		{"", false, "", false, false},
	}
	for _, tc := range tests {
		reg, ok := r.Lookup(tc.kind)
		if ok != tc.found {
			t.Errorf("Lookup(%q) found %v, want %v", tc.kind, ok, tc.found)
			continue
		}
		if !ok {
			continue
		}
		if reg.Title != tc.title || reg.CanReplay() != tc.canReplay || reg.UsesServerID() != tc.usesServerID {
			t.Errorf("Lookup(%q) = %s, replay %v, server_id %v; want %s, %v, %v", tc.kind,
				reg.Title, reg.CanReplay(), reg.UsesServerID(), tc.title, tc.canReplay, tc.usesServerID)
		}
	}
	if kinds := r.Kinds(); !slices.Equal(kinds, []Kind{"binlog", "wal"}) {
		t.Errorf("Kinds() = %v, want them sorted", kinds)
	}
}

func TestIsSnapshotRequestError(t *testing.T) {
	t.Parallel()
	var r Registry
	r.Register("k", fakeRegistration())
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"the sentinel", errFakeSnapshot, true},
		{"wrapped", fmt.Errorf("table a.b has no key: %w", errFakeSnapshot), true},
		{"another error", errors.New("connection refused"), false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		if got := r.IsSnapshotRequestError(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// panicText runs f and returns what it panicked with ("" if it did not).
func panicText(f func()) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprint(p)
		}
	}()
	f()
	return ""
}

func TestTableID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want TableID
		ok   bool
	}{
		{"shop.users", TableID{"shop", "users"}, true},
		{"public.Odd Name", TableID{"public", "Odd Name"}, true},
		{"a.b.c", TableID{"a", "b.c"}, true}, // the first dot separates
		{"users", TableID{}, false},
		{".users", TableID{}, false},
		{"shop.", TableID{}, false},
		{"", TableID{}, false},
	}
	for _, tc := range tests {
		got, err := ParseTableID(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseTableID(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
			continue
		}
		if tc.ok && got.String() != tc.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tc.in)
		}
	}
	tbl := &Table{Database: "shop", Name: "users"}
	if id := tbl.ID(); id != (TableID{"shop", "users"}) || id.String() != "shop.users" {
		t.Errorf("Table.ID() = %+v", id)
	}
}
