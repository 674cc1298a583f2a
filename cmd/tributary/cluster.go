package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	"github.com/tributary-cdc/tributary/internal/cluster"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/metrics"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

// Headers every message carries in cluster mode: the epoch (the group
// generation in which the producing member acquired the source) and the
// member's id. A consumer that has seen epoch E of a source may drop a
// later message of a lower epoch: it comes from a member fenced since.
const (
	HeaderEpoch  = "tributary-epoch"
	HeaderMember = "tributary-member"
)

// clusterNode is this daemon's part in cluster mode.
type clusterNode struct {
	member *cluster.Member
	store  *cluster.Store
	fence  cluster.Fence
	closes []func()
}

// startCluster makes sure the checkpoint topic is there and compacted and
// builds the member (not yet joined) and the cluster checkpoint store over
// local. run runs one source until its context is cancelled.
func startCluster(ctx context.Context, cfg *config.Config, local checkpoints.Store, reg *metrics.Registry,
	run func(ctx context.Context, source string) error, logger *slog.Logger) (*clusterNode, error) {
	cc := cfg.Cluster
	conn, err := kafkasink.NewConnection(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	n := &clusterNode{}
	adminTransport := conn.Transport(0)
	n.closes = append(n.closes, adminTransport.CloseIdleConnections)
	adminClient := conn.Client(adminTransport, cfg.Kafka.WriteTimeout)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cluster.EnsureTopic(tctx, adminClient, cc.CheckpointTopic, cc.ReplicationFactor); err != nil {
		return nil, err
	}
	// The group's requests block for up to a rebalance: they get a
	// transport (connections) of their own and no client timeout.
	groupTransport := conn.Transport(0)
	n.closes = append(n.closes, groupTransport.CloseIdleConnections)
	names := make([]string, len(cfg.Sources))
	prefer := map[string]string{}
	for i, s := range cfg.Sources {
		names[i] = s.Name
		if s.Prefer != "" {
			prefer[s.Name] = s.Prefer
		}
	}
	sup := cluster.NewSupervisor(run, logger)
	n.member = cluster.NewMember(*cc, names, prefer, cluster.NewClient(conn.Client(groupTransport, 0)), sup,
		reg.Cluster(cc.Group, cc.Member), logger)
	n.fence = n.member.Fence()
	writer := &kafka.Writer{
		Addr: kafka.TCP(cfg.Kafka.Brokers...), Topic: cc.CheckpointTopic, Transport: adminTransport,
		RequiredAcks: kafka.RequireAll, Balancer: &kafka.LeastBytes{},
		BatchTimeout: time.Millisecond, // writes are synchronous: do not wait for company
		WriteTimeout: cfg.Kafka.WriteTimeout, ReadTimeout: cfg.Kafka.WriteTimeout, MaxAttempts: 3,
	}
	n.store = cluster.NewStore(local, n.fence, adminClient, writer, cc.CheckpointTopic, cc.Member, logger)
	return n, nil
}

func (n *clusterNode) close() {
	_ = n.store.Close()
	for _, c := range n.closes {
		c()
	}
}

// sourceFence is one source's view of the member's fence.
type sourceFence struct {
	source string
	fence  cluster.Fence
}

// sourceFence returns the source's fence and, for kinds whose server
// serves one reader per position (capture.Takeover: PostgreSQL's slot),
// sets the source to take its reader over from a previous owner once the
// fence allows it: the previous owner's lease is over by the time this
// member is given the source, so its walsender has at most a heartbeat
// interval to go by itself.
func (n *clusterNode) sourceFence(cfg *config.Config, sc config.Source) *sourceFence {
	f := &sourceFence{source: sc.Name, fence: n.fence}
	if t, ok := sc.Settings.(capture.Takeover); ok {
		t.SetTakeover(capture.TakeoverPolicy{Wait: cfg.Cluster.HeartbeatInterval, Allowed: f.check})
	}
	return f
}

func (f *sourceFence) check() error {
	_, err := f.fence.Check(f.source)
	return err
}

// sinkOptions fence a source's sink: every produce request asks the fence
// first, and every message carries the epoch and member it was produced
// under. Called at each pipeline attempt, so the epoch is the current one.
func (f *sourceFence) sinkOptions() []kafkasink.Option {
	epoch, _ := f.fence.Check(f.source)
	gate := func() error {
		e, err := f.fence.Check(f.source)
		if err == nil && e != epoch {
			err = fmt.Errorf("source %s: %w: epoch %d is over (now %d)", f.source, cluster.ErrFenced, epoch, e)
		}
		return err
	}
	return []kafkasink.Option{
		kafkasink.WithProduceGate(gate),
		kafkasink.WithHeaders(
			kafka.Header{Key: HeaderEpoch, Value: []byte(strconv.Itoa(epoch))},
			kafka.Header{Key: HeaderMember, Value: []byte(f.fence.MemberID())},
		),
	}
}

// runMember runs the daemon as a cluster member: every source waits as a
// standby until the group gives it to this member. It returns when ctx is
// done (after handing every source over) or the group refused the member.
func runMember(ctx context.Context, cfg *config.Config, node *clusterNode, reg *metrics.Registry, logger *slog.Logger) error {
	for _, sc := range cfg.Sources {
		reg.Source(sc.Name).SetState(metrics.StateStandby, nil)
	}
	logger.Info("cluster: joining", "group", cfg.Cluster.Group, "member", cfg.Cluster.Member,
		"checkpoint_topic", cfg.Cluster.CheckpointTopic, "session_timeout", cfg.Cluster.SessionTimeout)
	if err := node.member.Run(ctx); err != nil {
		return err
	}
	logger.Info("tributary stopped")
	return nil
}
