package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/config"
	"github.com/tributary-cdc/tributary/internal/encode"
	"github.com/tributary-cdc/tributary/internal/schemaregistry"
	"github.com/tributary-cdc/tributary/internal/verify"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
)

// newTableReader builds the table reader of the source's kind.
func newTableReader(src config.Source) (capture.TableReader, error) {
	password, err := src.Password()
	if err != nil {
		return nil, err
	}
	reg, ok := src.Registration()
	if !ok {
		return nil, fmt.Errorf("verify: sources[%s] is of unknown kind %q", src.Name, src.Kind)
	}
	return reg.NewTableReader(src.Name, src.Settings, password)
}

// cmdVerify compares a source's captured tables with their Kafka topics and
// prints what differs (keys only, never values):
//
//	tributary verify -c config.yaml --source S [--table db.table]
//
// It returns an error when a table differs, so scripts can alarm on the
// exit status; see package verify for how writes during the run are
// re-checked before they count. When the source's accuracy monitor runs
// in the daemon, the daemon compares the tables with its digests (no
// topic reread); --reread forces reading the topics from their start.
func cmdVerify(args []string, stdout io.Writer) error {
	fs, path := newFlags("verify")
	source := fs.String("source", "", "the source to verify (required)")
	table := fs.String("table", "", "only this table, db.table (default: every captured table)")
	chunk := fs.Int("chunk-size", 1000, "rows per source query")
	rechecks := fs.Int("rechecks", 3, "re-checks of a differing key before it is reported (0: none)")
	wait := fs.Duration("recheck-wait", 0, "pause before each re-check (default 2s)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	addr := fs.String("addr", "", "the daemon's admin address host:port (default: admin.addr from the config)")
	reread := fs.Bool("reread", false, "read the topics from their start even when the daemon's accuracy monitor could answer from its digests")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *source == "" {
		return fmt.Errorf("%w: verify: --source is required", errUsage)
	}
	if *chunk <= 0 || *rechecks < 0 || *wait < 0 {
		return fmt.Errorf("%w: verify: --chunk-size must be positive, --rechecks and --recheck-wait not negative", errUsage)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	src, err := findSource(cfg, *source)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if src.Accuracy.Enabled && !*reread {
		rep, err := verifyByDaemon(ctx, cfg, *addr, src.Name, *table)
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "verify: compared with the digests of the daemon's accuracy monitor (--reread reads the topics instead)\n")
			return writeVerifyReport(stdout, rep)
		case errors.Is(err, errNoMonitor):
			fmt.Fprintf(stdout, "verify: %v; reading the topics\n", err)
		default:
			return err
		}
	}
	reader, err := newTableReader(src)
	if err != nil {
		return err
	}
	defer reader.Close()

	conn, err := kafkasink.NewConnection(cfg.Kafka)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	opts := verify.Options{
		Source: reader, SourceName: src.Name, Kafka: conn, TopicPrefix: cfg.Topics.Prefix,
		ChunkSize: *chunk, Rechecks: *rechecks, RecheckWait: *wait, Progress: stdout,
	}
	if *rechecks == 0 {
		opts.Rechecks = -1
	}
	if cfg.SchemaRegistry.Set() {
		reg, err := schemaregistry.New(cfg.SchemaRegistry, "schema_registry")
		if err != nil {
			return fmt.Errorf("%s: %w", *path, err)
		}
		opts.Decode = reg.CanonicalJSON
	}
	if *quiet {
		opts.Progress = nil
	}
	if *table != "" {
		id, err := capture.ParseTableID(*table)
		if err != nil {
			return fmt.Errorf("%w: verify: --table %q: want db.table", errUsage, *table)
		}
		if !reader.Captured(id.Schema, id.Name) {
			return fmt.Errorf("verify: table %s is not captured by sources[%s] (include/exclude)", *table, src.Name)
		}
		opts.Tables = [][2]string{{id.Schema, id.Name}}
	}

	// Rows are encoded as the daemon writes them: mapped tables compare
	// after their mapping (mask salts are read for that).
	mapper, err := cfg.Mapper()
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	opts.Encode = &encode.Config{Source: src.Name, Connector: string(src.Kind), TopicPrefix: cfg.Topics.Prefix,
		Tombstones: *cfg.Topics.Tombstones, Mapper: mapper, DeadLetterTopic: cfg.Kafka.DeadLetterTopic}
	rep, err := verify.Run(ctx, opts)
	if werr := rep.Write(stdout); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	return writeVerifyOutcome(stdout, rep)
}

// writeVerifyReport prints a report and its outcome.
func writeVerifyReport(stdout io.Writer, rep verify.Report) error {
	if err := rep.Write(stdout); err != nil {
		return err
	}
	return writeVerifyOutcome(stdout, rep)
}

// writeVerifyOutcome prints the summary line, or returns it as the error
// when rows differ.
func writeVerifyOutcome(stdout io.Writer, rep verify.Report) error {
	if err := verifyOutcome(rep); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "verify: %s checked, no differences\n", plural(len(rep.Tables), "table", "tables"))
	return err
}

// verifyOutcome is the summary line: nil when nothing differs, else an
// error such as "verify: 3 tables checked, 2 rows differ".
func verifyOutcome(rep verify.Report) error {
	d := rep.Differences()
	if d == 0 {
		return nil
	}
	return fmt.Errorf("verify: %s checked, %s", plural(len(rep.Tables), "table", "tables"), plural(int(d), "row differs", "rows differ"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// findSource returns the configured source named name.
func findSource(cfg *config.Config, name string) (config.Source, error) {
	var names []string
	for _, s := range cfg.Sources {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return config.Source{}, fmt.Errorf("verify: source %q is not in the config (sources: %s)", name, strings.Join(names, ", "))
}
