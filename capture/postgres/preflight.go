package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tributary-cdc/tributary/capture"
)

// ErrPreflight marks a server, role, slot or publication that cannot feed
// Tributary. It is fatal: retrying does not help until an operator acts.
var ErrPreflight = errors.New("postgres preflight failed")

// serverSettings are what checkSettings judges.
type serverSettings struct {
	WALLevel               string
	Role                   string
	Superuser, Replication bool
	MaxSlots, Slots        int
	MaxSenders, Senders    int
}

// checkSettings judges the server's replication settings and the role.
// needSlot says that a slot is still to be created.
func checkSettings(addr string, st serverSettings, needSlot bool) error {
	var errs []error
	if st.WALLevel != "logical" {
		errs = append(errs, fmt.Errorf("PostgreSQL at %s has wal_level=%s; set wal_level=logical (postgresql.conf or ALTER SYSTEM SET wal_level = logical) and restart the server — the setting only takes effect after a restart", addr, st.WALLevel))
	}
	if !st.Superuser && !st.Replication {
		errs = append(errs, fmt.Errorf("role %s has no REPLICATION attribute; run ALTER ROLE %s REPLICATION", st.Role, quoteIdent(st.Role)))
	}
	if needSlot && st.Slots >= st.MaxSlots {
		errs = append(errs, fmt.Errorf("PostgreSQL at %s uses %d of max_replication_slots=%d; raise max_replication_slots (restart needed) or drop unused slots (pg_replication_slots)", addr, st.Slots, st.MaxSlots))
	}
	if st.Senders >= st.MaxSenders {
		errs = append(errs, fmt.Errorf("PostgreSQL at %s runs %d of max_wal_senders=%d WAL senders; raise max_wal_senders (restart needed)", addr, st.Senders, st.MaxSenders))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrPreflight, errors.Join(errs...))
	}
	return nil
}

// tableIdentity is how PostgreSQL identifies the rows of one table in
// UPDATE and DELETE records.
type tableIdentity struct {
	Schema, Name string
	Identity     string // relreplident: d default (primary key), n nothing, f full, i index
	HasPK        bool
}

func (t tableIdentity) qualified() string {
	return capture.TableID{Schema: t.Schema, Name: t.Name}.String()
}

// checkIdentity refuses tables whose updates and deletes cannot be
// published with a key. Such a table must never be added to a publication
// that publishes updates and deletes: PostgreSQL would then reject the
// application's own UPDATE and DELETE statements on it.
func checkIdentity(tables []tableIdentity, keyColumns map[string][]string) error {
	var errs []error
	for _, t := range tables {
		name := t.qualified()
		sql := quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
		switch {
		case t.Identity == "n" || t.Identity == "d" && !t.HasPK:
			ident := "DEFAULT"
			if t.Identity == "n" {
				ident = "NOTHING"
			}
			errs = append(errs, fmt.Errorf("table %s has no primary key and REPLICA IDENTITY %s: PostgreSQL rejects UPDATE and DELETE on such a table once it is in a publication that publishes updates and deletes, so the application's own statements would fail — Tributary does not capture or publish it; add a primary key, or run ALTER TABLE %s REPLICA IDENTITY FULL and set key_columns[%s], or exclude the table", name, ident, sql, name))
		case t.Identity == "f" && !t.HasPK && len(keyColumns[name]) == 0:
			errs = append(errs, fmt.Errorf("table %s has REPLICA IDENTITY FULL but no primary key: set key_columns[%s] to the columns that identify a row (events are keyed by them)", name, name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrPreflight, errors.Join(errs...))
	}
	return nil
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// checkServer reads and judges the server's settings and the role.
func (s *Source) checkServer(ctx context.Context) error {
	var st serverSettings
	var slotExists bool
	var version int
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT current_setting('wal_level'), current_user, r.rolsuper, r.rolreplication,
			current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_replication_slots)::int,
			current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender')::int,
			EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1),
			current_setting('server_version_num')::int
			FROM pg_roles r WHERE r.rolname = current_user`, s.cfg.Slot).
			Scan(&st.WALLevel, &st.Role, &st.Superuser, &st.Replication, &st.MaxSlots, &st.Slots, &st.MaxSenders, &st.Senders, &slotExists, &version)
	})
	s.version.Store(int64(version))
	if err != nil {
		return fmt.Errorf("preflight: read settings of %s: %w", s.addr(), err)
	}
	return checkSettings(s.addr(), st, !slotExists)
}

// tableIdentities lists the ordinary and partitioned tables of the
// database that the filter matches; with publication set, only the tables
// in that publication.
func (s *Source) tableIdentities(ctx context.Context, publication string) ([]tableIdentity, error) {
	var out []tableIdentity
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		rows, err := db.Query(ctx, `SELECT n.nspname, c.relname, c.relreplident::text,
				EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
				AND n.nspname !~ '^pg_(toast|temp)'
				AND ($1 = '' OR EXISTS (SELECT 1 FROM pg_publication_tables p
					WHERE p.pubname = $1 AND p.schemaname = n.nspname AND p.tablename = c.relname))
			ORDER BY 1, 2`, publication)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (tableIdentity, error) {
			var t tableIdentity
			err := r.Scan(&t.Schema, &t.Name, &t.Identity, &t.HasPK)
			return t, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("preflight: list tables of %s/%s: %w", s.addr(), s.cfg.Database, err)
	}
	return slices.DeleteFunc(out, func(t tableIdentity) bool { return !s.filter.match(t.Schema, t.Name) }), nil
}

// ensurePublication checks the publication's tables, creating the
// publication first when it is absent and create_publication is on.
func (s *Source) ensurePublication(ctx context.Context) error {
	var exists bool
	err := s.withDB(ctx, func(db *pgx.Conn) error {
		return db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.cfg.Publication).Scan(&exists)
	})
	if err != nil {
		return fmt.Errorf("preflight: read publication %s: %w", s.cfg.Publication, err)
	}
	if exists {
		tables, err := s.tableIdentities(ctx, s.cfg.Publication)
		if err != nil {
			return err
		}
		return checkIdentity(tables, s.cfg.KeyColumns)
	}
	tables, err := s.tableIdentities(ctx, "")
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("%w: publication %s does not exist and no table of database %s matches include/exclude; create the tables or fix sources[%s].include", ErrPreflight, s.cfg.Publication, s.cfg.Database, s.name)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quoteIdent(t.Schema) + "." + quoteIdent(t.Name)
	}
	create := fmt.Sprintf("CREATE PUBLICATION %s FOR TABLE %s", quoteIdent(s.cfg.Publication), strings.Join(names, ", "))
	if !*s.cfg.CreatePublication {
		return fmt.Errorf("%w: publication %s does not exist in database %s and create_publication is off; create it: %s", ErrPreflight, s.cfg.Publication, s.cfg.Database, create)
	}
	// Checked before creating: a table without identity must never join a
	// publication (see checkIdentity).
	if err := checkIdentity(tables, s.cfg.KeyColumns); err != nil {
		return err
	}
	err = s.withDB(ctx, func(db *pgx.Conn) error {
		_, err := db.Exec(ctx, create)
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: create publication %s: %w; creating a publication needs ownership of every listed table (or superuser) — run as the tables' owner: %s (then create_publication can stay on)", ErrPreflight, s.cfg.Publication, err, create)
	}
	s.log.Info("created publication", "publication", s.cfg.Publication, "tables", len(tables))
	return nil
}
