package mapping

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Config is one entry of the daemon config's `mappings:` list. It applies to
// the tables it matches; the first matching entry wins. Column names in
// filter, cast, mask, rename and drop are the source's; key.fields names
// output (renamed or added) fields.
type Config struct {
	// Source limits the mapping to one configured source; empty matches all.
	Source string `yaml:"source"`
	// Table is a "db.table" glob (path.Match syntax: *, ?, [a-z]) matched
	// against "<database>.<table>"; for PostgreSQL the database part is the
	// schema. Required.
	Table string `yaml:"table"`

	// Entity renames the table: events get a top-level "entity" field and,
	// unless Topic is set, go to <prefix>.<source>.<database>.<entity>.
	// source.table keeps the real table name.
	Entity string `yaml:"entity"`
	// Rename maps source column names to output field names.
	Rename map[string]string `yaml:"rename"`
	// Drop lists source columns left out of before and after (never of the
	// key: it identifies the row).
	Drop []string `yaml:"drop"`
	// Mask hides column values in before, after and key.
	Mask map[string]Mask `yaml:"mask"`
	// Cast converts column values: bool, number, or timestamp with a zone.
	Cast map[string]Cast `yaml:"cast"`
	// Add appends static fields (string, number, bool or null) to before and
	// after, in name order.
	Add map[string]any `yaml:"add"`
	// Topic routes the matched tables to one topic.
	Topic string `yaml:"topic"`
	// Key says how the Kafka key (and the event's key) is made.
	Key Key `yaml:"key"`
	// Filter is an expr-lang boolean expression over before, after (maps of
	// source columns) and op; rows that do not match are not sent.
	Filter string `yaml:"filter"`
}

// Key configures the message key of mapped events.
type Key struct {
	// IncludeSource puts {"source":"<source name>"} first in the key, so that
	// tables of different sources sharing a topic never share a key. Default:
	// true when Topic is set and Fields is not, false otherwise (an entity
	// topic is per source already).
	IncludeSource *bool `yaml:"include_source"`
	// Fields replaces the table's key with these output fields (after rename
	// and add), e.g. [email] to merge one customer's rows from two systems
	// onto one key. An update that changes them becomes a delete of the old
	// key and a create of the new one.
	Fields []string `yaml:"fields"`
}

// MaskKind says how a column is masked.
type MaskKind string

const (
	// MaskHash replaces a value by the lowercase hex HMAC-SHA256 of its
	// canonical JSON encoding, keyed with a secret salt. Equal values give
	// equal hashes (joins keep working); NULL stays null.
	MaskHash MaskKind = "hash"
	// MaskRedact replaces every value, NULL included, by the string "***",
	// so not even NULL-ness is revealed.
	MaskRedact MaskKind = "redact"
	// MaskKeepLast replaces all but the last N characters of the value's
	// string form by '*'; a value of N characters or fewer is masked
	// entirely. NULL stays null.
	MaskKeepLast MaskKind = "keep_last"
)

// Mask is one column's mask rule. In YAML it is a mapping
// ({kind: keep_last, n: 4}) or, for kinds without settings, just the kind
// (redact).
type Mask struct {
	Kind MaskKind `yaml:"kind"`
	// N is the number of trailing characters keep_last keeps.
	N int `yaml:"n"`
	// SaltEnv or SaltFile (exactly one, hash only) holds the HMAC key.
	SaltEnv  string `yaml:"salt_env"`
	SaltFile string `yaml:"salt_file"`
}

// CastKind is the type a column is cast to.
type CastKind string

const (
	// CastBool turns integers 0 and 1 (MySQL TINYINT(1)/BOOL) into false and
	// true. Any other integer, or a non-integer, is a row error; booleans
	// and NULL pass unchanged.
	CastBool CastKind = "bool"
	// CastNumber turns a numeric string (DECIMAL, NUMERIC) into a JSON
	// number with exactly the same digits. Non-numeric strings ("NaN",
	// "Infinity", "") are row errors; numbers and NULL pass unchanged.
	CastNumber CastKind = "number"
	// CastTimestamp reads a naive datetime string ("2024-01-31 23:59:59.5")
	// as wall-clock time in Cast.Timezone and writes it as RFC 3339 UTC
	// ("2024-01-31T22:59:59.5Z"), keeping the fractional digits.
	CastTimestamp CastKind = "timestamp"
)

// Cast is one column's cast rule. In YAML it is the kind (bool, number) or
// a mapping ({timezone: Europe/Berlin}, which implies timestamp).
type Cast struct {
	To       CastKind `yaml:"to"`
	Timezone string   `yaml:"timezone"`
}

// UnmarshalYAML accepts "redact" as well as {kind: redact}. Unknown keys
// are errors, as in the rest of the config.
func (m *Mask) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		return node.Decode(&m.Kind)
	}
	return decodeStrict(node, "mask", map[string]any{
		"kind": &m.Kind, "n": &m.N, "salt_env": &m.SaltEnv, "salt_file": &m.SaltFile,
	}, "kind, n, salt_env, salt_file")
}

// UnmarshalYAML accepts "bool" as well as {to: bool} and {timezone: Z},
// which means {to: timestamp, timezone: Z}.
func (c *Cast) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		return node.Decode(&c.To)
	}
	if err := decodeStrict(node, "cast", map[string]any{
		"to": &c.To, "timezone": &c.Timezone,
	}, "to, timezone"); err != nil {
		return err
	}
	if c.To == "" && c.Timezone != "" {
		c.To = CastTimestamp
	}
	return nil
}

// decodeStrict decodes a mapping node into the targets by key; yaml.v3 does
// not pass KnownFields on to custom unmarshalers, so unknown keys are
// checked here.
func decodeStrict(node *yaml.Node, what string, targets map[string]any, want string) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping or a kind name", node.Line, what)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		target, ok := targets[k.Value]
		if !ok {
			return fmt.Errorf("line %d: %s: unknown key %q (want %s)", k.Line, what, k.Value, want)
		}
		if err := v.Decode(target); err != nil {
			return fmt.Errorf("line %d: %s.%s: %w", k.Line, what, k.Value, err)
		}
	}
	return nil
}
