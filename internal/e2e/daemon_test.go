package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tributaryBinary builds cmd/tributary once per test process.
func tributaryBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tributary-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tributary")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/tributary").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// setup describes one test's private slice of the shared servers.
type setup struct {
	Database  string
	Source    string
	Prefix    string
	ServerID  uint32
	CheckDir  string
	ConfigDir string
}

func newSetup(t *testing.T) *setup {
	name := testenv.UniqueName(t, "e2e")
	dir := t.TempDir()
	return &setup{
		Database: name, Source: "src" + strings.ReplaceAll(name[4:], "_", ""),
		Prefix: "t" + name, ServerID: testenv.ServerID(),
		CheckDir: filepath.Join(dir, "checkpoints"), ConfigDir: dir,
	}
}

func (s *setup) topic(table string) string {
	return s.Prefix + "." + s.Source + "." + s.Database + "." + table
}

// writeConfig writes the daemon's config for this setup's MySQL source
// (heartbeat 1s, read_timeout 5s) and returns its path.
func (s *setup) writeConfig(t *testing.T, extraKafka string) string {
	t.Helper()
	return s.writeConfigWith(t, extraKafka, s.mysqlSource(testenv.MySQLAddr(), time.Second, 5*time.Second))
}

// mysqlSource is the MySQL source block for addr with the given timeouts.
func (s *setup) mysqlSource(addr string, heartbeat, readTimeout time.Duration) string {
	return fmt.Sprintf(`
  - name: %s
    addr: %q
    user: %s
    password_env: TRIBUTARY_TEST_PASSWORD
    server_id: %d
    include: ["%s.*"]
    heartbeat: %s
    read_timeout: %s
`, s.Source, addr, testenv.MySQLCDCUser, s.ServerID, s.Database, heartbeat, readTimeout)
}

// writeConfigWith writes a config with the given sources section.
func (s *setup) writeConfigWith(t *testing.T, extraKafka, sources string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
checkpoints: {dir: %q}
kafka:
  brokers: [%q]
  partitions: 3
  write_timeout: 5s
  max_attempts: 3
%s
topics: {prefix: %q}
pipeline:
  checkpoint_interval: 100ms
  restart_backoff_min: 200ms
  restart_backoff_max: 2s
  shutdown_timeout: 20s
log: {level: debug}
admin: {addr: "127.0.0.1:0"}
sources:%s`, s.CheckDir, testenv.KafkaAddr(), extraKafka, s.Prefix, sources)
	path := filepath.Join(s.ConfigDir, "tributary.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// setWriteTimeout replaces writeConfigWith's kafka.write_timeout: tests
// that wait for the sink to give up on a broker that does not answer take
// write_timeout × max_attempts for it.
func setWriteTimeout(t *testing.T, path string, d time.Duration) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "\n  write_timeout: 5s\n", fmt.Sprintf("\n  write_timeout: %s\n", d), 1)
	if s == string(b) {
		t.Fatal("config has no write_timeout: 5s")
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// daemon is one running tributary process.
type daemon struct {
	cmd    *exec.Cmd
	logs   *syncBuffer
	waited chan struct{}
	err    error
}

func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, nil, args...)
}

// startDaemonEnv is startDaemon with more environment variables
// ("NAME=value"), e.g. the passwords of secured servers.
func startDaemonEnv(t *testing.T, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{logs: &syncBuffer{}, waited: make(chan struct{})}
	d.cmd = exec.Command(tributaryBinary(t), args...)
	d.cmd.Env = append(append(os.Environ(), "TRIBUTARY_TEST_PASSWORD="+testenv.MySQLCDCPassword), env...)
	d.cmd.Stdout = d.logs
	d.cmd.Stderr = d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start tributary: %v", err)
	}
	go func() { d.err = d.cmd.Wait(); close(d.waited) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.waited
		if t.Failed() {
			t.Logf("tributary log (warnings and errors):\n%s", tail(problems(d.logs.String()), 4000))
			t.Logf("tributary log (end):\n%s", tail(d.logs.String(), 2000))
		}
	})
	return d
}

func (d *daemon) kill9(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.waited
}

// stop sends SIGTERM and requires a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.waited:
	case <-time.After(60 * time.Second):
		t.Fatalf("tributary did not stop within 60s of SIGTERM")
	}
	if d.err != nil {
		t.Fatalf("tributary exited with %v after SIGTERM:\n%s", d.err, tail(d.logs.String(), 3000))
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// problems keeps the log lines at WARN and ERROR.
func problems(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

var sinkFailedAt = regexp.MustCompile(`time=(\S+) level=ERROR msg="kafka sink failed`)

// firstSinkFailure is when, after since, the daemon first logged that its
// Kafka sink failed. Only the log has that moment: the sink's failure ends
// its attempt, and so shows in /status, only once the attempt has drained,
// which can be much later. Reports use it; checks read /status.
func firstSinkFailure(d *daemon, since time.Time) string {
	for _, m := range sinkFailedAt.FindAllStringSubmatch(d.logs.String(), -1) {
		if at, err := time.Parse(time.RFC3339Nano, m[1]); err == nil && at.After(since) {
			return at.Sub(since).Round(time.Millisecond).String()
		}
	}
	return "never"
}

// keepLog saves the daemon's whole log to a file when the test fails (the
// failure report shows only its tail).
func keepLog(t *testing.T, d *daemon) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		f, err := os.CreateTemp("", strings.ReplaceAll(t.Name(), "/", "_")+"-*.log")
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(d.logs.String())
		t.Logf("whole tributary log: %s", f.Name())
	})
}

// count is how often the daemon has logged msg (a slog text "msg=" value),
// for reports of what only the log says (a library's own warnings); checks
// read the daemon's state.
func (d *daemon) count(msg string) int {
	return strings.Count(d.logs.String(), msg)
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// grepLines returns the lines of s containing any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// withPipelineSetting adds one setting (e.g. "stall_after: 3s") to the
// pipeline block of the config file at path.
func withPipelineSetting(t *testing.T, path, setting string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), "\npipeline:\n", "\npipeline:\n  "+setting+"\n", 1)
	if out == string(b) {
		t.Fatalf("%s has no pipeline block", path)
	}
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}
