// Package cluster runs several daemons with the same sources as one group:
// Kafka's group coordinator gives each source to exactly one member, a
// compacted topic carries every source's checkpoint to its next owner, and
// a fence (a membership lease plus a per-source epoch) stops a member that
// lost a source from producing or checkpointing for it.
//
// The rest of the program sees three seams: an Assignee told "these sources
// are yours now / not any more", a Fence consulted before every produce
// request and checkpoint write, and a checkpoints.Store.
package cluster

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config is the cluster: section. Without it the daemon runs alone.
type Config struct {
	// Group is the Kafka group every member of the cluster joins; members
	// with the same group must have the same sources.
	Group string `yaml:"group"`
	// Member names this daemon for sources[].prefer and in status; the
	// default is the host name. Several members may share a name.
	Member string `yaml:"member"`
	// SessionTimeout is how long the coordinator waits for a heartbeat
	// before it gives a member's sources to the others (and how long a
	// member that cannot reach the coordinator keeps producing).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// HeartbeatInterval is how often a member tells the coordinator it is
	// alive; well below SessionTimeout (a third or less).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// RebalanceTimeout bounds how long the coordinator waits for every
	// member to rejoin during a rebalance.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// CheckpointTopic is the compacted topic of the cluster's checkpoints
	// (default <group>.checkpoints).
	CheckpointTopic string `yaml:"checkpoint_topic"`
	// ReplicationFactor of the checkpoint topic when it is created
	// (default kafka.replication_factor).
	ReplicationFactor int `yaml:"replication_factor"`
}

// Defaults of the durations: a crashed member's sources move within about
// SessionTimeout plus one rebalance (~15 s).
const (
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultRebalanceTimeout  = 30 * time.Second
)

// SetDefaults fills unset keys; hostname names the member when Member is
// empty and replicationFactor is the Kafka section's.
func (c *Config) SetDefaults(hostname string, replicationFactor int) {
	if c.Member == "" {
		c.Member = hostname
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = min(DefaultHeartbeatInterval, c.SessionTimeout/3)
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = max(DefaultRebalanceTimeout, c.SessionTimeout)
	}
	if c.CheckpointTopic == "" && c.Group != "" {
		c.CheckpointTopic = c.Group + ".checkpoints"
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = replicationFactor
	}
}

var (
	groupName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,200}$`)
	topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)
)

// Validate reports every invalid key, each named as cluster.<key>.
// The coordinator itself bounds the session timeout by the brokers'
// group.min/max.session.timeout.ms and says so at join.
func (c Config) Validate() error {
	var errs []error
	if !groupName.MatchString(c.Group) {
		errs = append(errs, fmt.Errorf("cluster.group %q: want 1-200 of A-Z, a-z, 0-9, '.', '_' and '-' (the Kafka group all members join)", c.Group))
	}
	if c.Member == "" || len(c.Member) > 200 {
		errs = append(errs, fmt.Errorf("cluster.member %q: want 1-200 characters (the default is the host name)", c.Member))
	}
	if c.SessionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("cluster.session_timeout %s: want at least 1s", c.SessionTimeout))
	}
	if c.HeartbeatInterval <= 0 || c.HeartbeatInterval*2 > c.SessionTimeout {
		errs = append(errs, fmt.Errorf("cluster.heartbeat_interval %s: want more than 0 and at most half of cluster.session_timeout (%s); a third is usual", c.HeartbeatInterval, c.SessionTimeout))
	}
	if c.RebalanceTimeout < c.SessionTimeout {
		errs = append(errs, fmt.Errorf("cluster.rebalance_timeout %s: want at least cluster.session_timeout (%s)", c.RebalanceTimeout, c.SessionTimeout))
	}
	if !topicName.MatchString(c.CheckpointTopic) || c.CheckpointTopic == "." || c.CheckpointTopic == ".." {
		errs = append(errs, fmt.Errorf("cluster.checkpoint_topic %q: want a Kafka topic name: 1-249 of A-Z, a-z, 0-9, '.', '_' and '-'", c.CheckpointTopic))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("cluster.replication_factor %d: want at least 1", c.ReplicationFactor))
	}
	return errors.Join(errs...)
}
