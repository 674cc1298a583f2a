package mysql

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	gmysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tributary-cdc/tributary/capture"
)

// binaryCollation is the id of the "binary" charset/collation: a BLOB or
// VARCHAR column with it holds bytes, any other makes it text.
const binaryCollation = 63

// tableInfo is a decoded table map: the captured table and how to convert
// each of its columns.
type tableInfo struct {
	table    *capture.Table
	decoders []decoder
	sig      string // identifies the definition; a change means a rebuild
}

// tableSignature summarises everything buildTable reads from a table map, so
// that a table map for an unchanged table reuses the cached tableInfo.
//
// The stream computes it for every table map event (one per rows event), so
// it is a flat binary encoding built with appends, not fmt: every part is
// length-prefixed, so two different table maps never share a signature.
func tableSignature(tm *replication.TableMapEvent) string {
	n := 64 + len(tm.Schema) + len(tm.Table) + 3*len(tm.ColumnType) + len(tm.SignednessBitmap) +
		8*(len(tm.DefaultCharset)+len(tm.ColumnCharset)+len(tm.PrimaryKey)+len(tm.GeometryType))
	for _, c := range tm.ColumnName {
		n += 2 + len(c)
	}
	for _, labels := range tm.EnumStrValue {
		for _, l := range labels {
			n += 2 + len(l)
		}
	}
	for _, labels := range tm.SetStrValue {
		for _, l := range labels {
			n += 2 + len(l)
		}
	}
	b := make([]byte, 0, n)
	b = sigBytes(b, tm.Schema)
	b = sigBytes(b, tm.Table)
	b = sigBytes(b, tm.ColumnType)
	b = binary.AppendUvarint(b, uint64(len(tm.ColumnMeta)))
	for _, m := range tm.ColumnMeta {
		b = binary.LittleEndian.AppendUint16(b, m)
	}
	b = binary.AppendUvarint(b, uint64(len(tm.ColumnName)))
	for _, c := range tm.ColumnName {
		b = sigBytes(b, c)
	}
	b = sigBytes(b, tm.SignednessBitmap)
	b = sigUints(b, tm.DefaultCharset)
	b = sigUints(b, tm.ColumnCharset)
	b = sigUints(b, tm.PrimaryKey)
	b = sigLabels(b, tm.EnumStrValue)
	b = sigLabels(b, tm.SetStrValue)
	b = sigUints(b, tm.GeometryType)
	return string(b)
}

func sigBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func sigUints(b []byte, vs []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(vs)))
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// sigLabels encodes ENUM/SET labels per column; nil and empty lists differ
// from each other, as they do for buildTable ("set without labels").
func sigLabels(b []byte, cols [][][]byte) []byte {
	if cols == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(cols))+1)
	for _, labels := range cols {
		if labels == nil {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(labels))+1)
		for _, l := range labels {
			b = sigBytes(b, l)
		}
	}
	return b
}

// buildTable describes the table of tm. jsonCols names the columns MariaDB
// declares JSON (LONGTEXT with a json_valid check); keyCols is the configured
// key for tables without a primary key.
func buildTable(tm *replication.TableMapEvent, jsonCols map[string]bool, keyCols []string) (*tableInfo, error) {
	db, name := string(tm.Schema), string(tm.Table)
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	if len(names) != n {
		// The binlog already holds these events without names: a restart
		// would read them again, so this stops the source instead of looping.
		return nil, &capture.PermanentError{Err: fmt.Errorf("%w: table %s.%s: the binlog's table map carries no column names (it was written while binlog_row_metadata was not FULL); set binlog_row_metadata=FULL, then re-snapshot the table or rewind past these events", ErrPreflight, db, name)}
	}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	enums := tm.EnumStrValueMap()
	sets := tm.SetStrValueMap()

	t := &capture.Table{Database: db, Name: name, Columns: make([]capture.Column, n)}
	decs := make([]decoder, n)
	for i := 0; i < n; i++ {
		col := columnMeta{
			typ: tm.ColumnType[i], meta: tm.ColumnMeta[i], unsigned: unsigned[i],
			json: jsonCols[names[i]], enum: enums[i], set: sets[i],
		}
		col.collation, col.hasCollation = collations[i]
		d, typeName, err := columnDecoder(col)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s column %s: %w", db, name, names[i], err)
		}
		t.Columns[i] = capture.Column{Name: names[i], Type: typeName}
		decs[i] = d
	}
	switch {
	case len(tm.PrimaryKey) > 0:
		for _, k := range tm.PrimaryKey {
			t.Key = append(t.Key, int(k))
		}
	case len(keyCols) > 0:
		for _, kc := range keyCols {
			idx := -1
			for i, c := range names {
				if strings.EqualFold(c, kc) {
					idx = i
					break
				}
			}
			if idx < 0 {
				return nil, fmt.Errorf("key_columns[%s.%s] names column %q, which the table does not have", db, name, kc)
			}
			t.Key = append(t.Key, idx)
		}
	}
	return &tableInfo{table: t, decoders: decs, sig: tableSignature(tm)}, nil
}

// columnMeta is what the table map says about one column.
type columnMeta struct {
	typ          byte
	meta         uint16
	unsigned     bool
	collation    uint64
	hasCollation bool
	json         bool
	enum, set    []string
}

// columnDecoder picks the conversion and the readable type name of a column.
func columnDecoder(c columnMeta) (decoder, string, error) {
	intType := func(name string, width int) (decoder, string, error) {
		if c.unsigned {
			return decoder{kind: kindUint, width: width}, name + " unsigned", nil
		}
		return decoder{kind: kindInt}, name, nil
	}
	withFsp := func(name string, fsp int) string {
		if fsp == 0 {
			return name
		}
		return name + "(" + strconv.Itoa(fsp) + ")"
	}
	binary := c.hasCollation && c.collation == binaryCollation
	switch c.typ {
	case gmysql.MYSQL_TYPE_TINY:
		return intType("tinyint", 8)
	case gmysql.MYSQL_TYPE_SHORT:
		return intType("smallint", 16)
	case gmysql.MYSQL_TYPE_INT24:
		return intType("mediumint", 24)
	case gmysql.MYSQL_TYPE_LONG:
		return intType("int", 32)
	case gmysql.MYSQL_TYPE_LONGLONG:
		return intType("bigint", 64)
	case gmysql.MYSQL_TYPE_NEWDECIMAL:
		prec, scale := int(c.meta>>8), int(c.meta&0xff)
		name := fmt.Sprintf("decimal(%d,%d)", prec, scale)
		if c.unsigned {
			name += " unsigned"
		}
		return decoder{kind: kindDecimal, scale: scale}, name, nil
	case gmysql.MYSQL_TYPE_FLOAT:
		return decoder{kind: kindFloat}, "float", nil
	case gmysql.MYSQL_TYPE_DOUBLE:
		return decoder{kind: kindDouble}, "double", nil
	case gmysql.MYSQL_TYPE_BIT:
		nbits := int(c.meta>>8)*8 + int(c.meta&0xff)
		return decoder{kind: kindBit}, fmt.Sprintf("bit(%d)", nbits), nil
	case gmysql.MYSQL_TYPE_YEAR:
		return decoder{kind: kindYear}, "year", nil
	case gmysql.MYSQL_TYPE_DATE, gmysql.MYSQL_TYPE_NEWDATE:
		return decoder{kind: kindDate}, "date", nil
	case gmysql.MYSQL_TYPE_TIME:
		return decoder{kind: kindTime}, "time", nil
	case gmysql.MYSQL_TYPE_TIME2:
		return decoder{kind: kindTime, scale: int(c.meta)}, withFsp("time", int(c.meta)), nil
	case gmysql.MYSQL_TYPE_DATETIME:
		return decoder{kind: kindDatetime}, "datetime", nil
	case gmysql.MYSQL_TYPE_DATETIME2:
		return decoder{kind: kindDatetime, scale: int(c.meta)}, withFsp("datetime", int(c.meta)), nil
	case gmysql.MYSQL_TYPE_TIMESTAMP:
		return decoder{kind: kindTimestamp}, "timestamp", nil
	case gmysql.MYSQL_TYPE_TIMESTAMP2:
		return decoder{kind: kindTimestamp, scale: int(c.meta)}, withFsp("timestamp", int(c.meta)), nil
	case gmysql.MYSQL_TYPE_VARCHAR, gmysql.MYSQL_TYPE_VAR_STRING:
		if binary {
			return decoder{kind: kindBytes}, "varbinary", nil
		}
		return decoder{kind: kindString, text: textDecoder(c.collation, c.hasCollation)}, "varchar", nil
	case gmysql.MYSQL_TYPE_STRING:
		switch byte(c.meta >> 8) {
		case gmysql.MYSQL_TYPE_ENUM:
			if c.enum == nil {
				return decoder{}, "", fmt.Errorf("enum without labels in the table map; set binlog_row_metadata=FULL")
			}
			return decoder{kind: kindEnum, labels: c.enum}, labelledType("enum", c.enum), nil
		case gmysql.MYSQL_TYPE_SET:
			if c.set == nil {
				return decoder{}, "", fmt.Errorf("set without labels in the table map; set binlog_row_metadata=FULL")
			}
			return decoder{kind: kindSet, labels: c.set}, labelledType("set", c.set), nil
		}
		if binary {
			return decoder{kind: kindBytes, padTo: stringLength(c.meta)}, fmt.Sprintf("binary(%d)", stringLength(c.meta)), nil
		}
		return decoder{kind: kindString, text: textDecoder(c.collation, c.hasCollation)}, "char", nil
	case gmysql.MYSQL_TYPE_BLOB:
		size := [...]string{1: "tiny", 2: "", 3: "medium", 4: "long"}
		prefix := ""
		if int(c.meta) < len(size) {
			prefix = size[c.meta]
		}
		switch {
		case c.json:
			return decoder{kind: kindJSON}, "json", nil
		case binary || !c.hasCollation:
			return decoder{kind: kindBytes}, prefix + "blob", nil
		default:
			return decoder{kind: kindString, text: textDecoder(c.collation, c.hasCollation)}, prefix + "text", nil
		}
	case gmysql.MYSQL_TYPE_JSON:
		return decoder{kind: kindJSON}, "json", nil
	case gmysql.MYSQL_TYPE_GEOMETRY:
		// SRID (4 bytes, little endian) followed by WKB, as the server stores it.
		return decoder{kind: kindBytes}, "geometry", nil
	}
	return decoder{}, "", fmt.Errorf("unsupported column type %d (binlog type code) for capture", c.typ)
}

// stringLength is the declared byte length of a CHAR/BINARY column from its
// table-map metadata (the high bits of lengths above 255 are folded into the
// type byte).
func stringLength(meta uint16) int {
	b0, b1 := uint8(meta>>8), uint8(meta&0xff)
	if b0&0x30 != 0x30 {
		return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return int(b1)
}
