package accuracy

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/encode"
)

// warnRetention warns about the tables whose topic neither compacts nor
// keeps messages forever: a row unchanged for longer than the retention
// has no event left in the topic, so a state that did not read it in time
// (a new state, a daemon stopped for longer, a table older than the
// retention that was never snapshotted since) reports the row as
// missing. The monitor still runs: the warning says what its reports
// will mean and how to fix the topic.
func (m *Monitor) warnRetention(ctx context.Context, tables [][2]string) {
	if len(tables) == 0 {
		return
	}
	tr := m.kafka.Transport(time.Second)
	defer tr.CloseIdleConnections()
	client := m.kafka.Client(tr, 10*time.Second)
	enc := encode.New(m.cfg.Encode)
	for _, t := range tables {
		topic := enc.Topic(t[0], t[1])
		policy, retention, ok := topicRetention(ctx, client, topic)
		if !ok || strings.Contains(policy, "compact") || retention < 0 {
			continue
		}
		m.log.Warn("accuracy monitor: the table's topic is not compacted and deletes messages after its retention; rows last changed longer ago than that have no event left, and the monitor reports them as missing unless it read them in time (it keeps their digests while it runs). Set cleanup.policy=compact on the topic, or snapshot the table after enabling the monitor",
			"table", t[0]+"."+t[1], "topic", topic, "cleanup_policy", policy, "retention", (time.Duration(retention) * time.Millisecond).String())
	}
}

// topicRetention reads a topic's cleanup.policy and retention.ms; ok is
// false when the topic does not exist (yet) or cannot be described.
func topicRetention(ctx context.Context, client *kafka.Client, topic string) (policy string, retentionMs int64, ok bool) {
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{
		Resources: []kafka.DescribeConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: topic,
			ConfigNames: []string{"cleanup.policy", "retention.ms"},
		}},
	})
	if err != nil || len(res.Resources) == 0 || res.Resources[0].Error != nil {
		return "", 0, false
	}
	retentionMs = -1
	for _, e := range res.Resources[0].ConfigEntries {
		switch e.ConfigName {
		case "cleanup.policy":
			policy = e.ConfigValue
		case "retention.ms":
			if n, err := strconv.ParseInt(e.ConfigValue, 10, 64); err == nil {
				retentionMs = n
			}
		}
	}
	return policy, retentionMs, true
}
