package debezium

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/transform"
)

// TestTypeMapping checks, for each source type, the value Debezium's
// JsonConverter writes and the Connect schema of the field.
func TestTypeMapping(t *testing.T) {
	t.Parallel()
	geom := append([]byte{0xe6, 0x10, 0, 0}, // SRID 4326, little endian
		0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40) // POINT(1 2)
	const (
		my = transform.ConnectorMySQL
		pg = transform.ConnectorPostgres
	)
	tests := []struct {
		name      string
		connector string
		typ       string
		value     any
		opts      Options
		want      string // payload value of v
		schema    string // schema of v
	}{
		{"tinyint", my, "tinyint", int64(-128), Options{}, `-128`, `{"type":"int16","optional":true,"field":"v"}`},
		{"tinyint unsigned", my, "tinyint unsigned", uint64(255), Options{}, `255`, `{"type":"int16","optional":true,"field":"v"}`},
		{"smallint", my, "smallint", int64(-32768), Options{}, `-32768`, `{"type":"int16","optional":true,"field":"v"}`},
		{"smallint unsigned", my, "smallint unsigned", uint64(65535), Options{}, `65535`, `{"type":"int32","optional":true,"field":"v"}`},
		{"mediumint unsigned", my, "mediumint unsigned", uint64(16777215), Options{}, `16777215`, `{"type":"int32","optional":true,"field":"v"}`},
		{"int", my, "int", int64(-2147483648), Options{}, `-2147483648`, `{"type":"int32","optional":true,"field":"v"}`},
		{"int unsigned", my, "int unsigned", uint64(4294967295), Options{}, `4294967295`, `{"type":"int64","optional":true,"field":"v"}`},
		{"bigint", my, "bigint", int64(math.MinInt64), Options{}, `-9223372036854775808`, `{"type":"int64","optional":true,"field":"v"}`},
		{"bigint unsigned long", my, "bigint unsigned", uint64(math.MaxUint64), Options{}, `-1`, `{"type":"int64","optional":true,"field":"v"}`},
		{"bigint unsigned precise", my, "bigint unsigned", uint64(math.MaxUint64), Options{BigintUnsigned: BigintUnsignedPrecise}, `"AP//////////"`,
			`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"},"field":"v"}`},
		{"bigint unsigned precise small", my, "bigint unsigned", uint64(128), Options{BigintUnsigned: BigintUnsignedPrecise}, `"AIA="`,
			`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"0"},"field":"v"}`},
		{"decimal", my, "decimal(10,2)", "1234.50", Options{}, `"1234.50"`, `{"type":"string","optional":true,"field":"v"}`},
		{"decimal unsigned", my, "decimal(5,3) unsigned", "-0.001", Options{}, `"-0.001"`, `{"type":"string","optional":true,"field":"v"}`},
		{"float", my, "float", float32(0.1), Options{}, `0.1`, `{"type":"float","optional":true,"field":"v"}`},
		{"double NaN", my, "double", math.NaN(), Options{}, `"NaN"`, `{"type":"double","optional":true,"field":"v"}`},
		{"bit(1)", my, "bit(1)", uint64(1), Options{}, `true`, `{"type":"boolean","optional":true,"field":"v"}`},
		{"bit(10)", my, "bit(10)", uint64(0x2a5), Options{}, `"pQI="`,
			`{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"10"},"field":"v"}`},
		{"year", my, "year", int64(2024), Options{}, `2024`, `{"type":"int32","optional":true,"name":"io.debezium.time.Year","version":1,"field":"v"}`},
		{"date", my, "date", "2024-01-31", Options{}, `19753`, `{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"v"}`},
		{"date before epoch", my, "date", "1969-12-31", Options{}, `-1`, `{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"v"}`},
		{"zero date", my, "date", "0000-00-00", Options{}, `null`, `{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"v"}`},
		{"time(6) min", my, "time(6)", "-838:59:59.000000", Options{}, `-3020399000000`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"v"}`},
		{"time", my, "time", "12:30:00", Options{}, `45000000000`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"v"}`},
		{"datetime", my, "datetime", "2024-01-31 23:59:59", Options{}, `1706745599000`, `{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"v"}`},
		{"datetime(3)", my, "datetime(3)", "2024-01-31 23:59:59.123", Options{}, `1706745599123`, `{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"v"}`},
		{"datetime(6)", my, "datetime(6)", "2024-01-31 23:59:59.123456", Options{}, `1706745599123456`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"v"}`},
		{"zero datetime", my, "datetime", "0000-00-00 00:00:00", Options{}, `null`, `{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"v"}`},
		{"timestamp(6)", my, "timestamp(6)", "2024-01-31T23:59:59.123456Z", Options{}, `"2024-01-31T23:59:59.123456Z"`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"v"}`},
		{"timestamp", my, "timestamp", "2024-01-31T23:59:59Z", Options{}, `"2024-01-31T23:59:59Z"`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"v"}`},
		{"zero timestamp", my, "timestamp", "0000-00-00 00:00:00", Options{}, `null`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"v"}`},
		{"varchar", my, "varchar", "Zoë 李 📦", Options{}, `"Zoë 李 📦"`, `{"type":"string","optional":true,"field":"v"}`},
		{"longtext", my, "longtext", "a\"b", Options{}, `"a\"b"`, `{"type":"string","optional":true,"field":"v"}`},
		{"binary", my, "binary(3)", []byte{0, 1, 255}, Options{}, `"AAH/"`, `{"type":"bytes","optional":true,"field":"v"}`},
		{"blob empty", my, "blob", []byte{}, Options{}, `""`, `{"type":"bytes","optional":true,"field":"v"}`},
		{"json", my, "json", json.RawMessage(`{"wrap":true}`), Options{}, `"{\"wrap\":true}"`, `{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"v"}`},
		{"mariadb json", my, "json", json.RawMessage(`{"wrap":true}`), Options{ConnectorName: ConnectorMariaDB}, `"{\"wrap\":true}"`, `{"type":"string","optional":true,"field":"v"}`},
		{"enum", my, "enum", "paid", Options{}, `"paid"`, `{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"field":"v"}`},
		{"enum with labels", my, "enum('new','paid')", "paid", Options{}, `"paid"`,
			`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"new,paid"},"field":"v"}`},
		{"enum labels keep their case", my, "ENUM('New','Paid')", "Paid", Options{}, `"Paid"`,
			`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"New,Paid"},"field":"v"}`},
		{"unsigned in capitals", my, "INT(10) UNSIGNED", uint64(7), Options{}, `7`,
			`{"type":"int64","optional":true,"field":"v"}`},
		{"set", my, "set", []string{"gift", "express"}, Options{}, `"gift,express"`, `{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"field":"v"}`},
		{"set empty", my, "set", []string{}, Options{}, `""`, `{"type":"string","optional":true,"name":"io.debezium.data.EnumSet","version":1,"field":"v"}`},
		{"geometry", my, "geometry", geom, Options{}, `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":4326}`,
			`{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry","field":"v"}`},
		{"geometry srid 0", my, "linestring", append([]byte{0, 0, 0, 0}, geom[4:]...), Options{}, `{"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":null}`,
			`{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry","field":"v"}`},
		{"point", my, "point", geom, Options{}, `{"x":1,"y":2,"wkb":"AQEAAAAAAAAAAADwPwAAAAAAAABA","srid":4326}`,
			`{"type":"struct","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":true,"name":"io.debezium.data.geometry.Point","version":1,"doc":"Geometry (POINT)","field":"v"}`},
		{"mysql null", my, "datetime(6)", nil, Options{}, `null`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"v"}`},

		{"int2", pg, "int2", int64(-5), Options{}, `-5`, `{"type":"int16","optional":true,"field":"v"}`},
		{"int4", pg, "int4", int64(7), Options{}, `7`, `{"type":"int32","optional":true,"field":"v"}`},
		{"int8", pg, "int8", int64(math.MaxInt64), Options{}, `9223372036854775807`, `{"type":"int64","optional":true,"field":"v"}`},
		{"oid", pg, "oid", int64(4294967295), Options{}, `4294967295`, `{"type":"int64","optional":true,"field":"v"}`},
		{"float4", pg, "float4", float32(1.5), Options{}, `1.5`, `{"type":"float","optional":true,"field":"v"}`},
		{"float8 inf", pg, "float8", math.Inf(-1), Options{}, `"-Infinity"`, `{"type":"double","optional":true,"field":"v"}`},
		{"numeric", pg, "numeric", "12345678901234567890.0001", Options{}, `"12345678901234567890.0001"`, `{"type":"string","optional":true,"field":"v"}`},
		{"numeric NaN", pg, "numeric", "NaN", Options{}, `"NAN"`, `{"type":"string","optional":true,"field":"v"}`},
		{"numeric Infinity", pg, "numeric", "Infinity", Options{}, `"POSITIVE_INFINITY"`, `{"type":"string","optional":true,"field":"v"}`},
		{"numeric -Infinity", pg, "numeric", "-Infinity", Options{}, `"NEGATIVE_INFINITY"`, `{"type":"string","optional":true,"field":"v"}`},
		{"bool", pg, "bool", true, Options{}, `true`, `{"type":"boolean","optional":true,"field":"v"}`},
		{"text", pg, "text", "x\u2028y", Options{}, `"x\u2028y"`, `{"type":"string","optional":true,"field":"v"}`},
		{"bytea", pg, "bytea", []byte{0xde, 0xad, 0xbe, 0xef}, Options{}, `"3q2+7w=="`, `{"type":"bytes","optional":true,"field":"v"}`},
		{"uuid", pg, "uuid", "e41712e7-3994-4d86-af0e-df21006b3bf5", Options{}, `"e41712e7-3994-4d86-af0e-df21006b3bf5"`,
			`{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"v"}`},
		{"pg date", pg, "date", "2024-02-29", Options{}, `19782`, `{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"v"}`},
		{"pg time", pg, "time", "23:59:59.123456", Options{}, `86399123456`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"v"}`},
		{"pg time(3)", pg, "time(3)", "23:59:59.123", Options{}, `86399123`, `{"type":"int32","optional":true,"name":"io.debezium.time.Time","version":1,"field":"v"}`},
		{"timetz", pg, "timetz", "12:00:00+02", Options{}, `"10:00:00Z"`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTime","version":1,"field":"v"}`},
		{"timetz wraps", pg, "timetz", "23:30:00.5-01:30", Options{}, `"01:00:00.5Z"`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTime","version":1,"field":"v"}`},
		{"pg timestamp", pg, "timestamp", "2024-01-31 23:59:59.123456", Options{}, `1706745599123456`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"v"}`},
		{"pg timestamp(3)", pg, "timestamp(3)", "2024-01-31 23:59:59.123", Options{}, `1706745599123`, `{"type":"int64","optional":true,"name":"io.debezium.time.Timestamp","version":1,"field":"v"}`},
		{"timestamptz", pg, "timestamptz", "2024-01-31T23:59:59.123456Z", Options{}, `"2024-01-31T23:59:59.123456Z"`, `{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"v"}`},
		{"interval", pg, "interval", "P1Y2M3DT4H5M6.5S", Options{}, `37091106500000`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"v"}`},
		{"interval negative", pg, "interval", "PT-1.5S", Options{}, `-1500000`, `{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"v"}`},
		{"jsonb", pg, "jsonb", json.RawMessage(`{"a": 1}`), Options{}, `"{\"a\": 1}"`, `{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"v"}`},
		{"int4[]", pg, "int4[]", []any{int64(1), nil, int64(3)}, Options{}, `[1,null,3]`,
			`{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"v"}`},
		{"text[] 2-D", pg, "text[]", []any{[]any{"a", "b"}, []any{"c", nil}}, Options{}, `[["a","b"],["c",null]]`,
			`{"type":"array","items":{"type":"string","optional":true},"optional":true,"field":"v"}`},
		{"date[]", pg, "date[]", []any{"1970-01-02"}, Options{}, `[1]`,
			`{"type":"array","items":{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1},"optional":true,"field":"v"}`},
		{"pg enum fallback", pg, "mood", "happy", Options{}, `"happy"`, `{"type":"string","optional":true,"field":"v"}`},
		{"pg domain over int fallback", pg, "posint", int64(3), Options{}, `"3"`, `{"type":"string","optional":true,"field":"v"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			table := oneColumn("shop", tt.typ)
			c := mysqlChange(table, capture.OpCreate, nil, []any{int64(1), tt.value})
			tt.opts.Database = "app"
			if tt.connector == pg {
				c = pgChange(table, capture.OpCreate, nil, []any{int64(1), tt.value})
			}
			ev := &build(t, tt.connector, c)[0]

			_, value := encode(t, ev, table, tt.opts)
			var payload struct {
				After map[string]json.RawMessage `json:"after"`
			}
			if err := json.Unmarshal(value, &payload); err != nil {
				t.Fatal(err)
			}
			if got := string(payload.After["v"]); got != tt.want {
				t.Errorf("value = %s, want %s", got, tt.want)
			}

			tt.opts.Schemas = true
			_, value = encode(t, ev, table, tt.opts)
			var env struct {
				Schema struct {
					Fields []struct {
						Fields []json.RawMessage `json:"fields"`
					} `json:"fields"`
				} `json:"schema"`
			}
			if err := json.Unmarshal(value, &env); err != nil {
				t.Fatal(err)
			}
			if got := string(env.Schema.Fields[1].Fields[1]); got != tt.schema {
				t.Errorf("schema = %s\nwant     %s", got, tt.schema)
			}
		})
	}
}

// TestConversionErrors checks that values Debezium cannot represent are
// errors naming the column, never silently changed.
func TestConversionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		connector, typ string
		value          any
	}{
		{transform.ConnectorPostgres, "date", "infinity"},
		{transform.ConnectorPostgres, "interval", "1 day"},
		{transform.ConnectorMySQL, "datetime(6)", "yesterday"},
		{transform.ConnectorMySQL, "int", "7"},
		{transform.ConnectorMySQL, "geometry", []byte{1, 2}},
		{transform.ConnectorMySQL, "point", append([]byte{0, 0, 0, 0}, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)}, // a LINESTRING in a POINT column
	}
	for _, tt := range tests {
		table := oneColumn("shop", tt.typ)
		c := mysqlChange(table, capture.OpCreate, nil, []any{int64(1), tt.value})
		if tt.connector == transform.ConnectorPostgres {
			c = pgChange(table, capture.OpCreate, nil, []any{int64(1), tt.value})
		}
		ev := &build(t, tt.connector, c)[0]
		_, _, err := Encode(ev, table, Options{Database: "app"})
		if err == nil {
			t.Errorf("%s %v: no error", tt.typ, tt.value)
			continue
		}
		if want := `column "v" (` + tt.typ + `)`; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not name %s", tt.typ, err, want)
		}
	}
}
