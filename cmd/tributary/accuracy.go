package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/accuracy"
	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/internal/verify"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// accuracyDir is the accuracy monitor's state directory inside
// checkpoints.dir: a Badger store of its own beside the checkpoints.
func accuracyDir(cfg *config.Config) string { return filepath.Join(cfg.Checkpoints.Dir, "accuracy") }

// sourceMonitor is one source's accuracy monitor (*accuracy.Monitor).
type sourceMonitor interface {
	Run(ctx context.Context) error
	Check(ctx context.Context, tables [][2]string) (verify.Report, error)
}

// accuracyMonitors are the running daemon's monitors, by source.
type accuracyMonitors struct {
	store    *accuracy.Store
	readers  []capture.TableReader
	monitors map[string]sourceMonitor
	reg      *metrics.Registry

	// In cluster mode (clustered) a monitor runs only while its source
	// runs on this member (runOwned); running names those sources.
	clustered bool
	mu        sync.Mutex
	running   map[string]bool
}

// startAccuracy builds a monitor for every source with accuracy.enabled;
// none when no source enables it. Close releases the store and readers
// after the monitors' Run returned.
func startAccuracy(cfg *config.Config, reg *metrics.Registry, mapper *mapping.Mapper, registry *schemaregistry.Client, logger *slog.Logger) (*accuracyMonitors, error) {
	am := &accuracyMonitors{monitors: map[string]sourceMonitor{}, reg: reg, clustered: cfg.Cluster != nil, running: map[string]bool{}}
	var conn *kafkasink.Connection
	for _, sc := range cfg.Sources {
		if !sc.Accuracy.Enabled {
			continue
		}
		if am.store == nil {
			var err error
			if am.store, err = accuracy.Open(accuracyDir(cfg), logger); err != nil {
				return nil, err
			}
			if conn, err = kafkasink.NewConnection(cfg.Kafka); err != nil {
				am.Close()
				return nil, err
			}
		}
		reader, err := newTableReader(sc)
		if err != nil {
			am.Close()
			return nil, fmt.Errorf("sources[%s].accuracy: %w", sc.Name, err)
		}
		am.readers = append(am.readers, reader)
		a := sc.Accuracy
		var decode func(context.Context, []byte) ([]byte, error)
		if sc.Format == "avro" && registry != nil {
			decode = registry.CanonicalJSON
		}
		m, err := accuracy.New(accuracy.Config{
			Source: sc.Name, Interval: a.Interval, RowsPerSecond: a.RowsPerSecond, ChunkSize: a.ChunkSize,
			Rechecks: a.Rechecks, RecheckWait: a.RecheckWait, StateMaxBytes: a.StateMaxBytes,
			Encode: encode.Config{Source: sc.Name, Connector: string(sc.Kind), TopicPrefix: cfg.Topics.Prefix,
				Tombstones: *cfg.Topics.Tombstones, Mapper: mapper, DeadLetterTopic: cfg.Kafka.DeadLetterTopic},
			Delivered: deliveredUpTo(reg.Source(sc.Name)),
			Decode:    decode,
		}, reader, conn, am.store, reg.Source(sc.Name).Accuracy(), logger)
		if err != nil {
			am.Close()
			return nil, err
		}
		am.monitors[sc.Name] = m
		logger.Info("accuracy monitor configured", "source", sc.Name, "interval", a.Interval,
			"rows_per_second", a.RowsPerSecond, "state", accuracyDir(cfg))
	}
	return am, nil
}

// deliveredUpTo is the source commit time of the source's last
// checkpoint: every change committed before it is in Kafka.
func deliveredUpTo(m *metrics.Source) func() time.Time {
	return func() time.Time { return m.Status().CheckpointCommitTime }
}

// Run runs every monitor until ctx is done (a single daemon: it runs every
// source). A monitor never stops capture.
func (am *accuracyMonitors) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range am.monitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = m.Run(ctx)
		}()
	}
	wg.Wait()
}

// runOwned runs a source this cluster member was given: run (its
// pipeline) and, beside it, the source's accuracy monitor, stopped when run
// returns. A standby runs no monitor: it would read the source tables once
// more per member, and compare them with digests its idle follower does not
// keep up to date nor its checkpoint bound (the owner's is the one
// re-checks wait for). Its results leave /status and the metrics with it,
// so that only the owner reports them.
func (am *accuracyMonitors) runOwned(ctx context.Context, source string, run func(context.Context) error) error {
	m, ok := am.monitors[source]
	if !ok {
		return run(ctx)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	am.setRunning(source, true)
	go func() { defer close(done); _ = m.Run(mctx) }()
	defer func() {
		stop()
		<-done
		am.setRunning(source, false)
		am.reg.Source(source).Accuracy().Reset()
	}()
	return run(ctx)
}

func (am *accuracyMonitors) setRunning(source string, on bool) {
	am.mu.Lock()
	defer am.mu.Unlock()
	if on {
		am.running[source] = true
	} else {
		delete(am.running, source)
	}
}

// ownedHere says whether the source's monitor runs on this daemon: always
// for a single daemon, while the member owns the source in a cluster.
func (am *accuracyMonitors) ownedHere(source string) bool {
	if !am.clustered {
		return true
	}
	am.mu.Lock()
	defer am.mu.Unlock()
	return am.running[source]
}

// Close releases the readers and the store.
func (am *accuracyMonitors) Close() {
	for _, r := range am.readers {
		r.Close()
	}
	if am.store != nil {
		am.store.Close()
	}
}

// verifyRequests answers POST /verify from the monitors' digests.
func (am *accuracyMonitors) verifyRequests(names []string) admin.VerifyFunc {
	return func(ctx context.Context, source string, tables []string) (any, error) {
		m, ok := am.monitors[source]
		if !ok {
			for _, n := range names {
				if n == source {
					return nil, fmt.Errorf("%w: sources[%s].accuracy is not enabled", admin.ErrUnavailable, source)
				}
			}
			return nil, fmt.Errorf("%w: %s", admin.ErrUnknownSource, source)
		}
		if !am.ownedHere(source) {
			return nil, fmt.Errorf("%w: source %s runs on another member of the cluster (GET /cluster names the owner); its accuracy monitor answers there", admin.ErrUnavailable, source)
		}
		ids := make([][2]string, 0, len(tables))
		for _, t := range tables {
			id, err := capture.ParseTableID(t)
			if err != nil {
				return nil, fmt.Errorf("%w: table %q: want db.table", admin.ErrInvalid, t)
			}
			ids = append(ids, [2]string{id.Schema, id.Name})
		}
		rep, err := m.Check(ctx, ids)
		if err != nil {
			return nil, err
		}
		return rep, nil
	}
}
