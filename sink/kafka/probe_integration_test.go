package kafkasink

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	addr := requireKafka(t)
	// A port nothing listens on: bind one, then close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	ctx := context.Background()
	if err := Probe(ctx, Config{Brokers: []string{addr}}, 10*time.Second); err != nil {
		t.Errorf("Probe(%s) = %v, want nil", addr, err)
	}
	if err := Probe(ctx, Config{Brokers: []string{closed, addr}}, 10*time.Second); err != nil {
		t.Errorf("Probe with one broker answering = %v, want nil", err)
	}
	err = Probe(ctx, Config{Brokers: []string{closed}}, 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "kafka.brokers") || !strings.Contains(err.Error(), closed) {
		t.Errorf("Probe(%s) = %v, want an error naming kafka.brokers and the address", closed, err)
	}
}
