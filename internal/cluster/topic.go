package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

// Record is one checkpoint in the cluster's checkpoint topic (key = the
// source name). Epoch is the generation in which Member acquired the
// source; a record with a higher epoch wins over any with a lower one,
// whatever their order in the topic.
type Record struct {
	Source     string    `json:"source"`
	Epoch      int       `json:"epoch"`
	Member     string    `json:"member"`      // the coordinator's member id
	MemberName string    `json:"member_name"` // cluster.member
	Position   string    `json:"position"`
	Snapshot   string    `json:"snapshot,omitempty"`
	CommitTime time.Time `json:"commit_time"`
	SavedAt    time.Time `json:"saved_at"`
	// MigratedFrom says the record was copied from a single daemon's
	// store ("badger") when the source first ran in the cluster.
	MigratedFrom string `json:"migrated_from,omitempty"`
	// Offset is where the record is in the topic (not stored in it).
	Offset int64 `json:"-"`
}

// segmentMS rolls the checkpoint topic's segments hourly so compaction,
// which never touches the active segment, keeps the topic small.
const segmentMS = "3600000"

// EnsureTopic creates the checkpoint topic (one partition, compacted) if
// it is missing, and refuses one that exists but is not compacted: the
// delete policy would one day drop a source's only checkpoint.
func EnsureTopic(ctx context.Context, client *kafka.Client, topic string, replicationFactor int) error {
	err := kafkasink.EnsureTopic(ctx, client, topic, 1, replicationFactor,
		kafka.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"},
		kafka.ConfigEntry{ConfigName: "segment.ms", ConfigValue: segmentMS})
	if err != nil {
		return fmt.Errorf("cluster.checkpoint_topic %s: %w", topic, err)
	}
	res, err := client.DescribeConfigs(ctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: topic, ConfigNames: []string{"cleanup.policy"},
	}}})
	if err != nil {
		return fmt.Errorf("cluster.checkpoint_topic %s: describe cleanup.policy: %w", topic, err)
	}
	policy := ""
	for _, r := range res.Resources {
		if r.Error != nil {
			return fmt.Errorf("cluster.checkpoint_topic %s: describe cleanup.policy: %w", topic, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName == "cleanup.policy" {
				policy = e.ConfigValue
			}
		}
	}
	if !strings.Contains(policy, "compact") {
		return fmt.Errorf("cluster.checkpoint_topic %s exists with cleanup.policy=%q, not compact: Kafka would delete old checkpoints by age; set cleanup.policy=compact on it (kafka-configs --alter --add-config cleanup.policy=compact) or name another topic", topic, policy)
	}
	return nil
}

// ReadRecords reads the whole checkpoint topic and returns, per source,
// the record that wins: the highest epoch, and of those the last written.
func ReadRecords(ctx context.Context, client *kafka.Client, topic string) (map[string]Record, error) {
	first, end, err := offsets(ctx, client, topic)
	if err != nil {
		return nil, err
	}
	best := map[string]Record{}
	for next := first; next < end; {
		res, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: next, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return nil, fmt.Errorf("read checkpoint topic %s at %d: %w", topic, next, err)
		}
		read := 0
		for {
			r, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read checkpoint topic %s at %d: %w", topic, next, err)
			}
			if r.Offset < next {
				continue
			}
			next = r.Offset + 1
			read++
			if r.Value == nil {
				continue // a tombstone: the source's checkpoint was deleted
			}
			data, err := io.ReadAll(r.Value)
			if err != nil {
				return nil, fmt.Errorf("read checkpoint topic %s at %d: %w", topic, r.Offset, err)
			}
			var rec Record
			if err := json.Unmarshal(data, &rec); err != nil || rec.Source == "" {
				continue // not ours; the topic is meant for checkpoints only
			}
			rec.Offset = r.Offset
			if cur, ok := best[rec.Source]; !ok || rec.Epoch >= cur.Epoch {
				best[rec.Source] = rec
			}
		}
		if read == 0 && res.HighWatermark <= next {
			break
		}
	}
	return best, nil
}

func offsets(ctx context.Context, client *kafka.Client, topic string) (first, end int64, err error) {
	for attempt := 0; ; attempt++ {
		res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
		}})
		if err != nil {
			return 0, 0, fmt.Errorf("offsets of checkpoint topic %s: %w", topic, err)
		}
		for _, po := range res.Topics[topic] {
			if po.Error != nil {
				err = po.Error
				break
			}
			return po.FirstOffset, po.LastOffset, nil
		}
		if err == nil {
			err = errors.New("no partition 0")
		}
		settling := errors.Is(err, kafka.NotLeaderForPartition) || errors.Is(err, kafka.LeaderNotAvailable)
		if !settling || attempt >= 50 {
			return 0, 0, fmt.Errorf("offsets of checkpoint topic %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
