package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// snapshotYAML is the snapshot: key both source kinds take.
func snapshotYAML(table string, chunk int) string {
	return fmt.Sprintf("    snapshot: {mode: initial, chunk_size: %d, rows_per_second: 0, parallel: 1, tables: [%q]}\n", chunk, table)
}

// The snapshot tables' first column is their BIGINT primary key, id.
const keysetQuery = "SELECT * FROM %s WHERE id > %s ORDER BY id LIMIT %s"

func (s *mariadbSource) CreateSnapshotTable(ctx context.Context, table string) error {
	_, err := s.db.ExecContext(ctx, "CREATE TABLE "+table+" LIKE "+crmTables[0].name)
	return err
}

func (s *mariadbSource) SettleSnapshotTable(ctx context.Context, table string) error {
	rows, err := s.db.QueryContext(ctx, "ANALYZE TABLE "+table)
	if err != nil {
		return err
	}
	return rows.Close()
}

// TributarySnapshotSource captures table alone with its own server id; with
// no checkpoint the daemon starts at the current binlog position.
func (s *mariadbSource) TributarySnapshotSource(name, table string, chunk int) string {
	return fmt.Sprintf(`  - name: %s
    kind: mysql
    flavor: mariadb
    addr: %q
    user: tributary
    password_env: TRIBUTARY_BENCH_PASSWORD
    server_id: %d
    include: ["%s.%s"]
`, name, s.addr, s.serverIDBase+4, s.database, table) + snapshotYAML(s.database+"."+table, chunk)
}

// DebeziumSnapshotProps are the streaming contender's properties with
// snapshot.mode=initial on table alone (no locks: nothing writes to it).
func (s *mariadbSource) DebeziumSnapshotProps(table string) map[string]string {
	p := s.DebeziumProps()
	p["name"] = "bench-mariadb-snapshot"
	p["database.server.id"] = fmt.Sprint(s.serverIDBase + 5)
	p["table.include.list"] = s.database + "." + table
	p["snapshot.mode"] = "initial"
	return p
}

// ReadTable runs one prepared keyset SELECT per chunk, scanning the key and
// taking every other column as the driver's raw bytes.
func (s *mariadbSource) ReadTable(ctx context.Context, table string, chunk int) (Rate, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return Rate{}, err
	}
	defer conn.Close()
	start := time.Now()
	stmt, err := conn.PrepareContext(ctx, fmt.Sprintf(keysetQuery, table, "?", "?"))
	if err != nil {
		return Rate{}, fmt.Errorf("raw read: %w", err)
	}
	defer stmt.Close()
	var rows, bytes int64
	last := int64(math.MinInt64)
	for {
		rs, err := stmt.QueryContext(ctx, last, chunk)
		if err != nil {
			return Rate{}, fmt.Errorf("raw read after id %d: %w", last, err)
		}
		cols, err := rs.Columns()
		if err != nil {
			rs.Close()
			return Rate{}, err
		}
		raw := make([]sql.RawBytes, len(cols))
		dest := make([]any, len(cols))
		dest[0] = &last
		for i := 1; i < len(cols); i++ {
			dest[i] = &raw[i]
		}
		n := 0
		for rs.Next() {
			if err := rs.Scan(dest...); err != nil {
				rs.Close()
				return Rate{}, fmt.Errorf("raw read: %w", err)
			}
			n++
			bytes += 8
			for _, v := range raw[1:] {
				bytes += int64(len(v))
			}
		}
		if err := rs.Close(); err != nil {
			return Rate{}, err
		}
		if err := rs.Err(); err != nil {
			return Rate{}, fmt.Errorf("raw read: %w", err)
		}
		rows += int64(n)
		if n < chunk {
			return newRate(rows, bytes, time.Since(start)), nil
		}
	}
}

func (s *postgresSource) snapshotPublication() string { return s.database + "_snap_pub" }

// CreateSnapshotTable also creates the table's own publication; the
// contenders create their slots when they start, after the load, as a
// first start does.
func (s *postgresSource) CreateSnapshotTable(ctx context.Context, table string) error {
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING ALL)", table, orderTables[0].name),
		fmt.Sprintf("GRANT SELECT ON %s TO tributary, %s", table, dbzUser),
		fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s", s.snapshotPublication(), table),
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (s *postgresSource) SettleSnapshotTable(ctx context.Context, table string) error {
	_, err := s.db.ExecContext(ctx, "VACUUM (ANALYZE) "+table)
	return err
}

// TributarySnapshotSource captures table alone through its own slot, which
// the daemon creates on its first start (create_slot defaults to true).
func (s *postgresSource) TributarySnapshotSource(name, table string, chunk int) string {
	return fmt.Sprintf(`  - name: %s
    kind: postgres
    addr: %q
    user: tributary
    password_env: TRIBUTARY_BENCH_PASSWORD
    database: %s
    slot: %s
    publication: %s
    create_publication: false
    include: ["public.%s"]
`, name, s.addr, s.database, s.slot("tsnap"), s.snapshotPublication(), table) + snapshotYAML("public."+table, chunk)
}

// DebeziumSnapshotProps: snapshot.mode=initial on table alone, through a
// slot of its own that the connector creates (dropped by Cleanup).
func (s *postgresSource) DebeziumSnapshotProps(table string) map[string]string {
	p := s.DebeziumProps()
	p["name"] = "bench-postgres-snapshot"
	p["slot.name"] = s.slot("dsnap")
	p["publication.name"] = s.snapshotPublication()
	p["table.include.list"] = "public." + table
	p["snapshot.mode"] = "initial"
	return p
}

// ReadTable runs one keyset query per chunk with pgx (prepared once, binary
// results) and looks at no value but the key: rows stay raw wire bytes.
func (s *postgresSource) ReadTable(ctx context.Context, table string, chunk int) (Rate, error) {
	conn, err := pgx.Connect(ctx, s.connString(s.database))
	if err != nil {
		return Rate{}, fmt.Errorf("raw read: connect: %w", err)
	}
	defer conn.Close(context.Background())
	start := time.Now()
	q := fmt.Sprintf(keysetQuery, table, "$1", "$2")
	var rows, bytes int64
	last := int64(math.MinInt64)
	for {
		rs, err := conn.Query(ctx, q, last, chunk)
		if err != nil {
			return Rate{}, fmt.Errorf("raw read after id %d: %w", last, err)
		}
		n := 0
		for rs.Next() {
			vals := rs.RawValues()
			for _, v := range vals {
				bytes += int64(len(v))
			}
			if last, err = rawInt8(rs.FieldDescriptions()[0].Format, vals[0]); err != nil {
				rs.Close()
				return Rate{}, fmt.Errorf("raw read: key: %w", err)
			}
			n++
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return Rate{}, fmt.Errorf("raw read: %w", err)
		}
		rows += int64(n)
		if n < chunk {
			return newRate(rows, bytes, time.Since(start)), nil
		}
	}
}

// rawInt8 decodes a BIGINT as it came over the wire.
func rawInt8(format int16, v []byte) (int64, error) {
	if format == pgx.BinaryFormatCode {
		if len(v) != 8 {
			return 0, fmt.Errorf("%d bytes for a binary int8", len(v))
		}
		return int64(binary.BigEndian.Uint64(v)), nil
	}
	return strconv.ParseInt(string(v), 10, 64)
}
