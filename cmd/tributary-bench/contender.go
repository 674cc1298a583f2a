package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// contender is one CDC process under test: Tributary or Debezium.
type contender struct {
	name string // "tributary" or "debezium"
	// version is Debezium's release, per connector ("" for Tributary).
	version string
	topic   func(table string) string // where a table's events go
	// command returns the process to start for this source.
	command func() *exec.Cmd
	// broken says why this contender cannot run; it is then reported, not run.
	broken string
}

// proc is one running contender process with its resource sampler.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// logOffset is the log's size when this process started: earlier
	// runs of the contender wrote what comes before.
	logOffset int64
	started   time.Time
	waited    chan struct{}
	err       error
	sampler   *sampler
}

func startProc(c *contender, logPath string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p := &proc{name: c.name, cmd: c.command(), logPath: logPath, waited: make(chan struct{})}
	if st, err := logf.Stat(); err == nil {
		p.logOffset = st.Size()
	}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", c.name, err)
	}
	p.sampler = startSampler(p.cmd.Process.Pid, 100*time.Millisecond)
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.waited)
	}()
	return p, nil
}

// alive returns an error naming the exit and the log's tail once the
// process has exited.
func (p *proc) alive() error {
	select {
	case <-p.waited:
		return fmt.Errorf("%s exited (%v); log %s ends:\n%s", p.name, p.err, p.logPath, logTail(p.logPath, 1500))
	default:
		return nil
	}
}

// stop sends SIGTERM (graceful: both flush and commit their positions) and
// waits; SIGKILL after timeout.
func (p *proc) stop(timeout time.Duration) error {
	p.sampler.Stop()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.waited
		return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, timeout)
	}
	var exit *exec.ExitError
	if p.err != nil && !(errors.As(p.err, &exit) && exit.ExitCode() == 143) {
		return fmt.Errorf("%s exited with %v after SIGTERM; log %s", p.name, p.err, p.logPath)
	}
	return nil
}

func logTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// tributaryConfig is the daemon's config for one source: defaults
// everywhere except what the bench must set (checkpoint dir, broker,
// prefix, a free admin port).
func tributaryConfig(dir, kafkaAddr, prefix, source string) string {
	return fmt.Sprintf(`checkpoints: {dir: %q}
kafka:
  brokers: [%q]
topics: {prefix: %q}
log: {level: info}
admin: {addr: "127.0.0.1:0"}
sources:
%s`, filepath.Join(dir, "checkpoints"), kafkaAddr, prefix, source)
}

func newTributary(bin, dir, kafkaAddr, prefix, sourceYAML, sourceName, database string) (*contender, error) {
	cfg := filepath.Join(dir, "tributary.yaml")
	if err := os.WriteFile(cfg, []byte(tributaryConfig(dir, kafkaAddr, prefix, sourceYAML)), 0o644); err != nil {
		return nil, err
	}
	return &contender{
		name:  "tributary",
		topic: func(t string) string { return prefix + "." + sourceName + "." + database + "." + t },
		command: func() *exec.Cmd {
			cmd := exec.Command(bin, "run", "-c", cfg)
			cmd.Env = append(os.Environ(), "TRIBUTARY_BENCH_PASSWORD=tributary")
			return cmd
		},
	}, nil
}

// newDebezium writes the engine's properties (offsets and schema history
// in dir) and runs scripts/debezium/run on them.
func newDebezium(script, connector, dir, prefix, database string, props map[string]string) (*contender, error) {
	props["offset.storage"] = "org.apache.kafka.connect.storage.FileOffsetBackingStore"
	props["offset.storage.file.filename"] = filepath.Join(dir, "offsets.dat")
	props["offset.flush.interval.ms"] = "1000"
	props["topic.prefix"] = prefix
	props["decimal.handling.mode"] = "string" // an exact string, as Tributary encodes DECIMAL
	props["include.schema.changes"] = "false"
	if _, ok := props["schema.history.internal.file.filename"]; ok {
		props["schema.history.internal.file.filename"] = filepath.Join(dir, "schema-history.dat")
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	path := filepath.Join(dir, "engine.properties")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return &contender{
		name:    "debezium",
		version: debeziumVersion(script, connector),
		topic:   func(t string) string { return prefix + "." + database + "." + t },
		command: func() *exec.Cmd { return exec.Command(script, path) },
	}, nil
}

// debeziumVersion asks the runner script which Debezium release runs
// connector (it differs by connector: the newest each has on Maven Central).
func debeziumVersion(script, connector string) string {
	out, err := exec.Command(script, "version", connector).Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// label is the contender's name in tables: Debezium's with its version.
func label(name, version string) string {
	if version == "" {
		return name
	}
	return name + " " + version
}

// debeziumProducer is the KafkaProducer config the runner uses: acks=all
// (forced by the runner) and batching like Tributary's sink (lz4, up to
// 1 MiB per partition batch, 10 ms linger).
func debeziumProducer(kafkaAddr string) map[string]string {
	return map[string]string{
		"producer.bootstrap.servers": kafkaAddr,
		"producer.client.id":         "debezium-bench",
		"producer.compression.type":  "lz4",
		"producer.linger.ms":         "10",
		"producer.batch.size":        "1048576",
	}
}
