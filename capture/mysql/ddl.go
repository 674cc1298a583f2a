package mysql

import (
	"strings"
	"unicode"
)

type stmtKind uint8

const (
	stmtOther stmtKind = iota
	stmtDDL
	stmtDML
)

// stmtInfo is what the source reads from a statement's text: never values.
type stmtInfo struct {
	kind      stmtKind
	verb      string // e.g. "ALTER TABLE", safe to log
	db, table string // the table a DDL statement names, if recognisable
	dbOnly    bool   // a database-level statement (CREATE/ALTER/DROP DATABASE)
}

// classify reads the verb and, for table DDL, the table name. It never
// fails: what it cannot read is stmtOther, or DDL without a table.
func classify(q string) stmtInfo {
	words := leadingWords(stripComments(q), 8)
	if len(words) == 0 {
		return stmtInfo{}
	}
	w0 := strings.ToUpper(words[0])
	switch w0 {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "LOAD":
		return stmtInfo{kind: stmtDML, verb: w0}
	case "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE":
	default:
		return stmtInfo{verb: w0}
	}
	// Skip modifiers up to the object keyword.
	i := 1
	for i < len(words) {
		u := strings.ToUpper(words[i])
		if strings.HasPrefix(u, "DEFINER=") || strings.HasPrefix(u, "ALGORITHM=") {
			i++
			continue
		}
		switch u {
		case "OR", "REPLACE", "TEMPORARY", "ONLINE", "OFFLINE", "IGNORE", "DEFINER", "SQL", "SECURITY", "ALGORITHM", "UNIQUE", "FULLTEXT", "SPATIAL":
			i++
			continue
		}
		break
	}
	if i >= len(words) {
		return stmtInfo{kind: stmtDDL, verb: w0}
	}
	obj := strings.ToUpper(words[i])
	verb := w0 + " " + obj
	switch obj {
	case "USER", "ROLE", "SERVER":
		// Account statements can carry credentials: not schema changes.
		return stmtInfo{verb: verb}
	case "TABLE", "TABLES":
	case "DATABASE", "SCHEMA":
		info := stmtInfo{kind: stmtDDL, verb: verb, dbOnly: true}
		j := i + 1
		for j+1 < len(words) && strings.EqualFold(words[j], "IF") {
			if strings.EqualFold(words[j+1], "NOT") {
				j++
			}
			j += 2
		}
		if j < len(words) {
			if _, name, ok := splitQualified(words[j]); ok {
				info.db = name
			}
		}
		return info
	case "INDEX", "VIEW", "TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "SEQUENCE":
		return stmtInfo{kind: stmtDDL, verb: verb}
	default:
		if w0 == "TRUNCATE" { // TRUNCATE t
			i--
			verb = "TRUNCATE TABLE"
		} else {
			return stmtInfo{kind: stmtDDL, verb: verb}
		}
	}
	i++
	for i+1 < len(words) && strings.EqualFold(words[i], "IF") {
		// IF [NOT] EXISTS
		if strings.EqualFold(words[i+1], "NOT") {
			i++
		}
		i += 2
	}
	if i >= len(words) {
		return stmtInfo{kind: stmtDDL, verb: verb}
	}
	db, table, ok := splitQualified(words[i])
	if !ok {
		return stmtInfo{kind: stmtDDL, verb: verb}
	}
	return stmtInfo{kind: stmtDDL, verb: verb, db: db, table: table}
}

// splitQualified reads `db`.`t`, db.t, `t` or t (and stops at "(" or ",").
func splitQualified(s string) (db, table string, ok bool) {
	var parts []string
	for len(s) > 0 && len(parts) < 2 {
		var name string
		if s[0] == '`' {
			end := 1
			for ; end < len(s); end++ {
				if s[end] == '`' {
					if end+1 < len(s) && s[end+1] == '`' {
						end++
						continue
					}
					break
				}
			}
			if end >= len(s) {
				return "", "", false
			}
			name = strings.ReplaceAll(s[1:end], "``", "`")
			s = s[end+1:]
		} else {
			end := strings.IndexAny(s, ".(,;")
			if end < 0 {
				end = len(s)
			}
			name, s = s[:end], s[end:]
		}
		if name == "" {
			return "", "", false
		}
		parts = append(parts, name)
		if len(s) == 0 || s[0] != '.' {
			break
		}
		s = s[1:]
	}
	switch len(parts) {
	case 1:
		return "", parts[0], true
	case 2:
		return parts[0], parts[1], true
	}
	return "", "", false
}

// leadingWords splits off up to n whitespace-separated words, keeping
// backquoted names (which may hold spaces) whole.
func leadingWords(s string, n int) []string {
	var out []string
	for len(out) < n {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
		if s == "" {
			break
		}
		end, inQuote := 0, false
		for end < len(s) {
			c := s[end]
			if c == '`' {
				inQuote = !inQuote
			} else if !inQuote && (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(') {
				break
			}
			end++
		}
		if end == 0 { // "(" at the start of a word
			end = 1
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// firstKeyword is the upper-cased first word after leading comments.
func firstKeyword(q string) string {
	w := leadingWords(stripComments(q), 1)
	if len(w) == 0 {
		return ""
	}
	return strings.ToUpper(strings.TrimRight(w[0], ";"))
}

// stripComments drops leading whitespace and /* */, -- and # comments
// (MariaDB executable comments /*! ... */ are kept as comments: rare in DDL).
func stripComments(q string) string {
	for {
		q = strings.TrimLeftFunc(q, unicode.IsSpace)
		switch {
		case strings.HasPrefix(q, "/*"):
			end := strings.Index(q[2:], "*/")
			if end < 0 {
				return ""
			}
			q = q[end+4:]
		case strings.HasPrefix(q, "--"), strings.HasPrefix(q, "#"):
			end := strings.IndexByte(q, '\n')
			if end < 0 {
				return ""
			}
			q = q[end+1:]
		default:
			return q
		}
	}
}
