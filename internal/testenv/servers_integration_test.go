package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/segmentio/kafka-go"
)

// These smoke tests prove the test bed: each server answers through the
// library Tributary uses for it.

func TestMariaDBBinlogSmoke(t *testing.T) {
	RequireTCP(t, "MariaDB", MySQLAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbName := UniqueName(t, "smoke")
	admin, err := sql.Open("mysql", MySQLDSN(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	Exec(t, admin, "CREATE DATABASE "+dbName)
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + dbName) })

	var file string
	var pos uint32
	var ignored1, ignored2 any
	if err := admin.QueryRowContext(ctx, "SHOW MASTER STATUS").Scan(&file, &pos, &ignored1, &ignored2); err != nil {
		t.Fatalf("show master status: %v", err)
	}
	Exec(t, admin,
		"CREATE TABLE "+dbName+".t (id INT PRIMARY KEY, name VARCHAR(20))",
		"INSERT INTO "+dbName+".t VALUES (1, 'ada'), (2, 'grace')")

	host, port := splitAddr(t, MySQLAddr())
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: ServerID(), Flavor: mysql.MariaDBFlavor, Host: host, Port: port,
		User: MySQLCDCUser, Password: MySQLCDCPassword,
	})
	defer syncer.Close()
	streamer, err := syncer.StartSync(mysql.Position{Name: file, Pos: pos})
	if err != nil {
		t.Fatalf("start binlog sync: %v", err)
	}
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			t.Fatalf("no row event for %s.t: %v", dbName, err)
		}
		rows, ok := ev.Event.(*replication.RowsEvent)
		if !ok || string(rows.Table.Schema) != dbName {
			continue
		}
		got := fmt.Sprint(rows.Rows)
		if want := "[[1 ada] [2 grace]]"; got != want {
			t.Fatalf("rows = %s, want %s", got, want)
		}
		if names := rows.Table.ColumnNameString(); strings.Join(names, ",") != "id,name" {
			t.Fatalf("column names from row metadata = %v", names)
		}
		return
	}
}

func TestPostgresLogicalReplicationSmoke(t *testing.T) {
	RequireTCP(t, "PostgreSQL", PGAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbName := UniqueName(t, "smoke")
	admin, err := pgx.Connect(ctx, PGURL("postgres"))
	if err != nil {
		t.Fatalf("connect PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbName); err != nil {
		t.Fatal(err)
	}
	slot := dbName + "_slot"
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), PGURL("postgres"))
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1", slot)
		c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbName+" WITH (FORCE)")
	})

	db, err := pgx.Connect(ctx, PGURL(dbName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	for _, s := range []string{
		"CREATE TABLE t (id int PRIMARY KEY, name text)",
		"CREATE PUBLICATION smoke_pub FOR TABLE t",
	} {
		if _, err := db.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}

	replURL := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&replication=database", PGAdminUser, PGAdminPassword, PGAddr(), dbName)
	conn, err := pgconn.Connect(ctx, replURL)
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{}); err != nil {
		t.Fatalf("create slot: %v", err)
	}
	if _, err := db.Exec(ctx, "INSERT INTO t VALUES (7, 'héllo 🌊')"); err != nil {
		t.Fatal(err)
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'smoke_pub'"},
	})
	if err != nil {
		t.Fatalf("start replication: %v", err)
	}
	relations := map[uint32]*pglogrepl.RelationMessage{}
	for {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("no pgoutput insert received: %v", err)
		}
		cd, ok := msg.(*pgproto3CopyData)
		if !ok || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			t.Fatal(err)
		}
		logical, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			t.Fatal(err)
		}
		switch m := logical.(type) {
		case *pglogrepl.RelationMessage:
			relations[m.RelationID] = m
		case *pglogrepl.InsertMessage:
			rel := relations[m.RelationID]
			if rel == nil || rel.RelationName != "t" {
				t.Fatalf("insert for unknown relation %d", m.RelationID)
			}
			got := fmt.Sprintf("%s=%s %s=%s", rel.Columns[0].Name, m.Tuple.Columns[0].Data, rel.Columns[1].Name, m.Tuple.Columns[1].Data)
			if want := "id=7 name=héllo 🌊"; got != want {
				t.Fatalf("insert = %q, want %q", got, want)
			}
			return
		}
	}
}

func TestKafkaProduceConsumeSmoke(t *testing.T) {
	RequireTCP(t, "Kafka", KafkaAddr())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := UniqueName(t, "smoke")
	client := &kafka.Client{Addr: kafka.TCP(KafkaAddr())}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := resp.Errors[topic]; err != nil {
		t.Fatalf("create topic: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(KafkaAddr()), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k1"), Value: []byte(`{"hello":"kafka"}`)}); err != nil {
		t.Fatalf("produce: %v", err)
	}
	recs := NewTopic(topic).ReadUntil(t, 0, kafka.FirstOffset, time.Minute, func(recs []Record) bool { return len(recs) >= 1 })
	if m := recs[0]; string(m.Key) != "k1" || string(m.Value) != `{"hello":"kafka"}` {
		t.Fatalf("consumed key=%q value=%q", m.Key, m.Value)
	}
}
