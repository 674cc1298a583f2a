// Package accuracy is the daemon's accuracy monitor: per source, a
// consumer of the source's own topics keeps the digest of every key's
// latest delivered row image in a Store, and a scheduler compares the
// source tables with it continuously — key-ordered chunks read with the
// source's own user, rate-limited, one full pass per interval, a
// differing key re-checked a few times before it counts, so writes in
// flight never raise an alarm. The comparison is internal/verify's
// (verify.CheckTable); only the state differs: kept on disk and followed,
// not re-read.
//
// The monitor never stops capture: its failures are logged and retried at
// the next pass, and a state over its bound pauses the monitor alone.
package accuracy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/verify"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

// Config is one source's monitor settings (accuracy: in the configuration).
type Config struct {
	Source        string
	Interval      time.Duration // one full pass per interval
	RowsPerSecond float64
	ChunkSize     int
	Rechecks      int
	RecheckWait   time.Duration
	StateMaxBytes int64
	// Encode is how the source's events are encoded (mapper included).
	Encode encode.Config
	// FollowEvery is how often the consumer catches up with the topics
	// (default 1s).
	FollowEvery time.Duration
	// Delivered is the source commit time up to which the daemon has
	// delivered every change (the checkpoint's commit time); re-checks
	// wait for it (verify.Options.Delivered). Nil: re-checks rely on
	// RecheckWait alone.
	Delivered func() time.Time
	// Decode reads the source's Avro messages (format: avro) as their
	// JSON events (verify.Follower.DecodeAvro); nil: JSON topics.
	Decode func(ctx context.Context, msg []byte) ([]byte, error)
}

// exampleKeys is how many keys per kind of mismatch /status and the log
// name.
const exampleKeys = 100

// Monitor is one source's accuracy monitor.
type Monitor struct {
	cfg      Config
	reader   capture.TableReader
	kafka    *kafkasink.Connection
	state    SourceState
	follower *verify.Follower
	acc      *metrics.Accuracy
	log      *slog.Logger

	checkMu sync.Mutex // one comparison at a time on the reader

	mu       sync.Mutex
	topics   map[string]bool     // followed topics
	reported map[string][]string // per table: the mismatches logged, "kind key"
	paused   bool
}

// New returns the monitor of cfg.Source; Run starts it.
func New(cfg Config, reader capture.TableReader, conn *kafkasink.Connection, store *Store, acc *metrics.Accuracy, logger *slog.Logger) (*Monitor, error) {
	if cfg.FollowEvery <= 0 {
		cfg.FollowEvery = time.Second
	}
	st, err := store.Source(cfg.Source)
	if err != nil {
		return nil, err
	}
	follower := verify.NewFollower(conn, cfg.Source, st, 30*time.Second)
	if cfg.Decode != nil {
		follower.DecodeAvro(cfg.Decode)
	}
	return &Monitor{
		cfg: cfg, reader: reader, kafka: conn, state: st,
		follower: follower,
		acc:      acc, log: logger.With("source", cfg.Source, "component", "accuracy"),
		topics: map[string]bool{}, reported: map[string][]string{},
	}, nil
}

// Run follows the topics and runs passes until ctx is done. It returns
// nil then; errors are logged and retried, never returned, so that the
// monitor cannot stop the daemon.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.follower.Close()
	m.acc.SetStateBytes(m.state.Bytes())
	tables, err := m.tables(ctx)
	if err != nil {
		m.log.Warn("accuracy monitor: cannot list the tables yet; retrying at each pass", "err", err)
	}
	m.warnRetention(ctx, tables)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { m.followLoop(gctx); return nil })
	g.Go(func() error { m.passLoop(gctx); return nil })
	return g.Wait()
}

// tables lists the captured tables and follows their topics.
func (m *Monitor) tables(ctx context.Context) ([][2]string, error) {
	tables, err := m.reader.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	enc := encode.New(m.cfg.Encode)
	m.mu.Lock()
	for _, t := range tables {
		m.topics[enc.Topic(t[0], t[1])] = true
	}
	m.mu.Unlock()
	return tables, nil
}

// followLoop catches the state up with every followed topic every
// FollowEvery: the built-in consumer.
func (m *Monitor) followLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.FollowEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if m.checkBound() {
			continue
		}
		err := m.followAll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			m.log.Warn("accuracy monitor: reading the topics failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			m.log.Info("accuracy monitor: reading the topics again")
			failing = false
		}
	}
}

func (m *Monitor) followAll(ctx context.Context) error {
	m.mu.Lock()
	topics := make([]string, 0, len(m.topics))
	for t := range m.topics {
		topics = append(topics, t)
	}
	m.mu.Unlock()
	slices.Sort(topics)
	for _, topic := range topics {
		res, err := m.follower.CatchUp(ctx, topic)
		if err != nil {
			return err
		}
		if res.Lost > 0 {
			m.log.Warn("accuracy monitor: messages were deleted by the topic's retention before the monitor read them; keys whose latest event was among them will show as missing until they change again (make the topic compacted: cleanup.policy=compact)",
				"topic", topic, "messages_lost", res.Lost)
		}
	}
	m.acc.SetStateBytes(m.state.Bytes())
	return nil
}

// checkBound pauses the monitor while its state is over
// StateMaxBytes, and reports whether it is paused.
func (m *Monitor) checkBound() bool {
	n := m.state.Bytes()
	m.acc.SetStateBytes(n)
	over := n > m.cfg.StateMaxBytes
	m.mu.Lock()
	was := m.paused
	m.paused = over
	m.mu.Unlock()
	switch {
	case over && !was:
		reason := fmt.Sprintf("the state holds %d bytes, over sources[%s].accuracy.state_max_bytes (%d)", n, m.cfg.Source, m.cfg.StateMaxBytes)
		m.acc.SetPaused(reason)
		m.log.Error("accuracy monitor paused: "+reason+"; raise the bound (about 40 bytes plus the key length per row) or turn the monitor off; capture goes on",
			"state_bytes", n, "state_max_bytes", m.cfg.StateMaxBytes)
	case !over && was:
		m.acc.SetPaused("")
		m.log.Info("accuracy monitor resumed", "state_bytes", n)
	}
	return over
}

// passLoop starts a pass every Interval; a pass that takes longer is
// followed by the next at once, and marks the monitor behind.
func (m *Monitor) passLoop(ctx context.Context) {
	for {
		start := time.Now()
		m.pass(ctx, start)
		if ctx.Err() != nil {
			return
		}
		took := time.Since(start)
		behind := took > m.cfg.Interval
		m.acc.SetBehind(behind)
		wait := m.cfg.Interval - took
		if wait <= 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// pass compares every captured table once.
func (m *Monitor) pass(ctx context.Context, start time.Time) {
	tables, err := m.tables(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("accuracy monitor: pass skipped", "err", err)
		}
		return
	}
	warnedBehind := false
	complete := true
	for _, t := range tables {
		for m.checkBound() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(m.cfg.FollowEvery):
			}
		}
		if err := m.checkTable(ctx, t[0], t[1]); err != nil {
			if ctx.Err() != nil {
				return
			}
			complete = false
			m.log.Warn("accuracy monitor: comparing a table failed; it is compared again at the next pass", "table", t[0]+"."+t[1], "err", err)
		}
		if !warnedBehind && time.Since(start) > m.cfg.Interval {
			warnedBehind = true
			m.acc.SetBehind(true)
			m.log.Warn("accuracy monitor behind: a pass takes longer than its interval; raise sources[].accuracy.rows_per_second or interval",
				"interval", m.cfg.Interval, "pass_running_for", time.Since(start).Round(time.Second))
		}
	}
	if complete {
		m.acc.PassDone(time.Now())
	}
}

// options are the comparison's settings.
func (m *Monitor) options() verify.Options {
	enc := m.cfg.Encode
	return verify.Options{
		Source: m.reader, SourceName: m.cfg.Source, Encode: &enc, TopicPrefix: enc.TopicPrefix,
		ChunkSize: m.cfg.ChunkSize, Rechecks: m.cfg.Rechecks, RecheckWait: m.cfg.RecheckWait,
		Examples: exampleKeys, RowsPerSecond: m.cfg.RowsPerSecond, CatchUpEvery: 5 * time.Second,
		Delivered: m.cfg.Delivered,
	}
}

// checkTable compares one table and records the outcome.
func (m *Monitor) checkTable(ctx context.Context, db, table string) error {
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	start := time.Now()
	tr, err := verify.CheckTable(ctx, m.options(), m.follower, db, table)
	if err != nil {
		return err
	}
	m.mu.Lock()
	for _, topic := range tr.Topics {
		m.topics[topic] = true
	}
	m.mu.Unlock()
	m.log.Debug("accuracy: table compared", "table", db+"."+table, "rows", tr.Rows, "topic_keys", tr.TopicKeys,
		"rechecks", tr.Rechecks, "resolved", tr.Resolved, "unsettled", tr.Unsettled, "mismatches", tr.Differences(),
		"took", time.Since(start).Round(time.Millisecond))
	m.record(tr, time.Since(start))
	return nil
}

// record publishes a table's result and logs its mismatches once: a key
// is logged when it first differs, and the table is logged as clear when
// a pass finds none of them any more.
func (m *Monitor) record(tr verify.TableReport, took time.Duration) {
	name := tr.Database + "." + tr.Table
	m.acc.TableChecked(metrics.AccuracyTable{
		Table: name, Missing: tr.Missing.Count, Extra: tr.Extra.Count, Differing: tr.Differing.Count,
		MissingKeys: tr.Missing.Keys, ExtraKeys: tr.Extra.Keys, DifferingKeys: tr.Differing.Keys,
	}, tr.Rows, took, time.Now())
	var now []string
	for _, d := range []struct {
		kind string
		diff verify.Diff
	}{{"missing", tr.Missing}, {"extra", tr.Extra}, {"differing", tr.Differing}} {
		for _, k := range d.diff.Keys {
			now = append(now, d.kind+" "+k)
		}
	}
	m.mu.Lock()
	before := m.reported[name]
	m.reported[name] = now
	m.mu.Unlock()
	var fresh []string
	for _, k := range now {
		if !slices.Contains(before, k) {
			fresh = append(fresh, k)
		}
	}
	switch {
	case len(fresh) > 0:
		// Keys only: row values never reach the log.
		m.log.Warn("accuracy mismatch: the topic does not match the source table",
			"table", name, "missing", tr.Missing.Count, "extra", tr.Extra.Count, "differing", tr.Differing.Count,
			"new_keys", strings.Join(fresh, "; "))
	case len(now) == 0 && len(before) > 0:
		m.log.Info("accuracy: table matches its topic again", "table", name)
	}
}

// Check compares tables (empty: every captured table) now, without the
// rate limit, against the monitor's state: what `tributary verify` asks
// the running daemon for.
func (m *Monitor) Check(ctx context.Context, tables [][2]string) (verify.Report, error) {
	if len(tables) == 0 {
		var err error
		if tables, err = m.tables(ctx); err != nil {
			return verify.Report{}, err
		}
	}
	for _, t := range tables {
		if !m.reader.Captured(t[0], t[1]) {
			return verify.Report{}, fmt.Errorf("table %s.%s is not captured by sources[%s]", t[0], t[1], m.cfg.Source)
		}
	}
	m.mu.Lock()
	paused := m.paused
	m.mu.Unlock()
	if paused {
		return verify.Report{}, errors.New("the accuracy monitor is paused (its state is over accuracy.state_max_bytes)")
	}
	m.checkMu.Lock()
	defer m.checkMu.Unlock()
	opts := m.options()
	opts.RowsPerSecond = 0
	var rep verify.Report
	for _, t := range tables {
		tr, err := verify.CheckTable(ctx, opts, m.follower, t[0], t[1])
		if err != nil {
			return rep, fmt.Errorf("verify %s.%s: %w", t[0], t[1], err)
		}
		rep.Tables = append(rep.Tables, tr)
	}
	return rep, nil
}
