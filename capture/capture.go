// Package capture defines what a source of row changes yields: changes that
// carry their source position, and transaction boundaries that are safe
// places to resume from. Implementations live in subpackages (capture/mysql).
package capture

import (
	"context"
	"time"
)

// Op is the kind of a row change, as it appears in the canonical event.
type Op string

const (
	OpCreate   Op = "c"
	OpUpdate   Op = "u"
	OpDelete   Op = "d"
	OpRead     Op = "r" // snapshot read
	OpTruncate Op = "t"
)

// Absent marks a column value the source did not log for this row image
// (MySQL binlog_row_image=MINIMAL/NOBLOB, PostgreSQL unchanged TOAST). It is
// never the same as NULL: consumers must keep the value they already have.
type absent struct{}

// Absent is the value of a column that the source did not send.
var Absent = absent{}

// Table identifies a captured table and describes its columns.
type Table struct {
	Database string
	Name     string
	Columns  []Column
	// Key holds the indexes into Columns of the primary key (or configured
	// key) columns, in key order. Empty means the table has no usable key.
	Key []int
}

// Column describes one column of a captured table.
type Column struct {
	Name string
	// Type is the source's type name, e.g. "decimal(10,2)" or "timestamptz".
	Type string
}

// Change is one row change. Values hold canonical Go values, one per column
// of Table.Columns, in column order:
//
//	nil              SQL NULL
//	capture.Absent   not logged by the source (never NULL)
//	bool, int64, uint64, float32, float64
//	string           text, DECIMAL (exact digits), dates and times (ISO 8601)
//	[]byte           binary data (encoded as base64 in JSON)
//	json.RawMessage  JSON documents
//	[]string         SET labels
//
// Sources convert their wire values to these types so that every later
// stage is independent of the source kind.
type Change struct {
	Op     Op
	Table  *Table
	Before []any // nil for inserts
	After  []any // nil for deletes

	// Position is the resumable position of the transaction this change
	// belongs to (where a resume would re-read it from).
	Position string
	// EventPosition uniquely names the source event holding the row, and
	// RowIndex the row inside it; together they make the event id.
	EventPosition string
	RowIndex      int

	ServerID   uint32
	GTID       string
	TxID       string
	CommitTime time.Time
	Snapshot   bool
}

// Commit marks the end of a source transaction. Position is where a resume
// starts after everything up to and including this transaction.
type Commit struct {
	Position string
	// Snapshot is the snapshot work pending at Position, in the source's
	// encoding (capture/snapshot.State); empty when none is. The
	// checkpoint keeps it beside the position, and a resume hands both
	// back (Resume).
	Snapshot   string
	CommitTime time.Time
}

// Resume is where a Stream starts: a position a Commit (or CurrentPosition)
// named and the snapshot work pending there. The zero Resume is the
// server's current position.
type Resume struct {
	Position string
	Snapshot string
}

// ResumeAt is the Resume of a Commit.
func (c Commit) ResumeAt() Resume { return Resume{Position: c.Position, Snapshot: c.Snapshot} }

// SchemaChange is a DDL statement or relation change seen in the stream.
type SchemaChange struct {
	Database   string
	Statement  string
	Position   string
	CommitTime time.Time
}

// Handler receives a source's stream in source order. A returned error stops
// the source. Handlers may block to apply backpressure. A handler may keep
// a Change and its values after returning (the pipeline encodes on another
// goroutine): sources hand over a fresh Change on every call and never
// modify it, nor its Before and After, afterwards.
type Handler interface {
	Change(ctx context.Context, c *Change) error
	Commit(ctx context.Context, c Commit) error
	Schema(ctx context.Context, s SchemaChange) error
}

// Source reads one ordered change stream.
type Source interface {
	// Stream reads changes starting at from (the zero Resume: the server's
	// current position), running the snapshot work pending there, and
	// passes them to h until ctx is done or an error occurs. It returns
	// ctx.Err() after a cancellation.
	Stream(ctx context.Context, from Resume, h Handler) error
	// Close releases connections. It is safe to call after Stream returned.
	Close() error
}

// Positioner is implemented by sources that can name the server's current
// position. The pipeline checkpoints it before the first stream so that a
// crash before the first transaction cannot skip changes made meanwhile.
// With a snapshot configured for a first start, the Resume carries the
// snapshot work to do, so that it is durable before anything is streamed.
type Positioner interface {
	CurrentPosition(ctx context.Context) (Resume, error)
}

// PermanentError marks failures that a restart from the checkpoint cannot
// fix (a purged binlog, a value that cannot be encoded): the pipeline stops
// that source instead of retrying forever.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string   { return e.Err.Error() }
func (e *PermanentError) Unwrap() error   { return e.Err }
func (e *PermanentError) Permanent() bool { return true }

// Confirmer is implemented by sources that tell the server how far the
// durable checkpoint has moved, so it can release what it retains for us
// (the PostgreSQL slot's confirmed flush LSN). The pipeline calls Confirm
// only with positions already committed to the checkpoint store.
type Confirmer interface {
	Confirm(position string)
}

// LagReporter is implemented by sources that can say how many bytes of
// binlog or WAL the server has written past a position: the pipeline
// reports it for the committed checkpoint as "lag in bytes".
type LagReporter interface {
	LagBytes(ctx context.Context, position string) (int64, error)
}

// RetentionReporter is implemented by sources whose server keeps log for
// them up to a limit (a PostgreSQL slot under max_slot_wal_keep_size): the
// pipeline reports it next to the lag, so an alert can fire before the
// server invalidates what the source still needs.
type RetentionReporter interface {
	Retention(ctx context.Context) (Retention, error)
}

// Retention is how much log the server keeps for a source and how close
// that is to its limit.
type Retention struct {
	RetainedBytes int64
	// SafeBytes is how much more the server may write before it may drop
	// log the source still needs; LimitBytes the limit. Both -1: none.
	SafeBytes, LimitBytes int64
}

// Snapshotter is implemented by sources that can re-send chosen tables
// while they keep streaming (an on-demand snapshot). RequestSnapshot checks
// that every table ("db.table") is captured and has a key, then queues it;
// the stream reads it chunk by chunk and the source's checkpoints carry the
// work still pending, so it resumes after a crash once a checkpoint holding
// it was committed. Tables are appended to a snapshot already running.
type Snapshotter interface {
	RequestSnapshot(tables []string) error
}

// TableProgress is how far the snapshot of one table has come.
type TableProgress struct {
	Table     string // "db.table"
	RowsDone  int64  // rows read and emitted by this source value
	RowsTotal int64  // the server's estimate
	Started   time.Time
	Done      bool
}

// Rate is the table's rows per second so far.
func (p TableProgress) Rate() float64 {
	if el := time.Since(p.Started).Seconds(); el > 0 {
		return float64(p.RowsDone) / el
	}
	return 0
}

// ETA estimates the time left, 0 when unknown or done.
func (p TableProgress) ETA() time.Duration {
	r := p.Rate()
	if p.Done || r <= 0 || p.RowsTotal <= p.RowsDone {
		return 0
	}
	return time.Duration(float64(p.RowsTotal-p.RowsDone) / r * float64(time.Second))
}

// SnapshotReporter is implemented by sources that report the progress of
// their running (or last) snapshot, per table; safe to call concurrently
// with Stream. The pipeline polls it for metrics and status.
type SnapshotReporter interface {
	SnapshotProgress() []TableProgress
}
