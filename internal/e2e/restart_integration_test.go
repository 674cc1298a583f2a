package e2e

// The source server restarted under load, for each source kind. It stops a
// shared server, so it does not run in parallel, and stopServer restores it
// in t.Cleanup.

import (
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The source server is restarted under write load. The writer stops before
// the restart and goes on after it, so every recorded transaction is known
// to be committed; the daemon notices the server went away, reconnects and
// resumes from its checkpoint.
func TestServerRestartUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		kind sourceKind
		seed uint64
	}{
		{mariadb, 23},
		{postgres, 31},
	} {
		t.Run(tc.kind.name, func(t *testing.T) {
			r := tc.kind.rig(t)
			cfg := r.writeConfig(t, r.kind.addr()) // heartbeat 1s, read_timeout 5s / status_interval 200ms
			d := startDaemon(t, "run", "-c", cfg)
			keepLog(t, d)
			d.waitStreaming(t)

			w := r.workload(2000, tc.seed)
			stopWriter := writeLoad(t, w)
			waitProgress(t, w, 5000)
			mustStop(t, stopWriter)

			failed := d.restarts(t)
			stopped := time.Now() // scripts/services stop returns once the server is down
			stopServer(t, r.kind.service)
			testenv.Eventually(t, 30*time.Second, "the daemon to notice "+r.kind.name+" went away", func() bool {
				return d.restarts(t) > failed
			})
			noticed := time.Since(stopped)
			time.Sleep(2 * time.Second) // down for a while; not synchronisation
			failuresWhileDown := d.restarts(t) - failed
			startup := startServer(t, r.kind.service)
			up := time.Now()
			r.reconnect(t)

			// The first changes after the restart show the daemon reconnected.
			stopWriter = writeLoad(t, w)
			waitProgress(t, w, 100)
			waitCaughtUp(t, r.c, w.progress.Load(), 2*time.Minute)
			recovered := time.Since(up)
			waitProgress(t, w, 5000)
			mustStop(t, stopWriter)
			start := time.Now()
			dups := waitDelivered(t, r.c, w, 5*time.Minute)
			checkFinalState(t, r.db, w)
			t.Logf("%s stopped: the daemon's first pipeline failure %s after the stop began; down ~2s (%d pipeline restarts meanwhile), %s to start; "+
				"new changes delivered %s after it answered; %d changes delivered (the last %s after the writer stopped); %d duplicates",
				r.kind.name, noticed.Round(time.Millisecond), failuresWhileDown, startup.Round(time.Millisecond), recovered.Round(time.Millisecond),
				w.changes, time.Since(start).Round(time.Millisecond), dups)
			d.stop(t)
		})
	}
}
