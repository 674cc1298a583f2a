package testenv

import (
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

type pgproto3CopyData = pgproto3.CopyData

func splitAddr(t *testing.T, addr string) (string, uint16) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	return host, uint16(port)
}
