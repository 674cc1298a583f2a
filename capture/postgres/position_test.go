package postgres

import (
	"reflect"
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture/snapshot"
)

func TestPositionRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lsn pglogrepl.LSN
		st  *snapshot.State
	}{
		{0x16B3748, nil},
		{0x1_0000_0010, &snapshot.State{ID: "0/10", Active: []snapshot.Cursor{{Table: "public.a", After: []any{int64(5), "x"}}}, Pending: []string{"public.b"}}},
	}
	for _, tt := range tests {
		s := FormatPosition(tt.lsn, tt.st)
		lsn, st, err := ParsePosition(s)
		if err != nil || lsn != tt.lsn || !reflect.DeepEqual(st, tt.st) {
			t.Errorf("ParsePosition(%q) = %v, %+v, %v", s, lsn, st, err)
		}
	}
	for _, bad := range []string{"", "16B3748", "0/10|snapshot=", "0/10|snapshot=!!"} {
		if _, _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q): want an error", bad)
		}
	}
}

func TestVisibility(t *testing.T) {
	t.Parallel()
	s, err := parseTxSnapshot("4294967390:4294967400:4294967395,4294967397")
	if err != nil {
		t.Fatal(err)
	}
	// xid8 values of epoch 1; pgoutput's Begin carries the low 32 bits.
	for xid, want := range map[uint32]bool{94: true, 95: true, 99: false, 100: true, 101: false, 103: true, 104: false, 105: false} {
		if got := s.visible(xid); got != want {
			t.Errorf("visible(%d) = %v, want %v", xid, got, want)
		}
	}
	if _, err := parseTxSnapshot("1:2"); err == nil {
		t.Errorf("want an error for a malformed snapshot")
	}
}
