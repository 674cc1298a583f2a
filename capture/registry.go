package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Kind is a type of source database, as sources[].kind names it. It is also
// the connector name the source's events carry (source.connector).
type Kind string

// DefaultKind is the kind of a configured source that names none: the
// first kind Tributary had, so that older configurations keep their meaning.
const DefaultKind Kind = "mysql"

// Settings is one source's kind-specific configuration: a pointer to the
// kind's config struct, decoded from the source's entry of the YAML sources
// list (the struct's yaml tags name the keys the kind accepts).
type Settings interface {
	// Validate checks the settings; prefix names the entry in messages,
	// e.g. "sources[crm]" gives "sources[crm].server_id is required".
	Validate(prefix string) error
}

// Position is a parsed checkpoint position of one kind (a binlog file,
// offset and GTID set; an LSN): what the CLI, replay and verify print and
// compare instead of splitting strings. The snapshot work pending at a
// position is not part of it; checkpoints keep it apart
// (checkpoints.Checkpoint.Snapshot).
type Position interface {
	// String is the position as checkpoints store it.
	String() string
	// Compare orders the position against q, one of the same kind: -1,
	// 0 or +1. It fails for a position of another kind, or one that cannot
	// be ordered against this one.
	Compare(q Position) (int, error)
}

// TableReader reads a source's captured tables as they are now, decoded
// exactly as the change stream decodes rows (internal/verify compares the
// two). Tables are named {database (or schema), table}.
type TableReader interface {
	Tables(ctx context.Context) ([][2]string, error)
	// Captured reports whether include/exclude select db.table.
	Captured(db, table string) bool
	ApproxRows(ctx context.Context, db, table string) (int64, error)
	// ReadChunk returns up to limit rows in key order after the row whose
	// key values are after (nil: from the start).
	ReadChunk(ctx context.Context, db, table string, after []any, limit int) (*Table, [][]any, error)
	// ReadKey returns the row whose key is keyJSON (transform.EncodeKey's
	// form), or a nil row when there is none.
	ReadKey(ctx context.Context, db, table string, keyJSON []byte) (*Table, []any, error)
	Close() error
}

// Registration is what the rest of Tributary needs of one source kind: the
// configuration, the constructors and the positions. The functions that
// take Settings are only given values that NewSettings of the same
// registration returned.
type Registration struct {
	// Title names the kind for people, e.g. "PostgreSQL".
	Title string
	// NewSettings returns empty settings to decode a source's entry into.
	NewSettings func() Settings
	// Defaults fills the unset optional fields of decoded settings; name is
	// the source's configured name.
	Defaults func(s Settings, name string)
	// NewSource returns the source named name; password is the resolved
	// secret (settings never hold one read from the environment or a file).
	NewSource func(name string, s Settings, password string, logger *slog.Logger) (Source, error)
	// NewTableReader returns a reader of the source's tables (verify).
	NewTableReader func(name string, s Settings, password string) (TableReader, error)
	// ParsePosition reads a checkpoint position of the kind.
	ParsePosition func(string) (Position, error)
	// PositionHelp says what a position looks like, for messages: "a
	// binlog position".
	PositionHelp string
	// ErrSnapshotRequest is what the kind's sources wrap when they refuse
	// an on-demand snapshot request (a table not captured, without a key).
	ErrSnapshotRequest error
	// ServerID returns the server_id the source registers with as a binlog
	// replica, which must be unique among the server's replicas; nil for
	// kinds that do not read as a replica.
	ServerID func(Settings) uint32
	// NoHistory, when set, is why the kind's server cannot re-send changes
	// Tributary already confirmed, so `tributary replay` refuses it.
	NoHistory string
	// Debezium returns the Debezium connector name (mysql, mariadb,
	// postgresql) the settings stand for, and the database Debezium
	// writes as source.db ("" when it is the table's own).
	Debezium func(Settings) (connector, database string)
	// LogAttrs describes the settings in the startup log as slog key-value
	// pairs (never a secret).
	LogAttrs func(Settings) []any
}

// CanReplay reports whether the kind's history can be read again.
func (r Registration) CanReplay() bool { return r.NoHistory == "" }

// UsesServerID reports whether the kind registers with a binlog server_id.
func (r Registration) UsesServerID() bool { return r.ServerID != nil }

// check names the first function a registration lacks.
func (r Registration) check() error {
	missing := func(name string, ok bool) error {
		if !ok {
			return fmt.Errorf("no %s", name)
		}
		return nil
	}
	return errors.Join(
		missing("Title", r.Title != ""),
		missing("NewSettings", r.NewSettings != nil),
		missing("Defaults", r.Defaults != nil),
		missing("NewSource", r.NewSource != nil),
		missing("NewTableReader", r.NewTableReader != nil),
		missing("ParsePosition", r.ParsePosition != nil),
		missing("PositionHelp", r.PositionHelp != ""),
		missing("ErrSnapshotRequest", r.ErrSnapshotRequest != nil),
		missing("Debezium", r.Debezium != nil),
		missing("LogAttrs", r.LogAttrs != nil),
	)
}

// Registry maps kinds to their registrations. The zero value is empty and
// ready to use; it is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	kinds map[Kind]Registration
}

// Register adds a kind. It panics on an empty or duplicate kind and on a
// registration without one of its functions: both are programming errors
// found at start.
func (r *Registry) Register(kind Kind, reg Registration) {
	if kind == "" {
		panic("capture: Register with an empty kind")
	}
	if err := reg.check(); err != nil {
		panic(fmt.Sprintf("capture: Register %s: %v", kind, err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[kind]; dup {
		panic(fmt.Sprintf("capture: Register called twice for kind %s", kind))
	}
	if r.kinds == nil {
		r.kinds = make(map[Kind]Registration)
	}
	r.kinds[kind] = reg
}

// Lookup returns the registration of kind.
func (r *Registry) Lookup(kind Kind) (Registration, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.kinds[kind]
	return reg, ok
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	kinds := make([]Kind, 0, len(r.kinds))
	for k := range r.kinds {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	return kinds
}

// IsSnapshotRequestError reports whether err is a source's refusal of an
// on-demand snapshot request, of any registered kind.
func (r *Registry) IsSnapshotRequestError(err error) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, reg := range r.kinds {
		if errors.Is(err, reg.ErrSnapshotRequest) {
			return true
		}
	}
	return false
}

// registry holds the kinds this program was built with; internal/sources
// registers them.
var registry Registry

// Register adds a kind to the program's registry (see Registry.Register).
func Register(kind Kind, reg Registration) { registry.Register(kind, reg) }

// Lookup returns the registration of kind from the program's registry.
func Lookup(kind Kind) (Registration, bool) { return registry.Lookup(kind) }

// Kinds lists the kinds of the program's registry, sorted.
func Kinds() []Kind { return registry.Kinds() }

// IsSnapshotRequestError reports whether err is a refused snapshot request
// of any kind of the program's registry.
func IsSnapshotRequestError(err error) bool { return registry.IsSnapshotRequestError(err) }
