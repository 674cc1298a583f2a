package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	"github.com/segmentio/kafka-go/protocol/produce"
)

type countingTransport struct{ calls int }

func (c *countingTransport) RoundTrip(context.Context, net.Addr, kafka.Request) (kafka.Response, error) {
	c.calls++
	return nil, nil
}

func TestFuseStopsProduceAfterFailure(t *testing.T) {
	t.Parallel()
	s := &Sink{}
	next := &countingTransport{}
	f := &fuseTransport{next: next, sink: s}
	ctx := context.Background()

	if _, err := f.RoundTrip(ctx, nil, &produce.Request{}); err != nil || next.calls != 1 {
		t.Fatalf("healthy sink: err %v, forwarded %d", err, next.calls)
	}
	s.blowFuse(fmt.Errorf("batch failed for good: %w", io.ErrUnexpectedEOF))
	_, err := f.RoundTrip(ctx, nil, &produce.Request{})
	if err == nil || next.calls != 1 {
		t.Fatalf("failed sink: produce must not be forwarded (err %v, forwarded %d)", err, next.calls)
	}
	// kafka-go retries temporary and network errors; a refusal must not be one.
	var temp interface{ Temporary() bool }
	if errors.As(err, &temp) && temp.Temporary() || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("refusal %v looks retryable to kafka-go", err)
	}
	if _, err := f.RoundTrip(ctx, nil, &metadata.Request{}); err != nil || next.calls != 2 {
		t.Fatalf("failed sink: metadata should still pass (err %v, forwarded %d)", err, next.calls)
	}
}
