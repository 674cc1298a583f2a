package mysql

import (
	"fmt"
	"log/slog"

	"github.com/tributary-cdc/tributary/capture"
)

// Kind is the sources[].kind of MySQL and MariaDB sources.
const Kind capture.Kind = "mysql"

// Registration describes the kind to the capture registry: a source's
// settings are a *Config.
var Registration = capture.Registration{
	Title:       "MySQL/MariaDB",
	NewSettings: func() capture.Settings { return &Config{} },
	// Defaults do not depend on the name: the binlog needs no named
	// objects on the server.
	Defaults: func(s capture.Settings, _ string) { s.(*Config).Defaults() },
	NewSource: func(name string, s capture.Settings, password string, logger *slog.Logger) (capture.Source, error) {
		return New(name, withPassword(s, password), logger)
	},
	NewTableReader: func(name string, s capture.Settings, password string) (capture.TableReader, error) {
		return NewReader(name, withPassword(s, password))
	},
	ParsePosition: func(s string) (capture.Position, error) {
		p, err := ParsePosition(s)
		if err != nil {
			return nil, err
		}
		p.Snapshot = nil
		return registeredPosition{p}, nil
	},
	PositionHelp:       "a binlog position",
	ErrSnapshotRequest: ErrSnapshotRequest,
	ServerID:           func(s capture.Settings) uint32 { return s.(*Config).ServerID },
	Debezium: func(s capture.Settings) (string, string) {
		if s.(*Config).Flavor == FlavorMySQL {
			return "mysql", ""
		}
		return "mariadb", ""
	},
	LogAttrs: func(s capture.Settings) []any {
		c := s.(*Config)
		return []any{"addr", c.Addr, "failover_addrs", c.FailoverAddrs, "user", c.User, "include", c.Include, "exclude", c.Exclude, "server_id", c.ServerID}
	},
}

var (
	_ capture.TableReader = (*Reader)(nil)
	_ capture.Settings    = (*Config)(nil)
)

// withPassword is a copy of the settings with the resolved password.
func withPassword(s capture.Settings, password string) Config {
	c := *s.(*Config)
	c.Password = password
	return c
}

// registeredPosition is a Position as the registry hands it out; its
// snapshot work (a checkpoint written before it was kept apart) is dropped.
type registeredPosition struct{ p Position }

func (r registeredPosition) String() string { return r.p.String() }

// Compare orders binlog positions of one server by file and offset
// (Position.Compare); positions of different servers, or naming no file,
// by their GTID sets.
func (r registeredPosition) Compare(q capture.Position) (int, error) {
	o, ok := q.(registeredPosition)
	if !ok {
		return 0, fmt.Errorf("compare binlog position %s with %s: not a binlog position", r, q)
	}
	across := r.p.GTIDOnly() || o.p.GTIDOnly() ||
		(r.p.Server.Known() && o.p.Server.Known() && !r.p.Server.Same(o.p.Server))
	if !across {
		return r.p.Compare(o.p), nil
	}
	if r.p.GTIDSet == "" || o.p.GTIDSet == "" {
		return 0, fmt.Errorf("compare binlog positions %s and %s: of different servers, and without GTID sets", r, q)
	}
	c, err := compareGTIDSets(r.p.GTIDSet, o.p.GTIDSet)
	if err != nil {
		return 0, fmt.Errorf("compare binlog positions %s and %s: %w", r, q, err)
	}
	return c, nil
}
