package e2e

// What the kernel tells about the daemon process: its resident memory and
// its TCP connections.

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// rssBytes is the resident set size of process pid.
func rssBytes(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read RSS of pid %d: %v", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("parse VmRSS %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// rssSampler samples a process's RSS every 100ms until stopped.
type rssSampler struct {
	mu      sync.Mutex
	peak    int64
	samples int
	stop    chan struct{}
	done    chan struct{}
}

func sampleRSS(t *testing.T, pid int) *rssSampler {
	r := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err == nil {
				if m := vmRSS.FindSubmatch(b); m != nil {
					kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
					r.mu.Lock()
					r.peak = max(r.peak, kb<<10)
					r.samples++
					r.mu.Unlock()
				}
			}
			select {
			case <-r.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { r.finish() })
	return r
}

var vmRSS = regexp.MustCompile(`VmRSS:\s+(\d+) kB`)

// finish stops sampling and returns the peak and the number of samples.
func (r *rssSampler) finish() (peak int64, samples int) {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak, r.samples
}

const mib = 1 << 20

// tcpPeers counts process pid's established TCP connections by remote
// 127.0.0.1 port.
func tcpPeers(t *testing.T, pid int) map[int]int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("list the daemon's descriptors: %v", err)
	}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	peers := map[int]int{}
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			// sl local rem st ... inode(9)
			if len(fl) < 10 || fl[3] != "01" || !inodes[fl[9]] { // 01: ESTABLISHED
				continue
			}
			_, port, ok := strings.Cut(fl[2], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(port, 16, 32); err == nil {
				peers[int(p)]++
			}
		}
		f.Close()
	}
	return peers
}

func portOf(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.Atoi(p)
	return n
}
