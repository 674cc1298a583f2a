package verify

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/segmentio/kafka-go"

	"github.com/tributary-cdc/tributary/capture"
	mysqlsource "github.com/tributary-cdc/tributary/capture/mysql"
	"github.com/tributary-cdc/tributary/internal/testenv"
	kafkasink "github.com/tributary-cdc/tributary/sink/kafka"
	"github.com/tributary-cdc/tributary/transform"
)

const testSourceName = "vt"

// testDB creates a unique database and returns an admin connection to it.
func testDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	testenv.RequireTCP(t, "MariaDB", testenv.MySQLAddr())
	testenv.RequireTCP(t, "Kafka", testenv.KafkaAddr())
	name := testenv.UniqueName(t, "ver")
	admin, err := sql.Open("mysql", testenv.MySQLDSN(""))
	if err != nil {
		t.Fatalf("open MariaDB: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	testenv.Exec(t, admin, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	db, err := sql.Open("mysql", testenv.MySQLDSN(name))
	if err != nil {
		t.Fatalf("open MariaDB: %v", err)
	}
	db.SetMaxOpenConns(1) // session settings (sql_log_bin) must stick
	t.Cleanup(func() { db.Close() })
	return db, name
}

// testReader reads database db as the CDC user.
func testReader(t *testing.T, db string) *mysqlsource.Reader {
	t.Helper()
	r, err := mysqlsource.NewReader(testSourceName, mysqlsource.Config{
		Addr: testenv.MySQLAddr(), User: testenv.MySQLCDCUser, Password: testenv.MySQLCDCPassword,
		ServerID: testenv.ServerID(), Include: []string{db + ".*"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// testTopic creates the topic of db.table under a unique prefix.
func testTopic(t *testing.T, prefix, db, table string) string {
	t.Helper()
	topic := transform.TopicName(prefix, testSourceName, db, table)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(testenv.KafkaAddr()), Transport: &kafka.Transport{}}
	if err := kafkasink.EnsureTopic(ctx, client, topic, 3, 1); err != nil {
		t.Fatal(err)
	}
	return topic
}

// producer writes canonical events like the daemon does (key bytes from
// transform.EncodeKey, Murmur2 partitioning, acks=all).
type producer struct {
	t *testing.T
	w *kafka.Writer
	n int
}

func newProducer(t *testing.T, topic string) *producer {
	w := &kafka.Writer{
		Addr: kafka.TCP(testenv.KafkaAddr()), Topic: topic,
		Balancer: &kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 10 * time.Millisecond, Transport: &kafka.Transport{},
	}
	t.Cleanup(func() { w.Close() })
	return &producer{t: t, w: w}
}

// send builds the events of c and writes them, plus a tombstone after a
// delete.
func (p *producer) send(c *capture.Change) {
	p.t.Helper()
	p.n++
	if c.EventPosition == "" {
		c.EventPosition = "test:" + time.Now().Format("150405.000000")
		c.RowIndex = p.n
	}
	evs, err := transform.Build(testSourceName, transform.ConnectorMySQL, c, time.Now())
	if err != nil {
		p.t.Fatalf("build: %v", err)
	}
	var msgs []kafka.Message
	for _, ev := range evs {
		v, err := ev.AppendJSON(nil)
		if err != nil {
			p.t.Fatalf("encode: %v", err)
		}
		key := transform.EncodeKey(&ev)
		msgs = append(msgs, kafka.Message{Key: key, Value: v})
		if ev.Op == capture.OpDelete {
			msgs = append(msgs, kafka.Message{Key: key})
		}
	}
	p.write(msgs...)
}

func (p *producer) write(msgs ...kafka.Message) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		p.t.Fatalf("produce: %v", err)
	}
}

// snapshot produces an "r" event for every row of db.table read through r.
func snapshot(t *testing.T, r *mysqlsource.Reader, p *producer, db, table string) int {
	t.Helper()
	var after []any
	n := 0
	for {
		tbl, rows, err := r.ReadChunk(context.Background(), db, table, after, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			p.send(&capture.Change{Op: capture.OpRead, Table: tbl, After: row, Snapshot: true})
			n++
		}
		if len(rows) < 7 {
			return n
		}
		after = nil
		for _, i := range tbl.Key {
			after = append(after, rows[len(rows)-1][i])
		}
	}
}

// readRow reads one row by key through r, failing the test if it is absent.
func readRow(t *testing.T, r *mysqlsource.Reader, db, table, key string) (*capture.Table, []any) {
	t.Helper()
	tbl, row, err := r.ReadKey(context.Background(), db, table, []byte(key))
	if err != nil || row == nil {
		t.Fatalf("ReadKey %s: %v, %v", key, row, err)
	}
	return tbl, row
}
