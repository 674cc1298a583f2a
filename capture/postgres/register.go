package postgres

import (
	"cmp"
	"fmt"
	"log/slog"

	"github.com/jackc/pglogrepl"

	"github.com/tributary-cdc/tributary/capture"
)

// Kind is the sources[].kind of PostgreSQL sources.
const Kind capture.Kind = "postgres"

// Registration describes the kind to the capture registry: a source's
// settings are a *Config.
var Registration = capture.Registration{
	Title: "PostgreSQL",
	// Positions are LSNs; WAL behind the slot is gone once confirmed, so
	// there is no replay.
	PositionHelp:       "an LSN like 0/16B3748",
	ErrSnapshotRequest: ErrSnapshotRequest,
	NoHistory:          "PostgreSQL keeps no WAL behind its slot's confirmed_flush_lsn, so changes Tributary already confirmed cannot be read again; re-send a PostgreSQL table with a snapshot instead",
	NewSettings:        func() capture.Settings { return &Config{} },
	// Defaults name the slot and publication after the source.
	Defaults: func(s capture.Settings, name string) { s.(*Config).Defaults(name) },
	NewSource: func(name string, s capture.Settings, password string, logger *slog.Logger) (capture.Source, error) {
		return New(name, withPassword(s, password), logger)
	},
	NewTableReader: func(name string, s capture.Settings, password string) (capture.TableReader, error) {
		return NewReader(name, withPassword(s, password))
	},
	ParsePosition: func(s string) (capture.Position, error) {
		lsn, _, err := ParsePosition(s)
		if err != nil {
			return nil, err
		}
		return registeredPosition{lsn}, nil
	},
	Debezium: func(s capture.Settings) (string, string) {
		return "postgresql", s.(*Config).Database
	},
	LogAttrs: func(s capture.Settings) []any {
		c := s.(*Config)
		return []any{"addr", c.Addr, "user", c.User, "include", c.Include, "exclude", c.Exclude,
			"database", c.Database, "slot", c.Slot, "publication", c.Publication}
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

// registeredPosition is an LSN as the registry hands it out; its
// snapshot work (a checkpoint written before it was kept apart) is dropped.
type registeredPosition struct{ lsn pglogrepl.LSN }

func (r registeredPosition) String() string { return r.lsn.String() }

// Compare orders LSNs.
func (r registeredPosition) Compare(q capture.Position) (int, error) {
	o, ok := q.(registeredPosition)
	if !ok {
		return 0, fmt.Errorf("compare LSN %s with %s: not an LSN", r, q)
	}
	return cmp.Compare(r.lsn, o.lsn), nil
}
