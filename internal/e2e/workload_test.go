package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"
)

// workload writes random transactions and records, per key, the sequence of
// changes in commit order. One writer commits serially, so its order is the
// commit order.
type workload struct {
	db       *sql.DB
	database string // MySQL database; "" on PostgreSQL (the connection's database)
	postgres bool   // $n placeholders instead of ?
	rng      *rand.Rand
	keys     int
	live     map[int]int // t1 id → version
	nextT2   int
	changes  int
	progress atomic.Int64        // changes, readable while the writer runs
	expected map[string][]string // "table/id" → ["c:1", "u:2", ...]
}

const workloadSchema = `
CREATE TABLE %[1]s.t1 (id INT PRIMARY KEY, v INT NOT NULL, payload VARCHAR(200) NOT NULL) ENGINE=InnoDB;
CREATE TABLE %[1]s.t2 (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(100)) ENGINE=InnoDB;`

// workloadSchemaPG gives full before images (REPLICA IDENTITY FULL), so a
// delete carries the version the ordering check compares.
var workloadSchemaPG = []string{
	`CREATE TABLE t1 (id INT PRIMARY KEY, v INT NOT NULL, payload VARCHAR(200) NOT NULL)`,
	`CREATE TABLE t2 (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(100))`,
	`ALTER TABLE t1 REPLICA IDENTITY FULL`,
	`ALTER TABLE t2 REPLICA IDENTITY FULL`,
}

func newWorkload(db *sql.DB, database string, keys int, seed uint64) *workload {
	return &workload{db: db, database: database, rng: rand.New(rand.NewPCG(seed, 7)), keys: keys,
		live: map[int]int{}, expected: map[string][]string{}}
}

func (w *workload) record(table string, id int, change string) {
	k := fmt.Sprintf("%s/%d", table, id)
	w.expected[k] = append(w.expected[k], change)
}

// txn commits one random transaction of 1–5 row changes in t1 and, one time
// in five, a change in t2 too; one in four with two or more changes also
// rolls a change back to a savepoint. It returns the number of row changes.
func (w *workload) txn(ctx context.Context) (int, error) {
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	type rec struct {
		table  string
		id     int
		change string
	}
	var recs []rec
	staged := map[int]int{} // t1 changes in this txn: id → version, -1 deleted
	version := func(id int) (int, bool) {
		if v, ok := staged[id]; ok {
			return v, v >= 0
		}
		v, ok := w.live[id]
		return v, ok
	}
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, w.sql(q), args...)
		return err
	}
	n := 1 + w.rng.IntN(5)
	for i := 0; i < n; i++ {
		if i == 1 && w.rng.IntN(4) == 0 {
			// ORMs nest transactions as savepoints: a change rolled back to
			// one never reaches the stream, and the transaction stays whole.
			_, err = tx.ExecContext(ctx, "SAVEPOINT sp")
			if err == nil {
				err = exec("UPDATE %s.t1 SET v = v + 1000 WHERE id = ?", 1+w.rng.IntN(w.keys))
			}
			if err == nil {
				_, err = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sp")
			}
			if err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		id := 1 + w.rng.IntN(w.keys)
		v, exists := version(id)
		payload := fmt.Sprintf("payload %d/%d %x", id, v+1, w.rng.Uint64())
		switch r := w.rng.IntN(100); {
		case !exists:
			err = exec("INSERT INTO %s.t1 VALUES (?, 1, ?)", id, payload)
			staged[id] = 1
			recs = append(recs, rec{"t1", id, "c:1"})
		case r < 70:
			err = exec("UPDATE %s.t1 SET v = v + 1, payload = ? WHERE id = ?", payload, id)
			staged[id] = v + 1
			recs = append(recs, rec{"t1", id, fmt.Sprintf("u:%d", v+1)})
		case r < 85:
			err = exec("DELETE FROM %s.t1 WHERE id = ?", id)
			staged[id] = -1
			recs = append(recs, rec{"t1", id, fmt.Sprintf("d:%d", v)})
		default:
			to := 1 + w.rng.IntN(w.keys)
			if _, taken := version(to); taken || to == id {
				err = exec("UPDATE %s.t1 SET v = v + 1 WHERE id = ?", id)
				staged[id] = v + 1
				recs = append(recs, rec{"t1", id, fmt.Sprintf("u:%d", v+1)})
				break
			}
			// A primary-key change: a delete on the old key, a create on the new.
			err = exec("UPDATE %s.t1 SET id = ?, v = v + 1 WHERE id = ?", to, id)
			staged[id], staged[to] = -1, v+1
			recs = append(recs, rec{"t1", id, fmt.Sprintf("d:%d", v)}, rec{"t1", to, fmt.Sprintf("c:%d", v+1)})
		}
		if err != nil {
			tx.Rollback()
			return 0, err
		}
	}
	if w.rng.IntN(5) == 0 {
		w.nextT2++
		if err := exec("INSERT INTO %s.t2 VALUES (?, 1, 'two-table transaction')", w.nextT2); err != nil {
			tx.Rollback()
			return 0, err
		}
		recs = append(recs, rec{"t2", w.nextT2, "c:1"})
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	for id, v := range staged {
		if v < 0 {
			delete(w.live, id)
		} else {
			w.live[id] = v
		}
	}
	for _, r := range recs {
		w.record(r.table, r.id, r.change)
	}
	w.changes += len(recs)
	w.progress.Store(int64(w.changes))
	return len(recs), nil
}

// sql qualifies the statement's %s table prefix and numbers placeholders
// for PostgreSQL.
func (w *workload) sql(q string) string {
	if !w.postgres {
		return fmt.Sprintf(q, w.database)
	}
	q = strings.ReplaceAll(q, "%s.", "")
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// run commits transactions until at least n row changes were written.
func (w *workload) run(ctx context.Context, n int) error {
	for w.changes < n {
		if _, err := w.txn(ctx); err != nil {
			return fmt.Errorf("workload transaction after %d changes: %w", w.changes, err)
		}
	}
	return nil
}

// compare reports keys whose delivered sequence differs from the expected.
func compare(expected, got map[string][]string) []string {
	var diffs []string
	for k, want := range expected {
		if fmt.Sprint(want) != fmt.Sprint(got[k]) {
			diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v", k, want, got[k]))
		}
	}
	for k, g := range got {
		if _, ok := expected[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected events %v", k, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}
