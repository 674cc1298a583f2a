package main

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Footprint is what one contender cost during one phase.
type Footprint struct {
	PeakRSSMB   float64 `json:"peak_rss_mb"`   // highest RSS sampled in the phase
	SteadyRSSMB float64 `json:"steady_rss_mb"` // median RSS sampled in the phase
	CPUSeconds  float64 `json:"cpu_seconds"`   // user+system CPU spent in the phase
}

// sampler reads a process's RSS and CPU time from /proc every interval
// until stop. Phases are marked by name; each gets its own footprint.
type sampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	samples []rssSample
	hwmKB   int64 // VmHWM: the kernel's own peak, between samples too
}

type rssSample struct {
	at    time.Time
	rssKB int64
}

func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	rss, hwm, err := readStatus(s.pid)
	if err != nil {
		return // the process exited; the last samples stand
	}
	s.mu.Lock()
	s.samples = append(s.samples, rssSample{time.Now(), rss})
	s.hwmKB = max(s.hwmKB, hwm)
	s.mu.Unlock()
}

// Stop ends sampling; call it before the process is reaped.
func (s *sampler) Stop() {
	close(s.stop)
	<-s.done
}

// phase is a window of a sampler's samples with CPU time at both ends.
type phase struct {
	s     *sampler
	from  time.Time
	cpu0  float64
	hwm0  int64
	ended bool
}

// Begin starts a phase now.
func (s *sampler) Begin() *phase {
	s.sample()
	s.mu.Lock()
	hwm := s.hwmKB
	s.mu.Unlock()
	return &phase{s: s, from: time.Now(), cpu0: cpuSeconds(s.pid), hwm0: hwm}
}

// End closes the phase and returns its footprint. The peak includes the
// kernel's VmHWM when it rose during the phase (a spike between samples).
func (p *phase) End() Footprint {
	p.s.sample()
	cpu := cpuSeconds(p.s.pid) - p.cpu0
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	var rss []int64
	for _, x := range p.s.samples {
		if !x.at.Before(p.from) {
			rss = append(rss, x.rssKB)
		}
	}
	f := Footprint{CPUSeconds: cpu}
	if len(rss) == 0 {
		return f
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	peak := rss[len(rss)-1]
	if p.s.hwmKB > p.hwm0 {
		peak = max(peak, p.s.hwmKB)
	}
	f.PeakRSSMB = float64(peak) / 1024
	f.SteadyRSSMB = float64(rss[len(rss)/2]) / 1024
	return f
}

// readStatus returns VmRSS and VmHWM in KiB.
func readStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
		case "VmHWM:":
			hwm, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return rss, hwm, nil
}

// cpuSeconds is the process's user+system CPU time (all threads), 0 once
// it is gone.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return float64(utime+stime) / clockTicks
}
