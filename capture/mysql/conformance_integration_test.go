package mysql

import (
	"fmt"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/capturetest"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// MariaDB passes the source conformance suite.
func TestConformance(t *testing.T) {
	t.Parallel()
	capturetest.Run(t, capturetest.Harness{Setup: func(t *testing.T, tables ...string) *capturetest.Target {
		db, name := testDB(t)
		for _, tbl := range tables {
			testenv.Exec(t, db, "CREATE TABLE "+tbl+" (id INT PRIMARY KEY, v VARCHAR(40))")
		}
		return &capturetest.Target{
			DB: db, Schema: name,
			NewSource: func(t *testing.T, snap bool) capture.Source {
				return testSource(t, name, func(c *Config) {
					if snap {
						c.Snapshot = SnapshotConfig{Mode: SnapshotInitial, ChunkSize: 50, RowsPerSecond: 1000}
					}
				})
			},
			Compare: func(a, b string) (int, error) {
				pa, err := ParsePosition(a)
				if err != nil {
					return 0, err
				}
				pb, err := ParsePosition(b)
				if err != nil {
					return 0, err
				}
				return pa.Compare(pb), nil
			},
			Future: func(t *testing.T, cur string) string {
				p, err := ParsePosition(cur)
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf("%s:%d", p.File, p.Pos+1<<20)
			},
			Gone: func(t *testing.T, cur string) string {
				p, err := ParsePosition(cur)
				if err != nil {
					t.Fatal(err)
				}
				base, _ := splitLogName(p.File)
				return base + ".000000:4" // before the first binlog
			},
			GoneErr:  ErrPositionGone,
			AheadErr: ErrPositionAhead,
		}
	}})
}
