package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The heartbeat reports the coordinator's errors (kafka-go's own v4
// heartbeat answers success for a group that does not exist).
func TestHeartbeatReportsCoordinatorErrors(t *testing.T) {
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	c := NewClient(&kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := c.Heartbeat(ctx, &kafka.HeartbeatRequest{GroupID: testenv.UniqueName(t, "nogroup"), GenerationID: 3, MemberID: "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Error, kafka.UnknownMemberId) && !errors.Is(res.Error, kafka.GroupIdNotFound) && !errors.Is(res.Error, kafka.IllegalGeneration) {
		t.Fatalf("heartbeat of a member of no group: error %v, want unknown member, group not found or illegal generation", res.Error)
	}
}
