package config

import (
	"strings"
	"testing"
	"time"
)

func TestClusterSection(t *testing.T) {
	t.Parallel()
	const withPrefer = `
checkpoints: {dir: /tmp/x}
kafka: {brokers: ["127.0.0.1:19092"], replication_factor: 2}
sources:
  - {name: crm, addr: "127.0.0.1:13306", user: u, server_id: 7, prefer: east}
`
	cases := []struct {
		name, yaml, want string // want "": valid
	}{
		{"alone", minimal, ""},
		{"defaults", minimal + "cluster: {group: cdc}\n", ""},
		{"prefer", withPrefer + "cluster: {group: cdc}\n", ""},
		{"prefer without cluster", withPrefer, `sources[crm].prefer "east": only applies with cluster:`},
		{"no group", minimal + "cluster: {session_timeout: 6s}\n", `cluster.group ""`},
		{"bad group", minimal + "cluster: {group: 'a b'}\n", `cluster.group "a b"`},
		{"short session", minimal + "cluster: {group: g, session_timeout: 500ms, heartbeat_interval: 100ms}\n", "cluster.session_timeout 500ms"},
		{"slow heartbeat", minimal + "cluster: {group: g, session_timeout: 6s, heartbeat_interval: 4s}\n", "cluster.heartbeat_interval 4s"},
		{"short rebalance", minimal + "cluster: {group: g, session_timeout: 6s, rebalance_timeout: 2s}\n", "cluster.rebalance_timeout 2s"},
		{"bad topic", minimal + "cluster: {group: g, checkpoint_topic: 'x/y'}\n", `cluster.checkpoint_topic "x/y"`},
		{"topic is a side topic", minimal + "topics: {transactions: g.cp}\ncluster: {group: g, checkpoint_topic: g.cp}\n", "is also topics.transactions"},
		{"topic under prefix", minimal + "cluster: {group: g, checkpoint_topic: tributary.cp}\n", "starts with topics.prefix"},
		{"replication", minimal + "cluster: {group: g, replication_factor: -1}\n", "cluster.replication_factor -1"},
		{"unknown key", minimal + "cluster: {group: g, sesion_timeout: 6s}\n", "cluster.sesion_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse([]byte(tc.yaml))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("error = %v, want none", err)
			}
			if tc.name == "alone" && cfg.Cluster != nil {
				t.Fatalf("cluster = %+v without cluster:", cfg.Cluster)
			}
			if tc.name == "prefer" {
				c := cfg.Cluster
				if c.CheckpointTopic != "cdc.checkpoints" || c.ReplicationFactor != 2 || c.SessionTimeout != 10*time.Second ||
					c.HeartbeatInterval != 3*time.Second || c.RebalanceTimeout != 30*time.Second || c.Member == "" {
					t.Fatalf("defaults = %+v", c)
				}
				if cfg.Sources[0].Prefer != "east" {
					t.Fatalf("prefer = %q", cfg.Sources[0].Prefer)
				}
			}
		})
	}
}
