package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// Client is the group client the member uses: kafka.Client with its
// Heartbeat's answer read right.
//
// kafka-go v0.4.49 declares the Heartbeat response as error_code then
// throttle_time_ms, but from version 1 on Kafka sends throttle_time_ms
// (int32) first and error_code (int16) after. kafka-go therefore reads the
// top half of the throttle time as the error (zero: "success") and the
// real error code in the low bits of its throttle time: a member would
// never hear that a rebalance began or that its generation is gone
// (kafka-go's own consumer groups use a separate, correct v0 path). The
// six bytes are the same either way, so Heartbeat puts them back in order.
//
// kafka-go also sends a Heartbeat to the bootstrap broker rather than to
// the group's coordinator (its heartbeat request does not name its group
// to the transport, unlike JoinGroup and SyncGroup). On a cluster whose
// bootstrap broker is not the coordinator every heartbeat would answer
// "not coordinator" and the member's lease would lapse; and a fresh
// cluster never creates its offsets topic for a heartbeat alone. So
// Heartbeat finds the coordinator first, remembers it per group, and asks
// again when the broker says it no longer is.
type Client struct {
	*kafka.Client

	mu           sync.Mutex
	coordinators map[string]net.Addr // group → its coordinator's address
}

// NewClient wraps c.
func NewClient(c *kafka.Client) *Client {
	return &Client{Client: c, coordinators: make(map[string]net.Addr)}
}

// Heartbeat is kafka.Client.Heartbeat sent to the group's coordinator,
// with the error code and throttle time read from where the broker put
// them.
func (c *Client) Heartbeat(ctx context.Context, req *kafka.HeartbeatRequest) (*kafka.HeartbeatResponse, error) {
	if req.Addr == nil {
		addr, err := c.coordinator(ctx, req.GroupID)
		if err != nil {
			return nil, err
		}
		routed := *req
		routed.Addr = addr
		req = &routed
	}
	res, err := c.Client.Heartbeat(ctx, req)
	if err != nil {
		c.forgetCoordinator(req.GroupID)
		return nil, err
	}
	res = fixHeartbeat(res)
	if coordinatorMoved(res.Error) {
		c.forgetCoordinator(req.GroupID)
	}
	return res, nil
}

// coordinator returns the address of group's coordinator, asking the
// cluster when it is not known.
func (c *Client) coordinator(ctx context.Context, group string) (net.Addr, error) {
	c.mu.Lock()
	addr, ok := c.coordinators[group]
	c.mu.Unlock()
	if ok {
		return addr, nil
	}
	res, err := c.Client.FindCoordinator(ctx, &kafka.FindCoordinatorRequest{Key: group, KeyType: kafka.CoordinatorKeyTypeConsumer})
	if err != nil {
		return nil, fmt.Errorf("finding the coordinator of group %s: %w", group, err)
	}
	if res.Error != nil {
		// A settling coordinator is an answer the member retries, as it
		// would the heartbeat's own "not coordinator".
		return nil, fmt.Errorf("finding the coordinator of group %s: %w", group, res.Error)
	}
	if res.Coordinator == nil || res.Coordinator.Host == "" {
		return nil, fmt.Errorf("finding the coordinator of group %s: the broker named none", group)
	}
	addr = kafka.TCP(net.JoinHostPort(res.Coordinator.Host, strconv.Itoa(res.Coordinator.Port)))
	c.mu.Lock()
	c.coordinators[group] = addr
	c.mu.Unlock()
	return addr, nil
}

func (c *Client) forgetCoordinator(group string) {
	c.mu.Lock()
	delete(c.coordinators, group)
	c.mu.Unlock()
}

// coordinatorMoved reports a broker's answer that it is not (or not yet)
// the group's coordinator.
func coordinatorMoved(err error) bool {
	return errors.Is(err, kafka.NotCoordinatorForGroup) ||
		errors.Is(err, kafka.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafka.GroupLoadInProgress)
}

// fixHeartbeat reorders a response kafka-go decoded as error_code(int16),
// throttle_time_ms(int32) from bytes that were throttle_time_ms(int32),
// error_code(int16).
func fixHeartbeat(res *kafka.HeartbeatResponse) *kafka.HeartbeatResponse {
	var misreadCode uint16 // the first two bytes, which kafka-go took for the error code
	if res.Error != nil {
		ke, ok := res.Error.(kafka.Error)
		if !ok {
			return res
		}
		misreadCode = uint16(ke)
	}
	misreadThrottle := uint32(res.Throttle / time.Millisecond) // the next four bytes
	code := int16(misreadThrottle & 0xffff)
	throttle := int32(uint32(misreadCode)<<16 | misreadThrottle>>16)
	out := &kafka.HeartbeatResponse{Throttle: time.Duration(throttle) * time.Millisecond}
	if code != 0 {
		out.Error = kafka.Error(code)
	}
	return out
}
