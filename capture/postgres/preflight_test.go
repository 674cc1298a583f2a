package postgres

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSettings(t *testing.T) {
	t.Parallel()
	good := serverSettings{WALLevel: "logical", Role: "cdc", Replication: true, MaxSlots: 10, Slots: 1, MaxSenders: 10, Senders: 1}
	tests := []struct {
		name     string
		mod      func(*serverSettings)
		needSlot bool
		want     string
	}{
		{"good", func(*serverSettings) {}, true, ""},
		{"replica", func(s *serverSettings) { s.WALLevel = "replica" }, false, "wal_level=replica; set wal_level=logical"},
		{"restart named", func(s *serverSettings) { s.WALLevel = "replica" }, false, "restart"},
		{"no replication", func(s *serverSettings) { s.Replication = false }, false, `ALTER ROLE "cdc" REPLICATION`},
		{"superuser ok", func(s *serverSettings) { s.Replication, s.Superuser = false, true }, false, ""},
		{"slots full", func(s *serverSettings) { s.Slots = 10 }, true, "max_replication_slots=10"},
		{"slots full, slot exists", func(s *serverSettings) { s.Slots = 10 }, false, ""},
		{"senders full", func(s *serverSettings) { s.Senders = 10 }, false, "max_wal_senders=10"},
	}
	for _, tt := range tests {
		st := good
		tt.mod(&st)
		err := checkSettings("db:5432", st, tt.needSlot)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrPreflight)) {
			t.Errorf("%s: checkSettings = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestCheckIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    tableIdentity
		keys map[string][]string
		want string
	}{
		{tableIdentity{"public", "a", "d", true}, nil, ""},
		{tableIdentity{"public", "a", "i", false}, nil, ""},
		{tableIdentity{"public", "a", "f", true}, nil, ""},
		{tableIdentity{"public", "a", "f", false}, map[string][]string{"public.a": {"x"}}, ""},
		{tableIdentity{"public", "a", "f", false}, nil, "set key_columns[public.a]"},
		{tableIdentity{"public", "a", "d", false}, nil, "PostgreSQL rejects UPDATE and DELETE on such a table"},
		{tableIdentity{"public", "a", "d", false}, map[string][]string{"public.a": {"x"}}, `ALTER TABLE "public"."a" REPLICA IDENTITY FULL`},
		{tableIdentity{"public", "a", "n", true}, nil, "REPLICA IDENTITY NOTHING"},
	}
	for _, tt := range tests {
		err := checkIdentity([]tableIdentity{tt.t}, tt.keys)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrPreflight)) {
			t.Errorf("checkIdentity(%+v) = %v, want %q", tt.t, err, tt.want)
		}
	}
}

func TestSlotWarning(t *testing.T) {
	t.Parallel()
	i := func(v int64) *int64 { return &v }
	const gb = 1 << 30
	tests := []struct {
		st   SlotStatus
		want string
	}{
		{SlotStatus{WALStatus: "reserved", MaxSlotWALKeepSize: -1}, ""},
		{SlotStatus{WALStatus: "reserved", SafeWALSize: i(gb / 2), MaxSlotWALKeepSize: gb}, ""},
		{SlotStatus{WALStatus: "reserved", SafeWALSize: i(gb / 10), MaxSlotWALKeepSize: gb}, "less than 20%"},
		{SlotStatus{WALStatus: "unreserved"}, "wal_status=unreserved"},
		{SlotStatus{WALStatus: "lost"}, "wal_status=lost"},
		{SlotStatus{WALStatus: "lost", InvalidationReason: "wal_removed"}, "wal_status=lost"},
		{SlotStatus{WALStatus: "lost", InvalidationReason: "idle_timeout"}, "invalidation_reason=idle_timeout): it was inactive longer than idle_replication_slot_timeout"},
		{SlotStatus{WALStatus: "lost", InvalidationReason: "rows_removed"}, "hot_standby_feedback"},
	}
	for _, tt := range tests {
		got := slotWarning("s", tt.st)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("slotWarning(%+v) = %q, want %q", tt.st, got, tt.want)
		}
	}
}
