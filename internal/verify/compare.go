package verify

import (
	"context"
	"fmt"
	"hash/maphash"
	"time"

	"golang.org/x/time/rate"

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

// suspect is a key that differed, waiting for a re-check.
type suspect struct {
	kind  diffKind
	table string // the state's table ("db.table") the key files under
	// sourceKey is the row's key as the table reader reads it
	// (transform.EncodeKey's form); nil for an extra, whose state key is
	// tried instead (the same unless a mapping changed the key).
	sourceKey []byte
	// row is what the source held at the last look and state what the
	// topic state held for the key then; settled is set when a re-check
	// found both as the look before it, the state caught up past the
	// look: neither side moved for a whole RecheckWait and everything the
	// source committed before the look was in the state, so the
	// difference is real, not a write in flight.
	row     rowPrint
	state   rowPrint // the state's entry at the last look (digest only)
	settled bool
}

// rowPrint identifies a source row's image (present false: no row).
type rowPrint struct {
	present bool
	digest  Digest
}

// comparison is the verification of one table.
type comparison struct {
	o         *Options
	db, table string
	state     *Follower
	im        *imager
	rep       *TableReport
	limiter   *rate.Limiter // nil: unlimited

	topics    map[string]bool // the topics the table's rows go to, caught up
	tables    map[string]bool // the state tables its images file under
	lastCatch time.Time
	seed      maphash.Seed
	seen      map[uint64]struct{} // hashes of the state keys the scan met
	suspects  map[string]suspect  // by state key, at most o.MaxRecheckKeys
}

func newComparison(o *Options, state *Follower, db, table string, rep *TableReport) *comparison {
	c := &comparison{
		o: o, db: db, table: table, state: state, im: newImager(o.encodeConfig()), rep: rep,
		topics: map[string]bool{}, tables: map[string]bool{db + "." + table: true},
		seed: maphash.MakeSeed(), seen: map[uint64]struct{}{}, suspects: map[string]suspect{},
	}
	if o.RowsPerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RowsPerSecond), max(o.ChunkSize, int(o.RowsPerSecond)))
	}
	return c
}

// follow catches topic up, once per comparison (later catch-ups go
// through catchUpAll).
func (c *comparison) follow(ctx context.Context, topic string) error {
	if c.topics[topic] {
		return nil
	}
	c.topics[topic] = true
	return c.catchUp(ctx, topic)
}

func (c *comparison) catchUp(ctx context.Context, topic string) error {
	res, err := c.state.CatchUp(ctx, topic)
	if err != nil {
		return err
	}
	if res.Exists {
		c.rep.TopicMissing = false
	}
	c.rep.Messages += res.Messages
	c.rep.Lost += res.Lost
	return nil
}

// catchUpAll catches up every topic the table's rows went to so far.
func (c *comparison) catchUpAll(ctx context.Context) error {
	c.lastCatch = time.Now()
	for topic := range c.topics {
		if err := c.catchUp(ctx, topic); err != nil {
			return err
		}
	}
	return nil
}

// scan reads the table in key order and compares every row with the topic
// state; keys that differ become suspects.
func (c *comparison) scan(ctx context.Context) error {
	c.rep.TopicMissing = true
	if err := c.follow(ctx, c.im.topic(c.db, c.table)); err != nil {
		return err
	}
	c.lastCatch = time.Now()
	approx, err := c.o.Source.ApproxRows(ctx, c.db, c.table)
	if err != nil {
		return err
	}
	var after []any
	for {
		if c.limiter != nil {
			if err := c.limiter.WaitN(ctx, c.o.ChunkSize); err != nil {
				return err
			}
		}
		if c.o.CatchUpEvery > 0 && time.Since(c.lastCatch) >= c.o.CatchUpEvery {
			if err := c.catchUpAll(ctx); err != nil {
				return err
			}
		}
		tbl, rows, err := c.o.Source.ReadChunk(ctx, c.db, c.table, after, c.o.ChunkSize)
		if err != nil {
			return err
		}
		for _, row := range rows {
			if err := c.compareRow(ctx, tbl, row); err != nil {
				return err
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
	for table := range c.tables {
		n, err := c.state.Digests().Count(table)
		if err != nil {
			return err
		}
		c.rep.TopicKeys += n
		err = c.state.Digests().Range(table, func(key string, e Entry) error {
			if _, ok := c.seen[c.hash(table, key)]; !ok {
				c.suspect(key, suspect{kind: extra, table: table, state: rowPrint{true, e.Digest}})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// compareRow compares one source row with the state.
func (c *comparison) compareRow(ctx context.Context, tbl *capture.Table, row []any) error {
	c.rep.Rows++
	imgs, err := c.im.images(ctx, tbl, row)
	if err != nil {
		return err
	}
	var srcKey []byte
	for _, img := range imgs {
		if err := c.follow(ctx, img.topic); err != nil {
			return err
		}
		c.tables[img.table] = true
		c.seen[c.hash(img.table, img.key)] = struct{}{}
		k, partial, err := c.classifyImage(img)
		if err != nil {
			return err
		}
		if partial {
			c.rep.Partial++
		}
		if k != same {
			if srcKey == nil {
				if srcKey, err = c.encodeKey(tbl, row); err != nil {
					return err
				}
			}
			d, err := digestOf(img.after, nil)
			if err != nil {
				return err
			}
			sp, err := c.statePrint(img.table, img.key)
			if err != nil {
				return err
			}
			c.suspect(img.key, suspect{kind: k, table: img.table, sourceKey: srcKey, row: rowPrint{true, d}, state: sp})
		}
	}
	return nil
}

// classifyImage compares one image of a source row with the state entry
// of its key.
func (c *comparison) classifyImage(img image) (k diffKind, partial bool, err error) {
	e, ok, err := c.state.Digests().Get(img.table, img.key)
	if err != nil || !ok {
		return missing, false, err
	}
	d, err := digestOf(img.after, e.Absent)
	if err != nil || d == e.Digest {
		return same, len(e.Absent) > 0, err
	}
	return differing, len(e.Absent) > 0, nil
}

func (c *comparison) hash(table, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(table)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
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
func (c *comparison) suspect(key string, s suspect) {
	if c.o.Rechecks > 0 && len(c.suspects) < c.o.MaxRecheckKeys {
		c.suspects[key] = s
		return
	}
	c.rep.NotRechecked++
	c.rep.add(s.kind, key, c.o.Examples)
}

// recheck re-checks the suspects up to o.Rechecks times: each round
// looks at the suspect rows in the source, waits until the daemon has
// delivered what they show (Options.Delivered), catches the state up, and
// compares. Keys that agree are dropped; the others are settled when
// neither their row nor their state entry moved since the last look.
func (c *comparison) recheck(ctx context.Context) error {
	for round := 0; round < c.o.Rechecks && len(c.suspects) > 0; round++ {
		select {
		case <-time.After(c.o.RecheckWait):
		case <-ctx.Done():
			return ctx.Err()
		}
		looks := make(map[string]look, len(c.suspects))
		for key, s := range c.suspects {
			l, err := c.look(ctx, key, s)
			if err != nil {
				return err
			}
			looks[key] = l
		}
		delivered, err := c.waitDelivered(ctx, time.Now())
		if err != nil {
			return err
		}
		if err := c.catchUpAll(ctx); err != nil {
			return err
		}
		c.rep.Rechecks++
		for key, s := range c.suspects {
			k, row, st, err := c.judge(ctx, key, s, looks[key])
			if err != nil {
				return err
			}
			if k == same {
				delete(c.suspects, key)
				c.rep.Resolved++
				continue
			}
			s.settled = delivered && row == s.row && st == s.state
			s.kind, s.row, s.state = k, row, st
			c.suspects[key] = s
		}
	}
	return nil
}

// look is a suspect's source row as a re-check read it.
type look struct {
	tbl    *capture.Table
	row    []any
	unread bool // a mapped key the table reader cannot read the row by
}

// look reads a suspect's row by its key.
func (c *comparison) look(ctx context.Context, key string, s suspect) (look, error) {
	srcKey := s.sourceKey
	if srcKey == nil {
		srcKey = []byte(key)
	}
	tbl, row, err := c.o.Source.ReadKey(ctx, c.db, c.table, srcKey)
	if err != nil {
		if s.sourceKey == nil {
			return look{unread: true}, nil
		}
		return look{}, err
	}
	return look{tbl: tbl, row: row}, nil
}

// statePrint is the print of key's state entry.
func (c *comparison) statePrint(table, key string) (rowPrint, error) {
	e, ok, err := c.state.Digests().Get(table, key)
	if err != nil || !ok {
		return rowPrint{}, err
	}
	return rowPrint{true, e.Digest}, nil
}

// judge classifies a suspect by its look against the state entry, and
// returns the prints of both.
func (c *comparison) judge(ctx context.Context, key string, s suspect, l look) (diffKind, rowPrint, rowPrint, error) {
	st, err := c.statePrint(s.table, key)
	if err != nil {
		return same, rowPrint{}, rowPrint{}, err
	}
	if l.unread || l.row == nil {
		// No row (or none the key can name): extra while the state has it.
		if st.present {
			return extra, rowPrint{}, st, nil
		}
		return same, rowPrint{}, st, nil
	}
	imgs, err := c.im.images(ctx, l.tbl, l.row)
	if err != nil {
		return same, rowPrint{}, st, err
	}
	for _, img := range imgs {
		if img.table != s.table || img.key != key {
			continue
		}
		d, err := digestOf(img.after, nil)
		if err != nil {
			return same, rowPrint{}, st, err
		}
		k, _, err := c.classifyImage(img)
		return k, rowPrint{true, d}, st, err
	}
	// The row no longer maps to this key (a filter now keeps it out).
	if st.present {
		return extra, rowPrint{}, st, nil
	}
	return same, rowPrint{}, st, nil
}

// waitDelivered waits, with Options.Delivered, until the daemon has
// delivered everything committed before t, so that the state caught up
// next holds every change the looks before t could have seen. It reports
// false when that took longer than Options.DeliveryWait: this round's
// looks then settle nothing.
func (c *comparison) waitDelivered(ctx context.Context, t time.Time) (bool, error) {
	if c.o.Delivered == nil {
		return true, nil
	}
	deadline := time.Now().Add(c.o.DeliveryWait)
	for !c.o.Delivered().After(t) {
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}

// finish moves the remaining suspects into the report.
func (c *comparison) finish() {
	for key, s := range c.suspects {
		if !s.settled {
			// Its row changed at every look: writes in flight, not a
			// difference. It is judged again by the next run.
			c.rep.Unsettled++
			continue
		}
		c.rep.add(s.kind, key, c.o.Examples)
	}
	c.rep.sortExamples()
}

// encodeKey is the key as transform.EncodeKey writes it for this row's
// unmapped events, which the table reader's ReadKey takes.
func (c *comparison) encodeKey(tbl *capture.Table, row []any) ([]byte, error) {
	key := make(transform.Row, len(tbl.Key))
	for j, i := range tbl.Key {
		key[j] = transform.Field{Name: tbl.Columns[i].Name, Value: row[i]}
	}
	b, err := key.AppendJSON(nil)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return b, nil
}
