package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrFenced means this member may not produce or checkpoint for a source:
// it was not given the source in the current generation, or it has had no
// confirmation from the coordinator for longer than its lease.
var ErrFenced = errors.New("fenced: this member does not own the source now")

// Fence is asked before every produce request and checkpoint write for a
// source. Check returns the epoch under which the member owns it.
type Fence interface {
	Check(source string) (epoch int, err error)
	// MemberID is the coordinator's id of this member ("" before the
	// first join).
	MemberID() string
}

// ownership is a member's view of what it owns, guarded by its own lock
// so that the fence answers without waiting for the group protocol.
type ownership struct {
	mu         sync.Mutex
	memberID   string
	generation int
	leader     bool
	owned      map[string]int // source → epoch: the generation it was acquired in
	leaseUntil time.Time      // min(aliveUntil, stableUntil)
	// aliveUntil: the coordinator heard from this member (any accepted
	// heartbeat, a join or sync) and keeps its session that long.
	// stableUntil: the last heartbeat answered "no rebalance" (or a sync
	// completed); a rebalance begun after it cannot end without this
	// member before the rebalance timeout.
	aliveUntil, stableUntil time.Time
	session, rebalance      time.Duration // each less a tenth for clock rates and scheduling
	lapsed                  chan struct{} // signalled (non-blocking) when Check finds the lease gone
	now                     func() time.Time
}

func newOwnership(session, rebalance time.Duration) *ownership {
	return &ownership{owned: map[string]int{}, lapsed: make(chan struct{}, 1), now: time.Now,
		session: session - session/10, rebalance: rebalance - rebalance/10}
}

// Check implements Fence.
func (o *ownership) Check(source string) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	epoch, ok := o.owned[source]
	if !ok {
		return 0, fmt.Errorf("source %s: %w (generation %d)", source, ErrFenced, o.generation)
	}
	if now := o.now(); !now.Before(o.leaseUntil) {
		select {
		case o.lapsed <- struct{}{}:
		default:
		}
		return 0, fmt.Errorf("source %s: %w: no confirmation from the group coordinator since %s", source, ErrFenced, o.leaseUntil.Format(time.RFC3339Nano))
	}
	return epoch, nil
}

// MemberID implements Fence.
func (o *ownership) MemberID() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.memberID
}

// extend renews the lease from a confirmation of generation (ignored if
// that is no longer the current one). sentAt is when the confirming request
// was sent: the coordinator's clocks started no earlier. stable says the
// coordinator answered without a rebalance in progress.
func (o *ownership) extend(generation int, sentAt time.Time, stable bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if generation != o.generation {
		return
	}
	o.aliveUntil = later(o.aliveUntil, sentAt.Add(o.session))
	if stable {
		o.stableUntil = later(o.stableUntil, sentAt.Add(o.rebalance))
	}
	o.leaseUntil = o.aliveUntil
	if o.stableUntil.Before(o.leaseUntil) {
		o.leaseUntil = o.stableUntil
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// lapsedNow reports whether the lease has run out.
func (o *ownership) lapsedNow() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.now().Before(o.leaseUntil)
}

// take records a new generation's assignment and returns the sources
// newly acquired (epoch = generation) and those not given any more. The
// latter stay owned until forget: the leader gives a source another owner
// only in a later generation, after this member stopped it and rejoined,
// so it may flush and commit it under the fence meanwhile.
func (o *ownership) take(memberID string, generation int, leader bool, sources []string, syncSent time.Time) (acquired, lost []string) {
	o.mu.Lock()
	o.memberID, o.generation, o.leader = memberID, generation, leader
	o.aliveUntil, o.stableUntil = time.Time{}, time.Time{}
	select { // a lapse seen in the previous generation is over
	case <-o.lapsed:
	default:
	}
	o.mu.Unlock()
	o.extend(generation, syncSent, true)
	o.mu.Lock()
	defer o.mu.Unlock()
	for s := range o.owned {
		if !slices.Contains(sources, s) {
			lost = append(lost, s)
		}
	}
	for _, s := range sources {
		if _, ok := o.owned[s]; !ok {
			o.owned[s] = generation
			acquired = append(acquired, s)
		}
	}
	slices.Sort(lost)
	return acquired, lost
}

// forget drops sources once they stopped.
func (o *ownership) forget(sources []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range sources {
		delete(o.owned, s)
	}
}

// dropAll forgets every source (the generation is gone) and returns them.
func (o *ownership) dropAll() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var lost []string
	for s := range o.owned {
		lost = append(lost, s)
	}
	clear(o.owned)
	o.leaseUntil, o.aliveUntil, o.stableUntil = time.Time{}, time.Time{}, time.Time{}
	slices.Sort(lost)
	return lost
}

// forgetMember drops the member id (the coordinator no longer knows it).
func (o *ownership) forgetMember() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.memberID = ""
}

func (o *ownership) ownedList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var l []string
	for s := range o.owned {
		l = append(l, s)
	}
	slices.Sort(l)
	return l
}

// State is a member's view for /status and `cluster status`.
type State struct {
	MemberID   string         `json:"member_id"`
	Member     string         `json:"member"`
	Group      string         `json:"group"`
	Generation int            `json:"generation"`
	Leader     bool           `json:"leader"`
	Owned      map[string]int `json:"owned"` // source → epoch
	Rebalances int64          `json:"rebalances"`
}

func (o *ownership) state() State {
	o.mu.Lock()
	defer o.mu.Unlock()
	owned := make(map[string]int, len(o.owned))
	for s, e := range o.owned {
		owned[s] = e
	}
	return State{MemberID: o.memberID, Generation: o.generation, Leader: o.leader, Owned: owned}
}
