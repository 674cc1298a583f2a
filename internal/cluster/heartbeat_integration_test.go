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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := &kafka.HeartbeatRequest{GroupID: testenv.UniqueName(t, "nogroup"), GenerationID: 3, MemberID: "nobody"}
	var res *kafka.HeartbeatResponse
	for {
		var err error
		res, err = c.Heartbeat(ctx, req)
		if err == nil {
			err = res.Error
		} else if !coordinatorMoved(err) {
			t.Fatal(err)
		}
		// A broker that just started has no group coordinator yet (the
		// offsets topic is still being created), and one still loading
		// its groups can answer with no error at all: ask again until it
		// names the missing member or group.
		if err != nil && !coordinatorMoved(err) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the group coordinator never settled: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !errors.Is(res.Error, kafka.UnknownMemberId) && !errors.Is(res.Error, kafka.GroupIdNotFound) && !errors.Is(res.Error, kafka.IllegalGeneration) {
		t.Fatalf("heartbeat of a member of no group: error %v, want unknown member, group not found or illegal generation", res.Error)
	}
}
