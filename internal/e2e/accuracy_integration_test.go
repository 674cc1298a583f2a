package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The accuracy monitor's settings in these tests: passes every 2 s over the
// two small workload tables, re-checks 700 ms apart.
const accuracyBlock = "    accuracy: {enabled: true, interval: 2s, rows_per_second: 20000, chunk_size: 50, rechecks: 2, recheck_wait: 700ms}\n"

// TestAccuracyMonitor, per source kind: under a continuous write load,
// three consecutive passes report no mismatch (writes in flight are
// re-checked, never reported); then a change that bypasses capture (a
// MariaDB row deleted and one inserted with sql_log_bin=0 as admin; a
// forged Kafka event for a PostgreSQL row, since PostgreSQL decodes every
// committed change of a published table) is reported — exactly those keys,
// in /status and /metrics — by the next full pass.
func TestAccuracyMonitor(t *testing.T) {
	for _, k := range []sourceKind{mariadb, postgres} {
		t.Run(k.name, func(t *testing.T) { testAccuracyMonitor(t, k) })
	}
}

func testAccuracyMonitor(t *testing.T, k sourceKind) {
	r := k.rig(t)
	liveness := 5 * time.Second
	if r.pg != nil {
		liveness = 200 * time.Millisecond
	}
	cfg := r.writeConfigWith(t, "", r.source(testenv.MySQLAddr(), liveness)+accuracyBlock)
	if r.pg != nil {
		cfg = r.writeConfigWith(t, "", r.source(testenv.PGAddr(), liveness)+accuracyBlock)
	}
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)

	// A steady write load for the clean passes.
	w := r.workload(40, 11)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var loadErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := w.txn(ctx); err != nil {
				if ctx.Err() == nil {
					loadErr = err
				}
				return
			}
			time.Sleep(5 * time.Millisecond) // pace, not synchronisation
		}
	}()
	t1, t2 := tableName(r, "t1"), tableName(r, "t2")
	start := accuracyOf(t, d).Passes
	clean := 0
	testenv.Eventually(t, 90*time.Second, "three passes under load", func() bool {
		st := accuracyOf(t, d)
		for _, tb := range st.Tables {
			if tb.Missing+tb.Extra+tb.Differing != 0 {
				t.Fatalf("pass %d under load reported %s: missing %v extra %v differing %v", st.Passes, tb.Table, tb.MissingKeys, tb.ExtraKeys, tb.DifferingKeys)
			}
		}
		clean = int(st.Passes - start)
		return clean >= 3
	})
	stop()
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	st := accuracyOf(t, d)
	if rows := tableStatus(st, t1).RowsChecked; rows == 0 {
		t.Fatalf("no rows of %s checked: %+v", t1, st)
	}
	if n := d.count(`msg="accuracy mismatch`); n != 0 {
		t.Fatalf("%d mismatches logged under load:\n%s", n, grepLines(d.logs.String(), "accuracy mismatch"))
	}
	t.Logf("%d clean passes under %d changes; %s: %d rows checked", clean, w.changes, t1, tableStatus(st, t1).RowsChecked)

	// Tamper once the load is delivered.
	var wantMissing, wantExtra, wantDiffering []string
	var victim int
	if err := r.db.QueryRow("SELECT MIN(id) FROM " + qualified(r, "t1")).Scan(&victim); err != nil {
		t.Fatal(err)
	}
	var victimV int
	var victimPayload string
	if err := r.db.QueryRow(fmt.Sprintf("SELECT v, payload FROM %s WHERE id = %d", qualified(r, "t1"), victim)).Scan(&victimV, &victimPayload); err != nil {
		t.Fatal(err)
	}
	if r.pg == nil {
		unlogged(t, r, "DELETE FROM "+qualified(r, "t1")+" WHERE id = ?", victim)
		unlogged(t, r, "INSERT INTO "+qualified(r, "t1")+" (id, v, payload) VALUES (900001, 1, 'unlogged')")
		wantExtra = []string{fmt.Sprintf(`{"id":%d}`, victim)}
		wantMissing = []string{`{"id":900001}`}
	} else {
		forgeEvent(t, r.pg.pgTopic("t1"), r.Source, victim, -1, "forged")
		wantDiffering = []string{fmt.Sprintf(`{"id":%d}`, victim)}
	}
	tampered, tamperedAt := accuracyOf(t, d).Passes, time.Now()
	var got metrics.AccuracyTable
	testenv.Eventually(t, 60*time.Second, "the tampered key reported", func() bool {
		st := accuracyOf(t, d)
		got = tableStatus(st, t1)
		// The pass running while the rows were tampered with may have
		// compared some keys before the change: only a pass that began
		// after it must report every tampered key.
		complete := sameKeys(got.MissingKeys, wantMissing) && sameKeys(got.ExtraKeys, wantExtra) && sameKeys(got.DifferingKeys, wantDiffering)
		if !complete && st.Passes >= tampered+2 {
			t.Fatalf("pass %d (tampered during pass %d) reports for %s missing %v extra %v differing %v; want %v %v %v", st.Passes, tampered+1, t1,
				got.MissingKeys, got.ExtraKeys, got.DifferingKeys, wantMissing, wantExtra, wantDiffering)
		}
		return complete
	})
	t.Logf("tampered keys reported %s after the change (pass %d, tampered during pass %d)",
		time.Since(tamperedAt).Round(100*time.Millisecond), accuracyOf(t, d).Passes, tampered+1)
	if !sameKeys(got.MissingKeys, wantMissing) || !sameKeys(got.ExtraKeys, wantExtra) || !sameKeys(got.DifferingKeys, wantDiffering) {
		t.Fatalf("%s reported missing %v extra %v differing %v; want %v %v %v", t1,
			got.MissingKeys, got.ExtraKeys, got.DifferingKeys, wantMissing, wantExtra, wantDiffering)
	}
	if other := tableStatus(accuracyOf(t, d), t2); other.Missing+other.Extra+other.Differing != 0 {
		t.Fatalf("%s reported mismatches: %+v", t2, other)
	}
	for kind, want := range map[string]int{"missing": len(wantMissing), "extra": len(wantExtra), "differing": len(wantDiffering)} {
		series := fmt.Sprintf(`tributary_accuracy_mismatches{kind=%q,source=%q,table=%q}`, kind, r.Source, t1)
		if v, ok := d.metric(t, series); !ok || int(v) != want {
			t.Errorf("%s = %v (present %v), want %d", series, v, ok, want)
		}
	}
	for _, series := range []string{
		fmt.Sprintf(`tributary_accuracy_rows_checked_total{source=%q,table=%q}`, r.Source, t1),
		fmt.Sprintf(`tributary_accuracy_last_pass_timestamp_seconds{source=%q,table=%q}`, r.Source, t1),
		fmt.Sprintf(`tributary_accuracy_pass_duration_seconds{source=%q,table=%q}`, r.Source, t1),
	} {
		if v, ok := d.metric(t, series); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", series, v, ok)
		}
	}
	// Logged once, with the keys and never a value.
	logged := grepLines(d.logs.String(), "accuracy mismatch")
	if strings.Count(logged, "\n")+1 != 1 || strings.Contains(logged, "unlogged") || strings.Contains(logged, "forged") {
		t.Errorf("mismatch log lines:\n%s\nwant one naming keys only", logged)
	}

	// `tributary verify` asks the daemon, which answers from its digests;
	// --reread reads the topics and finds the same keys.
	wantKeys := append(append(append([]string{}, wantMissing...), wantExtra...), wantDiffering...)
	for _, args := range [][]string{
		{"verify", "-c", cfg, "--source", r.Source, "--addr", d.adminAddr(t), "--table", t1},
		{"verify", "-c", cfg, "--source", r.Source, "--reread", "--quiet", "--recheck-wait", "300ms", "--table", t1},
	} {
		out, err := runCLI(t, args...)
		digests := strings.Contains(out, "compared with the digests")
		if err == nil || digests == slices.Contains(args, "--reread") {
			t.Errorf("%v: err %v (want the exit status of a difference), output:\n%s", args, err, out)
		}
		for _, k := range wantKeys {
			if !strings.Contains(out, k) {
				t.Errorf("%v does not report %s:\n%s", args, k, out)
			}
		}
	}

	// Repaired behind capture's back again, the mismatch is kept until a
	// pass finds the table clean.
	if r.pg == nil {
		unlogged(t, r, "INSERT INTO "+qualified(r, "t1")+" (id, v, payload) VALUES (?, ?, ?)", victim, victimV, victimPayload)
		unlogged(t, r, "DELETE FROM "+qualified(r, "t1")+" WHERE id = 900001")
	} else {
		forgeEvent(t, r.pg.pgTopic("t1"), r.Source, victim, victimV, victimPayload)
	}
	testenv.Eventually(t, 60*time.Second, "a pass to clear the mismatch", func() bool {
		got = tableStatus(accuracyOf(t, d), t1)
		return got.Missing+got.Extra+got.Differing == 0
	})
	if d.count(`msg="accuracy: table matches its topic again"`) != 1 {
		t.Errorf("the cleared table was not logged once:\n%s", grepLines(d.logs.String(), "accuracy"))
	}
	d.stop(t)
}

func accuracyOf(t *testing.T, d *daemon) metrics.AccuracyStatus {
	t.Helper()
	st := d.status(t)
	if st.Accuracy == nil {
		t.Fatalf("/status has no accuracy block: %+v", st)
	}
	return *st.Accuracy
}

func tableStatus(st metrics.AccuracyStatus, table string) metrics.AccuracyTable {
	for _, tb := range st.Tables {
		if tb.Table == table {
			return tb
		}
	}
	return metrics.AccuracyTable{Table: table}
}

// tableName is the "db.table" the monitor reports.
func tableName(r *rig, table string) string {
	if r.pg != nil {
		return "public." + table
	}
	return r.Database + "." + table
}

// qualified names a workload table in SQL.
func qualified(r *rig, table string) string {
	if r.pg != nil {
		return table
	}
	return r.Database + "." + table
}

func sameKeys(got, want []string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}

// unlogged runs a statement on the MariaDB rig with sql_log_bin=0: a change
// no binlog and so no event will ever carry.
func unlogged(t *testing.T, r *rig, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := r.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, "SET SESSION sql_log_bin = 1")
	if _, err := conn.ExecContext(ctx, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// forgeEvent writes an update event for key id of public.t1 with the after
// image {id, v, payload}, keyed and partitioned as the daemon writes.
func forgeEvent(t *testing.T, topic, source string, id, v int, payload string) {
	t.Helper()
	key := fmt.Sprintf(`{"id":%d}`, id)
	p, _ := json.Marshal(payload)
	value := fmt.Sprintf(`{"id":"forged:%d","op":"u","key":%s,"before":null,"after":{"id":%d,"v":%d,"payload":%s},`+
		`"source":{"connector":"postgres","name":%q,"database":"public","table":"t1","position":"0/0","ts_ms":0,"snapshot":false},"ts_ms":0}`,
		id, key, id, v, p, source)
	w := &kafka.Writer{Addr: kafka.TCP(testenv.KafkaAddr()), Topic: topic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{}}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(key), Value: []byte(value)}); err != nil {
		t.Fatalf("forge event: %v", err)
	}
}

// A monitor whose passes take longer than its interval says so: the
// tributary_accuracy_behind gauge and a WARN, and capture goes on. Its
// state is on disk: a restarted daemon starts with the digests it had.
func TestAccuracyMonitorBehindAndRestart(t *testing.T) {
	r := mariadb.rig(t)
	slow := "    accuracy: {enabled: true, interval: 1s, rows_per_second: 20, chunk_size: 10, rechecks: 1, recheck_wait: 200ms}\n"
	cfg := r.writeConfigWith(t, "", r.source(testenv.MySQLAddr(), 5*time.Second)+slow)
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	var rows []string
	for i := 1; i <= 40; i++ {
		rows = append(rows, fmt.Sprintf("(%d, 1, 'row')", i))
	}
	testenv.Exec(t, r.db, "INSERT INTO "+qualified(r, "t1")+" (id, v, payload) VALUES "+strings.Join(rows, ","))
	series := fmt.Sprintf(`tributary_accuracy_behind{source=%q}`, r.Source)
	testenv.Eventually(t, 30*time.Second, series+" 1", func() bool {
		v, ok := d.metric(t, series)
		return ok && v == 1
	})
	if d.count(`msg="accuracy monitor behind`) == 0 {
		t.Error("no WARN for a monitor behind its interval")
	}
	testenv.Exec(t, r.db, "INSERT INTO "+qualified(r, "t2")+" (id, v) VALUES (1, 1)")
	testenv.Eventually(t, 30*time.Second, "capture to go on", func() bool {
		return d.status(t).EventsDelivered >= 41
	})
	before := accuracyOf(t, d).StateBytes
	d.stop(t)

	d = startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	testenv.Eventually(t, 30*time.Second, "the state reopened", func() bool {
		return accuracyOf(t, d).StateBytes >= before && before > 0
	})
	if n := d.count("deleted by the topic's retention"); n != 0 {
		t.Errorf("the restarted monitor lost messages: %d WARNs", n)
	}
	d.stop(t)
}
