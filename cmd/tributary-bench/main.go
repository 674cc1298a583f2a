// Command tributary-bench measures Tributary against the physical limit of
// this machine and against Debezium, on the real servers of
// scripts/services: catch-up throughput, steady-state latency, footprint,
// memory during one large transaction, and the initial snapshot of a fresh
// table. It prints a table and writes the
// same numbers as JSON. docs/benchmarks.md says what each figure means.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	n              int64
	sources        []string
	debezium       bool
	avroRegistry   string  // schema registry URL for the format avro contender; "" skips it
	latencyRates   intList // each a latency run of its own, per contender
	latencyFor     time.Duration
	bigTxMBs       intList // each a large transaction of its own
	writers        int
	jsonPath       string
	keep           bool
	tributaryBin   string
	debeziumScript string
	kafkaAddr      string
	mysqlAddr      string
	pgAddr         string
	partitions     int
	catchupTimeout time.Duration
	pprofDir       string
	snapshotRows   int64
	snapshotChunk  int
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func parseOptions(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tributary-bench", flag.ContinueOnError)
	fs.Int64Var(&o.n, "n", 200_000, "row changes written per source for the catch-up run (the issue's full size is 1000000)")
	sources := fs.String("sources", "mariadb,postgres", "sources to measure")
	fs.BoolVar(&o.debezium, "debezium", true, "run the Debezium baseline (needs Java and Maven Central once)")
	fs.StringVar(&o.avroRegistry, "avro-registry", "http://127.0.0.1:"+env("TRIBUTARY_REGISTRY_PORT", "18081")+"/apis/ccompat/v7",
		"schema registry of the tributary-avro contender (format avro, MariaDB only); empty skips it")
	o.latencyRates = intList{5000, 20000}
	fs.Var(&o.latencyRates, "latency-rate", "`rows/s` the latency writer commits, comma-separated for one latency run per rate (0 skips the latency runs)")
	fs.DurationVar(&o.latencyFor, "latency-duration", 30*time.Second, "how long the latency writer runs")
	o.bigTxMBs = intList{256}
	fs.Var(&o.bigTxMBs, "bigtx-mb", "`MiB` of row data in the single large transaction, comma-separated for one transaction per size (256,1024 adds the issue's 1 GiB; 0 skips it)")
	fs.IntVar(&o.writers, "writers", 4, "concurrent connections writing the catch-up workload")
	fs.StringVar(&o.jsonPath, "json", ".cache/bench/results.json", "where the JSON results go")
	fs.BoolVar(&o.keep, "keep", false, "keep databases, slots, topics and the work directory")
	fs.StringVar(&o.tributaryBin, "tributary", "bin/tributary", "tributary binary (built with go build if missing)")
	fs.StringVar(&o.debeziumScript, "debezium-script", "scripts/debezium/run", "Debezium runner script")
	fs.IntVar(&o.partitions, "partitions", 3, "partitions of every topic")
	fs.DurationVar(&o.catchupTimeout, "catchup-timeout", 10*time.Minute, "give up on one contender's catch-up after this")
	fs.StringVar(&o.pprofDir, "pprof", "", "save Tributary's CPU profile of each catch-up and snapshot (and its allocation profile) in this directory, taken through the daemon's /debug/pprof/")
	fs.Int64Var(&o.snapshotRows, "snapshot-rows", 200_000, "rows of the fresh table each source's initial snapshot reads (0 skips the snapshot run)")
	fs.IntVar(&o.snapshotChunk, "snapshot-chunk", 1000, "rows per chunk: Tributary's snapshot.chunk_size and the raw read's SELECT ... LIMIT")
	quick := fs.Bool("quick", false, "quick mode: -n 5000, 5 s latency at 200 rows/s, 8 MiB transaction, a 2500-row snapshot, no Debezium")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		defaults := map[string]func(){
			"n": func() { o.n = 5000 }, "latency-rate": func() { o.latencyRates = intList{200} },
			"latency-duration": func() { o.latencyFor = 5 * time.Second }, "bigtx-mb": func() { o.bigTxMBs = intList{8} },
			"debezium": func() { o.debezium = false }, "snapshot-rows": func() { o.snapshotRows = 2500 },
		}
		for name, apply := range defaults {
			if !set[name] {
				apply()
			}
		}
	}
	o.sources = strings.Split(*sources, ",")
	o.kafkaAddr = "127.0.0.1:" + env("TRIBUTARY_KAFKA_PORT", "19092")
	o.mysqlAddr = "127.0.0.1:" + env("TRIBUTARY_MYSQL_PORT", "13306")
	o.pgAddr = "127.0.0.1:" + env("TRIBUTARY_PG_PORT", "15432")
	if o.n < 100 {
		return nil, fmt.Errorf("-n %d: at least 100 row changes", o.n)
	}
	if o.snapshotRows < 0 || o.snapshotChunk < 1 {
		return nil, fmt.Errorf("-snapshot-rows %d, -snapshot-chunk %d: want rows >= 0 (0 skips) and a chunk of at least 1 row", o.snapshotRows, o.snapshotChunk)
	}
	return o, nil
}

func main() {
	o, err := parseOptions(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stdout)
	if rep != nil {
		if werr := writeJSON(o.jsonPath, rep); werr != nil {
			fmt.Fprintf(os.Stderr, "tributary-bench: %v\n", werr)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tributary-bench: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options, out io.Writer) (*Report, error) {
	started := time.Now()
	run := strconv.FormatInt(started.Unix()%10_000_000, 10)
	work, err := os.MkdirTemp("", "tributary-bench-"+run+"-")
	if err != nil {
		return nil, err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	host, _ := os.Hostname()
	rep := &Report{Started: started.UTC().Format(time.RFC3339), Host: host, CPUs: runtime.NumCPU(),
		N: o.n, LatencyRates: o.latencyRates, LatencySeconds: o.latencyFor.Seconds(), BigTxMBs: o.bigTxMBs,
		SnapshotRows: o.snapshotRows, SnapshotChunk: o.snapshotChunk}
	progress("run %s, work directory %s", run, work)

	bin, err := tributaryBinary(o.tributaryBin, work)
	if err != nil {
		return rep, err
	}
	dbzBroken := ""
	if o.debezium {
		progress("building the Debezium runner (cached after the first time)")
		if b, err := exec.CommandContext(ctx, o.debeziumScript, "build").CombinedOutput(); err != nil {
			dbzBroken = fmt.Sprintf("Debezium runner could not be built: %v: %s", err, strings.TrimSpace(lastLine(string(b))))
		}
	} else {
		dbzBroken = "not run (-debezium=false)"
	}
	k := newBenchKafka(o.kafkaAddr, o.partitions)
	for _, name := range o.sources {
		newSource, ok := workloads[name]
		if !ok {
			return rep, fmt.Errorf("-sources: unknown source %q (mariadb, postgres)", name)
		}
		src := newSource(o, run)
		sr := &SourceReport{Source: src.Name(), Label: src.Label()}
		rep.Sources = append(rep.Sources, sr)
		b := &sourceBench{o: o, k: k, src: src, rep: sr, run: run, dir: filepath.Join(work, name), bin: bin, dbzBroken: dbzBroken}
		err := b.measureAll(ctx)
		if cerr := b.cleanup(); cerr != nil {
			progress("cleanup %s: %v", name, cerr)
		}
		if err != nil {
			sr.Error = err.Error()
			progress("%s: %v", name, err)
		}
		sr.Targets = sr.targets(o.latencyRates)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	rep.Seconds = time.Since(started).Seconds()
	printReport(out, rep)
	return rep, nil
}

// tributaryBinary returns path when it exists, else builds cmd/tributary.
func tributaryBinary(path, work string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return filepath.Abs(path)
	}
	out := filepath.Join(work, "tributary")
	progress("building %s", out)
	if b, err := exec.Command("go", "build", "-o", out, "./cmd/tributary").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tributary: %v\n%s", err, b)
	}
	return out, nil
}

func writeJSON(path string, rep *Report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func runNumber(run string) uint32 {
	n, _ := strconv.ParseUint(run, 10, 32)
	return uint32(n)
}

// workloads builds each benchmark workload the -sources flag names.
var workloads = map[string]func(o *options, run string) benchSource{
	"mariadb":  func(o *options, run string) benchSource { return newMariaDB(o.mysqlAddr, run) },
	"postgres": func(o *options, run string) benchSource { return newPostgres(o.pgAddr, run) },
}
