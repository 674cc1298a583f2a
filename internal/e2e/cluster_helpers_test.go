package e2e

// Cluster mode scenarios: several daemons (separate processes) with the
// same sources in one Kafka group. Each test has its own group, checkpoint
// topic, topic prefix and databases.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/segmentio/kafka-go"

	pgsource "github.com/tributary-cdc/tributary/capture/postgres"
	"github.com/tributary-cdc/tributary/internal/cluster"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

// Session timeouts in these tests: the brokers' group.min.session.timeout.ms
// (6 s by default) is the floor.
const (
	clusterSession   = 6 * time.Second
	clusterHeartbeat = time.Second
)

// clusterRig is one test's cluster: its sources' rigs (all under one topic
// prefix) and the YAML that configures them for every member.
type clusterRig struct {
	group  string
	prefix string
	dir    string
	rigs   []*rig
	blocks []string // each rig's sources[] entry
}

// newClusterRig prepares mariadbs MariaDB and postgreses PostgreSQL
// sources, each a database with the workload tables, collected from the
// start.
func newClusterRig(t *testing.T, mariadbs, postgreses int) *clusterRig {
	t.Helper()
	name := testenv.UniqueName(t, "cl")
	cr := &clusterRig{group: name, prefix: "t" + name, dir: t.TempDir()}
	for i := 0; i < mariadbs; i++ {
		s := newSetup(t)
		s.Prefix = cr.prefix
		db, c := prepare(t, s)
		r := &rig{setup: s, db: db, c: c, kind: &mariadb}
		cr.rigs = append(cr.rigs, r)
		cr.blocks = append(cr.blocks, r.source(testenv.MySQLAddr(), 5*time.Second))
	}
	for i := 0; i < postgreses; i++ {
		s := newSetup(t)
		s.Prefix = cr.prefix
		pg, c := preparePGTablesIn(t, s, []string{"t1", "t2"}, workloadSchemaPG...)
		r := &rig{setup: s, db: pg.db, c: c, pg: pg, kind: &postgres}
		cr.rigs = append(cr.rigs, r)
		cr.blocks = append(cr.blocks, r.source(testenv.PGAddr(), 200*time.Millisecond))
	}
	return cr
}

func (cr *clusterRig) sourceNames() []string {
	var names []string
	for _, r := range cr.rigs {
		names = append(names, r.Source)
	}
	slices.Sort(names)
	return names
}

// prefer makes rig i's source prefer member.
func (cr *clusterRig) prefer(i int, member string) {
	cr.blocks[i] += "    prefer: " + member + "\n"
}

func (cr *clusterRig) checkpointTopic() string { return cr.group + ".checkpoints" }

// writeConfig writes member's config (its own checkpoint directory) and
// returns its path.
func (cr *clusterRig) writeConfig(t *testing.T, member string) string {
	t.Helper()
	dir := filepath.Join(cr.dir, member)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`
checkpoints: {dir: %q}
kafka:
  brokers: [%q]
  partitions: 3
  write_timeout: 5s
  max_attempts: 3
topics: {prefix: %q}
pipeline:
  checkpoint_interval: 100ms
  restart_backoff_min: 200ms
  restart_backoff_max: 2s
  shutdown_timeout: 10s
log: {level: debug}
admin: {addr: "127.0.0.1:0"}
cluster:
  group: %s
  member: %s
  session_timeout: %s
  heartbeat_interval: %s
  rebalance_timeout: %s
sources:%s`, filepath.Join(dir, "checkpoints"), testenv.KafkaAddr(), cr.prefix, cr.group, member,
		clusterSession, clusterHeartbeat, 2*clusterSession, strings.Join(cr.blocks, ""))
	path := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterState is GET /cluster of a member; ok false when it does not
// answer (frozen, killed, not yet listening).
func (d *daemon) clusterState() (cluster.State, bool) {
	addr, ok := d.loggedAdminAddr()
	if !ok {
		return cluster.State{}, false
	}
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + addr + "/cluster")
	if err != nil {
		return cluster.State{}, false
	}
	defer resp.Body.Close()
	var st cluster.State
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&st) != nil {
		return cluster.State{}, false
	}
	return st, true
}

// streamingSources are the sources /status shows streaming on the member.
func (d *daemon) streamingSources() ([]string, bool) {
	addr, ok := d.loggedAdminAddr()
	if !ok {
		return nil, false
	}
	sts, err := d.tryStatuses(addr)
	if err != nil {
		return nil, false
	}
	var out []string
	for _, st := range sts {
		if st.State == "streaming" {
			out = append(out, st.Name)
		}
	}
	return out, true
}

// ownerWatch samples every member's /cluster and /status in the
// background: who owns each source, how often a source changed owner, any
// moment at which two members claimed or streamed one source, and every
// pause of a source (a span of samples in which no member streamed it).
type ownerWatch struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	members  map[string]*daemon
	owner    map[string]string // source → member name, last seen
	moves    map[string]int
	overlaps []string
	samples  int
	// pausedSince is when each source was last seen streaming nowhere
	// (absent: it streams); pauses are the finished pauses.
	pausedSince map[string]time.Time
	pauses      map[string][]time.Duration
}

func watchOwners(members map[string]*daemon) *ownerWatch {
	w := &ownerWatch{members: maps.Clone(members), stop: make(chan struct{}), done: make(chan struct{}),
		owner: map[string]string{}, moves: map[string]int{},
		pausedSince: map[string]time.Time{}, pauses: map[string][]time.Duration{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// replace makes the watch sample member name's new process d (a restart).
func (w *ownerWatch) replace(name string, d *daemon) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.members[name] = d
}

func (w *ownerWatch) sample() {
	w.mu.Lock()
	members := maps.Clone(w.members)
	w.mu.Unlock()
	claims := map[string][]string{} // source → members owning or streaming it
	streamed := map[string]bool{}
	for name, d := range members {
		st, ok := d.clusterState()
		if !ok {
			continue
		}
		streaming, _ := d.streamingSources()
		for s := range st.Owned {
			claims[s] = append(claims[s], name)
		}
		for _, s := range streaming {
			streamed[s] = true
			if !slices.Contains(claims[s], name) {
				claims[s] = append(claims[s], name)
			}
		}
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for s := range w.owner { // every source seen once
		since, paused := w.pausedSince[s]
		switch {
		case !streamed[s] && !paused:
			w.pausedSince[s] = now
		case streamed[s] && paused:
			w.pauses[s] = append(w.pauses[s], now.Sub(since).Round(100*time.Millisecond))
			delete(w.pausedSince, s)
		}
	}
	for s, names := range claims {
		if len(names) > 1 {
			slices.Sort(names)
			w.overlaps = append(w.overlaps, fmt.Sprintf("%s: %s at %s", s, strings.Join(names, ", "), time.Now().Format(time.TimeOnly+".000")))
			continue
		}
		if prev, ok := w.owner[s]; ok && prev != names[0] {
			w.moves[s]++
		}
		w.owner[s] = names[0]
	}
}

func (w *ownerWatch) finish() *ownerWatch {
	close(w.stop)
	<-w.done
	return w
}

// owners is the last seen owner of every source.
func (w *ownerWatch) owners() map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.owner)
}

// pausesOf lists every source's finished pauses (the spans no member
// streamed it), for the test log.
func (w *ownerWatch) pausesOf() map[string][]time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.pauses)
}

// waitSpread waits until the members, all in one generation, own sources
// in the given numbers (in any order: want sorted ascending) and every
// source each owns streams.
func waitSpread(t *testing.T, timeout time.Duration, members []*daemon, want ...int) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("the sources to spread %v over %d members, all streaming", want, len(members)), func() bool {
		var counts []int
		gen := -1
		for _, d := range members {
			d.requireRunning(t)
			st, ok := d.clusterState()
			if !ok || (gen >= 0 && st.Generation != gen) {
				return false
			}
			gen = st.Generation
			streaming, _ := d.streamingSources()
			for s := range st.Owned {
				if !slices.Contains(streaming, s) {
					return false
				}
			}
			counts = append(counts, len(st.Owned))
		}
		slices.Sort(counts)
		return slices.Equal(counts, want)
	})
}

// waitOwned waits until every member in want owns exactly the given number
// of sources, all in one generation, and every source it owns streams.
func waitOwned(t *testing.T, timeout time.Duration, want map[*daemon]int) {
	t.Helper()
	testenv.Eventually(t, timeout, fmt.Sprintf("the sources to spread %v", counts(want)), func() bool {
		gen := -1
		for d, n := range want {
			d.requireRunning(t)
			st, ok := d.clusterState()
			if !ok || len(st.Owned) != n || (gen >= 0 && st.Generation != gen) {
				return false
			}
			gen = st.Generation
			streaming, _ := d.streamingSources()
			for s := range st.Owned {
				if !slices.Contains(streaming, s) {
					return false
				}
			}
		}
		return true
	})
}

func counts(want map[*daemon]int) []int {
	var out []int
	for _, n := range want {
		out = append(out, n)
	}
	return out
}

// runLoad runs a workload on every rig in the background; stop ends them
// and returns the workloads for the checks.
func (cr *clusterRig) runLoad(t *testing.T, seed uint64) (stop func() []*workload) {
	t.Helper()
	ws := make([]*workload, len(cr.rigs))
	stops := make([]func() error, len(cr.rigs))
	for i, r := range cr.rigs {
		ws[i] = r.workload(50, seed+uint64(i))
		stops[i] = writeLoad(t, ws[i])
	}
	return func() []*workload {
		for _, s := range stops {
			mustStop(t, s)
		}
		return ws
	}
}

// checkDelivered waits for every rig's workload to reach Kafka in commit
// order per key, and compares the state rebuilt from the topics with the
// tables.
func (cr *clusterRig) checkDelivered(t *testing.T, ws []*workload) {
	t.Helper()
	for i, r := range cr.rigs {
		waitDelivered(t, r.c, ws[i], 90*time.Second)
		checkFinalState(t, r.db, ws[i])
	}
}

// checkpointRecords reads the cluster's checkpoint topic: every record, in
// offset order.
func (cr *clusterRig) checkpointRecords(t *testing.T) []cluster.Record {
	t.Helper()
	tp := testenv.NewTopic(cr.checkpointTopic())
	defer tp.Close()
	var out []cluster.Record
	for _, r := range tp.ReadAll(t) {
		var rec cluster.Record
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			t.Fatalf("checkpoint record at %d: %v", r.Offset, err)
		}
		rec.Offset = r.Offset
		out = append(out, rec)
	}
	return out
}

// clusterCheckpoints is each source's winning record, as a new owner
// would resume from it.
func (cr *clusterRig) clusterCheckpoints(t *testing.T) map[string]cluster.Record {
	t.Helper()
	// A transport of its own: the default one caches metadata for
	// seconds, and would not know a checkpoint topic created meanwhile.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs, err := cluster.ReadRecords(ctx, client, cr.checkpointTopic())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// clusterSlotProbe samples every PostgreSQL source's slot and then the
// cluster's checkpoint topic in the background: confirmed_flush_lsn must
// never be ahead of the source's winning checkpoint record (a slot is
// confirmed only after the record was acked, so reading the slot first and
// the topic after must always find the record at or past it).
type clusterSlotProbe struct {
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	samples  int
	problems []string
}

func (cr *clusterRig) probeSlots(t *testing.T) *clusterSlotProbe {
	t.Helper()
	p := &clusterSlotProbe{stop: make(chan struct{}), done: make(chan struct{})}
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Timeout: 10 * time.Second}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for {
			confirmed := map[string]pglogrepl.LSN{}
			for _, r := range cr.rigs {
				if r.pg != nil {
					confirmed[r.Source] = r.pg.confirmedFlush(t)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			recs, err := cluster.ReadRecords(ctx, client, cr.checkpointTopic())
			cancel()
			p.mu.Lock()
			if err == nil {
				p.samples++
				for src, lsn := range confirmed {
					rec, ok := recs[src]
					durable, _, perr := pgsource.ParsePosition(rec.Position)
					if lsn != 0 && (!ok || perr != nil || lsn > durable) {
						p.problems = append(p.problems, fmt.Sprintf("%s: slot confirmed_flush_lsn %s, cluster checkpoint %q (epoch %d)", src, lsn, rec.Position, rec.Epoch))
					}
				}
			}
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// finish stops the probe and fails the test if the slot was ever ahead.
func (p *clusterSlotProbe) finish(t *testing.T) string {
	t.Helper()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.problems) > 0 {
		t.Fatalf("a slot was confirmed past the cluster checkpoint (%d of %d samples), e.g. %s", len(p.problems), p.samples, p.problems[0])
	}
	if p.samples == 0 {
		t.Fatal("the slot probe never read the checkpoint topic")
	}
	return fmt.Sprintf("slots sampled %d times, never ahead of the cluster checkpoint", p.samples)
}

// checkFenced proves from the topics that after a newer epoch of source
// began, nothing of its older epoch old (written by member) followed: in
// every partition of the source's topics, and in the checkpoint topic.
//
// With inFlight (a network cut), a produce request or checkpoint write the
// member handed to the network before its lease ended may still land after
// the new epoch began: the residual window. Such late messages must then
// be duplicates of events the newer epoch delivered too, and such late
// records never win; late counts them.
func (cr *clusterRig) checkFenced(t *testing.T, r *rig, old int, member string, inFlight bool) (messages, records, late int) {
	t.Helper()
	evs, _ := r.c.snapshot()
	newerIDs := map[string]bool{}
	for _, ev := range evs {
		if e, err := strconv.Atoi(ev.headers["tributary-epoch"]); err == nil && e > old {
			newerIDs[ev.ID] = true
		}
	}
	type tp struct {
		topic     string
		partition int
	}
	newer := map[tp]int64{} // first offset of a newer epoch
	slices.SortFunc(evs, func(a, b event) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		if a.partition != b.partition {
			return a.partition - b.partition
		}
		return int(a.offset - b.offset)
	})
	for _, ev := range evs {
		k := tp{ev.topic, ev.partition}
		epoch, err := strconv.Atoi(ev.headers["tributary-epoch"])
		if err != nil {
			t.Fatalf("%s/%d@%d has no tributary-epoch header: %v", ev.topic, ev.partition, ev.offset, ev.headers)
		}
		if _, ok := newer[k]; !ok && epoch > old {
			newer[k] = ev.offset
		}
		if first, ok := newer[k]; ok && epoch <= old && inFlight && newerIDs[ev.ID] {
			late++
		} else if ok && epoch <= old {
			t.Fatalf("%s/%d@%d: epoch %d from %s after epoch %d began at offset %d: a fenced member produced", ev.topic, ev.partition, ev.offset, epoch, ev.headers["tributary-member"], old, first)
		}
		if ev.headers["tributary-member"] == member && epoch == old {
			messages++
		}
	}
	if len(newer) == 0 {
		t.Fatalf("no message of %s carries an epoch above %d", r.Source, old)
	}
	newerSeen := false
	for _, rec := range cr.checkpointRecords(t) {
		if rec.Source != r.Source {
			continue
		}
		if rec.Epoch > old {
			newerSeen = true
		}
		if newerSeen && rec.Epoch <= old && inFlight {
			late++
		} else if newerSeen && rec.Epoch <= old {
			t.Fatalf("checkpoint record at %d for %s has epoch %d (member %s) after a newer epoch's: a fenced member checkpointed", rec.Offset, r.Source, rec.Epoch, rec.Member)
		}
		if rec.Member == member && rec.Epoch == old {
			records++
		}
	}
	if messages == 0 || records == 0 {
		t.Fatalf("%s: %d messages and %d checkpoint records of epoch %d by %s: nothing to prove the fence with", r.Source, messages, records, old, member)
	}
	if !newerSeen {
		t.Fatalf("the checkpoint topic has no record of %s above epoch %d", r.Source, old)
	}
	if win := cr.clusterCheckpoints(t)[r.Source]; win.Epoch <= old {
		t.Fatalf("the winning checkpoint of %s has epoch %d, not above %d", r.Source, win.Epoch, old)
	}
	return messages, records, late
}

// count is how many distinct events the collector holds.
func (c *collector) count() int {
	evs, _ := c.snapshot()
	unique, _ := dedupe(evs)
	return len(unique)
}

// waitCheckpointed waits until the source's winning checkpoint record has
// the given epoch.
func (cr *clusterRig) waitCheckpointed(t *testing.T, source string, epoch int) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("a checkpoint of %s at epoch %d", source, epoch), func() bool {
		return cr.clusterCheckpoints(t)[source].Epoch == epoch
	})
}
