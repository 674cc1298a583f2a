package verify

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// diffKind says how a key differs between source and topic.
type diffKind uint8

const (
	same      diffKind = iota
	missing            // in the source, not in the topic state
	extra              // in the topic state, not in the source
	differing          // in both, with different values
)

// comparison is the verification of one table.
type comparison struct {
	o         *Options
	db, table string
	state     *topicState
	rep       *TableReport
	suspects  map[string]diffKind // keys to re-check, at most o.MaxRecheckKeys
	buf       []byte
}

// scan reads the table in key order and compares every row with the topic
// state; keys that differ become suspects.
func (c *comparison) scan(ctx context.Context) error {
	approx, err := c.o.Source.ApproxRows(ctx, c.db, c.table)
	if err != nil {
		return err
	}
	var after []any
	for {
		tbl, rows, err := c.o.Source.ReadChunk(ctx, c.db, c.table, after, c.o.ChunkSize)
		if err != nil {
			return err
		}
		for _, row := range rows {
			key, err := c.encodeKey(tbl, row)
			if err != nil {
				return err
			}
			c.rep.Rows++
			e := c.state.keys[key]
			if e == nil {
				c.suspect(key, missing)
				continue
			}
			e.seen = true
			if e.absent != nil {
				c.rep.Partial++
			}
			h, err := c.rowHash(tbl, row, e.absent)
			if err != nil {
				return err
			}
			if h != e.hash {
				c.suspect(key, differing)
			}
		}
		c.progress(approx)
		if len(rows) < c.o.ChunkSize {
			break
		}
		last := rows[len(rows)-1]
		after = make([]any, len(tbl.Key))
		for j, i := range tbl.Key {
			after[j] = last[i]
		}
	}
	for key, e := range c.state.keys {
		if !e.seen {
			c.suspect(key, extra)
		}
	}
	return nil
}

func (c *comparison) progress(approx int64) {
	pct := ""
	if approx > 0 {
		p := c.rep.Rows * 100 / approx
		if p > 100 {
			p = 100
		}
		pct = fmt.Sprintf(" (~%d%%)", p)
	}
	fmt.Fprintf(c.o.Progress, "verify %s.%s: %d rows compared%s\n", c.db, c.table, c.rep.Rows, pct)
}

// suspect records a differing key for re-checking, or straight in the
// report once o.MaxRecheckKeys suspects are waiting.
func (c *comparison) suspect(key string, k diffKind) {
	if c.o.Rechecks > 0 && len(c.suspects) < c.o.MaxRecheckKeys {
		c.suspects[key] = k
		return
	}
	c.rep.NotRechecked++
	c.rep.add(k, key, c.o.Examples)
}

// recheck re-reads the suspects from the source and the topic's new
// messages, up to o.Rechecks times, dropping the keys that agree.
func (c *comparison) recheck(ctx context.Context) error {
	for round := 0; round < c.o.Rechecks && len(c.suspects) > 0; round++ {
		select {
		case <-time.After(c.o.RecheckWait):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := c.state.catchUp(ctx); err != nil {
			return err
		}
		c.rep.Rechecks++
		for key := range c.suspects {
			tbl, row, err := c.o.Source.ReadKey(ctx, c.db, c.table, []byte(key))
			if err != nil {
				return err
			}
			k, err := c.classify(tbl, row, c.state.keys[key])
			if err != nil {
				return err
			}
			if k == same {
				delete(c.suspects, key)
				c.rep.Resolved++
			} else {
				c.suspects[key] = k
			}
		}
	}
	return nil
}

// classify compares one source row (nil: none) with a topic entry.
func (c *comparison) classify(tbl *capture.Table, row []any, e *entry) (diffKind, error) {
	switch {
	case row == nil && e == nil:
		return same, nil
	case row == nil:
		return extra, nil
	case e == nil:
		return missing, nil
	}
	h, err := c.rowHash(tbl, row, e.absent)
	if err != nil || h == e.hash {
		return same, err
	}
	return differing, nil
}

// finish moves the remaining suspects into the report.
func (c *comparison) finish() {
	for key, k := range c.suspects {
		c.rep.add(k, key, c.o.Examples)
	}
	c.rep.sortExamples()
}

// encodeKey is the key as transform.EncodeKey writes it for this row's events.
func (c *comparison) encodeKey(tbl *capture.Table, row []any) (string, error) {
	key := make(transform.Row, len(tbl.Key))
	for j, i := range tbl.Key {
		key[j] = transform.Field{Name: tbl.Columns[i].Name, Value: row[i]}
	}
	b, err := key.AppendJSON(c.buf[:0])
	if err != nil {
		return "", fmt.Errorf("encode key: %w", err)
	}
	c.buf = b
	return string(b), nil
}

// rowHash is the SHA-256 of the row encoded as an event's after image,
// leaving out the columns the topic's latest event did not carry.
func (c *comparison) rowHash(tbl *capture.Table, row []any, absent []string) ([sha256.Size]byte, error) {
	img := make(transform.Row, 0, len(row))
	for i, v := range row {
		name := tbl.Columns[i].Name
		if absent != nil && contains(absent, name) {
			continue
		}
		img = append(img, transform.Field{Name: name, Value: v})
	}
	b, err := img.AppendJSON(c.buf[:0])
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encode row: %w", err)
	}
	c.buf = b
	return sha256.Sum256(b), nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
