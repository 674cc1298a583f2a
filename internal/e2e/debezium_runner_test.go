package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// The Debezium side of the compatibility test: Debezium's own connectors in
// its embedded engine (scripts/debezium, the benchmark's runner, built once
// into .cache/ by scripts/debezium/run), writing JsonConverter JSON
// (schemas.enable=false) to Kafka.

const debeziumScript = "../../scripts/debezium/run"

var (
	debeziumBuildOnce sync.Once
	debeziumBuildErr  error
)

// buildDebezium builds the runner once per test process; when .cache/
// already holds the build this returns at once. The first build fetches
// Debezium from Maven Central and takes minutes.
func buildDebezium(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the Debezium comparison needs %s (scripts/services up installs it): %v", tool, err)
		}
	}
	debeziumBuildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, debeziumScript, "build").CombinedOutput()
		if err != nil {
			debeziumBuildErr = fmt.Errorf("%s build: %v\n%s", debeziumScript, err, out)
		}
	})
	if debeziumBuildErr != nil {
		t.Fatal(debeziumBuildErr)
	}
}

// debeziumPinned are the connector settings docs/debezium.md pins ("Pinned
// Debezium settings"): Tributary's debezium format equals Debezium's output
// with exactly these. Written out even where they are Debezium's defaults,
// so a change of default cannot slip through.
func debeziumPinned(postgres bool) map[string]string {
	p := map[string]string{
		"decimal.handling.mode":        "string",
		"binary.handling.mode":         "bytes",
		"tombstones.on.delete":         "true",
		"provide.transaction.metadata": "false",
		"schema.name.adjustment.mode":  "none",
		"include.schema.changes":       "false",
	}
	if postgres {
		p["time.precision.mode"] = "adaptive"
		p["interval.handling.mode"] = "numeric"
		p["unavailable.value.placeholder"] = "__debezium_unavailable_value"
	} else {
		p["time.precision.mode"] = "adaptive_time_microseconds"
		p["bigint.unsigned.handling.mode"] = "long"
	}
	return p
}

// debeziumProc is one running Debezium runner (a JVM).
type debeziumProc struct {
	cmd     *exec.Cmd
	logPath string
	waited  chan struct{}
	err     error
}

// startDebezium writes the engine properties (offsets and schema history in
// a temporary directory, producer settings for the test broker, the pinned
// settings) and starts the runner. It is stopped (SIGTERM) at cleanup.
func startDebezium(t *testing.T, prefix string, props map[string]string) *debeziumProc {
	t.Helper()
	buildDebezium(t)
	dir := t.TempDir()
	all := map[string]string{
		"offset.storage":               "org.apache.kafka.connect.storage.FileOffsetBackingStore",
		"offset.storage.file.filename": filepath.Join(dir, "offsets.dat"),
		"offset.flush.interval.ms":     "1000",
		"topic.prefix":                 prefix,
		"producer.bootstrap.servers":   testenv.KafkaAddr(),
		"producer.client.id":           "debezium-compat-" + prefix,
		"producer.linger.ms":           "5",
	}
	for k, v := range props {
		all[k] = v
	}
	if _, ok := all["schema.history.internal"]; ok {
		all["schema.history.internal.file.filename"] = filepath.Join(dir, "schema-history.dat")
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, all[k])
	}
	path := filepath.Join(dir, "engine.properties")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "debezium.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &debeziumProc{cmd: exec.Command(debeziumScript, path), logPath: logPath, waited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start Debezium: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.waited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("Debezium log (%s, warnings and errors):\n%s", logPath, tail(debeziumProblems(p.log()), 4000))
		}
	})
	return p
}

func (p *debeziumProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// alive fails the test with the log's tail once the runner has exited.
func (p *debeziumProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.waited:
		t.Fatalf("Debezium exited: %v; log ends:\n%s", p.err, tail(p.log(), 3000))
	default:
	}
}

// stop sends SIGTERM (the runner closes the engine and exits), SIGKILL
// after 60 s.
func (p *debeziumProc) stop() {
	select {
	case <-p.waited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
	case <-time.After(60 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.waited
	}
}

func debeziumProblems(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "WARN") || strings.Contains(line, "ERROR") || strings.Contains(line, "Exception") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// topicEnd is the next offset of partition 0 of topic.
func topicEnd(t *testing.T, topic string) int64 {
	t.Helper()
	return testenv.NewTopic(topic).Ends(t)[0]
}

// readTopic reads partition 0 of topic from offset from until it has n
// records (failing after timeout), then keeps reading for linger to catch
// records beyond the n expected.
func readTopic(t *testing.T, topic string, from int64, n int, timeout, linger time.Duration) []testenv.Record {
	t.Helper()
	tp := testenv.NewTopic(topic)
	defer tp.Close()
	out := tp.ReadUntil(t, 0, from, timeout, func(recs []testenv.Record) bool { return len(recs) >= n })
	ctx, cancel := context.WithTimeout(context.Background(), linger)
	defer cancel()
	next := from
	if len(out) > 0 {
		next = out[len(out)-1].Offset + 1
	}
	if _, err := tp.Follow(ctx, 0, next, func(r testenv.Record) bool { out = append(out, r); return true }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read %s: %v", topic, err)
	}
	return out
}
