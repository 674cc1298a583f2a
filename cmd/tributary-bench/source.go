package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// benchSource is one database kind with its workload schema.
type benchSource interface {
	Name() string
	// SourceName is the daemon's sources[].name for this workload.
	SourceName() string
	Label() string
	Tables() []tableSpec
	TopicDB() string // the database (MariaDB) or schema (PostgreSQL) in topic names
	DB() *sql.DB
	Dialect() dialect
	Setup(ctx context.Context) error
	TributarySource(name string) string
	DebeziumProps() map[string]string
	Marker(ctx context.Context, id int64) error
	BeforeWrites(ctx context.Context) error
	AfterWrites(ctx context.Context) error
	RawRead(ctx context.Context, rows int64) (Rate, error)
	// BigTx commits one transaction inserting rows rows into bigtx, ids
	// after firstID (earlier transactions' rows stay in the table).
	BigTx(ctx context.Context, firstID, rows int64) error
	Cleanup(ctx context.Context) error
	snapshotSource
}

// sourceBench runs every measurement of one source, in this order:
// contenders primed (each records its position), workload written once,
// raw read, then per contender catch-up followed by latency, the kafka-go
// limit, Tributary alone through one large transaction, and last the
// initial snapshot of a fresh table (snapshot.go).
type sourceBench struct {
	o         *options
	k         *benchKafka
	src       benchSource
	rep       *SourceReport
	run, dir  string
	bin       string
	dbzBroken string

	contenders []*contender
	topics     []string
	probeNext  int64 // next latency row id
	probeRows  int64 // latency rows written so far
}

func (b *sourceBench) sourceName() string { return b.src.SourceName() }

func (b *sourceBench) tables() []string {
	var ts []string
	for _, t := range b.src.Tables() {
		ts = append(ts, t.name)
	}
	return ts
}

func (b *sourceBench) allTables() []string {
	return append(b.tables(), probeTable, "bigtx", "marker")
}

func (b *sourceBench) workloadTopics(c *contender) []string {
	var ts []string
	for _, t := range b.tables() {
		ts = append(ts, c.topic(t))
	}
	return ts
}

func (b *sourceBench) limitTopic(table string) string {
	return "lim" + b.run + "." + b.src.Name() + "." + table
}

func (b *sourceBench) measureAll(ctx context.Context) error {
	progress("%s: setting up database, users, slots and topics", b.src.Name())
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return err
	}
	if err := b.src.Setup(ctx); err != nil {
		return err
	}
	if err := b.buildContenders(); err != nil {
		return err
	}
	for _, c := range b.contenders {
		if c.broken == "" {
			for _, t := range b.allTables() {
				b.topics = append(b.topics, c.topic(t))
			}
		}
	}
	for _, t := range b.tables() {
		b.topics = append(b.topics, b.limitTopic(t))
	}
	if err := b.k.createTopics(ctx, b.topics...); err != nil {
		return err
	}
	if err := b.prime(ctx); err != nil {
		return err
	}

	if err := b.src.BeforeWrites(ctx); err != nil {
		return err
	}
	progress("%s: writing %d row changes", b.src.Name(), b.o.n)
	w, err := writeWorkload(ctx, b.src.DB(), b.src.Dialect(), b.src.Tables(), b.o.n, b.o.writers, uint64(runNumber(b.run)))
	if err != nil {
		return err
	}
	b.rep.Workload = w
	if err := b.src.AfterWrites(ctx); err != nil {
		return err
	}
	progress("%s: %d changes (%d messages with tombstones) in %.1fs; raw read", b.src.Name(), w.Changes, w.Messages, w.Seconds)
	raw, err := b.src.RawRead(ctx, w.Changes)
	b.rep.RawRead = result(raw, err)

	var sample []kafka.Message
	for _, c := range b.contenders {
		cr := &ContenderReport{Name: c.name, Version: c.version, Error: c.broken}
		b.rep.Contenders = append(b.rep.Contenders, cr)
		if c.broken != "" {
			continue
		}
		s, err := b.measure(ctx, c, cr)
		if err != nil {
			cr.Error = err.Error()
			progress("%s/%s: %v", b.src.Name(), c.name, err)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		if c.name == "tributary" {
			sample = s
			progress("%s: kafka-go alone producing %d messages", b.src.Name(), w.Messages)
			b.rep.KafkaProduce = b.produceLimit(ctx, c, sample)
		}
	}
	b.rep.computeRatios()
	var bigTxRows int64
	for _, mb := range b.o.bigTxMBs {
		if ctx.Err() != nil {
			break
		}
		r, committed := b.bigTx(ctx, b.contenders[0], mb, bigTxRows)
		if committed {
			bigTxRows += r.Rows
		}
		b.rep.BigTxs = append(b.rep.BigTxs, r)
	}
	if b.o.snapshotRows > 0 && ctx.Err() == nil {
		b.rep.Snapshot = b.snapshot(ctx)
	}
	return nil
}

func (b *sourceBench) buildContenders() error {
	tdir := filepath.Join(b.dir, "tributary")
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return err
	}
	trib, err := newTributary(b.bin, tdir, b.o.kafkaAddr, "tb"+b.run, b.src.TributarySource(b.sourceName()), b.sourceName(), b.src.TopicDB())
	if err != nil {
		return err
	}
	b.contenders = []*contender{trib}
	if b.o.avroRegistry != "" && b.src.Name() == "mariadb" {
		avro, err := b.avroContender()
		if err != nil {
			return err
		}
		b.contenders = append(b.contenders, avro)
	}
	if !b.o.debezium && b.dbzBroken == "" {
		return nil
	}
	ddir := filepath.Join(b.dir, "debezium")
	if err := os.MkdirAll(ddir, 0o755); err != nil {
		return err
	}
	props := b.src.DebeziumProps()
	for k, v := range debeziumProducer(b.o.kafkaAddr) {
		props[k] = v
	}
	dbz, err := newDebezium(b.o.debeziumScript, b.src.Name(), ddir, "dbz"+b.run, b.src.TopicDB(), props)
	if err != nil {
		return err
	}
	dbz.broken = b.dbzBroken
	b.contenders = append(b.contenders, dbz)
	return nil
}

// avroContender is Tributary with format avro and the schema registry, a
// source of its own name (and binlog server_id) on the same database.
func (b *sourceBench) avroContender() (*contender, error) {
	dir := filepath.Join(b.dir, "tributary-avro")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := b.sourceName() + "avro"
	src := b.src.TributarySource(name)
	src = serverIDLine.ReplaceAllStringFunc(src, func(l string) string {
		id, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "server_id:")))
		return fmt.Sprintf("    server_id: %d", id+50)
	}) + "    format: avro\n"
	c, err := newTributary(b.bin, dir, b.o.kafkaAddr, "tb"+b.run, src, name, b.src.TopicDB())
	if err != nil {
		return nil, err
	}
	c.name = "tributary-avro"
	cfg := filepath.Join(dir, "tributary.yaml")
	raw, err := os.ReadFile(cfg)
	if err != nil {
		return nil, err
	}
	reg := fmt.Sprintf("schema_registry: {url: %q, compatibility: BACKWARD}\n", b.o.avroRegistry)
	return c, os.WriteFile(cfg, append([]byte(reg), raw...), 0o644)
}

var serverIDLine = regexp.MustCompile(`(?m)^\s*server_id: \d+`)

// prime starts every contender on the empty stream and writes marker rows
// until each delivered one, then stops them: each has recorded a position
// before the workload (Tributary its checkpoint, Debezium its offsets file).
func (b *sourceBench) prime(ctx context.Context) error {
	progress("%s: priming contenders (start, deliver a marker row, stop)", b.src.Name())
	var procs []*proc
	var live []*contender
	for _, c := range b.contenders {
		if c.broken != "" {
			continue
		}
		p, err := startProc(c, filepath.Join(b.dir, c.name+".log"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		live = append(live, c)
	}
	stopAll := func() {
		for i, p := range procs {
			if p.alive() == nil {
				if err := p.stop(90 * time.Second); err != nil && live[i].broken == "" {
					live[i].broken = err.Error()
				}
			}
		}
		procs = nil
	}
	defer stopAll()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	done := make([]bool, len(live))
	var id int64
	for remaining := len(live); remaining > 0; {
		id++
		if err := b.src.Marker(ctx, id); err != nil {
			return err
		}
		for t := 0; t < 20 && remaining > 0; t++ {
			time.Sleep(100 * time.Millisecond)
			for i, c := range live {
				if done[i] {
					continue
				}
				if err := procs[i].alive(); err != nil {
					c.broken = "failed at start: " + err.Error()
					done[i] = true
					remaining--
					continue
				}
				n, err := b.k.count(ctx, c.topic("marker"))
				if err != nil {
					return err
				}
				if n > 0 {
					done[i] = true
					remaining--
				}
			}
		}
		if ctx.Err() != nil {
			for i, c := range live {
				if !done[i] {
					c.broken = "no marker row delivered within 3 minutes of its start; log " + procs[i].logPath
				}
			}
			break
		}
	}
	stopAll()
	if b.contenders[0].broken != "" {
		return errors.New("tributary " + b.contenders[0].broken)
	}
	return nil
}

// measure runs one contender's catch-up and then its latency runs (one per
// -latency-rate rate, in that order) in the
// same process, and returns up to 20,000 of its catch-up messages.
func (b *sourceBench) measure(ctx context.Context, c *contender, cr *ContenderReport) ([]kafka.Message, error) {
	progress("%s/%s: catch-up of %d messages", b.src.Name(), c.name, b.rep.Workload.Messages)
	p, err := startProc(c, filepath.Join(b.dir, c.name+".log"))
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = p.stop(90 * time.Second)
		}
	}()
	ph := p.sampler.Begin()
	endProfile := b.profile(ctx, c, p, "catch-up")
	first, last, err := b.k.waitCount(ctx, b.rep.Workload.Messages, b.o.catchupTimeout, p.alive, b.workloadTopics(c)...)
	if err != nil {
		endProfile()
		return nil, fmt.Errorf("catch-up: %w", err)
	}
	fp := ph.End()
	endProfile()
	cu := &CatchUp{Rate: newRate(b.rep.Workload.Changes, 0, last.Sub(first)), Footprint: fp,
		FirstEventSeconds: first.Sub(p.started).Seconds(), TotalSeconds: last.Sub(p.started).Seconds()}
	cr.CatchUp = cu
	sampleN := 0
	if c.name == "tributary" {
		sampleN = 20_000
	}
	bytes, sample, err := b.k.readAll(ctx, sampleN, b.workloadTopics(c)...)
	if err != nil {
		return nil, err
	}
	cu.Rate = newRate(b.rep.Workload.Changes, bytes, last.Sub(first))
	progress("%s/%s: %.0f events/s, %.1f MB/s, first event after %.1fs", b.src.Name(), c.name, cu.EventsPerSec, cu.MBPerSec, cu.FirstEventSeconds)

	if c.name != "tributary-avro" { // the latency probe reads JSON
		for _, rate := range b.o.latencyRates {
			if err := b.latency(ctx, c, cr, p, rate); err != nil {
				return sample, fmt.Errorf("latency @%d rows/s: %w", rate, err)
			}
		}
	}
	stopped = true
	return sample, p.stop(90 * time.Second)
}

// latency runs one fixed-rate latency run in p, after p has delivered
// every probe row written so far (an earlier contender's or rate's).
func (b *sourceBench) latency(ctx context.Context, c *contender, cr *ContenderReport, p *proc, rate int) error {
	if b.probeRows > 0 {
		if _, _, err := b.k.waitCount(ctx, b.probeRows, 2*time.Minute, p.alive, c.topic(probeTable)); err != nil {
			return fmt.Errorf("draining earlier rows: %w", err)
		}
	}
	progress("%s/%s: latency at %d rows/s for %s", b.src.Name(), c.name, rate, b.o.latencyFor)
	ph := p.sampler.Begin()
	lat, err := runLatency(ctx, b.k, b.src.DB(), b.src.Dialect(), c.topic(probeTable), b.probeNext+1, rate, b.o.latencyFor)
	fp := ph.End()
	b.probeNext += lat.Rows
	b.probeRows += lat.Rows
	if err != nil {
		return err
	}
	cr.Latency = append(cr.Latency, &LatencyRun{Latency: lat, Footprint: fp})
	return nil
}

func (b *sourceBench) produceLimit(ctx context.Context, trib *contender, sample []kafka.Message) Result {
	if len(sample) == 0 {
		return Result{Error: "no Tributary messages to replay (its catch-up failed)"}
	}
	topicOf := map[string]string{}
	for _, t := range b.tables() {
		topicOf[trib.topic(t)] = b.limitTopic(t)
	}
	r, err := b.k.produceLimit(ctx, sample, b.rep.Workload.Messages, 50_000, func(t string) string { return topicOf[t] })
	if err == nil {
		// Expressed in row changes, like every other rate: the same
		// number of messages (events plus tombstones) in that time.
		r = newRate(b.rep.Workload.Changes, r.Bytes, time.Duration(r.Seconds*float64(time.Second)))
	}
	return result(r, err)
}

func (b *sourceBench) cleanup() error {
	if b.o.keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if len(b.topics) > 0 {
		errs = append(errs, b.k.deleteTopics(ctx, b.topics...))
	}
	errs = append(errs, b.src.Cleanup(ctx))
	return errors.Join(errs...)
}
