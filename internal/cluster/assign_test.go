package cluster

import (
	"slices"
	"strings"
	"testing"
)

var four = []string{"a", "b", "c", "d"}

func meta(name string, owned ...string) memberMeta {
	return memberMeta{Name: name, Sources: four, Owned: owned}
}

// settle runs rebalances as members do (each stops what it was not given
// and rejoins when asked) until nobody is asked to rejoin, and returns
// the final assignment and how often each source changed owner.
func settle(t *testing.T, members map[string]memberMeta, prefer map[string]string) (map[string]assignment, map[string]int) {
	t.Helper()
	moves := map[string]int{}
	for round := 0; round < 5; round++ {
		out := assign(members, "m1", prefer)
		checkExclusive(t, members, out)
		again := false
		for id, a := range out {
			m := members[id]
			for _, s := range a.Sources {
				if !slices.Contains(m.Owned, s) {
					moves[s]++
				}
			}
			m.Owned = a.Sources
			members[id] = m
			again = again || a.Rejoin
		}
		if !again {
			return out, moves
		}
	}
	t.Fatal("assignment did not settle in 5 rounds")
	return nil, nil
}

// checkExclusive fails when a source is given to a member while another
// member still runs it.
func checkExclusive(t *testing.T, members map[string]memberMeta, out map[string]assignment) {
	t.Helper()
	for id, a := range out {
		for _, s := range a.Sources {
			for other, m := range members {
				if other != id && slices.Contains(m.Owned, s) {
					t.Fatalf("%s given to %s while %s runs it", s, id, other)
				}
			}
		}
	}
}

func TestAssignAloneTakesAll(t *testing.T) {
	t.Parallel()
	out, _ := settle(t, map[string]memberMeta{"m1": meta("x")}, nil)
	if got := out["m1"].Sources; !slices.Equal(got, four) {
		t.Fatalf("alone = %v", got)
	}
}

func TestAssignSecondTakesHalfEachMovesOnce(t *testing.T) {
	t.Parallel()
	members := map[string]memberMeta{"m1": meta("x", four...), "m2": meta("y")}
	out, moves := settle(t, members, nil)
	if len(out["m1"].Sources) != 2 || len(out["m2"].Sources) != 2 {
		t.Fatalf("spread = %+v", out)
	}
	for s, n := range moves {
		if n > 1 {
			t.Fatalf("%s moved %d times", s, n)
		}
	}
	if len(moves) != 2 {
		t.Fatalf("moves = %v, want exactly the two that went to m2", moves)
	}
}

func TestAssignStickyWhenBalanced(t *testing.T) {
	t.Parallel()
	members := map[string]memberMeta{"m1": meta("x", "a", "c"), "m2": meta("y", "b", "d")}
	out := assign(members, "m1", nil)
	if !slices.Equal(out["m1"].Sources, []string{"a", "c"}) || !slices.Equal(out["m2"].Sources, []string{"b", "d"}) || out["m1"].Rejoin || out["m2"].Rejoin {
		t.Fatalf("balanced group moved: %+v", out)
	}
}

func TestAssignDeadMembersSourcesSpread(t *testing.T) {
	t.Parallel()
	// m3 died owning c and d: they are free and go to the others.
	members := map[string]memberMeta{"m1": meta("x", "a"), "m2": meta("y", "b")}
	out, moves := settle(t, members, nil)
	if len(out["m1"].Sources) != 2 || len(out["m2"].Sources) != 2 || moves["a"] != 0 || moves["b"] != 0 {
		t.Fatalf("after a death: %+v moves %v", out, moves)
	}
}

func TestAssignThreeMembersEven(t *testing.T) {
	t.Parallel()
	members := map[string]memberMeta{"m1": meta("x", four...), "m2": meta("y"), "m3": meta("z")}
	out, moves := settle(t, members, nil)
	for id, a := range out {
		if n := len(a.Sources); n < 1 || n > 2 {
			t.Fatalf("%s has %d sources: %+v", id, n, out)
		}
	}
	for s, n := range moves {
		if n > 1 {
			t.Fatalf("%s moved %d times", s, n)
		}
	}
}

func TestAssignHonoursPrefer(t *testing.T) {
	t.Parallel()
	prefer := map[string]string{"a": "y", "b": "y"}
	members := map[string]memberMeta{"m1": meta("x", four...), "m2": meta("y")}
	out, _ := settle(t, members, prefer)
	if !slices.Equal(out["m2"].Sources, []string{"a", "b"}) {
		t.Fatalf("prefer ignored: %+v", out)
	}
	// Members joining together: a preferred source finds its member with room.
	out, _ = settle(t, map[string]memberMeta{"m1": meta("x"), "m2": meta("y")}, map[string]string{"d": "x"})
	if !slices.Contains(out["m1"].Sources, "d") {
		t.Fatalf("d went elsewhere: %+v", out)
	}
	// A member over its share keeps what prefers it.
	out, _ = settle(t, map[string]memberMeta{"m1": meta("x", four...), "m2": meta("y")}, map[string]string{"d": "x"})
	if !slices.Contains(out["m1"].Sources, "d") {
		t.Fatalf("m1 gave up the source preferring it: %+v", out)
	}
	// A preference for an absent member is only a hint.
	out, _ = settle(t, map[string]memberMeta{"m1": meta("x")}, map[string]string{"a": "nobody"})
	if !slices.Equal(out["m1"].Sources, four) {
		t.Fatalf("absent preferred member: %+v", out)
	}
}

func TestAssignRefusesDifferentSources(t *testing.T) {
	t.Parallel()
	members := map[string]memberMeta{
		"m1": meta("x", "a"), "m2": meta("y"),
		"m3": {Name: "z", Sources: []string{"a", "b", "c", "e"}},
	}
	out := assign(members, "m3", nil)
	r := out["m3"].Refused
	if r == "" || len(out["m3"].Sources) != 0 || !strings.Contains(r, "has e which the group has not") || !strings.Contains(r, "the group has d which this member has not") {
		t.Fatalf("m3 = %+v", out["m3"])
	}
	if len(out["m1"].Sources)+len(out["m2"].Sources) != 4 || out["m1"].Refused != "" {
		t.Fatalf("the agreeing members = %+v", out)
	}
}

func TestAssignTieGoesToLeadersList(t *testing.T) {
	t.Parallel()
	members := map[string]memberMeta{"m1": meta("x"), "m2": {Name: "y", Sources: []string{"a"}}}
	if out := assign(members, "m2", nil); out["m1"].Refused == "" || out["m2"].Refused != "" {
		t.Fatalf("tie: %+v", out)
	}
}
