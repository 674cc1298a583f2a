package pipeline

import "time"

// stallDetector tells a stalled source from an idle or a busy one from a
// series of (checkpoint, bytes the server wrote past it) measurements.
type stallDetector struct {
	checkpoint string    // the checkpoint of the current run of measurements
	since      time.Time // when the server was first seen past it
	stalled    bool
}

// observe records a measurement at now and returns the verdict: stalled
// once the server has been past one and the same checkpoint for at least
// after. A moving checkpoint, or one the server is not past (idle), resets
// it.
func (d *stallDetector) observe(checkpoint string, lagBytes int64, now time.Time, after time.Duration) bool {
	switch {
	case lagBytes <= 0:
		d.checkpoint, d.since, d.stalled = checkpoint, time.Time{}, false
	case checkpoint != d.checkpoint || d.since.IsZero():
		d.checkpoint, d.since, d.stalled = checkpoint, now, false
	default:
		d.stalled = now.Sub(d.since) >= after
	}
	return d.stalled
}
