package e2e

// Stopping, starting and freezing the servers scripts/services runs. They
// are shared with every other test, so a test that disturbs one does not
// run in parallel and puts it back in t.Cleanup whatever happens.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// services runs scripts/services with args.
func services(args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../../scripts/services", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("scripts/services %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// stopServer stops one of scripts/services' servers; it is started again
// when the test ends, whatever happened.
func stopServer(t *testing.T, svc string) {
	t.Helper()
	t.Cleanup(func() {
		if err := services("up", svc); err != nil {
			t.Errorf("restore %s: %v", svc, err)
		}
	})
	if err := services("stop", svc); err != nil {
		t.Fatal(err)
	}
}

// startServer starts svc again and returns how long that took.
func startServer(t *testing.T, svc string) time.Duration {
	t.Helper()
	start := time.Now()
	if err := services("up", svc); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// freezeKafka SIGSTOPs the broker; it is continued when the test ends.
func freezeKafka(t *testing.T) (thaw func()) {
	t.Helper()
	pid := kafkaPID(t)
	var once sync.Once
	thaw = func() { once.Do(func() { syscall.Kill(pid, syscall.SIGCONT) }) }
	t.Cleanup(thaw)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("freeze Kafka (pid %d): %v", pid, err)
	}
	return thaw
}

// kafkaPID is the broker process scripts/services started.
func kafkaPID(t *testing.T) int {
	t.Helper()
	dir := os.Getenv("TRIBUTARY_SERVICES_DIR")
	if dir == "" {
		dir = "../../.services"
	}
	b, err := os.ReadFile(filepath.Join(dir, "kafka", "kafka.pid"))
	if err != nil {
		t.Fatalf("find the Kafka broker's pid (set TRIBUTARY_SERVICES_DIR): %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}
