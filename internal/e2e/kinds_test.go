package e2e

// The source kinds a scenario runs against. A scenario written once takes a
// sourceKind and gets a rig: its own database with the workload tables t1
// and t2, their topics collected from the start, and the daemon's config
// for it. What only one kind can do stays in that kind's own tests.

import (
	"database/sql"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// sourceKind is what a scenario needs to know about one kind of source.
type sourceKind struct {
	name    string        // the subtest's name
	service string        // the server's scripts/services name
	addr    func() string // where the server listens
	pkg     string        // the capture package, to pick its goroutines from a dump
	// prepare gives the test its database with t1 and t2 and a collector of
	// their topics.
	prepare func(t *testing.T) *rig
	// snapshotState decodes the snapshot work a checkpoint carries (nil:
	// none).
	snapshotState func(t *testing.T, work string) *snapshot.State
}

var (
	mariadb = sourceKind{
		name: "mariadb", service: "mariadb", addr: testenv.MySQLAddr, pkg: "capture/mysql",
		prepare: func(t *testing.T) *rig {
			s := newSetup(t)
			db, c := prepare(t, s)
			return &rig{setup: s, db: db, c: c}
		},
		snapshotState: checkpointSnapshot,
	}
	postgres = sourceKind{
		name: "postgres", service: "postgres", addr: testenv.PGAddr, pkg: "capture/postgres",
		prepare: func(t *testing.T) *rig {
			s, c := preparePG(t)
			return &rig{setup: s.setup, db: s.db, c: c, pg: s}
		},
		snapshotState: checkpointSnapshot,
	}
)

// rig gives the test its database, topics and collector.
func (k *sourceKind) rig(t *testing.T) *rig {
	t.Helper()
	r := k.prepare(t)
	r.kind = k
	return r
}

// rig is one test's slice of a source server: a database with the workload
// tables, their topics and the collector reading them.
type rig struct {
	*setup
	kind *sourceKind
	db   *sql.DB // admin connection to the test's database
	c    *collector
	pg   *pgSetup // PostgreSQL only
}

// workload writes to the rig's t1 and t2.
func (r *rig) workload(keys int, seed uint64) *workload {
	if r.pg != nil {
		w := newWorkload(r.db, "", keys, seed)
		w.postgres = true
		return w
	}
	return newWorkload(r.db, r.Database, keys, seed)
}

// source is the rig's source block reached at addr, with a 1s heartbeat
// and the kind's liveness setting: read_timeout on MariaDB, status_interval
// on PostgreSQL.
func (r *rig) source(addr string, liveness time.Duration) string {
	if r.pg != nil {
		return r.pg.pgSource(addr, time.Second, liveness)
	}
	return r.mysqlSource(addr, time.Second, liveness)
}

// writeConfig writes the daemon's config with the rig's source at addr and
// the defaults of writeConfig: read_timeout 5s, status_interval 200ms.
func (r *rig) writeConfig(t *testing.T, addr string) string {
	t.Helper()
	liveness := 5 * time.Second
	if r.pg != nil {
		liveness = 200 * time.Millisecond
	}
	return r.writeConfigWith(t, "", r.source(addr, liveness))
}

// reconnect drops the pool's idle connections (killed by a server restart)
// and waits until the server answers again.
func (r *rig) reconnect(t *testing.T) {
	t.Helper()
	r.db.SetMaxIdleConns(0)
	r.db.SetMaxIdleConns(2)
	testenv.Eventually(t, time.Minute, "the writer's pool to reconnect to "+r.kind.name, func() bool {
		return r.db.Ping() == nil
	})
}

// checkpointSnapshot decodes a checkpoint's snapshot work (nil: none); the
// form is the same for every kind.
func checkpointSnapshot(t *testing.T, work string) *snapshot.State {
	t.Helper()
	if work == "" {
		return nil
	}
	st, err := snapshot.Decode(work)
	if err != nil {
		t.Fatalf("checkpoint snapshot work %q: %v", work, err)
	}
	return st
}
