package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	driver "github.com/go-sql-driver/mysql"
	"strings"
)

// ErrPreflight marks a server whose configuration cannot feed Tributary.
// It is fatal: retrying does not help until an operator changes the server.
var ErrPreflight = errors.New("mysql preflight failed")

// preflightVars are the server variables checkVariables reads.
var preflightVars = []string{"log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "binlog_row_value_options"}

// checkVariables judges the server's global replication settings. Errors
// stop the source; warnings are logged. A session cannot fake these (they
// are read with @@global), which is why the check takes plain values.
func checkVariables(server, addr string, vars map[string]string) (warnings []string, err error) {
	var errs []error
	get := func(k string) string { return strings.ToUpper(strings.TrimSpace(vars[k])) }
	if v := get("log_bin"); v != "ON" && v != "1" {
		errs = append(errs, fmt.Errorf("%s at %s has log_bin=%s; enable the binary log (log_bin and a server_id in my.cnf [mysqld], then restart) — Tributary reads the binlog", server, addr, orUnset(v)))
	}
	if v := get("binlog_format"); v != "ROW" {
		errs = append(errs, fmt.Errorf("%s at %s has binlog_format=%s; set binlog_format=ROW (e.g. in my.cnf [mysqld]) — Tributary reads row events", server, addr, orUnset(v)))
	}
	if v := get("binlog_row_metadata"); v != "FULL" {
		errs = append(errs, fmt.Errorf("%s at %s has binlog_row_metadata=%s; set binlog_row_metadata=FULL (SET GLOBAL and my.cnf [mysqld]) — Tributary takes column names, keys and ENUM/SET labels from it", server, addr, orUnset(v)))
	}
	if v := get("binlog_row_value_options"); strings.Contains(v, "PARTIAL_JSON") {
		// MySQL 8 then logs JSON updates as diffs against a before image
		// the binlog does not carry in full; the event could not say the
		// document's new value.
		errs = append(errs, fmt.Errorf("%s at %s has binlog_row_value_options=%s; set it to '' (SET GLOBAL binlog_row_value_options='' and my.cnf [mysqld]) — Tributary needs whole JSON documents in the binlog, not partial updates", server, addr, v))
	}
	if v := get("binlog_row_image"); v != "FULL" {
		warnings = append(warnings, fmt.Sprintf("%s at %s has binlog_row_image=%s; columns the server leaves out are delivered as absent, not as values — set binlog_row_image=FULL for complete before/after images", server, addr, orUnset(v)))
	}
	if len(errs) > 0 {
		return warnings, fmt.Errorf("%w: %w", ErrPreflight, errors.Join(errs...))
	}
	return warnings, nil
}

func orUnset(v string) string {
	if v == "" {
		return "<unset>"
	}
	return v
}

// checkGrants judges the output of SHOW GRANTS for the CDC user. Grants
// through roles are not expanded, so a missing privilege is reported with a
// hint rather than guessed at.
func checkGrants(server, addr, user string, grants []string) error {
	var global []string
	for _, g := range grants {
		u := strings.ToUpper(g)
		if strings.Contains(u, " ON *.* TO ") {
			global = append(global, u)
		}
	}
	has := func(privs ...string) bool {
		for _, g := range global {
			if strings.Contains(g, "ALL PRIVILEGES") {
				return true
			}
			for _, p := range privs {
				if strings.Contains(g, p) {
					return true
				}
			}
		}
		return false
	}
	var missing []string
	if !has("REPLICATION SLAVE", "REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !has("REPLICATION CLIENT", "BINLOG MONITOR", "SUPER") {
		missing = append(missing, "REPLICATION CLIENT (BINLOG MONITOR on MariaDB)")
	}
	if !has("SELECT") {
		missing = append(missing, "SELECT")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s at %s: user %s lacks %s ON *.*; run GRANT %s ON *.* TO the CDC user (grants through roles are not checked)",
			ErrPreflight, server, addr, user, strings.Join(missing, ", "), "REPLICATION SLAVE, REPLICATION CLIENT, SELECT")
	}
	return nil
}

// preflight reads the server's settings and the user's grants over db.
func preflight(ctx context.Context, db *sql.DB, server, addr, user string) (warnings []string, err error) {
	// A server that cannot be reached or refuses the login must not read as
	// one whose variables are unset.
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connect to %s at %s as %s: %w", server, addr, user, err)
	}
	vars := make(map[string]string, len(preflightVars))
	for _, v := range preflightVars {
		var val sql.NullString
		if err := db.QueryRowContext(ctx, "SELECT @@GLOBAL."+v).Scan(&val); err != nil {
			// Unknown variables (binlog_row_metadata before MySQL 8.0.1 /
			// MariaDB 10.5) count as unset; anything else is an error.
			var me *driver.MySQLError
			if errors.As(err, &me) && me.Number == 1193 {
				vars[v] = ""
				continue
			}
			return nil, fmt.Errorf("preflight: read @@GLOBAL.%s on %s: %w", v, addr, err)
		}
		vars[v] = val.String
	}
	warnings, err = checkVariables(server, addr, vars)
	if err != nil {
		return warnings, err
	}
	rows, err := db.QueryContext(ctx, "SHOW GRANTS")
	if err != nil {
		return warnings, fmt.Errorf("preflight: show grants on %s: %w", addr, err)
	}
	defer rows.Close()
	var grants []string
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			return warnings, fmt.Errorf("preflight: show grants on %s: %w", addr, err)
		}
		grants = append(grants, g)
	}
	if err := rows.Err(); err != nil {
		return warnings, fmt.Errorf("preflight: show grants on %s: %w", addr, err)
	}
	return warnings, checkGrants(server, addr, user, grants)
}
