package capture

import "time"

// Takeover is implemented by the settings of kinds whose server serves one
// reader per replication position at a time (PostgreSQL: one walsender per
// slot). In cluster mode a source's new owner may find the previous
// owner's reader still attached (a frozen or cut-off process whose
// connection the server has not timed out yet); with a policy set, the
// source waits for it and then ends it, and logs which it did.
type Takeover interface {
	SetTakeover(TakeoverPolicy)
}

// TakeoverPolicy says how a source takes its server-side reader over.
type TakeoverPolicy struct {
	// Wait is how long the previous reader may take to go by itself.
	Wait time.Duration
	// Allowed is asked right before the previous reader is ended: an
	// error (this process no longer owns the source) leaves it alone.
	// nil: no takeover, the stream fails while the position is in use.
	Allowed func() error
}
