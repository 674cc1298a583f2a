package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/checkpoints"
	badgerstore "github.com/tributary-cdc/tributary/checkpoints/badger"
	"github.com/tributary-cdc/tributary/internal/admin"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/metrics"
	"github.com/tributary-cdc/tributary/internal/pipeline"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/internal/toastcache"
	"github.com/tributary-cdc/tributary/sink"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform/mapping"
)

func cmdValidate(args []string, stdout io.Writer) error {
	fs, path := newFlags("validate")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	for _, s := range cfg.Sources {
		if _, err := s.Password(); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
	}
	if _, err := cfg.Mapper(); err != nil { // reads mask salts too
		return fmt.Errorf("%s: %w", *path, err)
	}
	// The Kafka SASL password and the admin token resolve too (their
	// values are never printed).
	if _, err := kafkasink.NewConnection(cfg.Kafka); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	if _, err := cfg.Admin.Token(); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	fmt.Fprintf(stdout, "%s: ok (%d sources)\n", *path, len(cfg.Sources))
	return nil
}

func cmdRun(args []string, stderr io.Writer) error {
	fs, path := newFlags("run")
	progressMode := fs.String("progress", "auto", "snapshot progress bars on stderr: auto (on a terminal), always, never")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bars, err := newProgressScreen(*progressMode, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	logOut := stderr
	if bars != nil {
		logOut = bars // log lines go above the bars, not through them
	}
	logger := newLogger(logOut, cfg.Log.Level, cfg.Log.Format)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// A Kafka no broker answers is almost always a wrong kafka.brokers or
	// a closed port: say so at once and exit, rather than report
	// "streaming" until the first change fails. A broker that is merely
	// restarting at boot is the service manager's to retry.
	if cfg.Kafka.TLS.InsecureSkipVerify {
		logger.Warn("kafka.tls.insecure_skip_verify is true: the brokers' certificates are not checked, so anyone on the network path can read and change the events; use it for tests only")
	}
	if err := kafkasink.Probe(ctx, cfg.Kafka, cfg.Kafka.WriteTimeout); err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}

	store, err := badgerstore.Open(cfg.Checkpoints.Dir,
		badgerstore.WithHistoryLimit(cfg.Checkpoints.History), badgerstore.WithLogger(logger))
	if err != nil {
		return err
	}
	defer store.Close()
	toast, err := openToastCache(cfg, logger)
	if err != nil {
		return err
	}
	if toast != nil {
		defer toast.Close()
	}

	// The admin endpoint binds after the store, so a second daemon on the
	// same directory reports the lock, not the port.
	reg := metrics.NewRegistry()
	adm := admin.New(cfg.Admin.Addr, reg, logger, cfg.Admin.ServerOptions()...)
	if err := adm.Listen(); err != nil {
		return err
	}
	adminCtx, stopAdmin := context.WithCancel(context.Background())
	adminDone := make(chan error, 1)
	go func() { adminDone <- adm.Run(adminCtx) }()
	defer func() {
		stopAdmin()
		if err := <-adminDone; err != nil {
			logger.Warn("admin server", "err", err) // monitoring never stops capture
		}
	}()

	mapper, err := cfg.Mapper()
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	registry, err := schemaRegistry(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	pipes := make([]*pipeline.Pipeline, 0, len(cfg.Sources))
	var ckpts checkpoints.Store = store
	var node *clusterNode
	byName := map[string]*pipeline.Pipeline{} // filled before the member runs
	var monitors *accuracyMonitors            // set before the member runs too
	if cfg.Cluster != nil {
		runSource := func(ctx context.Context, source string) error {
			err := monitors.runOwned(ctx, source, byName[source].Run)
			if err == nil {
				reg.Source(source).SetState(metrics.StateStandby, nil)
			}
			return err
		}
		if node, err = startCluster(ctx, cfg, store, reg, runSource, logger); err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		defer node.close()
		ckpts = node.store
		adm.OnCluster(func() any { return node.member.State() })
	}
	for _, sc := range cfg.Sources {
		var fence *sourceFence
		if node != nil {
			fence = node.sourceFence(cfg, sc)
		}
		p, err := buildPipeline(cfg, sc, ckpts, toast, reg.Source(sc.Name), mapper, registry, fence, logger)
		if err != nil {
			return err
		}
		pipes = append(pipes, p)
		byName[sc.Name] = p
		logSourceSummary(logger, cfg, sc)
	}
	adm.OnSnapshot(snapshotRequests(sourceNames(cfg), pipes)) // POST /snapshot
	if monitors, err = startAccuracy(cfg, reg, mapper, registry, logger); err != nil {
		return err
	}
	defer monitors.Close()
	adm.OnVerify(monitors.verifyRequests(sourceNames(cfg))) // POST /verify
	if node == nil {
		// The monitors end with the daemon, also when every source
		// stopped. A cluster member runs each beside its source instead.
		monitorCtx, stopMonitors := context.WithCancel(ctx)
		monitorsDone := make(chan struct{})
		go func() { defer close(monitorsDone); monitors.Run(monitorCtx) }()
		defer func() { stopMonitors(); <-monitorsDone }()
	}
	logger.Info("tributary running", "sources", len(pipes), "pid", os.Getpid(), "admin", adm.Addr(), "kafka", cfg.Kafka.Protocol())
	if bars != nil {
		reporters := make([]capture.SnapshotReporter, len(pipes))
		for i, p := range pipes {
			reporters[i] = p
		}
		defer startProgress(bars, stderr, sourceNames(cfg), reporters)()
	}

	if node != nil {
		return runMember(ctx, cfg, node, reg, logger)
	}

	// Sources are independent: one stopping on a permanent error leaves the
	// others streaming. The daemon exits when all have stopped.
	var wg sync.WaitGroup
	errs := make([]error, len(pipes))
	for i, p := range pipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				errs[i] = fmt.Errorf("source %s: %w", cfg.Sources[i].Name, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	logger.Info("tributary stopped")
	return nil
}

// schemaRegistry is the daemon's one registry client (its id cache shared
// by the sources), nil when no source writes Avro.
func schemaRegistry(cfg *config.Config) (*schemaregistry.Client, error) {
	if !cfg.SchemaRegistry.Set() {
		return nil, nil
	}
	return schemaregistry.New(cfg.SchemaRegistry, "schema_registry")
}

// buildPipeline builds one source's pipeline; fence, when set (cluster
// mode), keeps each attempt from starting, and its sink from producing,
// while this member does not own the source.
func buildPipeline(cfg *config.Config, sc config.Source, store checkpoints.Store, toast *toastcache.DB, m *metrics.Source, mapper *mapping.Mapper, registry *schemaregistry.Client, fence *sourceFence, logger *slog.Logger) (*pipeline.Pipeline, error) {
	password, err := sc.Password()
	if err != nil {
		return nil, err
	}
	reg, ok := sc.Registration()
	if !ok {
		return nil, fmt.Errorf("sources[%s]: unknown kind %q", sc.Name, sc.Kind)
	}
	newSource := func() (capture.Source, error) {
		if fence != nil {
			if err := fence.check(); err != nil {
				return nil, err
			}
		}
		src, err := reg.NewSource(sc.Name, sc.Settings, password, logger)
		if err != nil {
			return nil, err
		}
		return src, useToastCache(src, toast, sc.Name, m)
	}
	newSink := func(ack sink.AckFunc) (sink.Sink, error) {
		opts := []kafkasink.Option{kafkasink.WithMetrics(m)}
		if fence != nil {
			opts = append(opts, fence.sinkOptions()...)
		}
		return kafkasink.New(cfg.Kafka, ack, logger.With("source", sc.Name), opts...)
	}
	pc := pipeline.Config{
		Source:             sc.Name,
		Connector:          string(sc.Kind), // the events' source.connector names the kind
		TopicPrefix:        cfg.Topics.Prefix,
		Tombstones:         *cfg.Topics.Tombstones,
		MaxInFlight:        cfg.Pipeline.MaxInFlight,
		MaxInFlightBytes:   cfg.Pipeline.MaxInFlightBytes,
		CheckpointInterval: cfg.Pipeline.CheckpointInterval,
		RestartBackoffMin:  cfg.Pipeline.RestartBackoffMin,
		RestartBackoffMax:  cfg.Pipeline.RestartBackoffMax,
		ShutdownTimeout:    cfg.Pipeline.ShutdownTimeout,
		StallAfter:         cfg.Pipeline.StallAfter,
		Metrics:            m,
		Mapper:             mapper,
		DeadLetterTopic:    cfg.Kafka.DeadLetterTopic,
		TransactionTopic:   cfg.Topics.Transactions,
		SchemaChangeTopic:  cfg.Topics.SchemaChanges,
	}
	if toast != nil && fillsToast(sc) {
		pc.BeforeCheckpoint = toast.Sync
	}
	switch sc.Format {
	case "debezium":
		o := sc.DebeziumOptions()
		pc.Debezium = &o
	case "avro":
		pc.Registry = registry
		if sc.Avro.Envelope == "debezium" {
			o := sc.DebeziumOptions()
			pc.AvroDebezium = &o
		}
	}
	return pipeline.New(pc, newSource, newSink, store, logger), nil
}

// logSourceSummary says at startup what a source will capture from where
// (never its password).
func logSourceSummary(logger *slog.Logger, cfg *config.Config, sc config.Source) {
	attrs := []any{"source", sc.Name, "kind", sc.Kind}
	if reg, ok := sc.Registration(); ok {
		attrs = append(attrs, reg.LogAttrs(sc.Settings)...)
	}
	attrs = append(attrs, "topics", cfg.Topics.Prefix+"."+sc.Name+".*")
	logger.Info("source configured", attrs...)
}
