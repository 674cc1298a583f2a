package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topic reads one Kafka topic partition by partition, the way a test checks
// what a producer wrote. Records come back as the broker stores them: a nil
// value is a tombstone and an empty value stays empty (kafka.Reader returns
// both as nil), each partition in offset order. It fetches with its own
// transport, so a test that drops a Topic after an error starts the next
// one on fresh connections.
type Topic struct {
	Name      string
	client    *kafka.Client
	transport *kafka.Transport
}

// Record is one message as stored on a partition.
type Record struct {
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte // nil: a tombstone
	Time      time.Time
	Headers   []kafka.Header
}

// PartitionOffsets are a partition's first offset (older records were
// deleted by retention) and its end: the high watermark, one past the last
// record.
type PartitionOffsets struct {
	Partition  int
	First, End int64
}

// NewTopic reads topic on the plaintext listener at KafkaAddr.
func NewTopic(name string) *Topic { return NewTopicAt(KafkaAddr(), name, nil) }

// NewTopicAt reads topic on the broker at addr; transport carries TLS and
// SASL settings (nil: plaintext). The Topic owns the transport.
func NewTopicAt(addr, name string, transport *kafka.Transport) *Topic {
	if transport == nil {
		transport = &kafka.Transport{}
	}
	return &Topic{Name: name, transport: transport, client: &kafka.Client{Addr: kafka.TCP(addr), Transport: transport}}
}

// Close drops the topic's connections.
func (tp *Topic) Close() { tp.transport.CloseIdleConnections() }

// Offsets returns every partition's offsets, sorted by partition. Right
// after a topic is created (or the broker restarted) the broker may answer
// that it does not lead a partition yet; Offsets asks again until ctx ends.
func (tp *Topic) Offsets(ctx context.Context) ([]PartitionOffsets, error) {
	for {
		out, err := tp.offsets(ctx)
		if err == nil || !leadershipSettling(err) {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// leadershipSettling reports the errors a broker gives while it takes up
// leadership of a partition.
func leadershipSettling(err error) bool {
	return errors.Is(err, kafka.NotLeaderForPartition) || errors.Is(err, kafka.LeaderNotAvailable) ||
		errors.Is(err, kafka.ReplicaNotAvailable)
}

func (tp *Topic) offsets(ctx context.Context) ([]PartitionOffsets, error) {
	md, err := tp.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{tp.Name}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", tp.Name, err)
	}
	if len(md.Topics) != 1 || md.Topics[0].Error != nil {
		return nil, fmt.Errorf("metadata of %s: %+v", tp.Name, md.Topics)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	res, err := tp.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{tp.Name: reqs}})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", tp.Name, err)
	}
	var out []PartitionOffsets
	for _, po := range res.Topics[tp.Name] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s partition %d: %w", tp.Name, po.Partition, po.Error)
		}
		out = append(out, PartitionOffsets{Partition: po.Partition, First: po.FirstOffset, End: po.LastOffset})
	}
	slices.SortFunc(out, func(a, b PartitionOffsets) int { return a.Partition - b.Partition })
	return out, nil
}

// Fetch sends one fetch request for partition from offset from (or
// kafka.FirstOffset) and returns the records the broker answered with,
// those before from dropped. With nothing past from the broker waits up to
// maxWait and the answer is empty.
func (tp *Topic) Fetch(ctx context.Context, partition int, from int64, maxWait time.Duration) ([]Record, error) {
	res, err := tp.client.Fetch(ctx, &kafka.FetchRequest{
		Topic: tp.Name, Partition: partition, Offset: from, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: maxWait,
	})
	if err == nil {
		err = res.Error
	}
	if err != nil {
		return nil, fmt.Errorf("fetch %s partition %d at %d: %w", tp.Name, partition, from, err)
	}
	var out []Record
	for {
		r, err := res.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read %s partition %d: %w", tp.Name, partition, err)
		}
		if r.Offset < from {
			continue // a batch may start before the offset asked for
		}
		key, err := readBytes(r.Key)
		if err == nil {
			var value []byte
			value, err = readBytes(r.Value)
			out = append(out, Record{Partition: partition, Offset: r.Offset, Key: key, Value: value, Time: r.Time, Headers: r.Headers})
		}
		if err != nil {
			return out, fmt.Errorf("read %s partition %d at %d: %w", tp.Name, partition, r.Offset, err)
		}
	}
}

// followWait is how long one fetch of Follow waits at the broker for new
// records; each fetch is bounded by followWait plus followSlack, so a
// frozen broker shows as an error rather than a hang.
const (
	followWait  = 100 * time.Millisecond
	followSlack = 10 * time.Second
)

// Follow reads partition from offset from (or kafka.FirstOffset) on,
// calling fn with each record in offset order, until fn returns false
// (nil), ctx is done (ctx.Err()) or a fetch fails (its error). next is the
// offset after the last record handed to fn, where a new Follow goes on
// without reading anything twice; kafka.FirstOffset still if none was.
func (tp *Topic) Follow(ctx context.Context, partition int, from int64, fn func(Record) bool) (next int64, err error) {
	next = from
	for {
		if err := ctx.Err(); err != nil {
			return next, err
		}
		fctx, cancel := context.WithTimeout(ctx, followWait+followSlack)
		recs, err := tp.Fetch(fctx, partition, next, followWait)
		cancel()
		for _, r := range recs {
			next = r.Offset + 1
			if !fn(r) {
				return next, nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return next, ctx.Err()
			}
			if deadlinePassed(ctx) {
				// A fetch cut by ctx's deadline fails as a network timeout,
				// sometimes a moment before ctx reports it.
				return next, context.DeadlineExceeded
			}
			if leadershipSettling(err) {
				// A topic just created: the broker is taking up its
				// partitions' leadership. Ask again until ctx ends.
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return next, err
		}
	}
}

// deadlinePassed reports whether ctx's deadline is (about) now or past.
func deadlinePassed(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < 10*time.Millisecond
}

// Ends is every partition's end offset, indexed by partition: records
// written from now on get offsets at or past it.
func (tp *Topic) Ends(t testing.TB) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := tp.Offsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]int64, len(offs))
	for i, po := range offs {
		ends[i] = po.End
	}
	return ends
}

// ReadAll reads every record the topic holds now: each partition's end
// offset first, then every record up to it, partition after partition.
func (tp *Topic) ReadAll(t testing.TB) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := tp.Offsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, po := range offs {
		for next := po.First; next < po.End; {
			recs, err := tp.Fetch(ctx, po.Partition, next, 0)
			if err != nil && leadershipSettling(err) && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond) // the broker is taking up leadership: ask again
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 {
				break // only control records (transaction markers) are left before the end
			}
			for _, r := range recs {
				if r.Offset >= po.End {
					next = po.End
					break
				}
				out = append(out, r)
				next = r.Offset + 1
			}
		}
	}
	return out
}

// ReadUntil reads partition from offset from (or kafka.FirstOffset) until
// done holds for the records read so far, and returns them; it fails the
// test after timeout.
func (tp *Topic) ReadUntil(t testing.TB, partition int, from int64, timeout time.Duration, done func([]Record) bool) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []Record
	if done(out) {
		return out
	}
	_, err := tp.Follow(ctx, partition, from, func(r Record) bool {
		out = append(out, r)
		return !done(out)
	})
	if err != nil {
		t.Fatalf("read %s partition %d after %d records: %v", tp.Name, partition, len(out), err)
	}
	return out
}

// readBytes reads b whole: nil stays nil, empty stays empty.
func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	defer b.Close()
	out := make([]byte, b.Len())
	_, err := io.ReadFull(b, out)
	return out, err
}
