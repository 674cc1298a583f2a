package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Group protocol names. The protocol type keeps Kafka from mixing these
// members with consumers (as Kafka Connect's "connect" does); the protocol
// name versions the metadata and assignment JSON.
const (
	ProtocolType = "tributary"
	protocolName = "sources-v1"
)

// Assignee runs the sources the group gives this member.
type Assignee interface {
	// Acquire starts source; it runs until Release.
	Acquire(source string)
	// Release stops sources and returns once each has flushed and
	// committed what it could (its commits are fenced by then if the
	// member lost them).
	Release(sources []string)
}

// Observer is told about rebalances and ownership, for metrics.
type Observer interface {
	Rebalanced(generation int, memberID string, owned int)
	Owned(n int)
}

// GroupClient is the part of kafka.Client the member uses.
type GroupClient interface {
	JoinGroup(context.Context, *kafka.JoinGroupRequest) (*kafka.JoinGroupResponse, error)
	SyncGroup(context.Context, *kafka.SyncGroupRequest) (*kafka.SyncGroupResponse, error)
	Heartbeat(context.Context, *kafka.HeartbeatRequest) (*kafka.HeartbeatResponse, error)
	LeaveGroup(context.Context, *kafka.LeaveGroupRequest) (*kafka.LeaveGroupResponse, error)
}

// RefusedError means the group would not take this member: its sources
// differ from the group's. It is permanent.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string   { return "cluster: refused to join: " + e.Reason }
func (e *RefusedError) Permanent() bool { return true }

// Member is this daemon in the group.
type Member struct {
	cfg      Config
	sources  []string
	prefer   map[string]string
	client   GroupClient
	assignee Assignee
	observer Observer
	logger   *slog.Logger
	own      *ownership

	rebalances atomic.Int64
}

// NewMember returns a member for the configured sources (every member of
// the group must have the same) and their preferred member names.
func NewMember(cfg Config, sources []string, prefer map[string]string, client GroupClient, assignee Assignee, observer Observer, logger *slog.Logger) *Member {
	s := slices.Clone(sources)
	slices.Sort(s)
	return &Member{cfg: cfg, sources: s, prefer: prefer, client: client, assignee: assignee, observer: observer,
		logger: logger.With("component", "cluster", "group", cfg.Group), own: newOwnership(cfg.SessionTimeout, cfg.RebalanceTimeout)}
}

// Fence is the member's fence.
func (m *Member) Fence() Fence { return m.own }

// State is the member's current view.
func (m *Member) State() State {
	st := m.own.state()
	st.Member, st.Group, st.Rebalances = m.cfg.Member, m.cfg.Group, m.rebalances.Load()
	return st
}

// Run takes part in the group until ctx is done, then releases every
// source (each flushes and commits while the member still holds it) and
// leaves the group, so the others take over at once. It returns a
// *RefusedError when the group refuses this member.
func (m *Member) Run(ctx context.Context) error {
	defer m.leave()
	retry := m.cfg.HeartbeatInterval
	for ctx.Err() == nil {
		stopAlive := m.keepAlive(ctx)
		a, err := m.rebalance(ctx)
		stopAlive()
		if err != nil {
			var refused *RefusedError
			if errors.As(err, &refused) {
				m.release("refused by the group", m.own.dropAll())
				return err
			}
			if ctx.Err() != nil {
				break
			}
			m.logger.Warn("cluster: join failed; retrying", "err", err, "retry_in", retry)
			if m.own.lapsedNow() {
				m.release("no confirmation from the group coordinator within the lease", m.own.dropAll())
			}
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			continue
		}
		if err := m.runGeneration(ctx, a); err != nil {
			return err
		}
	}
	m.shutdown()
	return nil
}

// runGeneration applies an assignment and heartbeats until the
// generation ends (a rebalance, a lost membership) or ctx is done.
func (m *Member) runGeneration(ctx context.Context, a generation) error {
	hbCtx, stopHB := context.WithCancel(ctx)
	ended := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); ended <- m.heartbeat(hbCtx, a.id) }()
	defer func() { stopHB(); wg.Wait() }()

	acquired, lost := m.own.take(a.memberID, a.id, a.leader, a.Sources, a.syncSent)
	m.rebalances.Add(1)
	if m.observer != nil {
		m.observer.Rebalanced(a.id, a.memberID, len(a.Sources))
	}
	m.logger.Info("cluster: generation", "generation", a.id, "member_id", a.memberID, "leader", a.leader,
		"sources", a.Sources, "acquired", acquired, "released", lost, "rejoin", a.Rejoin)
	m.release("not assigned in generation "+fmt.Sprint(a.id), lost)
	m.own.forget(lost)
	m.reportOwned()
	for _, s := range acquired {
		m.assignee.Acquire(s)
	}
	if a.Rejoin {
		return nil // what had to move has stopped: rejoin so it can go
	}
	select {
	case <-ctx.Done():
	case why := <-ended:
		if why != "" {
			m.logger.Info("cluster: rejoining", "generation", a.id, "why", why)
		}
	case <-m.own.lapsed:
		m.release("no confirmation from the group coordinator within the lease", m.own.dropAll())
	}
	return nil
}

// heartbeat sends heartbeats for generation every interval. It returns
// why the generation ended: a rebalance (sources kept, rejoin), or the
// membership gone or the lease lapsed (sources released first).
func (m *Member) heartbeat(ctx context.Context, generation int) string {
	tick := time.NewTicker(m.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
		sent := time.Now()
		// A slow answer still renews the lease from when it was sent, so
		// wait for it as long as the session could last; the fence stops
		// the sources meanwhile if the lease runs out.
		hctx, cancel := context.WithTimeout(ctx, m.cfg.SessionTimeout)
		res, err := m.client.Heartbeat(hctx, &kafka.HeartbeatRequest{
			GroupID: m.cfg.Group, GenerationID: int32(generation), MemberID: m.own.MemberID(),
		})
		cancel()
		if err == nil {
			err = res.Error
		}
		m.logger.Debug("cluster: heartbeat", "generation", generation, "err", err)
		switch {
		case err == nil:
			m.own.extend(generation, sent, true)
		case errors.Is(err, kafka.RebalanceInProgress):
			m.own.extend(generation, sent, false) // the session goes on meanwhile
			return "a rebalance began"
		case errors.Is(err, kafka.UnknownMemberId), errors.Is(err, kafka.IllegalGeneration), errors.Is(err, kafka.FencedInstanceID):
			// The coordinator dropped us (a session that expired while we
			// were frozen or cut off): every source may be running elsewhere.
			m.release("the group coordinator says this member's generation is gone: "+err.Error(), m.own.dropAll())
			if errors.Is(err, kafka.UnknownMemberId) {
				m.own.forgetMember()
			}
			return "membership lost"
		case ctx.Err() != nil:
			return ""
		default:
			m.logger.Warn("cluster: heartbeat failed", "err", err)
			if m.own.lapsedNow() {
				m.release("no confirmation from the group coordinator within the lease", m.own.dropAll())
				return "lease lapsed"
			}
		}
	}
}

// generation is one SyncGroup's outcome.
type generation struct {
	assignment
	id       int
	memberID string
	leader   bool
	syncSent time.Time
}

// rebalance joins the group (the leader assigns) and returns this
// member's assignment.
func (m *Member) rebalance(ctx context.Context) (generation, error) {
	meta, err := json.Marshal(memberMeta{Name: m.cfg.Member, Sources: m.sources, Owned: m.own.ownedList()})
	if err != nil {
		return generation{}, err
	}
	for attempt := 0; ; attempt++ {
		memberID := m.own.MemberID()
		m.logger.Debug("cluster: join", "member_id", memberID, "owned", m.own.ownedList(), "attempt", attempt)
		jctx, cancel := context.WithTimeout(ctx, m.cfg.RebalanceTimeout+m.cfg.SessionTimeout)
		join, err := m.client.JoinGroup(jctx, &kafka.JoinGroupRequest{
			GroupID: m.cfg.Group, MemberID: memberID, ProtocolType: ProtocolType,
			SessionTimeout: m.cfg.SessionTimeout, RebalanceTimeout: m.cfg.RebalanceTimeout,
			Protocols: []kafka.GroupProtocol{{Name: protocolName, Metadata: kafka.GroupProtocolSubscription{UserData: meta}}},
		})
		cancel()
		if err == nil {
			err = join.Error
		}
		switch {
		case errors.Is(err, kafka.MemberIDRequired) && attempt < 3:
			m.setMemberID(join.MemberID) // the coordinator hands out ids on a first join
			continue
		case errors.Is(err, kafka.UnknownMemberId) && attempt < 3:
			m.own.forgetMember()
			continue
		case errors.Is(err, kafka.RebalanceInProgress) && attempt < 3:
			continue
		case err != nil:
			return generation{}, fmt.Errorf("join group %s: %w", m.cfg.Group, err)
		}
		m.setMemberID(join.MemberID)
		leader := join.LeaderID == join.MemberID
		var assignments []kafka.SyncGroupRequestAssignment
		if leader {
			if assignments, err = m.lead(join); err != nil {
				return generation{}, err
			}
		}
		sent := time.Now()
		sctx, cancel := context.WithTimeout(ctx, m.cfg.RebalanceTimeout+m.cfg.SessionTimeout)
		sync, err := m.client.SyncGroup(sctx, &kafka.SyncGroupRequest{
			GroupID: m.cfg.Group, GenerationID: join.GenerationID, MemberID: join.MemberID,
			ProtocolType: ProtocolType, ProtocolName: protocolName, Assignments: assignments,
		})
		cancel()
		if err == nil {
			err = sync.Error
		}
		switch {
		case errors.Is(err, kafka.RebalanceInProgress) && attempt < 3:
			continue
		case err != nil:
			return generation{}, fmt.Errorf("sync group %s generation %d: %w", m.cfg.Group, join.GenerationID, err)
		}
		var a assignment
		if err := json.Unmarshal(sync.Assignment.UserData, &a); err != nil {
			return generation{}, fmt.Errorf("sync group %s generation %d: read the assignment: %w", m.cfg.Group, join.GenerationID, err)
		}
		if a.Refused != "" {
			return generation{}, &RefusedError{Reason: a.Refused}
		}
		return generation{assignment: a, id: join.GenerationID, memberID: join.MemberID, leader: leader,
			syncSent: sent}, nil
	}
}

func (m *Member) setMemberID(id string) {
	m.own.mu.Lock()
	m.own.memberID = id
	m.own.mu.Unlock()
}

// lead computes every member's assignment.
func (m *Member) lead(join *kafka.JoinGroupResponse) ([]kafka.SyncGroupRequestAssignment, error) {
	members := make(map[string]memberMeta, len(join.Members))
	for _, jm := range join.Members {
		var mm memberMeta
		if err := json.Unmarshal(jm.Metadata.UserData, &mm); err != nil {
			// A member of another build or protocol: refuse it, not the group.
			mm = memberMeta{Name: "?", Sources: []string{"(unreadable metadata)"}}
		}
		members[jm.ID] = mm
	}
	out := assign(members, join.MemberID, m.prefer)
	res := make([]kafka.SyncGroupRequestAssignment, 0, len(out))
	for id, a := range out {
		data, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		res = append(res, kafka.SyncGroupRequestAssignment{MemberID: id, Assignment: kafka.GroupProtocolAssignment{UserData: data}})
	}
	m.logger.Debug("cluster: assigned as leader", "generation", join.GenerationID, "members", len(members))
	return res, nil
}

// release stops sources through the assignee, saying why.
func (m *Member) release(why string, sources []string) {
	if len(sources) == 0 {
		return
	}
	m.logger.Warn("cluster: releasing sources", "sources", sources, "why", why)
	m.assignee.Release(sources)
	m.reportOwned()
}

// shutdown releases every source while heartbeats keep the membership (so
// their final commits pass the fence), before leave.
func (m *Member) shutdown() {
	owned := m.own.ownedList()
	if len(owned) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st := m.own.state()
		m.heartbeat(ctx, st.Generation)
	}()
	m.logger.Info("cluster: shutting down: flushing and committing before leaving the group", "sources", owned)
	m.assignee.Release(owned)
	m.own.dropAll()
	cancel()
	<-done
}

// leave tells the coordinator this member is gone, so the rebalance
// starts now rather than after the session timeout.
func (m *Member) leave() {
	id := m.own.MemberID()
	if id == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := m.client.LeaveGroup(ctx, &kafka.LeaveGroupRequest{GroupID: m.cfg.Group, Members: []kafka.LeaveGroupRequestMember{{ID: id}}})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		m.logger.Warn("cluster: leave group", "err", err)
		return
	}
	m.own.forgetMember()
	m.logger.Info("cluster: left the group", "member_id", id)
}

func (m *Member) reportOwned() {
	if m.observer != nil {
		m.observer.Owned(len(m.own.ownedList()))
	}
}

// keepAlive heartbeats the current generation while a rebalance is under
// way (the sources keep running meanwhile): each accepted heartbeat proves
// the session goes on, so the lease does not lapse while the coordinator
// waits for a slow or dead member. It never decides that the membership
// is lost; the join does. The returned func stops it.
func (m *Member) keepAlive(ctx context.Context) (stop func()) {
	st := m.own.state()
	if len(st.Owned) == 0 || st.MemberID == "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(m.cfg.HeartbeatInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			sent := time.Now()
			res, err := m.client.Heartbeat(ctx, &kafka.HeartbeatRequest{
				GroupID: m.cfg.Group, GenerationID: int32(st.Generation), MemberID: st.MemberID,
			})
			if err == nil && (res.Error == nil || errors.Is(res.Error, kafka.RebalanceInProgress)) {
				m.own.extend(st.Generation, sent, false)
			}
		}
	}()
	return func() { cancel(); <-done }
}
