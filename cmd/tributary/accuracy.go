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
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

// accuracyDir is the accuracy monitor's state directory inside
// checkpoints.dir: a Badger store of its own beside the checkpoints.
func accuracyDir(cfg *config.Config) string { return filepath.Join(cfg.Checkpoints.Dir, "accuracy") }

// accuracyMonitors are the running daemon's monitors, by source.
type accuracyMonitors struct {
	store    *accuracy.Store
	readers  []capture.TableReader
	monitors map[string]*accuracy.Monitor
}

// startAccuracy builds a monitor for every source with accuracy.enabled;
// none when no source enables it. Close releases the store and readers
// after the monitors' Run returned.
func startAccuracy(cfg *config.Config, reg *metrics.Registry, mapper *mapping.Mapper, registry *schemaregistry.Client, logger *slog.Logger) (*accuracyMonitors, error) {
	am := &accuracyMonitors{monitors: map[string]*accuracy.Monitor{}}
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

// Run runs every monitor until ctx is done. A monitor never stops capture.
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
