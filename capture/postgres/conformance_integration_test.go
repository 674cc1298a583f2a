package postgres

import (
	"testing"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/capturetest"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// PostgreSQL passes the source conformance suite. Its tables have REPLICA
// IDENTITY FULL, so before images are whole rows as the suite expects (the
// default identity's key-only images are tested in rows_integration_test).
func TestConformance(t *testing.T) {
	t.Parallel()
	capturetest.Run(t, capturetest.Harness{Setup: func(t *testing.T, tables ...string) *capturetest.Target {
		db, name := testDB(t)
		for _, tbl := range tables {
			testenv.Exec(t, db, "CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v VARCHAR(40))", "ALTER TABLE "+tbl+" REPLICA IDENTITY FULL")
		}
		testenv.Exec(t, db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+testenv.PGCDCUser)
		testenv.Exec(t, db, "CREATE PUBLICATION pub_"+name+" FOR ALL TABLES")
		// One slot for every source of the target: a resume reads the
		// slot the first stream read (one stream at a time).
		slot := testenv.UniqueName(t, "slot")
		return &capturetest.Target{
			DB: db, Schema: "public",
			NewSource: func(t *testing.T, snap bool) capture.Source {
				return testSource(t, name, func(c *Config) {
					c.Slot = slot
					if snap {
						c.Snapshot.Mode, c.Snapshot.ChunkSize, c.Snapshot.RowsPerSecond = "initial", 50, 1000
					}
				})
			},
			Compare: func(a, b string) (int, error) {
				la, _, err := ParsePosition(a)
				if err != nil {
					return 0, err
				}
				lb, _, err := ParsePosition(b)
				if err != nil {
					return 0, err
				}
				switch {
				case la < lb:
					return -1, nil
				case la > lb:
					return 1, nil
				}
				return 0, nil
			},
			Future: func(t *testing.T, cur string) string {
				l, _, err := ParsePosition(cur)
				if err != nil {
					t.Fatal(err)
				}
				return (l + 1<<32).String()
			},
			Gone: func(t *testing.T, cur string) string {
				return pglogrepl.LSN(0x100).String() // far behind any slot
			},
			GoneErr:  ErrPositionGone,
			AheadErr: ErrPositionAhead,
		}
	}})
}
