package mysql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"
)

// formatMySQLGTID is MySQL's text form of one GTID: "uuid:gno", or
// "uuid:tag:gno" for a tagged GTID (MySQL 8.3+).
func formatMySQLGTID(sid, tag string, gno int64) string {
	if tag == "" {
		return sid + ":" + strconv.FormatInt(gno, 10)
	}
	return sid + ":" + tag + ":" + strconv.FormatInt(gno, 10)
}

// mysqlGTIDSet is a MySQL GTID set that also holds tagged GTIDs
// ("uuid:1-5:tag:1-3", MySQL 8.3+). go-mysql v1.13's MysqlGTIDSet cannot
// parse tags, so a tagged transaction would never enter the set and a set
// with tags could not be read back from a checkpoint. Keys are "uuid" or
// "uuid:tag" (tags are case-insensitive in MySQL, kept lower case).
//
// Encode writes the untagged part only, in go-mysql's COM_BINLOG_DUMP_GTID
// form; streams resume by file:pos, so nothing sends it today.
type mysqlGTIDSet struct {
	sets map[string]gmysql.IntervalSlice
}

var _ gmysql.GTIDSet = (*mysqlGTIDSet)(nil)

// parseMySQLGTIDSet reads "uuid:1-5:tag:7,uuid2:1-3" (newlines allowed).
func parseMySQLGTIDSet(text string) (*mysqlGTIDSet, error) {
	s := &mysqlGTIDSet{sets: map[string]gmysql.IntervalSlice{}}
	return s, s.Update(text)
}

// Update adds a GTID or a GTID set in text form.
func (s *mysqlGTIDSet) Update(text string) error {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\n", ""), " ", "")
	if text == "" {
		return nil
	}
	for _, part := range strings.Split(text, ",") {
		if part == "" {
			continue
		}
		fields := strings.Split(part, ":")
		sid, err := uuid.Parse(fields[0])
		if err != nil {
			return fmt.Errorf("parse GTID set %q: %q is not a server UUID", text, fields[0])
		}
		key := sid.String()
		for _, f := range fields[1:] {
			if f == "" {
				return fmt.Errorf("parse GTID set %q: empty element", text)
			}
			if f[0] < '0' || f[0] > '9' {
				key = sid.String() + ":" + strings.ToLower(f) // a tag: the intervals after it are tagged
				continue
			}
			in, err := parseGTIDInterval(f)
			if err != nil {
				return fmt.Errorf("parse GTID set %q: %w", text, err)
			}
			iv := s.sets[key]
			iv.InsertInterval(in)
			s.sets[key] = iv
		}
	}
	return nil
}

func parseGTIDInterval(f string) (gmysql.Interval, error) {
	lo, hi, isRange := strings.Cut(f, "-")
	a, err := strconv.ParseInt(lo, 10, 64)
	b := a
	if err == nil && isRange {
		b, err = strconv.ParseInt(hi, 10, 64)
	}
	if err != nil || a < 1 || b < a {
		return gmysql.Interval{}, fmt.Errorf("bad interval %q", f)
	}
	return gmysql.Interval{Start: a, Stop: b + 1}, nil
}

// String is MySQL's canonical form: servers in UUID order, each with its
// untagged intervals first, then its tags in order.
func (s *mysqlGTIDSet) String() string {
	type entry struct{ sid, tag string }
	var keys []entry
	for k, iv := range s.sets {
		if len(iv) == 0 {
			continue
		}
		sid, tag, _ := strings.Cut(k, ":")
		keys = append(keys, entry{sid, tag})
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].sid != keys[j].sid {
			return keys[i].sid < keys[j].sid
		}
		return keys[i].tag < keys[j].tag // "" (untagged) first
	})
	var b strings.Builder
	for i, k := range keys {
		if i == 0 || keys[i-1].sid != k.sid {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k.sid)
		}
		key := k.sid
		if k.tag != "" {
			b.WriteString(":" + k.tag)
			key += ":" + k.tag
		}
		for _, in := range s.sets[key] {
			b.WriteString(":" + in.String())
		}
	}
	return b.String()
}

func (s *mysqlGTIDSet) Encode() []byte {
	var untagged []string
	for k, iv := range s.sets {
		if !strings.Contains(k, ":") && len(iv) > 0 {
			parts := []string{k}
			for _, in := range iv {
				parts = append(parts, in.String())
			}
			untagged = append(untagged, strings.Join(parts, ":"))
		}
	}
	gs, err := gmysql.ParseMysqlGTIDSet(strings.Join(untagged, ","))
	if err != nil {
		return nil
	}
	return gs.Encode()
}

func (s *mysqlGTIDSet) Equal(o gmysql.GTIDSet) bool {
	return s.Contain(o) && o.Contain(s)
}

// Contain reports whether every GTID of o is in s.
func (s *mysqlGTIDSet) Contain(o gmysql.GTIDSet) bool {
	other, ok := o.(*mysqlGTIDSet)
	if !ok {
		var err error
		if other, err = parseMySQLGTIDSet(o.String()); err != nil {
			return false
		}
	}
	for k, iv := range other.sets {
		if len(iv) > 0 && !s.sets[k].Contain(iv) {
			return false
		}
	}
	return true
}

func (s *mysqlGTIDSet) Clone() gmysql.GTIDSet {
	c := &mysqlGTIDSet{sets: make(map[string]gmysql.IntervalSlice, len(s.sets))}
	for k, iv := range s.sets {
		c.sets[k] = append(gmysql.IntervalSlice(nil), iv...)
	}
	return c
}

func (s *mysqlGTIDSet) IsEmpty() bool {
	for _, iv := range s.sets {
		if len(iv) > 0 {
			return false
		}
	}
	return true
}
