package cluster

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// memberMeta is what a member tells the group when it joins (JSON in the
// JoinGroup metadata's user data).
type memberMeta struct {
	Name    string   `json:"name"`
	Sources []string `json:"sources"` // every configured source, sorted
	Owned   []string `json:"owned"`   // the sources it runs right now
}

// assignment is what the leader hands each member (JSON in the SyncGroup
// assignment's user data).
type assignment struct {
	// Sources are the member's for this generation.
	Sources []string `json:"sources"`
	// Rejoin asks the member to rejoin at once after it stopped the
	// sources it owned but was not given: they move to another member in
	// the next generation, never while it may still run them.
	Rejoin bool `json:"rejoin,omitempty"`
	// Refused says why the member may not take part (its sources differ
	// from the group's); it must stop and leave.
	Refused string `json:"refused,omitempty"`
}

// assign is the leader's decision. It is sticky (a source stays with the
// member that runs it unless the spread or a preference needs it
// elsewhere), even (counts differ by at most one), honours sources'
// preferred member names while that keeps the spread, and never gives a
// source to one member while another still runs it: a source that must
// move is given to nobody in this generation, its owner stops it and
// rejoins, and the next generation places it.
//
// members is keyed by member id; leader names the member whose source list
// wins a tie; prefer maps a source to the member name it prefers.
func assign(members map[string]memberMeta, leader string, prefer map[string]string) map[string]assignment {
	out := make(map[string]assignment, len(members))
	sources, agree := referenceSources(members, leader)
	for id, m := range members {
		if !slices.Contains(agree, id) {
			out[id] = assignment{Refused: describeDifference(sources, m.Sources)}
		}
	}
	if len(agree) == 0 {
		return out
	}

	known := map[string]bool{}
	for _, s := range sources {
		known[s] = true
	}
	owner := map[string]string{} // source → member id keeping it
	kept := map[string][]string{}
	rejoin := map[string]bool{}
	for _, id := range agree { // sorted: a doubly claimed source stays with the first
		for _, s := range members[id].Owned {
			switch {
			case !known[s]:
			case owner[s] != "":
				rejoin[id] = true
			default:
				owner[s] = id
				kept[id] = append(kept[id], s)
			}
		}
	}

	quota := quotas(agree, kept, len(sources))
	named := func(source string) []string { // agreeing members the source prefers
		var ids []string
		for _, id := range agree {
			if p := prefer[source]; p != "" && members[id].Name == p {
				ids = append(ids, id)
			}
		}
		return ids
	}
	load := map[string]int{}
	moving := map[string]bool{}
	revoke := func(id, s string) {
		moving[s] = true
		rejoin[id] = true
		delete(owner, s)
	}
	for _, id := range agree {
		// Over its share: give up first what another member prefers, last
		// what prefers this one.
		ks := kept[id]
		slices.SortStableFunc(ks, func(a, b string) int {
			return cmp.Compare(keepRank(named(b), id), keepRank(named(a), id))
		})
		for i, s := range ks {
			if i >= quota[id] {
				revoke(id, s)
				continue
			}
			load[id]++
		}
	}
	for _, s := range sources { // kept where another member is preferred and has room
		id, ok := owner[s]
		if !ok {
			continue
		}
		for _, p := range named(s) {
			if p != id && load[p] < quota[p] {
				revoke(id, s)
				load[id]--
				load[p]++ // its room is held for the next generation
				break
			}
		}
	}
	assigned := map[string][]string{}
	for _, s := range sources {
		if id, ok := owner[s]; ok {
			assigned[id] = append(assigned[id], s)
		}
	}
	// Free sources: those preferring a present member first, so they find
	// it with room; each to the preferred member, else the least loaded.
	free := slices.Clone(sources)
	slices.SortStableFunc(free, func(a, b string) int { return cmp.Compare(min(len(named(b)), 1), min(len(named(a)), 1)) })
	for _, s := range free {
		if _, ok := owner[s]; ok || moving[s] {
			continue
		}
		to := ""
		for _, p := range named(s) {
			if load[p] < quota[p] {
				to = p
				break
			}
		}
		if to == "" {
			for _, id := range agree {
				if to == "" || spare(id, load, quota) > spare(to, load, quota) {
					to = id
				}
			}
		}
		owner[s] = to
		load[to]++
		assigned[to] = append(assigned[to], s)
	}
	for _, id := range agree {
		slices.Sort(assigned[id])
		out[id] = assignment{Sources: assigned[id], Rejoin: rejoin[id]}
	}
	return out
}

func spare(id string, load, quota map[string]int) int { return quota[id] - load[id] }

// keepRank orders what a member over its share keeps: a source preferring
// it (2), one without a present preferred member (1), one preferring
// another member (0).
func keepRank(preferred []string, id string) int {
	switch {
	case slices.Contains(preferred, id):
		return 2
	case len(preferred) > 0:
		return 0
	}
	return 1
}

// quotas gives each member n/len(ids) sources, and one more to n%len(ids)
// of them: those keeping the most now, so fewer sources move.
func quotas(ids []string, kept map[string][]string, n int) map[string]int {
	order := slices.Clone(ids)
	slices.SortStableFunc(order, func(a, b string) int { return cmp.Compare(len(kept[b]), len(kept[a])) })
	q := make(map[string]int, len(ids))
	for i, id := range order {
		q[id] = n / len(ids)
		if i < n%len(ids) {
			q[id]++
		}
	}
	return q
}

// referenceSources is the source list most members have (the leader's on
// a tie) and the sorted ids of the members that have it.
func referenceSources(members map[string]memberMeta, leader string) ([]string, []string) {
	byList := map[string][]string{}
	for id, m := range members {
		k := strings.Join(m.Sources, "\x00")
		byList[k] = append(byList[k], id)
	}
	keys := slices.Sorted(maps.Keys(byList))
	best := ""
	for i, k := range keys {
		ids := byList[k]
		if i == 0 || len(ids) > len(byList[best]) || (len(ids) == len(byList[best]) && slices.Contains(ids, leader)) {
			best = k
		}
	}
	agree := slices.Clone(byList[best])
	slices.Sort(agree)
	if len(agree) == 0 {
		return nil, nil
	}
	return members[agree[0]].Sources, agree
}

// describeDifference names the sources a refused member has that the group
// has not, and the other way round.
func describeDifference(group, mine []string) string {
	var extra, missing []string
	for _, s := range mine {
		if !slices.Contains(group, s) {
			extra = append(extra, s)
		}
	}
	for _, s := range group {
		if !slices.Contains(mine, s) {
			missing = append(missing, s)
		}
	}
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "this member has "+strings.Join(extra, ", ")+" which the group has not")
	}
	if len(missing) > 0 {
		parts = append(parts, "the group has "+strings.Join(missing, ", ")+" which this member has not")
	}
	return fmt.Sprintf("this member's sources differ from the group's (%s); every member of a group must configure the same sources", strings.Join(parts, "; "))
}
