package mysql

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// Flavor selects the binlog dialect.
type Flavor string

const (
	// FlavorMariaDB reads MariaDB binlogs (MariaDB GTIDs, MariaDB event types).
	FlavorMariaDB Flavor = "mariadb"
	// FlavorMySQL reads MySQL binlogs (UUID:GNO GTIDs, native JSON).
	FlavorMySQL Flavor = "mysql"
)

// Config is one MySQL/MariaDB source.
type Config struct {
	// Addr is host:port of the server.
	Addr string `yaml:"addr"`
	// FailoverAddrs are host:port of other servers of the same replication
	// topology (replicas that may be promoted, with log_slave_updates /
	// log_replica_updates and GTIDs). Each (re)connect tries the server used
	// last, then Addr and these in order; on a server other than the
	// checkpoint's the stream resumes by GTID (failover.go). Setting them
	// also makes event ids derive from the transaction's GTID, which every
	// server of the topology logs alike.
	FailoverAddrs []string `yaml:"failover_addrs"`
	// User needs REPLICATION SLAVE, REPLICATION CLIENT (BINLOG MONITOR on
	// MariaDB) and SELECT (column metadata, JSON detection on MariaDB).
	User string `yaml:"user"`
	// Password is resolved by the caller (secrets are not read here).
	Password string `yaml:"password"`
	// ServerID is the replica id Tributary registers with; it must differ
	// from the server's and every other replica's server_id.
	ServerID uint32 `yaml:"server_id"`
	Flavor   Flavor `yaml:"flavor"`
	// Include and Exclude are "db.table" patterns with path.Match globs
	// ("shop.*"). Empty Include means every table. Exclude wins.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// KeyColumns names the key of tables that have no primary key, by
	// "db.table". A primary key in the table always wins.
	KeyColumns map[string][]string `yaml:"key_columns"`
	// Heartbeat bounds how stale an idle source's lag gets: the server is
	// asked for a heartbeat after heartbeat/2 without events, and each one
	// is a checkpoint with the current time (source.go).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// ReadTimeout fails the stream when nothing (not even a heartbeat)
	// arrives for this long; it must exceed Heartbeat.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// Snapshot sets when and how existing rows are read (snapshot_*.go).
	Snapshot SnapshotConfig `yaml:"snapshot"`
	// TLS encrypts every connection to the server (tls.go); mode prefer
	// by default.
	TLS tlsconf.Client `yaml:"tls"`

	// driverLog receives the SQL driver's log (tls.go); set by New, shared
	// by the source's readers.
	driverLog *driverLog
}

// Defaults fills unset optional fields.
func (c *Config) Defaults() {
	if c.Flavor == "" {
		c.Flavor = FlavorMariaDB
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 30 * time.Second
	}
	c.Snapshot.Defaults()
}

// Validate checks c; prefix names the section in messages, e.g.
// "sources[crm]" gives "sources[crm].server_id is required".
func (c Config) Validate(prefix string) error {
	key := capture.SettingsKey(prefix)
	errs := capture.ValidateServer(key, c.Addr, c.User)
	errs = append(errs, capture.ValidateFailoverAddrs(key, c.Addr, c.FailoverAddrs)...)
	if c.ServerID == 0 {
		errs = append(errs, fmt.Errorf("%s is required: a replica id unique among the server's replicas (not the server's own server_id)", key("server_id")))
	}
	switch c.Flavor {
	case FlavorMariaDB, FlavorMySQL:
	default:
		errs = append(errs, fmt.Errorf("%s %q: want mariadb or mysql", key("flavor"), c.Flavor))
	}
	errs = append(errs, capture.ValidateTables(key, tableNaming, c.Include, c.Exclude, c.KeyColumns)...)
	if c.Heartbeat < 0 {
		errs = append(errs, fmt.Errorf("%s must be positive", key("heartbeat")))
	}
	if c.ReadTimeout <= c.Heartbeat {
		errs = append(errs, fmt.Errorf("%s (%s) must be longer than %s (%s)", key("read_timeout"), c.ReadTimeout, key("heartbeat"), c.Heartbeat))
	}
	errs = append(errs, c.Snapshot.Validate(key("snapshot"), c.filter().match)...)
	if err := c.TLS.Validate(key("tls")); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) filter() filter { return filter{include: c.Include, exclude: c.Exclude} }

// tableNaming is how messages name MySQL tables: a database, then the table.
var tableNaming = capture.TableNaming{Namespace: "db", Example: "shop.*"}

// filter decides which tables are captured.
type filter struct{ include, exclude []string }

func (f filter) match(db, table string) bool {
	return capture.TableFilter{Include: f.include, Exclude: f.exclude}.Match(db, table)
}

// matchDatabase reports whether any table of db can be captured: for DDL
// that names a database but no table.
func (f filter) matchDatabase(db string) bool {
	for _, p := range f.exclude {
		pdb, ptbl, _ := strings.Cut(p, ".")
		if ok, _ := path.Match(pdb, db); ok && ptbl == "*" {
			return false
		}
	}
	if len(f.include) == 0 {
		return true
	}
	for _, p := range f.include {
		pdb, _, _ := strings.Cut(p, ".")
		if ok, _ := path.Match(pdb, db); ok {
			return true
		}
	}
	return false
}
