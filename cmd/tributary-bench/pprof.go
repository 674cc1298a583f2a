package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// adminLine is the daemon's start-up log line naming its admin address.
var adminLine = regexp.MustCompile(`msg="tributary running".* admin=(\S+)`)

// adminAddr waits until p's log (from where this run of it started) names
// the admin address, and returns it.
func (p *proc) adminAddr(ctx context.Context, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if addr := scanAdminAddr(p.logPath, p.logOffset); addr != "" {
			return addr, nil
		}
		if err := p.alive(); err != nil {
			return "", err
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no %q line in %s within %s", "tributary running", p.logPath, timeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func scanAdminAddr(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := adminLine.FindStringSubmatch(sc.Text()); m != nil {
			return strings.Trim(m[1], `"`)
		}
	}
	return ""
}

// cpuProfiler takes consecutive CPU profiles of a daemon through its
// /debug/pprof/profile endpoint (one second each, so the window ends within
// a second of Stop) and merges them into one file with `go tool pprof`.
type cpuProfiler struct {
	addr   string
	dir    string
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	last   atomic.Bool // Stop was called: take no further part

	mu    sync.Mutex
	parts []string
	err   error
}

func startCPUProfiler(ctx context.Context, addr, dir, name string) *cpuProfiler {
	ctx, cancel := context.WithCancel(ctx)
	cp := &cpuProfiler{addr: addr, dir: dir, name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(cp.done)
		for i := 0; ctx.Err() == nil && !cp.last.Load(); i++ {
			part := filepath.Join(dir, fmt.Sprintf(".%s-cpu-%03d.pb.gz", name, i))
			if err := fetch(ctx, "http://"+addr+"/debug/pprof/profile?seconds=1", part); err != nil {
				if ctx.Err() == nil {
					cp.mu.Lock()
					cp.err = err
					cp.mu.Unlock()
				}
				return
			}
			cp.mu.Lock()
			cp.parts = append(cp.parts, part)
			cp.mu.Unlock()
		}
	}()
	return cp
}

// Stop lets the running one-second profile finish, merges all parts and
// returns the merged file's path.
func (cp *cpuProfiler) Stop(ctx context.Context) (string, error) {
	// The running part covers the end of the phase: let it complete.
	cp.last.Store(true)
	select {
	case <-cp.done:
	case <-time.After(3 * time.Second):
	}
	cp.cancel()
	<-cp.done
	cp.mu.Lock()
	parts, err := cp.parts, cp.err
	cp.mu.Unlock()
	defer func() {
		for _, p := range parts {
			os.Remove(p)
		}
	}()
	if len(parts) == 0 {
		return "", errors.Join(errors.New("no CPU profile taken"), err)
	}
	out := filepath.Join(cp.dir, cp.name+"-cpu.pb.gz")
	args := append([]string{"tool", "pprof", "-proto", "-output", out}, parts...)
	if b, merr := exec.CommandContext(ctx, "go", args...).CombinedOutput(); merr != nil {
		return "", fmt.Errorf("merge %d CPU profiles: %v: %s", len(parts), merr, b)
	}
	return out, err
}

// fetch GETs url into path.
func fetch(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profile starts profiling p's phase ("catch-up", "snapshot") when -pprof
// is set and p is Tributary; the returned func ends it, saving the CPU
// profile of the window and the daemon's allocation profile (cumulative
// since its start).
func (b *sourceBench) profile(ctx context.Context, c *contender, p *proc, phase string) func() {
	if b.o.pprofDir == "" || c.name != "tributary" {
		return func() {}
	}
	if err := os.MkdirAll(b.o.pprofDir, 0o755); err != nil {
		progress("pprof: %v", err)
		return func() {}
	}
	addr, err := p.adminAddr(ctx, 30*time.Second)
	if err != nil {
		progress("pprof: admin address: %v", err)
		return func() {}
	}
	name := b.src.Name() + "-tributary"
	if phase != "catch-up" {
		name += "-" + phase
	}
	cp := startCPUProfiler(ctx, addr, b.o.pprofDir, name)
	return func() {
		path, err := cp.Stop(ctx)
		if err != nil {
			progress("pprof: CPU profile: %v", err)
		}
		if path != "" {
			progress("pprof: CPU profile of the %s in %s", phase, path)
		}
		allocs := filepath.Join(b.o.pprofDir, name+"-allocs.pb.gz")
		if err := fetch(ctx, "http://"+addr+"/debug/pprof/allocs", allocs); err != nil {
			progress("pprof: allocs profile: %v", err)
		} else {
			progress("pprof: allocation profile (since start) in %s", allocs)
		}
	}
}
