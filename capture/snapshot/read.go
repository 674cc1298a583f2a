package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
)

// ChunkReader is what a source supplies to read its tables: one per
// engine reader, on a connection of its own.
type ChunkReader[M any] interface {
	// Table describes schema.table, its key included.
	Table(ctx context.Context, schema, table string) (*capture.Table, error)
	// TableExists reports whether schema.table is a table on the server.
	TableExists(ctx context.Context, schema, table string) (bool, error)
	// ApproxRows is the server's estimate of the table's rows.
	ApproxRows(ctx context.Context, schema, table string) (int64, error)
	// ReadChunk starts the chunk's watch (Engine.Watch) at the moment its
	// window requires and reads the rows of req.
	ReadChunk(ctx context.Context, req ChunkRequest) (Read[M], error)
	// Place tells the stream where the queued chunk c belongs, if the
	// stream cannot tell from the window alone (PostgreSQL writes c.Token
	// into the WAL as its high watermark).
	Place(ctx context.Context, c *Chunk[M]) error
	Close() error
}

// ChunkRequest is one chunk to read: up to Limit rows of Schema.Table in
// key order after the key After (nil: from the first row), stopping early
// at a row once MaxBytes of values are held.
type ChunkRequest struct {
	Name          string // "schema.table"
	Schema, Table string
	After         []any
	Limit         int
	MaxBytes      int
}

// Read is what a ChunkReader read.
type Read[M any] struct {
	Table  *capture.Table
	Rows   [][]any
	Cut    bool // MaxBytes reached: the chunk ends at its last row, not the table
	Window Window[M]
	// Watch is the watch started for the read (Engine.Watch's result).
	Watch *Watch[M]
}

// readTable reads one table chunk by chunk, from cur, handing every chunk
// to the stream loop and waiting until it was emitted: memory holds one
// chunk per reader.
func (e *Engine[M]) readTable(ctx context.Context, r ChunkReader[M], id string, cur Cursor) error {
	name := cur.Table
	schema, tbl := Split(name)
	t, err := r.Table(ctx, schema, tbl)
	if err != nil {
		if exists, qerr := r.TableExists(ctx, schema, tbl); qerr == nil && !exists {
			// Dropped since the snapshot was planned: nothing to read.
			e.log.Warn("snapshot: table no longer exists; skipped", "table", name)
			_, err := e.handOver(ctx, r, &Chunk[M]{ID: id, Name: name, Prev: cur.After, Done: true})
			return err
		}
		return &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: %w", name, err)}
	}
	if len(t.Key) == 0 {
		return &capture.PermanentError{Err: fmt.Errorf("snapshot of %s: the table has no primary key; name a unique NOT NULL key in sources[%s].key_columns or leave the table out of the snapshot", name, e.source)}
	}
	total, _ := r.ApproxRows(ctx, schema, tbl) // an estimate for progress only
	pi := e.progress.Start(id, name, total)
	e.log.Info("snapshot of table started", "table", name, "approx_rows", total, "resume_after_chunk", cur.After != nil)
	lastLog := time.Now()
	after := cur.After
	for {
		rd, err := r.ReadChunk(ctx, ChunkRequest{Name: name, Schema: schema, Table: tbl, After: after, Limit: e.cfg.ChunkSize, MaxBytes: e.cfg.ChunkBytes})
		if err != nil {
			e.mu.Lock()
			e.unwatchLocked(name, rd.Watch)
			e.mu.Unlock()
			return err
		}
		if err := e.lim.Wait(ctx, len(rd.Rows)); err != nil {
			return err
		}
		c := &Chunk[M]{ID: id, Name: name, Table: rd.Table, Rows: rd.Rows, Prev: after,
			Done: !rd.Cut && len(rd.Rows) < e.cfg.ChunkSize, Window: rd.Window, Watch: rd.Watch}
		retry, err := e.handOver(ctx, r, c)
		if err != nil {
			return err
		}
		if retry {
			e.log.Debug("snapshot chunk raced a commit; reading it again", "table", name)
			continue
		}
		p := e.progress.Add(pi, len(rd.Rows), c.Done)
		if c.Done || time.Since(lastLog) >= LogEvery {
			lastLog = time.Now()
			e.log.Info("snapshot progress", "table", p.Table, "rows", p.RowsDone, "approx_total", p.RowsTotal,
				"rows_per_second", int64(p.Rate()), "eta", p.ETA().Round(time.Second).String(), "done", p.Done)
		}
		if c.Done {
			return nil
		}
		after = capture.KeyOf(rd.Rows[len(rd.Rows)-1], rd.Table.Key)
	}
}

// handOver queues c for the stream loop, has the source place it and
// waits until the loop emitted it (or asked for it to be read again).
func (e *Engine[M]) handOver(ctx context.Context, r ChunkReader[M], c *Chunk[M]) (retry bool, err error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	c.Token = hex.EncodeToString(b[:])
	e.Queue(c)
	if err := r.Place(ctx, c); err != nil {
		e.unqueue(c)
		return false, err
	}
	select {
	case <-c.emitted:
		return c.retry, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
