package e2e

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A kafka.brokers nothing answers on stops the daemon at start with an
// error naming the key, instead of a daemon that reports "streaming".
func TestUnreachableKafkaAtStartIsNamed(t *testing.T) {
	s := newSetup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	cfg := s.writeConfig(t, "")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.ConfigDir, "closed-kafka.yaml")
	// write_timeout 5s in the test config bounds the probe.
	bad := strings.Replace(string(data), "brokers: [\"127.0.0.1:", "brokers: [\""+closed+"\", \"127.0.0.1:1\"] #", 1)
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "run", "-c", path)
	select {
	case <-d.waited:
	case <-time.After(time.Minute):
		t.Fatalf("the daemon still runs with kafka.brokers at a closed port; log:\n%s", d.logs.String())
	}
	// The daemon has exited, so its output is the only state left: it must
	// name the key and never have reached streaming.
	logs := d.logs.String()
	if d.err == nil || !strings.Contains(logs, "kafka.brokers") || !strings.Contains(logs, closed) || strings.Contains(logs, `msg=streaming`) {
		t.Errorf("exit %v; want a failure naming kafka.brokers and %s before streaming; log:\n%s", d.err, closed, logs)
	}
}
