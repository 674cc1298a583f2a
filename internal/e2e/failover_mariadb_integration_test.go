package e2e

// MariaDB failover on the destructive pair (testenv.TakeMariaDBFailoverPair,
// never the shared MariaDB): the daemon reads the primary, the primary is
// killed and its replica promoted, and the daemon follows by GTID.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// failoverRig is a test's database on the pair, its topic and the
// daemon's config.
type failoverRig struct {
	*setup
	pair *testenv.MariaDBFailoverPair
	c    *collector
}

func newFailoverRig(t *testing.T) *failoverRig {
	t.Helper()
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	pair := testenv.TakeMariaDBFailoverPair(t)
	s := newSetup(t)
	testenv.Exec(t, pair.Open(t, pair.PrimaryAddr, ""), "CREATE DATABASE "+s.Database,
		"CREATE TABLE "+s.Database+".t1 (id INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB")
	createTopics(t, 3, s.topic("t1"))
	return &failoverRig{setup: s, pair: pair, c: collect(t, 3, s.topic("t1"))}
}

// config writes the daemon's config: the primary (at addr) as addr, the
// replica as failover address, and extra source settings.
func (r *failoverRig) config(t *testing.T, addr, extra string) string {
	t.Helper()
	src := r.mysqlSource(addr, time.Second, 5*time.Second) +
		fmt.Sprintf("    failover_addrs: [%q]\n", r.pair.ReplicaAddr) + extra
	return r.writeConfigWith(t, "", src)
}

// chainWriter commits transactions of 1–3 changes to random keys of t1,
// each setting v to a number larger than every earlier one, so each
// key's events must chain: an update's or delete's before image has the v
// of the key's previous event. It writes to the primary until that fails,
// then, once moved, to the promoted server.
type chainWriter struct {
	db          atomic.Pointer[sql.DB]
	upsert, del string // statements of (id, v) and (id)
	moved       chan struct{}
	n           int64
	commits     atomic.Int64
	// acked are the v values of upserts whose transaction committed.
	ackedMu sync.Mutex
	acked   []int64
	done    chan error
	stop    chan struct{}
}

// startChainWriter writes to MariaDB's database.t1.
func startChainWriter(t *testing.T, db *sql.DB, database string, keys int) *chainWriter {
	return startChainWriterWith(t, db, keys,
		fmt.Sprintf("INSERT INTO %s.t1 VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)", database),
		fmt.Sprintf("DELETE FROM %s.t1 WHERE id = ?", database))
}

// startChainWriterWith writes with the given upsert (id, v) and delete
// (id) statements.
func startChainWriterWith(t *testing.T, db *sql.DB, keys int, upsert, del string) *chainWriter {
	w := &chainWriter{upsert: upsert, del: del, moved: make(chan struct{}), done: make(chan error, 1), stop: make(chan struct{})}
	w.db.Store(db)
	rng := rand.New(rand.NewPCG(16, 7))
	go func() {
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			if err := w.txn(rng, keys); err != nil {
				select {
				case <-w.moved: // an error on the promoted server is real
					w.done <- err
					return
				default:
				}
				<-w.moved // the primary is gone: wait for the move
			}
		}
	}()
	t.Cleanup(func() { w.finish() })
	return w
}

func (w *chainWriter) txn(rng *rand.Rand, keys int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := w.db.Load().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var upserted []int64
	for i, n := 0, 1+rng.IntN(3); i < n; i++ {
		w.n++
		id := 1 + rng.IntN(keys)
		q, args := w.upsert, []any{id, w.n}
		if rng.IntN(5) == 0 {
			q, args = w.del, []any{id}
		} else {
			upserted = append(upserted, w.n)
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.ackedMu.Lock()
	w.acked = append(w.acked, upserted...)
	w.ackedMu.Unlock()
	w.commits.Add(1)
	return nil
}

// ackedValues are the v values written by committed transactions.
func (w *chainWriter) ackedValues() []int64 {
	w.ackedMu.Lock()
	defer w.ackedMu.Unlock()
	return append([]int64(nil), w.acked...)
}

// moveTo sends the writer to the promoted server.
func (w *chainWriter) moveTo(db *sql.DB) {
	w.db.Store(db)
	close(w.moved)
}

func (w *chainWriter) finish() error {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	select {
	case err := <-w.done:
		w.done <- err
		return err
	case <-time.After(20 * time.Second):
		return fmt.Errorf("the writer did not stop")
	}
}

func (w *chainWriter) waitCommits(t *testing.T, n int64) {
	t.Helper()
	from := w.commits.Load()
	testenv.Eventually(t, time.Minute, fmt.Sprintf("the writer to commit %d transactions", n), func() bool {
		return w.commits.Load()-from >= n
	})
}

// topicState checks every key's de-duplicated events chain in order and
// returns the state they leave (id → v), the number of distinct events and
// the duplicates dropped.
func topicState(t *testing.T, c *collector) (state map[string]string, unique, dups int, chainErrs []string) {
	t.Helper()
	evs, errs := c.snapshot()
	if len(errs) > 0 {
		t.Fatalf("consuming: %v", errs)
	}
	uniq, dups := dedupe(evs)
	state = map[string]string{}
	for _, ev := range uniq {
		k := string(ev.Key["id"])
		prev, exists := state[k]
		switch ev.Op {
		case "c":
			if exists {
				chainErrs = append(chainErrs, fmt.Sprintf("key %s: create %s over v=%s", k, ev.ID, prev))
			}
			state[k] = string(ev.After["v"])
		case "u", "d":
			if !exists || string(ev.Before["v"]) != prev {
				chainErrs = append(chainErrs, fmt.Sprintf("key %s: %s %s has before v=%s, the key's previous event left %q (exists %v)", k, ev.Op, ev.ID, ev.Before["v"], prev, exists))
			}
			if ev.Op == "u" {
				state[k] = string(ev.After["v"])
			} else {
				delete(state, k)
			}
		case "r":
			state[k] = string(ev.After["v"])
		}
	}
	return state, len(uniq), dups, chainErrs
}

// tableState is the table database.t1 on db (MariaDB) as id → v.
func tableState(t *testing.T, db *sql.DB, database string) map[string]string {
	t.Helper()
	return queryState(t, db, "SELECT id, v FROM "+database+".t1")
}

// queryState is what query (id, v rows) returns as id → v.
func queryState(t *testing.T, db *sql.DB, query string) map[string]string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(id)
		out[string(b)] = fmt.Sprint(v)
	}
	return out
}

// stateDiff lists the keys whose values differ.
func stateDiff(want, got map[string]string) []string {
	var d []string
	for k, v := range want {
		if got[k] != v {
			d = append(d, fmt.Sprintf("id %s: table %s, topic %q", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("id %s: not in the table, topic %s", k, v))
		}
	}
	sort.Strings(d)
	return d
}

// waitTopicState waits until the state rebuilt from the topic equals the
// table on db, and checks every key's chain.
func (r *failoverRig) waitTopicState(t *testing.T, db *sql.DB) (unique, dups int) {
	t.Helper()
	return waitTopicMatches(t, r.c, tableState(t, db, r.Database))
}

// waitTopicMatches waits until the state rebuilt from c's topic equals
// want (id → v), and checks every key's chain.
func waitTopicMatches(t *testing.T, c *collector, want map[string]string) (unique, dups int) {
	t.Helper()
	var diff, chain []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got map[string]string
		got, unique, dups, chain = topicState(t, c)
		if diff = stateDiff(want, got); len(diff) == 0 {
			break
		}
		if time.Now().After(deadline) {
			logKeyEvents(t, c, diff)
			t.Fatalf("the state rebuilt from the topic differs from the promoted server's table in %d keys, e.g.:\n%s", len(diff), strings.Join(diff[:min(10, len(diff))], "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(chain) > 0 {
		t.Fatalf("%d events out of their key's commit order, e.g.:\n%s", len(chain), strings.Join(chain[:min(10, len(chain))], "\n"))
	}
	return unique, dups
}

// logKeyEvents logs every event (duplicates too) of the keys in diff.
func logKeyEvents(t *testing.T, c *collector, diff []string) {
	t.Helper()
	keys := map[string]bool{}
	for _, d := range diff {
		k, _, _ := strings.Cut(strings.TrimPrefix(d, "id "), ":")
		keys[k] = true
	}
	evs, _ := c.snapshot()
	ids := map[string]bool{}
	for _, ev := range evs {
		if keys[string(ev.Key["id"])] {
			ids[ev.ID] = true
		}
	}
	for _, ev := range evs {
		if k := string(ev.Key["id"]); keys[k] || ids[ev.ID] {
			t.Logf("key %s: %s %s before %s after %s (p%d@%d, %s)", k, ev.Op, ev.ID, ev.Before["v"], ev.After["v"], ev.partition, ev.offset, ev.Source.Position)
		}
	}
}

// TestMariaDBFailoverUnderLoad: mid-load the primary is killed (kill -9
// of mariadbd) and the replica promoted (STOP SLAVE; RESET SLAVE ALL); the
// writer moves to it. The daemon reaches the primary through a proxy that
// is blackholed shortly before the kill, until the replica has applied
// everything the primary had logged by then: a failover that loses nothing
// the daemon read (with asynchronous replication the daemon can otherwise
// be ahead of the replica, which TestMariaDBFailoverToLaggingReplica
// covers), and a half-open connection the daemon must time out. It
// switches within its read timeout and backoff, resumes by GTID, and the
// state rebuilt from the topic equals the promoted server's table, every
// key's events (de-duplicated by id) in commit order.
func TestMariaDBFailoverUnderLoad(t *testing.T) {
	r := newFailoverRig(t)
	proxy := testenv.StartProxy(t, r.pair.PrimaryAddr)
	d := startDaemon(t, "run", "-c", r.config(t, proxy.Addr(), ""))
	keepLog(t, d)
	d.waitStreaming(t)
	w := startChainWriter(t, r.pair.Open(t, r.pair.PrimaryAddr, ""), r.Database, 40)
	w.waitCommits(t, 150)

	proxy.Blackhole(true)
	r.pair.WaitReplicaReached(t, r.pair.PrimaryGTIDPos(t))
	w.waitCommits(t, 10) // the load goes on
	r.pair.KillPrimary(t)
	killed := time.Now()
	r.pair.Promote(t)
	w.moveTo(r.pair.Open(t, r.pair.ReplicaAddr, ""))
	w.waitCommits(t, 150)
	if err := w.finish(); err != nil {
		t.Fatalf("writer on the promoted server: %v", err)
	}

	unique, dups := r.waitTopicState(t, r.pair.Open(t, r.pair.ReplicaAddr, ""))
	t.Logf("%d distinct events, %d duplicates dropped by id; caught up %s after the kill", unique, dups, time.Since(killed).Round(time.Millisecond))
	// The checkpoint follows the acks within its interval.
	testenv.Eventually(t, 30*time.Second, "a checkpoint of the promoted server (server_id 12) in /status", func() bool {
		st := d.status(t)
		if st.State != "streaming" {
			t.Fatalf("source state %s (%s), want streaming", st.State, st.LastError)
		}
		return strings.Contains(st.CheckpointPosition, "server_id=12")
	})
	d.stop(t)
}

// TestMariaDBFailoverToLaggingReplica: the replica stops applying before
// the primary's last transaction (an update the daemon has delivered),
// then is promoted. The daemon stops the source with the missing-GTID
// error instead of skipping; restarted with snapshot mode when_needed it
// re-reads the table from the promoted server, and the topic's state is
// exactly that server's table.
func TestMariaDBFailoverToLaggingReplica(t *testing.T) {
	r := newFailoverRig(t)
	cfg := r.config(t, r.pair.PrimaryAddr, "")
	d := startDaemon(t, "run", "-c", cfg)
	d.waitStreaming(t)
	primary := r.pair.Open(t, r.pair.PrimaryAddr, r.Database)
	for i := 1; i <= 20; i++ {
		testenv.Exec(t, primary, fmt.Sprintf("INSERT INTO t1 VALUES (%d, %d)", i, i))
	}
	r.pair.WaitReplicaCaughtUp(t)
	testenv.Exec(t, r.pair.Open(t, r.pair.ReplicaAddr, ""), "STOP SLAVE")
	testenv.Exec(t, primary, "UPDATE t1 SET v = 1000 WHERE id = 7") // never on the replica
	testenv.Eventually(t, 30*time.Second, "the update to reach the topic", func() bool {
		st, _, _, _ := topicState(t, r.c)
		return st["7"] == "1000"
	})
	r.pair.KillPrimary(t)
	r.pair.Promote(t)

	// Its only source stopped for good, the daemon exits; only its output
	// says why.
	select {
	case <-d.waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the daemon did not stop its source on the lagging replica; /status: %+v", d.status(t))
	}
	if d.err == nil {
		t.Error("the daemon exited with status 0")
	}
	if out := d.logs.String(); !strings.Contains(out, "lacks GTIDs") || !strings.Contains(out, "domain 0 sequence numbers 23-23") {
		t.Errorf("the daemon's output does not name the missing GTID 0-11-23:\n%s", tail(out, 2000))
	}
	if p := committedPosition(t, cfg, r.Source); !strings.Contains(p, "0-11-23") || !strings.Contains(p, "server_id=11") {
		t.Errorf("checkpoint %s: want it left at the old primary's 0-11-23", p)
	}

	d = startDaemon(t, "run", "-c", r.config(t, r.pair.PrimaryAddr, "    snapshot: {mode: when_needed}\n"))
	d.waitStreaming(t)
	replica := r.pair.Open(t, r.pair.ReplicaAddr, "")
	testenv.Exec(t, replica, "UPDATE "+r.Database+".t1 SET v = 2000 WHERE id = 8")
	r.waitTopicState(t, replica)
	d.stop(t)
}
