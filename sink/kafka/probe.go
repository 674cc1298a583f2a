package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Probe asks each broker of cfg.Brokers for cluster metadata, through the
// transport the sink uses, and succeeds as soon as one answers. When none
// answers within timeout the error names kafka.brokers and every broker's
// failure, so a wrong address or a closed port shows at start instead of at
// the first change.
func Probe(ctx context.Context, cfg Config, timeout time.Duration) error {
	transport := newTransport(cfg)
	defer transport.CloseIdleConnections()
	var errs []error
	for _, b := range cfg.Brokers {
		client := &kafka.Client{Addr: kafka.TCP(b), Transport: transport, Timeout: timeout}
		bctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := client.Metadata(bctx, &kafka.MetadataRequest{})
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	return fmt.Errorf("kafka.brokers: no broker answered a metadata request within %s: %w", timeout, errors.Join(errs...))
}
