package e2e

import (
	"context"
	"fmt"
	"net"
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

// Kafka Connect standalone with Debezium's JDBC sink (scripts/connect/run,
// jars fetched once from Maven Central into the cache).

const connectScript = "../../scripts/connect/run"

// connectConverter is the worker's key and value converter settings.
type connectConverter map[string]string

// jsonConverter reads JSON with schemas (format debezium, schemas: true).
var jsonConverter = connectConverter{
	"key.converter":                  "org.apache.kafka.connect.json.JsonConverter",
	"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
	"key.converter.schemas.enable":   "true",
	"value.converter.schemas.enable": "true",
}

var (
	connectBuildOnce sync.Once
	connectBuildErr  error
)

// buildConnect fetches the jars once per test process; with the cache
// filled it returns at once.
func buildConnect(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"java", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the Kafka Connect test needs %s (scripts/services up installs it): %v", tool, err)
		}
	}
	connectBuildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, connectScript, "build").CombinedOutput(); err != nil {
			connectBuildErr = fmt.Errorf("%s build: %v\n%s", connectScript, err, out)
		}
	})
	if connectBuildErr != nil {
		t.Fatal(connectBuildErr)
	}
}

// connectSink is one JDBC sink connector: Topic into table t of the
// PostgreSQL database Database. Name is unique per test: it names the
// connector and so its consumer group (connect-<Name>).
type connectSink struct {
	Name, Topic, Database string
	Converter             connectConverter
}

// connectProc is one running Kafka Connect worker (a JVM).
type connectProc struct {
	cmd     *exec.Cmd
	logPath string
	waited  chan struct{}
	err     error
}

// startConnect starts a standalone worker running Debezium's JDBC sink
// for sink (see startConnectWorker).
func startConnect(t *testing.T, sink connectSink) *connectProc {
	t.Helper()
	return startConnectWorker(t, sink.Name, sink.Converter, map[string]string{
		"name":                   "jdbc-" + sink.Name,
		"connector.class":        "io.debezium.connector.jdbc.JdbcSinkConnector",
		"tasks.max":              "1",
		"topics":                 sink.Topic,
		"connection.url":         fmt.Sprintf("jdbc:postgresql://%s/%s", testenv.PGAddr(), sink.Database),
		"connection.username":    testenv.PGAdminUser,
		"connection.password":    testenv.PGAdminPassword,
		"insert.mode":            "upsert",
		"primary.key.mode":       "record_key",
		"delete.enabled":         "true",
		"schema.evolution":       "basic",
		"collection.name.format": "t",
	})
}

// startConnectWorker writes the worker properties (settings over the
// defaults here) and the connector's, and starts a standalone worker (its
// offsets in a file of its own, its REST listener on a free loopback
// port). name is unique per test: it names the worker's clients. It is
// stopped at cleanup.
func startConnectWorker(t *testing.T, name string, settings, connector map[string]string) *connectProc {
	t.Helper()
	buildConnect(t)
	dir := t.TempDir()
	worker := map[string]string{
		"bootstrap.servers":            testenv.KafkaAddr(),
		"offset.storage.file.filename": filepath.Join(dir, "connect.offsets"),
		"offset.flush.interval.ms":     "1000",
		"listeners":                    "http://" + freeLoopbackAddr(t),
		"consumer.auto.offset.reset":   "earliest",
		"consumer.client.id":           "connect-" + name,
	}
	for k, v := range settings {
		worker[k] = v
	}
	wp, cp := filepath.Join(dir, "worker.properties"), filepath.Join(dir, "connector.properties")
	writeProperties(t, wp, worker)
	writeProperties(t, cp, connector)
	logPath := filepath.Join(dir, "connect.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProc{cmd: exec.Command(connectScript, wp, cp), logPath: logPath, waited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start Kafka Connect: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.waited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("Kafka Connect log (%s, warnings and errors):\n%s", logPath, tail(debeziumProblems(p.log()), 6000))
		}
	})
	return p
}

func writeProperties(t *testing.T, path string, props map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// freeLoopbackAddr is a loopback address nothing listened on a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *connectProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// alive fails the test with the log's tail once the worker has exited, or
// once its task has failed (a failed task stays failed; the worker lives on).
func (p *connectProc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.waited:
		t.Fatalf("Kafka Connect exited: %v; log ends:\n%s", p.err, tail(p.log(), 4000))
	default:
	}
	if logs := p.log(); strings.Contains(logs, "is being killed and will not recover until manually restarted") {
		t.Fatalf("a connector task failed; log:\n%s", tail(debeziumProblems(logs), 6000))
	}
}

// stop sends SIGTERM (the worker stops its connector and exits), SIGKILL
// after 30 s.
func (p *connectProc) stop() {
	select {
	case <-p.waited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.waited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.waited
	}
}

var (
	connectAvroOnce    sync.Once
	connectAvroPlugins string
	connectAvroErr     error
)

// apicurioConverter reads Avro in the Confluent wire format (magic byte,
// 4-byte id) through Apicurio's converter, loaded from its own plugin
// directory. Apicurio's Confluent-compatible API hands out content ids, so
// the converter looks ids up as content ids, in the registry's v2 API.
func apicurioConverter(t *testing.T) connectConverter {
	t.Helper()
	testenv.RegistryURL(t)
	connectAvroOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, connectScript, "build-avro").Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			connectAvroErr = fmt.Errorf("%s build-avro: %v\n%s", connectScript, err, msg)
		}
		connectAvroPlugins = strings.TrimSpace(string(out))
	})
	if connectAvroErr != nil {
		t.Fatal(connectAvroErr)
	}
	conv := connectConverter{"plugin.path": connectAvroPlugins}
	for _, side := range []string{"key", "value"} {
		p := side + ".converter"
		conv[p] = "io.apicurio.registry.utils.converter.AvroConverter"
		conv[p+".apicurio.registry.url"] = "http://" + testenv.RegistryAddr() + "/apis/registry/v2"
		conv[p+".apicurio.registry.as-confluent"] = "true"
		conv[p+".apicurio.registry.use-id"] = "contentId"
		conv[p+".apicurio.registry.headers.enabled"] = "false"
	}
	return conv
}
