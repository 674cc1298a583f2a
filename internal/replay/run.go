package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/sink"
)

// replay streams src from p.from into the sink until the handler reaches
// p.to, then waits for every ack.
func replay(ctx context.Context, src capture.Source, newSink func(sink.AckFunc) (sink.Sink, error), p params) (Summary, error) {
	streamCtx, stopStream := context.WithCancelCause(ctx)
	defer stopStream(nil)
	h := newHandler(p)

	// The sink reports acks and failures from its own goroutines.
	var sinkErr sink.FirstError
	ack := func(seqs []uint64, err error) {
		if err == nil {
			h.acked.Add(uint64(len(seqs)))
			return
		}
		sinkErr.Record(err)
		stopStream(fmt.Errorf("kafka write failed: %w", err))
	}
	snk, err := newSink(ack)
	if err != nil {
		return h.summary(p), fmt.Errorf("create kafka sink: %w", err)
	}
	h.sink = snk
	closed := false
	defer func() {
		if !closed {
			snk.Close()
		}
	}()

	p.logger.Info("replaying", "from", p.from.String(), "to", p.to.String(), "topic", p.topic, "server_id", p.serverID)
	stopProgress := h.reportProgress(p.progress, p.progressEvery)
	err = src.Stream(streamCtx, capture.Resume{Position: p.from.Resume().Position}, h) // history only: no snapshot work
	stopProgress()
	switch {
	case errors.Is(err, errReachedEnd):
		err = nil
	case err == nil:
		err = errors.New("source stream ended before reaching --to")
	}

	// Wait for what Kafka still has in flight, so that Acked is final. A
	// failed or interrupted replay waits at most the shutdown timeout.
	flushCtx := ctx
	if err != nil || ctx.Err() != nil {
		var cancel context.CancelFunc
		flushCtx, cancel = context.WithTimeout(context.Background(), p.shutdownTimeout)
		defer cancel()
	}
	ferr := snk.Flush(flushCtx)
	closed = true
	cerr := snk.Close()
	sum := h.summary(p)
	if serr := sinkErr.Err(); serr != nil {
		return sum, fmt.Errorf("kafka write failed; %d of %d messages acked: %w", sum.Acked, sum.Written, serr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return sum, fmt.Errorf("replay interrupted after reading up to %s; %d of %d messages acked: %w", sum.readUpTo(), sum.Acked, sum.Written, ctx.Err())
		}
		return sum, fmt.Errorf("replay stopped after reading up to %s; %d of %d messages acked: %w", sum.readUpTo(), sum.Acked, sum.Written, err)
	}
	if ferr != nil {
		return sum, fmt.Errorf("wait for kafka acks: %d of %d messages acked: %w", sum.Acked, sum.Written, ferr)
	}
	if cerr != nil {
		return sum, fmt.Errorf("close kafka sink: %w", cerr)
	}
	if sum.Acked != sum.Written {
		return sum, fmt.Errorf("only %d of %d messages acked", sum.Acked, sum.Written)
	}
	return sum, nil
}

// reportProgress writes a line to w every interval until the returned
// function is called.
func (h *handler) reportProgress(w io.Writer, every time.Duration) (stop func()) {
	if w == nil {
		return func() {}
	}
	if every <= 0 {
		every = DefaultProgressEvery
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read, _ := h.readPos.Load().(string)
				if read == "" {
					read = "(no commit yet)"
				}
				fmt.Fprintf(w, "replay: %d events, %d transactions, %d of %d messages acked, read up to %s\n",
					h.events.Load(), h.transactions.Load(), h.acked.Load(), h.written.Load(), read)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
