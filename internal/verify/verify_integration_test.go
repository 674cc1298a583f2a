package verify

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/testenv"
)

const acctDDL = `CREATE TABLE acct (id INT NOT NULL PRIMARY KEY, name VARCHAR(50), bal DECIMAL(12,2),
	at TIMESTAMP(6) NULL, doc JSON, raw VARBINARY(8), f FLOAT)`

func acctRows(from, to int) string {
	var vals []string
	for i := from; i <= to; i++ {
		vals = append(vals, fmt.Sprintf("(%d, 'name %d é', %d.%02d, '2024-01-%02d 10:00:00.%06d', '{\"n\": %d}', x'%02x00ff', %d.1)",
			i, i, i*7, i%100, i%28+1, i, i, i%256, i))
	}
	return "INSERT INTO acct VALUES " + strings.Join(vals, ",")
}

func run(t *testing.T, opts Options) TableReport {
	t.Helper()
	var progress bytes.Buffer
	opts.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Tables) != 1 {
		t.Fatalf("%d table reports, want 1", len(rep.Tables))
	}
	if !strings.Contains(progress.String(), "rows compared") {
		t.Errorf("no progress output: %q", progress.String())
	}
	var out bytes.Buffer
	if err := rep.Write(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", out.String())
	return rep.Tables[0]
}

func TestVerifyFindsExactlyTheTamperedKeys(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, acctDDL, acctRows(1, 60))
	r := testReader(t, name)
	prefix := testenv.UniqueName(t, "vp")
	topic := testTopic(t, prefix, name, "acct")
	p := newProducer(t, topic)
	if n := snapshot(t, r, p, name, "acct"); n != 60 {
		t.Fatalf("snapshot produced %d rows, want 60", n)
	}

	opts := Options{
		Source: r, SourceName: testSourceName, Brokers: []string{testenv.KafkaAddr()}, TopicPrefix: prefix,
		ChunkSize: 25, Rechecks: 2, RecheckWait: 100 * time.Millisecond,
	}
	tr := run(t, opts)
	if tr.Differences() != 0 || tr.Rows != 60 || tr.TopicKeys != 60 || tr.Messages != 60 || tr.Topic != topic {
		t.Fatalf("clean table: %+v, want no differences, 60 rows, 60 keys, 60 messages on %s", tr, topic)
	}

	// Changes that keep source and topic in agreement: an update and a
	// delete (with its tombstone) made in both.
	testenv.Exec(t, db, "UPDATE acct SET name = 'renamed' WHERE id = 30", "DELETE FROM acct WHERE id = 20")
	tbl, row30 := readRow(t, r, name, "acct", `{"id":30}`)
	p.send(&capture.Change{Op: capture.OpUpdate, Table: tbl, After: row30})
	row20 := append([]any(nil), row30...)
	row20[0] = int64(20)
	p.send(&capture.Change{Op: capture.OpDelete, Table: tbl, Before: row20})

	// Tampering: a row deleted from the source without a binlog event (so
	// without an event), a forged value in the topic, a row the topic never
	// heard of.
	testenv.Exec(t, db, "SET SESSION sql_log_bin = 0", "DELETE FROM acct WHERE id = 7", acctRows(1000, 1000), "SET SESSION sql_log_bin = 1")
	_, row11 := readRow(t, r, name, "acct", `{"id":11}`)
	forged := append([]any(nil), row11...)
	forged[2] = "11.78" // bal
	p.send(&capture.Change{Op: capture.OpUpdate, Table: tbl, After: forged})

	tr = run(t, opts)
	want := map[string][]string{"missing": {`{"id":1000}`}, "extra": {`{"id":7}`}, "differing": {`{"id":11}`}}
	got := map[string][]string{"missing": tr.Missing.Keys, "extra": tr.Extra.Keys, "differing": tr.Differing.Keys}
	if !reflect.DeepEqual(got, want) || tr.Missing.Count != 1 || tr.Extra.Count != 1 || tr.Differing.Count != 1 {
		t.Errorf("differences = %v (counts %d/%d/%d), want %v", got, tr.Missing.Count, tr.Extra.Count, tr.Differing.Count, want)
	}
	if tr.Rows != 59 || tr.TopicKeys != 59 || tr.Rechecks != 2 || tr.Resolved != 0 {
		t.Errorf("rows %d, topic keys %d, rechecks %d, resolved %d; want 59, 59, 2, 0", tr.Rows, tr.TopicKeys, tr.Rechecks, tr.Resolved)
	}

	// Without re-checks the same differences are reported, unconfirmed.
	opts.Rechecks = -1
	tr = run(t, opts)
	if tr.Differences() != 3 || tr.NotRechecked != 3 || tr.Rechecks != 0 {
		t.Errorf("without re-checks: %d differences, %d not re-checked, %d rounds; want 3, 3, 0", tr.Differences(), tr.NotRechecked, tr.Rechecks)
	}
}

// TestVerifyRechecksWritesInFlight changes rows in the source and delivers
// their events only while verify runs: the keys first differ, then agree on
// re-check, and nothing is reported.
func TestVerifyRechecksWritesInFlight(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, acctDDL, acctRows(1, 40))
	r := testReader(t, name)
	prefix := testenv.UniqueName(t, "vp")
	p := newProducer(t, testTopic(t, prefix, name, "acct"))
	snapshot(t, r, p, name, "acct")

	// The source moves ahead of the topic: an update, an insert, a delete.
	testenv.Exec(t, db, "UPDATE acct SET bal = bal + 1 WHERE id = 5", acctRows(41, 41), "DELETE FROM acct WHERE id = 9")
	tbl, row5 := readRow(t, r, name, "acct", `{"id":5}`)
	_, row41 := readRow(t, r, name, "acct", `{"id":41}`)
	row9 := append([]any(nil), row5...)
	row9[0] = int64(9)

	// The "daemon" delivers them a moment later.
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		time.Sleep(700 * time.Millisecond)
		p.send(&capture.Change{Op: capture.OpUpdate, Table: tbl, After: row5})
		p.send(&capture.Change{Op: capture.OpCreate, Table: tbl, After: row41})
		p.send(&capture.Change{Op: capture.OpDelete, Table: tbl, Before: row9})
	}()
	tr := run(t, Options{
		Source: r, SourceName: testSourceName, Brokers: []string{testenv.KafkaAddr()}, TopicPrefix: prefix,
		Rechecks: 5, RecheckWait: 500 * time.Millisecond,
	})
	<-delivered
	if tr.Differences() != 0 {
		t.Errorf("writes in flight reported as differences: missing %v extra %v differing %v", tr.Missing.Keys, tr.Extra.Keys, tr.Differing.Keys)
	}
	if tr.Resolved != 3 {
		t.Errorf("resolved %d suspects on re-check, want 3", tr.Resolved)
	}
}

// TestVerifyMissingTopicAndPartialImages: a table whose topic does not
// exist is all missing; an event with absent columns is compared on the
// columns it carried.
func TestVerifyMissingTopicAndPartialImages(t *testing.T) {
	t.Parallel()
	db, name := testDB(t)
	testenv.Exec(t, db, acctDDL, acctRows(1, 3))
	r := testReader(t, name)
	opts := Options{
		Source: r, SourceName: testSourceName, Brokers: []string{testenv.KafkaAddr()},
		TopicPrefix: testenv.UniqueName(t, "vp"), Rechecks: -1,
	}
	tr := run(t, opts)
	if !tr.TopicMissing || tr.Missing.Count != 3 || tr.Differences() != 3 {
		t.Fatalf("missing topic: %+v, want 3 missing", tr)
	}

	p := newProducer(t, testTopic(t, opts.TopicPrefix, name, "acct"))
	snapshot(t, r, p, name, "acct")
	// An update whose event lacks the doc column (as with binlog_row_image=NOBLOB).
	testenv.Exec(t, db, `UPDATE acct SET doc = '{"changed": true}', name = 'x' WHERE id = 2`)
	tbl, row2 := readRow(t, r, name, "acct", `{"id":2}`)
	partial := append([]any(nil), row2...)
	partial[4] = capture.Absent
	p.send(&capture.Change{Op: capture.OpUpdate, Table: tbl, After: partial})
	tr = run(t, opts)
	if tr.Differences() != 0 || tr.Partial != 1 {
		t.Errorf("partial image: %d differences, %d partial; want 0 and 1", tr.Differences(), tr.Partial)
	}
	// A message that is not an event fails verification, naming the offset.
	p.write(kafka.Message{Key: []byte(`{"id":3}`), Value: []byte("garbage")})
	if _, err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "not an event") {
		t.Errorf("garbage message: err = %v, want not an event", err)
	}
}
