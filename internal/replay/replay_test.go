package replay

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// history is four transactions; positions are file:pos commit boundaries.
func history() []step {
	var s []step
	s = append(s, txn("bin.000001:100", "bin.000001:200", "c", 1)...)
	s = append(s, txn("bin.000001:200", "bin.000001:300", "cu", 2, 1)...)
	s = append(s, txn("bin.000001:300", "bin.000002:50", "d", 2)...)
	s = append(s, txn("bin.000002:50", "bin.000002:150", "c", 3)...)
	return s
}

func TestReplaySendsTheRangeToOneTopic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, from, to string
		wantKeys       []string // message keys in order; "~" marks a tombstone
		wantEnd        string
		wantTx         uint64
	}{
		{"to is a commit position", "bin.000001:200", "bin.000002:50",
			[]string{`{"id":2}`, `{"id":1}`, `{"id":2}`, `{"id":2}~`}, "bin.000002:50", 2},
		{"to inside a transaction includes it", "bin.000001:200", "bin.000001:250",
			[]string{`{"id":2}`, `{"id":1}`}, "bin.000001:300", 1},
		{"across a file", "bin.000001:300", "bin.000002:100",
			[]string{`{"id":2}`, `{"id":2}~`, `{"id":3}`}, "bin.000002:150", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := &fakeSource{steps: history()}
			snk, newSink := newFakeSink(0)
			sum, err := replay(context.Background(), src, newSink, testParams(t, tc.from, tc.to))
			if err != nil {
				t.Fatal(err)
			}
			if src.from != tc.from {
				t.Errorf("streamed from %q, want %q", src.from, tc.from)
			}
			var keys []string
			for _, m := range snk.msgs {
				if m.Topic != "repair" {
					t.Errorf("message to topic %q, want repair", m.Topic)
				}
				k := string(m.Key)
				if m.Value == nil {
					k += "~"
				}
				keys = append(keys, k)
			}
			if strings.Join(keys, " ") != strings.Join(tc.wantKeys, " ") {
				t.Errorf("keys %v, want %v", keys, tc.wantKeys)
			}
			if sum.End != tc.wantEnd || sum.Transactions != tc.wantTx {
				t.Errorf("end %s after %d transactions, want %s after %d", sum.End, sum.Transactions, tc.wantEnd, tc.wantTx)
			}
			if sum.Written != uint64(len(tc.wantKeys)) || sum.Acked != sum.Written {
				t.Errorf("written %d, acked %d, want %d each", sum.Written, sum.Acked, len(tc.wantKeys))
			}
			if sum.FirstEvent != tc.from {
				t.Errorf("first event at %s, want %s", sum.FirstEvent, tc.from)
			}
			if snk.closes != 1 {
				t.Errorf("sink closed %d times, want 1", snk.closes)
			}
		})
	}
}

func TestReplayEventsMatchThePipelinesIDs(t *testing.T) {
	t.Parallel()
	snk, newSink := newFakeSink(0)
	_, err := replay(context.Background(), &fakeSource{steps: history()}, newSink, testParams(t, "bin.000001:100", "bin.000001:200"))
	if err != nil {
		t.Fatal(err)
	}
	if len(snk.msgs) != 1 || !strings.Contains(string(snk.msgs[0].Value), `"id":"crm:bin.000001:100+0#0"`) {
		t.Fatalf("%d messages (first %q), want one event with id crm:bin.000001:100+0#0", len(snk.msgs), snk.msgs[0].Value)
	}
}

func TestReplayWithoutTombstones(t *testing.T) {
	t.Parallel()
	snk, newSink := newFakeSink(0)
	p := testParams(t, "bin.000001:300", "bin.000002:50")
	p.encoding.Tombstones = false
	sum, err := replay(context.Background(), &fakeSource{steps: history()}, newSink, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(snk.msgs) != 1 || sum.Tombstones != 0 || snk.msgs[0].Value == nil {
		t.Fatalf("got %d messages, %d tombstones; want the delete alone", len(snk.msgs), sum.Tombstones)
	}
}

func TestReplayFailsOnASinkError(t *testing.T) {
	t.Parallel()
	_, newSink := newFakeSink(3)
	sum, err := replay(context.Background(), &fakeSource{steps: history()}, newSink, testParams(t, "bin.000001:100", "bin.000002:150"))
	if err == nil || !strings.Contains(err.Error(), "broker said no") || !strings.Contains(err.Error(), "2 of 5 messages acked") {
		t.Fatalf("err = %v, want the sink's failure with the acked count", err)
	}
	if sum.Acked != 2 {
		t.Errorf("acked %d, want 2", sum.Acked)
	}
}

func TestReplayInterrupted(t *testing.T) {
	t.Parallel()
	// --to lies past everything the fake source has: the replay waits, like
	// a stream following live changes, until its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, newSink := newFakeSink(0)
	sum, err := replay(ctx, &fakeSource{steps: history()}, newSink, testParams(t, "bin.000001:100", "bin.000003:4"))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "interrupted after reading up to bin.000002:150") {
		t.Fatalf("err = %v", err)
	}
	if sum.Acked != 6 {
		t.Errorf("acked %d, want 6", sum.Acked)
	}
}

func TestReplayProgress(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, newSink := newFakeSink(0)
	p := testParams(t, "bin.000001:100", "bin.000003:4")
	var out syncBuffer
	p.progress, p.progressEvery = &out, 20*time.Millisecond
	replay(ctx, &fakeSource{steps: history()}, newSink, p)
	if want := "replay: 5 events, 4 transactions, 6 of 6 messages acked, read up to bin.000002:150"; !strings.Contains(out.String(), want) {
		t.Fatalf("progress %q lacks %q", out.String(), want)
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	base := Options{Source: "crm", From: "bin.000001:4", To: "bin.000002:4", Topic: "repair.crm"}
	tests := []struct {
		name   string
		modify func(*Options)
		want   string // error substring; "" for success
		id     uint32
	}{
		{"default server id", func(o *Options) { o.Source = "shop" }, "", 1007 + ServerIDOffset},
		{"default server id taken by another source", func(*Options) {}, "sources[shop].server_id", 0},
		{"explicit server id", func(o *Options) { o.ServerID = 42 }, "", 42},
		{"server id of a source", func(o *Options) { o.ServerID = 7 }, "sources[crm].server_id", 0},
		{"postgres", func(o *Options) { o.Source = "orders" }, "snapshot", 0},
		{"unknown source", func(o *Options) { o.Source = "nope" }, `source "nope" is not in the config (sources: crm, shop, orders)`, 0},
		{"bad from", func(o *Options) { o.From = "nope" }, "--from", 0},
		{"bad to", func(o *Options) { o.To = "bin:x" }, "--to", 0},
		{"empty range", func(o *Options) { o.To = o.From }, "is not before", 0},
		{"reversed range", func(o *Options) { o.From, o.To = o.To, o.From }, "is not before", 0},
		{"live topic", func(o *Options) { o.Topic = "cdc.crm.shop.users" }, "live topics", 0},
		{"other source's live topic", func(o *Options) { o.Topic = "cdc.shop.x.y" }, "source shop's live topics", 0},
		{"dead letter topic", func(o *Options) { o.Topic = "dlq" }, "dead_letter_topic", 0},
		{"bad topic", func(o *Options) { o.Topic = "a b" }, "allow only", 0},
		{"no topic", func(o *Options) { o.Topic = "" }, "1 to 249", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := base
			o.Config = testConfig(t)
			tc.modify(&o)
			_, p, err := prepare(o)
			if tc.want == "" {
				if err != nil || p.serverID != tc.id {
					t.Fatalf("server id %d, err %v; want %d", p.serverID, err, tc.id)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPrepareRefusesPostgres(t *testing.T) {
	t.Parallel()
	_, _, err := prepare(Options{Config: testConfig(t), Source: "orders", From: "0/1", To: "0/2", Topic: "x"})
	if !errors.Is(err, ErrNoHistory) || !strings.Contains(err.Error(), "confirmed_flush_lsn") {
		t.Fatalf("err = %v", err)
	}
}
