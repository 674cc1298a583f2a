package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
)

// snapshotSource is what the snapshot run needs of a source: a fresh table
// with the shape of the workload's first table, the configs that make each
// contender snapshot it, and the plain read its limit is measured with.
type snapshotSource interface {
	// CreateSnapshotTable creates table, empty, with the columns and key of
	// Tables()[0], readable by both contenders' users.
	CreateSnapshotTable(ctx context.Context, table string) error
	// SettleSnapshotTable runs once the rows are loaded: statistics (and on
	// PostgreSQL a VACUUM, so that no reader pays for setting hint bits).
	SettleSnapshotTable(ctx context.Context, table string) error
	// TributarySnapshotSource is the daemon's source YAML with snapshot
	// mode initial on table alone, and a replication position of its own.
	TributarySnapshotSource(name, table string, chunk int) string
	// DebeziumSnapshotProps are the connector's properties for an initial
	// snapshot of table alone, with a replication position of its own.
	DebeziumSnapshotProps(table string) map[string]string
	// ReadTable reads every row of table in primary-key order, chunk rows
	// per SELECT on one connection, and discards them.
	ReadTable(ctx context.Context, table string, chunk int) (Rate, error)
}

// loadBatch is how many rows one INSERT of the snapshot table's load holds.
const loadBatch = 500

// snapshotTable is the snapshot run's table: the workload's first table's
// shape under another name.
func (b *sourceBench) snapshotTable() string { return "snap_" + b.src.Tables()[0].name }

// snapshot measures the initial snapshot of one fresh table, in this order:
// the table created and loaded, the raw read, Tributary from no checkpoint,
// kafka-go replaying Tributary's messages, Debezium with
// snapshot.mode=initial and no offsets. Each contender starts after the
// load, so it has nothing to stream: only the table's rows.
func (b *sourceBench) snapshot(ctx context.Context) *SnapshotReport {
	table := b.snapshotTable()
	rep := &SnapshotReport{Table: table, Rows: b.o.snapshotRows, ChunkSize: b.o.snapshotChunk}
	contenders, err := b.snapshotContenders(ctx, table)
	if err != nil {
		rep.Error = err.Error()
		return rep
	}
	topics := []string{b.limitTopic(table)}
	for _, c := range contenders {
		if c.broken == "" {
			topics = append(topics, c.topic(table))
		}
	}
	b.topics = append(b.topics, topics...)
	if err := b.k.createTopics(ctx, topics...); err != nil {
		rep.Error = err.Error()
		return rep
	}

	progress("%s: snapshot run: loading %d rows into %s", b.src.Name(), rep.Rows, table)
	start := time.Now()
	if err := b.loadSnapshotTable(ctx, table, rep.Rows); err != nil {
		rep.Error = err.Error()
		return rep
	}
	rep.LoadSeconds = time.Since(start).Seconds()

	progress("%s: snapshot run: raw read of %s in chunks of %d", b.src.Name(), table, rep.ChunkSize)
	raw, err := b.src.ReadTable(ctx, table, rep.ChunkSize)
	if err == nil && raw.Events != rep.Rows {
		err = fmt.Errorf("read %d rows of %s, want %d", raw.Events, table, rep.Rows)
	}
	rep.RawRead = result(raw, err)

	for _, c := range contenders {
		run := &SnapshotRun{Name: c.name, Version: c.version, Error: c.broken}
		rep.Contenders = append(rep.Contenders, run)
		if c.broken != "" {
			continue
		}
		sample, err := b.snapshotRun(ctx, c, table, run)
		if err != nil {
			run.Error = err.Error()
			progress("%s/%s: snapshot: %v", b.src.Name(), c.name, err)
			if ctx.Err() != nil {
				break
			}
		}
		if c.name == "tributary" {
			rep.KafkaProduce = b.snapshotProduceLimit(ctx, table, sample)
		}
	}
	if rep.KafkaProduce.Error == "" && rep.KafkaProduce.Events == 0 {
		rep.KafkaProduce.Error = "no Tributary snapshot messages to replay"
	}
	rep.computeRatios()
	return rep
}

// snapshotContenders builds a Tributary and a Debezium with their own
// directories (no checkpoint, no offsets) and topic prefixes. A Tributary
// whose build refuses the snapshot config is returned broken, not run.
func (b *sourceBench) snapshotContenders(ctx context.Context, table string) ([]*contender, error) {
	tdir := filepath.Join(b.dir, "tributary-snapshot")
	ddir := filepath.Join(b.dir, "debezium-snapshot")
	for _, d := range []string{tdir, ddir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	src := b.src.TributarySnapshotSource(b.sourceName(), table, b.o.snapshotChunk)
	trib, err := newTributary(b.bin, tdir, b.o.kafkaAddr, "ts"+b.run, src, b.sourceName(), b.src.TopicDB())
	if err != nil {
		return nil, err
	}
	validate := exec.CommandContext(ctx, b.bin, "validate", "-c", filepath.Join(tdir, "tributary.yaml"))
	validate.Env = append(os.Environ(), "TRIBUTARY_BENCH_PASSWORD=tributary")
	if out, err := validate.CombinedOutput(); err != nil {
		trib.broken = fmt.Sprintf("this tributary build refuses the snapshot config (%v): %s", err, lastLine(string(out)))
	}
	props := b.src.DebeziumSnapshotProps(table)
	for k, v := range debeziumProducer(b.o.kafkaAddr) {
		props[k] = v
	}
	dbz, err := newDebezium(b.o.debeziumScript, b.src.Name(), ddir, "ds"+b.run, b.src.TopicDB(), props)
	if err != nil {
		return nil, err
	}
	dbz.broken = b.dbzBroken
	return []*contender{trib, dbz}, nil
}

func (b *sourceBench) loadSnapshotTable(ctx context.Context, table string, rows int64) error {
	if err := b.src.CreateSnapshotTable(ctx, table); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	err := loadRows(ctx, b.src.DB(), b.src.Dialect(), b.src.Tables()[0], table, rows, b.o.writers, uint64(runNumber(b.run))+7)
	if err != nil {
		return err
	}
	var n int64
	if err := b.src.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		return fmt.Errorf("count %s: %w", table, err)
	}
	if n != rows {
		return fmt.Errorf("%s holds %d rows after the load, want %d", table, n, rows)
	}
	if err := b.src.SettleSnapshotTable(ctx, table); err != nil {
		return fmt.Errorf("settle %s: %w", table, err)
	}
	return nil
}

// loadRows inserts rows with ids 1..n of spec's shape into table, loadBatch
// rows per INSERT on writers connections.
func loadRows(ctx context.Context, db *sql.DB, d dialect, spec tableSpec, table string, n int64, writers int, seed uint64) error {
	var next atomic.Int64 // the last id handed out
	g, ctx := errgroup.WithContext(ctx)
	for i := 0; i < writers; i++ {
		g.Go(func() error {
			r := newRand(seed + uint64(i))
			for {
				from := next.Add(loadBatch) - loadBatch + 1
				if from > n {
					return nil
				}
				to := min(from+loadBatch-1, n)
				tuples := make([]string, 0, to-from+1)
				var args []any
				for id := from; id <= to; id++ {
					tuples = append(tuples, spec.row)
					args = append(args, spec.values(r, id)...)
				}
				q := d.sql("INSERT INTO " + table + " (" + spec.cols + ") VALUES " + strings.Join(tuples, ", "))
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					return fmt.Errorf("load %s: %w", table, err)
				}
			}
		})
	}
	return g.Wait()
}

// snapshotRun starts c from nothing and waits until its topic holds one
// message per row; the rate runs from process start to the last ack. It
// returns up to 20,000 of Tributary's messages for the kafka-go replay.
func (b *sourceBench) snapshotRun(ctx context.Context, c *contender, table string, run *SnapshotRun) ([]kafka.Message, error) {
	rows, topic := b.o.snapshotRows, c.topic(table)
	progress("%s/%s: initial snapshot of %d rows", b.src.Name(), c.name, rows)
	p, err := startProc(c, filepath.Join(b.dir, c.name+"-snapshot.log"))
	if err != nil {
		return nil, err
	}
	ph := p.sampler.Begin()
	endProfile := b.profile(ctx, c, p, "snapshot")
	first, last, err := b.k.waitCount(ctx, rows, b.o.catchupTimeout, p.alive, topic)
	endProfile()
	run.Footprint = ph.End()
	// Stopped before the count below, so a late duplicate would show in it.
	if serr := p.stop(90 * time.Second); err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	if run.Messages, err = b.k.count(ctx, topic); err != nil {
		return nil, err
	}
	sampleN := 0
	if c.name == "tributary" {
		sampleN = 20_000
	}
	bytes, sample, err := b.k.readAll(ctx, sampleN, topic)
	if err != nil {
		return nil, err
	}
	run.Rate = newRate(rows, bytes, last.Sub(p.started))
	run.FirstEventSeconds = first.Sub(p.started).Seconds()
	progress("%s/%s: snapshot %.0f rows/s, %.1f MB/s, first row after %.1fs", b.src.Name(), c.name, run.EventsPerSec, run.MBPerSec, run.FirstEventSeconds)
	if run.Messages != rows {
		return sample, fmt.Errorf("%d messages on %s after it stopped, want %d (one per row)", run.Messages, topic, rows)
	}
	return sample, nil
}

// snapshotProduceLimit is kafka-go alone producing as many messages as the
// table has rows, replaying Tributary's snapshot messages.
func (b *sourceBench) snapshotProduceLimit(ctx context.Context, table string, sample []kafka.Message) Result {
	if len(sample) == 0 {
		return Result{Error: "no Tributary snapshot messages to replay"}
	}
	progress("%s: kafka-go alone producing %d snapshot messages", b.src.Name(), b.o.snapshotRows)
	lim := b.limitTopic(table)
	r, err := b.k.produceLimit(ctx, sample, b.o.snapshotRows, 50_000, func(string) string { return lim })
	return result(r, err)
}
