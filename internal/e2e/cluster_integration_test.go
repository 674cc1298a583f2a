package e2e

import (
	"encoding/json"
	"maps"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// A member alone takes every source; a second member joining takes half of
// them, each moving once (sticky: the first member keeps the rest running
// throughout), and nothing written meanwhile is lost.
func TestClusterSecondMemberTakesHalf(t *testing.T) {
	cr := newClusterRig(t, 2, 2)
	m1 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m1"))
	keepLog(t, m1)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 4})
	first, _ := m1.clusterState()
	stopLoad := cr.runLoad(t, 1) // the sources start at the servers' current positions

	m2 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m2"))
	keepLog(t, m2)
	w := watchOwners(map[string]*daemon{"m1": m1, "m2": m2})
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 2, m2: 2})
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	w.finish()

	if len(w.overlaps) > 0 {
		t.Fatalf("a source was owned or streamed by two members at once: %v", w.overlaps)
	}
	for s, n := range w.moves {
		if n > 1 {
			t.Fatalf("source %s moved %d times; sticky assignment moves it at most once", s, n)
		}
	}
	kept, _ := m1.clusterState()
	for s, epoch := range kept.Owned {
		if first.Owned[s] != epoch {
			t.Fatalf("m1 kept %s but its epoch went from %d to %d: it was restarted", s, first.Owned[s], epoch)
		}
	}
	t.Logf("owners after the join: %v (moves %v, %d samples)", w.owners(), w.moves, w.samples)

	// tributary cluster status shows the same owners and a checkpoint each.
	out, err := runCLI(t, "cluster", "status", "--json", "-c", cr.writeConfig(t, "m1"))
	if err != nil {
		t.Fatalf("cluster status: %v\n%s", err, out)
	}
	var st struct {
		Members []struct{ Member string }
		Sources []struct {
			Name, Owner        string
			CheckpointPosition string `json:"checkpoint_position"`
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	owners := w.owners()
	if len(st.Members) != 2 || len(st.Sources) != 4 {
		t.Fatalf("cluster status: %s", out)
	}
	for _, s := range st.Sources {
		if s.Owner != owners[s.Name] || s.CheckpointPosition == "" {
			t.Fatalf("cluster status says %s is %s's at %q; /cluster says %s:\n%s", s.Name, s.Owner, s.CheckpointPosition, owners[s.Name], out)
		}
	}
	m2.stop(t)
	m1.stop(t)
}

// kill -9 of a member under load: its sources resume on the survivor within
// the session timeout plus 10 s, every change arrives in commit order per
// key, the state rebuilt from the topics equals the tables, and no
// PostgreSQL slot is ever confirmed past the cluster's checkpoint.
func TestClusterKilledMembersSourcesResumeOnSurvivor(t *testing.T) {
	cr := newClusterRig(t, 2, 2)
	m1 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m1"))
	keepLog(t, m1)
	m2 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m2"))
	keepLog(t, m2)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 2, m2: 2})
	probe := cr.probeSlots(t)
	stopLoad := cr.runLoad(t, 11)
	for _, r := range cr.rigs {
		waitCaughtUp(t, r.c, 50, 60*time.Second) // every source delivers before the kill
	}

	victim, _ := m1.clusterState()
	m1.kill9(t)
	killed := time.Now()
	waitOwned(t, clusterSession+10*time.Second, map[*daemon]int{m2: 4})
	took := time.Since(killed)
	after, _ := m2.clusterState()
	for s := range victim.Owned {
		if after.Owned[s] <= victim.Owned[s] {
			t.Fatalf("%s resumed on m2 with epoch %d, not above m1's %d", s, after.Owned[s], victim.Owned[s])
		}
	}
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	t.Logf("m1's sources %v streamed on m2 %s after kill -9 (session timeout %s); %s",
		keys(victim.Owned), took.Round(100*time.Millisecond), clusterSession, probe.finish(t))
	m2.stop(t)
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A member frozen (SIGSTOP) for longer than the session timeout loses its
// source to the other member, which takes the PostgreSQL slot over from
// the frozen walsender. After SIGCONT it produces nothing and writes no
// checkpoint for the source it lost (the epoch headers and the checkpoint
// topic show nothing of its epoch after the new one began), rejoins and
// gets its preferred source back, and the final state is exact.
func TestClusterFrozenMemberIsFenced(t *testing.T) {
	cr := newClusterRig(t, 1, 1)
	pg := cr.rigs[1]
	cr.prefer(1, "m1") // m1 owns the PostgreSQL source, so the freeze leaves its walsender behind
	m1 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m1"))
	keepLog(t, m1)
	m2 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m2"))
	keepLog(t, m2)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 1, m2: 1})
	before, _ := m1.clusterState()
	if _, ok := before.Owned[pg.Source]; !ok {
		t.Fatalf("m1 owns %v, not its preferred %s", before.Owned, pg.Source)
	}
	probe := cr.probeSlots(t)
	stopLoad := cr.runLoad(t, 21)
	waitCaughtUp(t, pg.c, 50, 60*time.Second)
	cr.waitCheckpointed(t, pg.Source, before.Owned[pg.Source]) // so the proof below has something to prove

	m1.cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	waitOwned(t, clusterSession+20*time.Second, map[*daemon]int{m2: 2})
	took := time.Since(frozen)
	waitCaughtUp(t, pg.c, int64(pg.c.count()+50), 60*time.Second) // m2 streams it
	if held := time.Since(frozen); held < clusterSession {
		t.Fatalf("frozen for only %s", held)
	}
	m1.cmd.Process.Signal(syscall.SIGCONT)
	resumed := time.Now()
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 1, m2: 1}) // back as a fair share
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	msgs, recs, _ := cr.checkFenced(t, pg, before.Owned[pg.Source], before.MemberID, false)
	t.Logf("frozen m1's %s streamed on m2 %s after SIGSTOP (slot taken over: %d); after SIGCONT (%s later) nothing of epoch %d followed the new epoch (%d messages and %d checkpoints of it, all earlier); %s",
		pg.Source, took.Round(100*time.Millisecond), m2.count("slot takeover"), resumed.Sub(frozen).Round(100*time.Millisecond),
		before.Owned[pg.Source], msgs, recs, probe.finish(t))
	m1.stop(t)
	m2.stop(t)
}

// A rolling restart of three members under load, one by one: each gets
// SIGTERM (it flushes, commits and leaves the group, so the others take its
// source within one rebalance, not a session timeout) and starts again,
// taking a fair share back; nothing is lost, no source ever runs on two
// members, and each source's pauses are logged.
func TestClusterRollingRestart(t *testing.T) {
	cr := newClusterRig(t, 1, 2)
	names := []string{"m1", "m2", "m3"}
	paths := map[string]string{}
	members := map[string]*daemon{}
	for _, name := range names {
		paths[name] = cr.writeConfig(t, name)
		members[name] = startDaemon(t, "run", "-c", paths[name])
		keepLog(t, members[name])
	}
	all := func(except string) []*daemon {
		var ds []*daemon
		for _, name := range names {
			if name != except {
				ds = append(ds, members[name])
			}
		}
		return ds
	}
	waitSpread(t, 60*time.Second, all(""), 1, 1, 1)
	w := watchOwners(members)
	stopLoad := cr.runLoad(t, 31)
	for _, name := range names {
		stopped := time.Now()
		members[name].stop(t)
		waitSpread(t, clusterSession, all(name), 1, 2) // within one rebalance, not a session timeout
		t.Logf("%s stopped: its source streamed on another member %s later", name, time.Since(stopped).Round(100*time.Millisecond))
		members[name] = startDaemon(t, "run", "-c", paths[name])
		keepLog(t, members[name])
		w.replace(name, members[name])
		back := time.Now()
		waitSpread(t, 60*time.Second, all(""), 1, 1, 1)
		t.Logf("%s back: one source each again %s later", name, time.Since(back).Round(100*time.Millisecond))
	}
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	w.finish()
	if len(w.overlaps) > 0 {
		t.Fatalf("a source was owned or streamed by two members at once: %v", w.overlaps)
	}
	for _, src := range cr.sourceNames() {
		t.Logf("%s paused %v (samples every 200ms: no member streamed it)", src, w.pausesOf()[src])
	}
	for _, d := range members {
		d.stop(t)
	}
}

// Three members, four sources (two MariaDB, two PostgreSQL) under load: at
// every sample of all three members' /cluster and /status each source is
// owned and streamed by one member at most, the spread is 2-1-1, and
// nothing is lost.
func TestClusterThreeMembersFourSources(t *testing.T) {
	cr := newClusterRig(t, 2, 2)
	members := map[string]*daemon{}
	for _, name := range []string{"m1", "m2", "m3"} {
		members[name] = startDaemon(t, "run", "-c", cr.writeConfig(t, name))
		keepLog(t, members[name])
	}
	w := watchOwners(members)
	waitSpread(t, 60*time.Second, slices.Collect(maps.Values(members)), 1, 1, 2)
	stopLoad := cr.runLoad(t, 41)
	for _, r := range cr.rigs {
		waitCaughtUp(t, r.c, 100, 60*time.Second)
	}
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	w.finish()
	if len(w.overlaps) > 0 {
		t.Fatalf("a source was owned or streamed by two members at once: %v", w.overlaps)
	}
	t.Logf("owners %v over %d samples of three members, never two at once", w.owners(), w.samples)
	for _, d := range members {
		d.stop(t)
	}
}

// A member whose network path to Kafka is blackholed (through the test
// bed's proxied listener) for longer than the session timeout loses its
// source; while cut off it stops producing, and when the path returns it
// does not fight the new owner: what of its epoch lands after the new one
// began was in the network before its lease ended and only duplicates
// events the new owner delivered (the residual window the epoch header
// closes for consumers), its late checkpoints never win, it rejoins for
// its preferred share, and the final state is exact.
func TestClusterMemberCutOffFromKafkaIsFenced(t *testing.T) {
	testenv.RequireTCP(t, "Kafka's proxied listener", testenv.KafkaProxiedAddr())
	cr := newClusterRig(t, 1, 1)
	pg := cr.rigs[1]
	cr.prefer(1, "m1")
	proxy := testenv.StartProxyAt(t, testenv.KafkaProxyAddr(), testenv.KafkaProxiedAddr())
	cfg1 := cr.writeConfig(t, "m1")
	setBrokers(t, cfg1, proxy.Addr())
	m1 := startDaemon(t, "run", "-c", cfg1)
	keepLog(t, m1)
	m2 := startDaemon(t, "run", "-c", cr.writeConfig(t, "m2"))
	keepLog(t, m2)
	waitOwned(t, 60*time.Second, map[*daemon]int{m1: 1, m2: 1})
	before, _ := m1.clusterState()
	if _, ok := before.Owned[pg.Source]; !ok {
		t.Fatalf("m1 owns %v, not its preferred %s", before.Owned, pg.Source)
	}
	probe := cr.probeSlots(t)
	stopLoad := cr.runLoad(t, 51)
	waitCaughtUp(t, pg.c, 50, 60*time.Second)
	cr.waitCheckpointed(t, pg.Source, before.Owned[pg.Source]) // so the proof below has something to prove

	proxy.Blackhole(true)
	cut := time.Now()
	waitOwned(t, clusterSession+20*time.Second, map[*daemon]int{m2: 2})
	took := time.Since(cut)
	waitCaughtUp(t, pg.c, int64(pg.c.count()+50), 60*time.Second)
	proxy.Restore()
	healed := time.Now()
	waitOwned(t, 90*time.Second, map[*daemon]int{m1: 1, m2: 1})
	ws := stopLoad()
	cr.checkDelivered(t, ws)
	msgs, recs, late := cr.checkFenced(t, pg, before.Owned[pg.Source], before.MemberID, true)
	t.Logf("cut-off m1's %s streamed on m2 %s after the blackhole; %s after the path returned the spread was one each again; of epoch %d's %d messages and %d checkpoints, %d landed after the new epoch began (requests in the network before the lease ended: duplicates of events the new epoch delivered, checkpoints that never win); %s",
		pg.Source, took.Round(100*time.Millisecond), time.Since(healed).Round(100*time.Millisecond), before.Owned[pg.Source], msgs, recs, late, probe.finish(t))
	m1.stop(t)
	m2.stop(t)
}
