package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// An idle MariaDB source keeps its lag fresh: while another database on
// the same server writes, and then while nothing is written at all, the
// checkpoint's commit time follows the server (its transactions, then its
// heartbeats), so the lag stays within a few heartbeat periods and the
// checkpoint age stays bounded, instead of growing until the next captured
// change.
func TestIdleMariaDBSourceLagStaysFresh(t *testing.T) {
	const heartbeat = time.Second
	s := newSetup(t)
	db, _ := prepare(t, s)
	other := testenv.UniqueName(t, "other")
	testenv.Exec(t, db, "CREATE DATABASE "+other, "CREATE TABLE "+other+".w (id INT PRIMARY KEY AUTO_INCREMENT, v INT)")
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + other) })
	cfg := s.writeConfigWith(t, "", s.mysqlSource(testenv.MySQLAddr(), heartbeat, 5*time.Second))
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	testenv.Exec(t, db, fmt.Sprintf("INSERT INTO %s.t1 (id, v, payload) VALUES (1, 1, 'x')", s.Database))
	testenv.Eventually(t, 30*time.Second, "the first checkpoint with a commit time", func() bool { return d.status(t).LagMs != nil })

	sample := func(phase string, d2 time.Duration, write func()) {
		t.Helper()
		worst, worstAge := int64(0), int64(0)
		for start := time.Now(); time.Since(start) < d2; {
			if write != nil {
				write()
			}
			st := d.status(t)
			if st.LagMs != nil && *st.LagMs > worst {
				worst = *st.LagMs
			}
			if st.CheckpointAgeMs != nil && *st.CheckpointAgeMs > worstAge {
				worstAge = *st.CheckpointAgeMs
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s: worst lag %d ms, worst checkpoint age %d ms over %s", phase, worst, worstAge, d2)
		// The lag stays within heartbeat/2 (the server is asked for a
		// heartbeat after half a period of silence) plus 1 s (binlog
		// timestamps are whole seconds, so a transaction's commit time is
		// up to 1 s early) plus the checkpoint interval: 1.6 s here. A
		// source without heartbeat commits exceeds 2× at once (6 s).
		if limit := 2 * heartbeat.Milliseconds(); worst >= limit {
			t.Errorf("%s: lag reached %d ms, want under %d ms (2× the heartbeat)", phase, worst, limit)
		}
		if limit := 2 * heartbeat.Milliseconds(); worstAge >= limit {
			t.Errorf("%s: checkpoint age reached %d ms, want under %d ms", phase, worstAge, limit)
		}
	}
	// Let the first checkpoint's lag settle before sampling.
	testenv.Eventually(t, 10*time.Second, "lag under a heartbeat", func() bool {
		st := d.status(t)
		return st.LagMs != nil && *st.LagMs < heartbeat.Milliseconds()
	})
	sample("another database writes", 4*time.Second, func() {
		testenv.Exec(t, db, "INSERT INTO "+other+".w (v) VALUES (1)")
	})
	sample("nothing is written", 4*time.Second, nil)
	d.stop(t)
}
