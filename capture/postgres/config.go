package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/capture/snapshot"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// Config is one PostgreSQL source: one database, one logical replication
// slot, one publication.
type Config struct {
	// Addr is host:port of the server.
	Addr string `yaml:"addr"`
	// FailoverAddrs are host:port of physical standbys of Addr that may be
	// promoted (failover.go). Each (re)connect tries the server used last,
	// then Addr and these in order, and streams from the first that is not
	// in recovery; the slot must then be a failover slot the standby
	// synchronised (PostgreSQL 17+: FailoverSlot, sync_replication_slots).
	FailoverAddrs []string `yaml:"failover_addrs"`
	// FailoverSlot creates the slot with failover = true (and turns it on
	// for an existing slot), so that standbys with sync_replication_slots
	// keep a copy of it that a promoted standby can be read from. Default:
	// on with PostgreSQL 17 and later; false refuses it; on (or
	// FailoverAddrs) with an older server is an error.
	FailoverSlot *bool `yaml:"failover_slot"`
	// User needs the REPLICATION attribute (ALTER ROLE … REPLICATION) and
	// CONNECT on Database. Creating the publication needs ownership of the
	// published tables (or superuser); otherwise create it beforehand.
	User string `yaml:"user"`
	// Password is resolved by the caller (secrets are not read here).
	Password string `yaml:"password"`
	// Database is the database whose tables are captured; a slot decodes
	// one database only.
	Database string `yaml:"database"`
	// TLS encrypts every connection to the server (tls.go): mode
	// disable, prefer (the default), require, verify-ca or verify-full,
	// as libpq's sslmode.
	TLS tlsconf.Client `yaml:"tls"`
	// SSLMode is the older spelling of TLS.Mode (libpq's sslmode, "allow"
	// included); set one of them.
	SSLMode string `yaml:"sslmode"`
	// Slot is the logical replication slot (default tributary_<name>). The
	// slot holds the server's WAL until Tributary confirms it: a slot left
	// behind by a removed source retains WAL forever — drop it.
	Slot string `yaml:"slot"`
	// Publication names the tables the server decodes (default
	// tributary_<name>).
	Publication string `yaml:"publication"`
	// CreateSlot creates Slot when it does not exist (default true).
	CreateSlot *bool `yaml:"create_slot"`
	// CreatePublication creates Publication FOR TABLE the tables matched by
	// Include/Exclude when it does not exist (default true). An existing
	// publication is used as it is.
	CreatePublication *bool `yaml:"create_publication"`
	// Include and Exclude are "schema.table" patterns with path.Match globs
	// ("public.*"). Empty Include means every table. Exclude wins.
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
	// KeyColumns names the key of tables without a primary key, by
	// "schema.table". Such a table must have REPLICA IDENTITY FULL or USING
	// INDEX: with the default identity PostgreSQL cannot publish its
	// updates and deletes at all. A replica identity index (REPLICA
	// IDENTITY USING INDEX), else a primary key, always wins.
	KeyColumns map[string][]string `yaml:"key_columns"`
	// StatusInterval is how often the confirmed position is reported to the
	// server; it must stay well below the server's wal_sender_timeout.
	StatusInterval time.Duration `yaml:"status_interval"`
	// Heartbeat is how often a logical decoding message is written into
	// Database, so that the slot can advance while the captured tables are
	// idle and other databases write WAL.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// ReadTimeout ends the stream when the server sends nothing for this
	// long while Tributary waits for it (a half-open connection); the
	// heartbeat guarantees traffic, so the default is three heartbeats.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// Snapshot sets when and how the rows that already exist are read
	// (capture/snapshot).
	Snapshot snapshot.Config `yaml:"snapshot"`
	// Toast is what an update's after image holds for a TOASTed column
	// it did not change: fill (the default) or absent (ToastMode).
	Toast ToastMode `yaml:"toast"`
	// ToastCacheMaxBytes bounds the source's TOAST cache on disk (keys
	// and values; default 1 GiB); past it the least recently used values
	// are evicted and fall back to absent.
	ToastCacheMaxBytes int64 `yaml:"toast_cache_max_bytes"`

	// Takeover is set in cluster mode (capture.Takeover), not from YAML.
	Takeover capture.TakeoverPolicy `yaml:"-"`
}

// SetTakeover implements capture.Takeover: the slot's previous reader is
// waited for and then terminated (takeover.go).
func (c *Config) SetTakeover(p capture.TakeoverPolicy) { c.Takeover = p }

// Defaults fills unset optional fields; name is the source's configured
// name, used in the default slot and publication names.
func (c *Config) Defaults(name string) {
	if c.Slot == "" {
		c.Slot = "tributary_" + identifier(name)
	}
	if c.Publication == "" {
		c.Publication = "tributary_" + identifier(name)
	}
	if c.CreateSlot == nil {
		c.CreateSlot = ptr(true)
	}
	if c.CreatePublication == nil {
		c.CreatePublication = ptr(true)
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = 10 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 30 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 3 * c.Heartbeat
	}
	if c.Toast == "" {
		c.Toast = ToastFill
	}
	if c.ToastCacheMaxBytes == 0 {
		c.ToastCacheMaxBytes = DefaultToastCacheMaxBytes
	}
	c.Snapshot.Defaults()
}

func ptr[T any](v T) *T { return &v }

// identifier lowercases name and replaces what a slot name cannot hold.
func identifier(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// slotName is what PostgreSQL accepts as a replication slot name; the same
// rule is used for publications so that neither needs quoting anywhere.
var slotName = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Validate checks c; prefix names the section in messages, e.g.
// "sources[orders]" gives "sources[orders].slot …".
func (c Config) Validate(prefix string) error {
	key := capture.SettingsKey(prefix)
	errs := capture.ValidateServer(key, c.Addr, c.User)
	errs = append(errs, capture.ValidateFailoverAddrs(key, c.Addr, c.FailoverAddrs)...)
	if c.FailoverSlot != nil && !*c.FailoverSlot && len(c.FailoverAddrs) > 0 {
		errs = append(errs, fmt.Errorf("%s is false but %s are set: a promoted standby would have no copy of the slot — leave failover_slot on (PostgreSQL 17+) or remove failover_addrs", key("failover_slot"), key("failover_addrs")))
	}
	if c.Database == "" {
		errs = append(errs, fmt.Errorf("%s is required: a slot decodes one database", key("database")))
	}
	switch c.SSLMode {
	case "", "disable", "allow", "prefer", "require", "verify-ca", "verify-full":
	default:
		errs = append(errs, fmt.Errorf("%s %q: want disable, prefer, require, verify-ca or verify-full", key("sslmode"), c.SSLMode))
	}
	if c.SSLMode != "" && c.TLS.Mode != "" {
		errs = append(errs, fmt.Errorf("%s and %s both set: sslmode is the older spelling of tls.mode, keep one", key("sslmode"), key("tls.mode")))
	}
	if err := c.TLS.Validate(key("tls")); err != nil {
		errs = append(errs, err)
	}
	if !slotName.MatchString(c.Slot) {
		errs = append(errs, fmt.Errorf("%s %q: want 1-63 lowercase letters, digits and underscores", key("slot"), c.Slot))
	}
	if !slotName.MatchString(c.Publication) {
		errs = append(errs, fmt.Errorf("%s %q: want 1-63 lowercase letters, digits and underscores", key("publication"), c.Publication))
	}
	errs = append(errs, capture.ValidateTables(key, tableNaming, c.Include, c.Exclude, c.KeyColumns)...)
	if c.StatusInterval <= 0 || c.StatusInterval >= 60*time.Second {
		errs = append(errs, fmt.Errorf("%s %s: want more than 0 and less than a minute (the server's wal_sender_timeout, default 60s, drops a silent client)", key("status_interval"), c.StatusInterval))
	}
	if c.ReadTimeout <= c.Heartbeat {
		errs = append(errs, fmt.Errorf("%s (%s) must be longer than %s (%s): the heartbeat is what keeps a healthy connection talking", key("read_timeout"), c.ReadTimeout, key("heartbeat"), c.Heartbeat))
	}
	if c.Heartbeat <= 0 {
		errs = append(errs, fmt.Errorf("%s must be positive", key("heartbeat")))
	}
	switch c.Toast {
	case ToastFill, ToastAbsent:
	default:
		errs = append(errs, fmt.Errorf("%s %q: want fill (unchanged TOASTed columns carry the last value seen) or absent", key("toast"), c.Toast))
	}
	if c.ToastCacheMaxBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("%s %d: want at least 1048576 (1 MiB); the cache keeps values of 2 kB and more", key("toast_cache_max_bytes"), c.ToastCacheMaxBytes))
	}
	f := filter{include: c.Include, exclude: c.Exclude}
	errs = append(errs, c.Snapshot.Validate(key("snapshot"), f.match)...)
	return errors.Join(errs...)
}

// tableNaming is how messages name PostgreSQL tables: a schema, then the
// table.
var tableNaming = capture.TableNaming{Namespace: "schema", Example: "public.*"}

// filter decides which tables are captured.
type filter struct{ include, exclude []string }

func (f filter) match(schema, table string) bool {
	return capture.TableFilter{Include: f.include, Exclude: f.exclude}.Match(schema, table)
}
