package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// readRawBinlog measures the physical limit of the binlog side: it streams
// from `from` to `to` with go-mysql's syncer in raw mode (event headers
// only, no row decoding) and discards every event. rows is the number of
// row changes in that range, which the rate is expressed in.
func readRawBinlog(ctx context.Context, addr, user, password string, serverID uint32, from, to mysql.Position, rows int64) (Rate, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return Rate{}, err
	}
	p, _ := strconv.Atoi(port)
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID: serverID, Flavor: mysql.MariaDBFlavor, Host: host, Port: uint16(p),
		User: user, Password: password, RawModeEnabled: true, HeartbeatPeriod: time.Second,
		Logger: quietLogger(),
	})
	defer syncer.Close()
	start := time.Now()
	streamer, err := syncer.StartSync(from)
	if err != nil {
		return Rate{}, fmt.Errorf("raw binlog: start at %s: %w", from, err)
	}
	file := from.Name
	var bytes int64
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for {
		ev, err := streamer.GetEvent(ctx)
		if err != nil {
			return Rate{}, fmt.Errorf("raw binlog: read after %s: %w", file, err)
		}
		bytes += int64(len(ev.RawData))
		if r, ok := ev.Event.(*replication.RotateEvent); ok {
			file = string(r.NextLogName)
			continue
		}
		if mysql.CompareBinlogFileName(file, to.Name) > 0 ||
			(file == to.Name && ev.Header.LogPos >= to.Pos) {
			return newRate(rows, bytes, time.Since(start)), nil
		}
	}
}

// readRawWAL measures the physical limit of the WAL side: it streams the
// slot with pgoutput (decoding on the server is part of any logical
// consumer) and discards every message, looking at one byte of each to
// count the row changes, until rows of them went by.
func readRawWAL(ctx context.Context, connString, slot, publication string, rows int64) (Rate, error) {
	conn, err := pgconn.Connect(ctx, connString+" replication=database")
	if err != nil {
		return Rate{}, fmt.Errorf("raw WAL: connect: %w", err)
	}
	defer conn.Close(context.Background())
	start := time.Now()
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", "publication_names '" + publication + "'"},
	})
	if err != nil {
		return Rate{}, fmt.Errorf("raw WAL: start replication on %s: %w", slot, err)
	}
	var bytes, seen int64
	nextStatus := time.Now().Add(5 * time.Second)
	deadline := time.Now().Add(10 * time.Minute)
	for seen < rows {
		if time.Now().After(deadline) {
			return Rate{}, fmt.Errorf("raw WAL: %d of %d rows after 10m", seen, rows)
		}
		if time.Now().After(nextStatus) {
			// Keep the walsender from timing us out; confirm nothing.
			_ = pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: 0})
			nextStatus = time.Now().Add(5 * time.Second)
		}
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			return Rate{}, fmt.Errorf("raw WAL: receive: %w", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok {
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				return Rate{}, fmt.Errorf("raw WAL: %s", e.Message)
			}
			continue
		}
		bytes += int64(len(cd.Data))
		// 'w' XLogData: 1 type byte + 24 header bytes, then the pgoutput
		// message whose first byte is its kind.
		if len(cd.Data) > 25 && cd.Data[0] == pglogrepl.XLogDataByteID {
			switch cd.Data[25] {
			case 'I', 'U', 'D':
				seen++
			}
		}
	}
	return newRate(rows, bytes, time.Since(start)), nil
}
