package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
)

// Latency is commit→arrival of one fixed-rate run.
type Latency struct {
	TargetRate int     `json:"target_rows_per_s"`
	WriterRate float64 `json:"achieved_rows_per_s"`
	Seconds    float64 `json:"seconds"`
	Rows       int64   `json:"rows"`
	Arrived    int64   `json:"arrived"`
	P50ms      float64 `json:"p50_ms"`
	P95ms      float64 `json:"p95_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
	TailP99ms  float64 `json:"last_10pct_p99_ms"`
	// InsertP50ms and InsertP99ms are how long the writer's own INSERT (its
	// commit included) took: a slow commit shows here, not as the daemon's.
	InsertP50ms float64 `json:"insert_p50_ms"`
	InsertP99ms float64 `json:"insert_p99_ms"`
	KeptUp      bool    `json:"kept_up"`
	KeptUpNotes string  `json:"kept_up_notes,omitempty"`
}

// probeTable is the latency table: committed_at is set by the server
// (NOW(6) / clock_timestamp()) in the row's own single-row transaction.
const probeTable = "latency_probe"

// runLatency commits rate rows/s into probeTable for d, ids from firstID,
// while one reader per partition of topic records each row's arrival.
// The reader starts at the topic's current end, so earlier rows are ignored.
func runLatency(ctx context.Context, k *benchKafka, db *sql.DB, dl dialect, topic string, firstID int64, rate int, d time.Duration) (Latency, error) {
	res := Latency{TargetRate: rate, Seconds: d.Seconds()}
	offs, err := k.endOffsets(ctx, topic)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	lat := map[int64]time.Duration{}
	var parseErr atomic.Value
	rctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	var readers sync.WaitGroup
	for p, off := range offs[topic] {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{k.addr}, Topic: topic, Partition: p,
			MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 50 * time.Millisecond, ReadLagInterval: -1})
		if err := r.SetOffset(off); err != nil {
			return res, err
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					return
				}
				at := time.Now()
				if m.Value == nil {
					continue
				}
				id, committed, err := probeRow(m.Key, m.Value)
				if err != nil {
					parseErr.CompareAndSwap(nil, err)
					continue
				}
				if id < firstID {
					continue
				}
				mu.Lock()
				if _, dup := lat[id]; !dup {
					lat[id] = at.Sub(committed)
				}
				mu.Unlock()
			}
		}()
	}

	// The schedule is absolute (row i is due at start+i/rate) so a slow
	// insert is caught up on, not carried forward. One single-row commit
	// takes about a millisecond here, so the writers scale with the rate:
	// enough connections in flight for the servers to group-commit.
	total := int64(float64(rate) * d.Seconds())
	writers := latencyWriters(rate)
	db.SetMaxOpenConns(writers)
	db.SetMaxIdleConns(writers)
	q := dl.sql("INSERT INTO " + probeTable + " (id, committed_at, payload) VALUES (?, NOW(), ?)")
	payload := sentence(newRand(uint64(firstID)), 200)
	jobs := make(chan int64, 1024)
	inserts := make([][]time.Duration, writers)
	g, gctx := errgroup.WithContext(ctx)
	for w := range writers {
		g.Go(func() error {
			for id := range jobs {
				began := time.Now()
				if _, err := db.ExecContext(gctx, q, id, payload); err != nil {
					return fmt.Errorf("latency insert: %w", err)
				}
				inserts[w] = append(inserts[w], time.Since(began))
			}
			return nil
		})
	}
	start := time.Now()
	g.Go(func() error {
		defer close(jobs)
		for i := int64(0); i < total; i++ {
			due := start.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				time.Sleep(wait)
			}
			select {
			case jobs <- firstID + i:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return res, err
	}
	res.Rows = total
	res.WriterRate = float64(total) / time.Since(start).Seconds()

	// Wait for the stragglers: at most 60 s after the writer finished.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := int64(len(lat))
		mu.Unlock()
		if n >= total {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopReaders()
	readers.Wait()
	if err, _ := parseErr.Load().(error); err != nil {
		return res, err
	}
	summarize(&res, lat, firstID, total)
	all := slices.Concat(inserts...)
	res.InsertP50ms, res.InsertP99ms = millis(percentile(all, 50)), millis(percentile(all, 99))
	return res, nil
}

// latencyWriters is the number of connections committing the probe rows:
// one per 250 rows/s, at least 4 and at most 64 (the servers allow 151
// and 300 connections).
func latencyWriters(rate int) int {
	return min(max(rate/250, 4), 64)
}

// summarize fills the percentiles. The daemon kept up when every row
// arrived and the last tenth of the rows (by commit order) saw a p99 under
// one second: a backlog would have grown towards the end.
func summarize(res *Latency, lat map[int64]time.Duration, firstID, total int64) {
	res.Arrived = int64(len(lat))
	all := make([]time.Duration, 0, len(lat))
	var tail []time.Duration
	for id, l := range lat {
		all = append(all, l)
		if id-firstID >= total*9/10 {
			tail = append(tail, l)
		}
	}
	if len(all) == 0 {
		res.KeptUpNotes = "no row arrived"
		return
	}
	res.P50ms, res.P95ms = millis(percentile(all, 50)), millis(percentile(all, 95))
	res.P99ms, res.Maxms = millis(percentile(all, 99)), millis(percentile(all, 100))
	res.TailP99ms = millis(percentile(tail, 99))
	switch {
	case res.Arrived < total:
		res.KeptUpNotes = fmt.Sprintf("%d of %d rows arrived within 60 s after the writer stopped", res.Arrived, total)
	case res.TailP99ms >= 1000:
		res.KeptUpNotes = fmt.Sprintf("backlog: p99 of the last 10%% of rows was %.0f ms", res.TailP99ms)
	default:
		res.KeptUp = true
	}
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	i := int(p/100*float64(len(xs))+0.5) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// probeRow reads the id from the key and after.committed_at from the
// value. Both Tributary's events and Debezium's JSON envelope (schemas
// disabled) have {"id":…} keys and an "after" object.
func probeRow(key, value []byte) (int64, time.Time, error) {
	var k struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(key, &k); err != nil {
		return 0, time.Time{}, fmt.Errorf("probe key %q: %w", key, err)
	}
	i := bytes.Index(value, []byte(`"committed_at":"`))
	if i < 0 {
		return 0, time.Time{}, fmt.Errorf("probe value has no committed_at: %.200s", value)
	}
	rest := value[i+len(`"committed_at":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0, time.Time{}, fmt.Errorf("probe value: unterminated committed_at")
	}
	ts, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("probe committed_at: %w", err)
	}
	return k.ID, ts, nil
}
