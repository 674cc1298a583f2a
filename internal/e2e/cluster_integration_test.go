package e2e

import (
	"testing"
	"time"
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
