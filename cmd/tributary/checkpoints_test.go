package main

import (
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
)

// A rewind to a position copied from an earlier version's checkpoint keeps
// its snapshot work, apart from the position, as checkpoints now hold it.
func TestRewindTargetKeepsLegacySnapshotWork(t *testing.T) {
	t.Parallel()
	store, err := badgerstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	work := snapshot.New("b.000001:4", []string{"shop.a"}).Encode()
	tests := []struct {
		kind, to, position, snapshot string
	}{
		{"mysql", "mariadb-bin.000002:4711@0-1-9|snapshot=" + work, "mariadb-bin.000002:4711@0-1-9", work},
		{"mysql", "mariadb-bin.000002:4711", "mariadb-bin.000002:4711", ""},
		{"postgres", "0/16B3748|snapshot=" + work, "0/16B3748", work},
	}
	for _, tt := range tests {
		cp, err := rewindTarget(t.Context(), store, capture.Kind(tt.kind), "crm", tt.to)
		if err != nil || cp.Position != tt.position || cp.Snapshot != tt.snapshot {
			t.Errorf("rewindTarget(%s) = %+v, %v; want position %s, snapshot %q", tt.to, cp, err, tt.position, tt.snapshot)
		}
	}
}
