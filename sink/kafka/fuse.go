package kafkasink

import (
	"context"
	"net"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
)

// fuseTransport stops every produce request once the sink has failed.
//
// kafka-go moves on to a partition's next queued batch after a batch failed
// for good. Sending it would leave a gap in the partition followed by newer
// messages for the same keys; the replay from the checkpoint would then
// deliver the gap's messages after those newer ones, and a consumer that
// de-duplicates by event id would see a key's changes out of order. kafka-go
// calls Completion for the failed batch on the partition's goroutine before
// it takes the next batch, and the completion fails the sink, so by the time
// the next batch reaches RoundTrip the fuse has blown and nothing after the
// gap goes out.
type fuseTransport struct {
	next kafka.RoundTripper
	sink *Sink
}

func (f *fuseTransport) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	if req.ApiKey() == protocol.Produce {
		if err := f.sink.fuseErr(); err != nil {
			return nil, &blownFuseError{cause: err.Error()}
		}
		if gate := f.sink.gate; gate != nil {
			if err := gate(); err != nil {
				// Fenced: nothing more may leave for this source, so the
				// failure must not be retried either.
				f.sink.blowFuse(err)
				return nil, &blownFuseError{cause: err.Error()}
			}
		}
	}
	return f.next.RoundTrip(ctx, addr, req)
}

// blownFuseError refuses a produce request. It is deliberately not
// temporary and does not wrap the original failure: kafka-go retries
// temporary and network errors with backoff, and a queued batch must fail
// at once so the pipeline restarts from its checkpoint without waiting for
// every queued batch to exhaust its attempts.
type blownFuseError struct{ cause string }

func (e *blownFuseError) Error() string {
	return "not producing after an earlier failure: " + e.cause
}

func (e *blownFuseError) Temporary() bool { return false }

// blowFuse records a failed produce; from then on no produce request leaves.
// Messages refused before reaching kafka-go (oversized in halt mode) do not
// blow it: nothing is missing in front of the messages already queued.
func (s *Sink) blowFuse(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fused == nil {
		s.fused = err
	}
}

func (s *Sink) fuseErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fused
}
