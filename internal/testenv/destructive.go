package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// takeServiceForTest holds a destructive test-bed service (one a test
// kills or promotes) for the test: a lock file under its directory keeps
// other test processes off it until the test ends, and `scripts/services
// reset <service>` re-creates it fresh. It returns the service's directory.
func takeServiceForTest(t testing.TB, service, what string) string {
	t.Helper()
	dir := filepath.Join(ServicesDir(), service)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "test.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", what, err)
	}
	t.Cleanup(func() { lock.Close() }) // releases the lock
	cmd := exec.Command(filepath.Join(moduleRoot(), "scripts", "services"), "reset", service)
	cmd.Env = append(os.Environ(), "TRIBUTARY_SERVICES_DIR="+ServicesDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/services reset %s: %v\n%s", service, err, out)
	}
	return dir
}
