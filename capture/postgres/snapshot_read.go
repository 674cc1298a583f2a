package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

// snapshotPrefix is the prefix of the logical decoding messages that mark
// where a snapshot chunk belongs in the stream (its high watermark).
const snapshotPrefix = "tributary-snapshot"

// txSnapshot is an MVCC snapshot as pg_current_snapshot() reports it:
// transactions before xmax that are not in xip are visible.
type txSnapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

func parseTxSnapshot(s string) (txSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return txSnapshot{}, fmt.Errorf("snapshot %q: want xmin:xmax:xip", s)
	}
	var ts txSnapshot
	var err error
	if ts.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return ts, fmt.Errorf("snapshot %q: %w", s, err)
	}
	if ts.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return ts, fmt.Errorf("snapshot %q: %w", s, err)
	}
	if parts[2] != "" {
		for _, x := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return ts, fmt.Errorf("snapshot %q: %w", s, err)
			}
			ts.xip = append(ts.xip, v)
		}
	}
	return ts, nil
}

// visible reports whether the committed transaction xid (the 32-bit xid
// pgoutput's Begin carries) is visible in the snapshot. xids compare
// modulo 2^32, as the server compares them.
func (ts txSnapshot) visible(xid uint32) bool {
	if int32(xid-uint32(ts.xmax)) >= 0 {
		return false
	}
	for _, x := range ts.xip {
		if uint32(x) == xid {
			return false
		}
	}
	return true
}

// readChunkConsistent reads a chunk like ReadChunk inside a REPEATABLE READ
// READ ONLY transaction and returns the transaction's snapshot with it: the
// chunk is exactly the table's state in that snapshot. It keeps at most
// about maxBytes of values (cut: the chunk ends early, at its last row).
func (r *Reader) readChunkConsistent(ctx context.Context, schema, table string, after []any, limit, maxBytes int) (_ *capture.Table, rows [][]any, cut bool, ts txSnapshot, err error) {
	rt, err := r.rowTable(ctx, schema, table)
	if err != nil {
		return nil, nil, false, ts, err
	}
	query, args, err := rt.chunkQuery(after, limit)
	if err != nil {
		return nil, nil, false, ts, err
	}
	err = r.s.withDB(ctx, func(db *pgx.Conn) error {
		tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return err
		}
		defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only: nothing to lose
		// The first statement takes the transaction's snapshot.
		var text string
		if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
			return fmt.Errorf("read the transaction snapshot: %w", err)
		}
		if ts, err = parseTxSnapshot(text); err != nil {
			return err
		}
		if rows, cut, err = queryOn(ctx, db, rt, query, args, maxBytes); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, nil, false, ts, fmt.Errorf("read a chunk of %s.%s on %s: %w", schema, table, r.s.addr(), err)
	}
	return rt.table, rows, cut, ts, nil
}

// emitWatermark writes the chunk's high watermark: a transactional logical
// decoding message in a transaction of its own. It commits after the
// chunk's snapshot was taken, so every transaction visible in the chunk
// comes before it in the stream. It writes WAL only, no table.
func (r *Reader) emitWatermark(ctx context.Context, token string) error {
	return r.s.withDB(ctx, func(db *pgx.Conn) error {
		_, err := db.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", snapshotPrefix, token)
		if err != nil {
			return fmt.Errorf("write snapshot watermark on %s: %w", r.s.addr(), err)
		}
		return nil
	})
}

// TableExists reports whether schema.table is a table now.
func (c *chunkReader) TableExists(ctx context.Context, schema, table string) (bool, error) {
	var exists bool
	err := c.r.s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, table}.Sanitize()).Scan(&exists)
	})
	if err != nil {
		return false, errors.Join(fmt.Errorf("check table %s.%s", schema, table), err)
	}
	return exists, nil
}
