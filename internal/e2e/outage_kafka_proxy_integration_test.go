package e2e

// The network between the daemon and Kafka cut and blackholed through a
// proxy. Kafka clients bootstrap and then connect to the advertised
// listener, so a proxy in front of the ordinary listener would be bypassed:
// scripts/services gives the broker a second listener that advertises the
// proxy's fixed address (testenv.KafkaProxyAddr), and the proxy forwards to
// it (testenv.KafkaProxiedAddr). The collector reads the ordinary listener,
// directly.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// setBrokers points the config at path at the given bootstrap broker.
func setBrokers(t *testing.T, path, broker string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("brokers: [%q]", testenv.KafkaAddr())
	s := strings.Replace(string(b), old, fmt.Sprintf("brokers: [%q]", broker), 1)
	if s == string(b) {
		t.Fatalf("config has no %s", old)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The daemon produces through a proxy that is Kafka's advertised address.
// Mid-load every connection is cut; later the path is blackholed for longer
// than kafka.write_timeout × max_attempts, then healed. Every change must
// arrive, in per-key commit order.
func TestNetworkCutAndBlackholeToKafka(t *testing.T) {
	const (
		writeTimeout, maxAttempts = 2 * time.Second, 3
		hole                      = 16 * time.Second
		// kafka-go tries a batch max_attempts times, each bounded by
		// write_timeout, with at most 1s of backoff in between; then the
		// sink fails and the pipeline restarts.
		noticeBound = maxAttempts*(writeTimeout+time.Second) + 5*time.Second
	)
	testenv.RequireTCP(t, "Kafka's proxied listener (scripts/services up kafka restarts a broker without it)", testenv.KafkaProxiedAddr())
	s := newSetup(t)
	db, c := prepare(t, s)
	proxy := testenv.StartProxyAt(t, testenv.KafkaProxyAddr(), testenv.KafkaProxiedAddr())
	cfg := s.writeConfig(t, "")
	setWriteTimeout(t, cfg, writeTimeout)
	setBrokers(t, cfg, proxy.Addr())
	d := startDaemon(t, "run", "-c", cfg)
	keepLog(t, d)
	d.waitStreaming(t)
	pid := d.cmd.Process.Pid

	w := newWorkload(db, s.Database, 2000, 41)
	stopWriter := writeLoad(t, w)
	waitProgress(t, w, 2000)
	waitCaughtUp(t, c, 1000, time.Minute)

	// Every produce connection goes through the proxy, none to a broker
	// listener directly.
	peers := tcpPeers(t, pid)
	if direct := peers[portOf(testenv.KafkaAddr())] + peers[portOf(testenv.KafkaProxiedAddr())]; direct > 0 || peers[portOf(proxy.Addr())] == 0 {
		t.Fatalf("the daemon's connections by remote port: %v; want Kafka only through the proxy at %s (%d connections held by the proxy)",
			peers, proxy.Addr(), proxy.Conns())
	}
	viaProxy := peers[portOf(proxy.Addr())]

	// Cut: the connections die at once.
	failures := d.watchFailures(t)
	kafkaRestarts := `tributary_retries_total{kind="kafka",source="` + s.Source + `"}`
	failed := d.restarts(t)
	kafkaFailed, _ := d.metric(t, kafkaRestarts)
	cut := w.progress.Load()
	cutAt := time.Now()
	proxy.Cut()
	afterCut := waitCaughtUp(t, c, cut, time.Minute)
	cutFailures := d.restarts(t) - failed
	kafkaFailedNow, _ := d.metric(t, kafkaRestarts)
	cutKafkaFailures := kafkaFailedNow - kafkaFailed
	cutFirstFailure := failures.firstAfter(cutAt)
	waitProgress(t, w, 2000)

	// Blackhole: the connections stay open and go silent.
	failed = d.restarts(t)
	logOffset := len(d.logs.String())
	holed := time.Now()
	proxy.Blackhole(true)
	ready := pollReadyz("http://"+d.adminAddr(t)+"/readyz", 100*time.Millisecond)
	time.Sleep(hole) // the hole under load; not synchronisation
	during := ready.finish()
	failuresInHole := d.restarts(t) - failed
	noticed := failures.firstAfter(holed)
	restored := w.progress.Load()
	restoredAt := time.Now()
	proxy.Restore()
	afterRestore := waitCaughtUp(t, c, restored, 2*time.Minute)
	holeLog := d.logs.String()[logOffset:]
	waitProgress(t, w, 2000)
	mustStop(t, stopWriter)

	start := time.Now()
	dups := waitDelivered(t, c, w, 5*time.Minute)
	checkFinalState(t, db, w)
	// When the sink itself failed, before the attempt drained and the
	// pipeline restarted, is in its log line only: it is reported, not checked.
	t.Logf("%d produce connections through the proxy, none direct; cut: %d pipeline failures (%v after Kafka failures, the first pipeline failure %s after), caught up %s after; "+
		"blackhole of %s: sink failed %s in, first pipeline failure %s in, %d failures during the hole; caught up %s after restore (%s since restore at the end); "+
		"%d changes delivered (the last %s after the writer stopped); %d duplicates",
		viaProxy, cutFailures, cutKafkaFailures, durationOrNever(cutFirstFailure), afterCut.Round(time.Millisecond),
		hole, firstSinkFailure(d, holed), durationOrNever(noticed), failuresInHole, afterRestore.Round(time.Millisecond),
		time.Since(restoredAt).Round(time.Millisecond), w.changes, time.Since(start).Round(time.Millisecond), dups)
	t.Logf("warnings and errors from the blackhole on:\n%s", tail(grepLines(holeLog, "level=WARN", "level=ERROR"), 4000))
	t.Logf("/readyz during the blackhole: %s", during.summary(holed))
	// Once the failure shows (503), restarted attempts that cannot
	// deliver must not report ready until the path heals.
	if during.readyAfterNotReady > 0 {
		t.Errorf("/readyz flickered to 200 %d times during the blackhole after its first 503 (%s)", during.readyAfterNotReady, during.summary(holed))
	}
	if noticed == 0 || noticed > noticeBound {
		t.Errorf("the daemon noticed the blackholed Kafka connection after %s, want within %s (write_timeout %s × max_attempts %d plus backoff)",
			durationOrNever(noticed), noticeBound, writeTimeout, maxAttempts)
	}
	d.stop(t)
}
