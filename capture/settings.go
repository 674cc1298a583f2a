package capture

import (
	"fmt"
	"net"
)

// The checks of the settings every source kind has, so that each kind's
// Validate names these keys alike.

// SettingsKey returns the function that names a settings key in messages:
// under prefix ("sources[crm]" gives "sources[crm].addr"), bare without.
func SettingsKey(prefix string) func(string) string {
	return func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
}

// TableNaming says what a kind calls the part of a table name before the
// dot, for messages: Namespace "db" (MySQL) or "schema" (PostgreSQL), and a
// valid pattern as Example ("shop.*").
type TableNaming struct {
	Namespace, Example string
}

// CheckPattern validates one include/exclude pattern of the kind.
func (n TableNaming) CheckPattern(p string) error { return CheckPattern(p, n.Namespace, n.Example) }

// ValidateServer checks the keys that say where a source connects: addr
// (host:port) and user.
func ValidateServer(key func(string) string, addr, user string) []error {
	var errs []error
	if addr == "" {
		errs = append(errs, fmt.Errorf("%s is required (host:port)", key("addr")))
	} else if _, _, err := net.SplitHostPort(addr); err != nil {
		errs = append(errs, fmt.Errorf("%s %q: want host:port: %v", key("addr"), addr, err))
	}
	if user == "" {
		errs = append(errs, fmt.Errorf("%s is required", key("user")))
	}
	return errs
}

// ValidateFailoverAddrs checks failover_addrs: host:port each, every
// server (addr included) named once.
func ValidateFailoverAddrs(key func(string) string, addr string, addrs []string) []error {
	var errs []error
	seen := map[string]bool{addr: true}
	for i, a := range addrs {
		k := fmt.Sprintf("%s[%d]", key("failover_addrs"), i)
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s %q: want host:port", k, a))
		} else if seen[a] {
			errs = append(errs, fmt.Errorf("%s %q: listed twice (addr and failover_addrs name each server once)", k, a))
		}
		seen[a] = true
	}
	return errs
}

// ValidateTables checks the keys that choose a source's tables and their
// keys: the include and exclude patterns, and key_columns, by "db.table",
// each with at least one column.
func ValidateTables(key func(string) string, n TableNaming, include, exclude []string, keyColumns map[string][]string) []error {
	var errs []error
	for i, p := range include {
		if err := n.CheckPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", key("include"), i, err))
		}
	}
	for i, p := range exclude {
		if err := n.CheckPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", key("exclude"), i, err))
		}
	}
	for t, cols := range keyColumns {
		if _, err := ParseTableID(t); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not %s.table", key("key_columns"), t, n.Namespace))
		}
		if len(cols) == 0 {
			errs = append(errs, fmt.Errorf("%s[%s]: list at least one column", key("key_columns"), t))
		}
	}
	return errs
}
