package cluster

import (
	"context"

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
type Client struct {
	*kafka.Client
}

// NewClient wraps c.
func NewClient(c *kafka.Client) *Client { return &Client{Client: c} }

// Heartbeat is kafka.Client.Heartbeat with the error code and throttle
// time read from where the broker put them.
func (c *Client) Heartbeat(ctx context.Context, req *kafka.HeartbeatRequest) (*kafka.HeartbeatResponse, error) {
	res, err := c.Client.Heartbeat(ctx, req)
	if err != nil {
		return nil, err
	}
	return fixHeartbeat(res), nil
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
