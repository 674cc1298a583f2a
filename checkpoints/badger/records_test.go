package badgerstore

import (
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// A checkpoint written before version 2 kept its snapshot work in the
// position ("<position>|snapshot=<work>"): it loads with the two apart,
// and a record of a newer version is refused rather than half read.
func TestRecordVersions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value        string
		position, snapshot string
		wantErr            string
	}{
		{"version 1 with snapshot work", `{"version":1,"kind":"commit","position":"b.000001:4|snapshot=eyJpZCI6InMxIn0","commit_time":"2026-01-01T00:00:00Z","saved_at":"2026-01-01T00:00:01Z","history_first":1,"history_next":2}`,
			"b.000001:4", "eyJpZCI6InMxIn0", ""},
		{"version 1 without", `{"version":1,"kind":"commit","position":"0/16B3748","commit_time":"2026-01-01T00:00:00Z","saved_at":"2026-01-01T00:00:01Z","history_first":1,"history_next":2}`,
			"0/16B3748", "", ""},
		{"version 2", `{"version":2,"kind":"commit","position":"0/16B3748","snapshot":"e30","commit_time":"2026-01-01T00:00:00Z","saved_at":"2026-01-01T00:00:01Z","history_first":1,"history_next":2}`,
			"0/16B3748", "e30", ""},
		{"version 3", `{"version":3,"position":"x"}`, "", "", "unsupported version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(currentPrefix+"src"), []byte(tt.value)) }); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			s := openTest(t, dir)
			cp, err := s.Load(t.Context(), "src")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load = %+v, %v; want an error saying %q", cp, err, tt.wantErr)
				}
				return
			}
			if err != nil || cp.Position != tt.position || cp.Snapshot != tt.snapshot {
				t.Fatalf("Load = %+v, %v; want position %q, snapshot %q", cp, err, tt.position, tt.snapshot)
			}
		})
	}
}
