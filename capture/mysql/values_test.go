package mysql

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fakeDecimal stands in for shopspring decimal.Decimal.
type fakeDecimal string

func (f fakeDecimal) StringFixed(places int32) string {
	return string(f) + "@" + string(rune('0'+places))
}

func TestDecoderConvert(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    decoder
		in   any
		want any
	}{
		{"null", decoder{kind: kindUint, width: 8}, nil, nil},
		{"tinyint", decoder{kind: kindInt}, int8(-1), int64(-1)},
		{"tinyint unsigned", decoder{kind: kindUint, width: 8}, int8(-1), uint64(255)},
		{"smallint unsigned", decoder{kind: kindUint, width: 16}, int16(-1), uint64(65535)},
		{"mediumint unsigned", decoder{kind: kindUint, width: 24}, int32(-1), uint64(16777215)},
		{"int unsigned", decoder{kind: kindUint, width: 32}, int32(-1), uint64(4294967295)},
		{"bigint unsigned max", decoder{kind: kindUint, width: 64}, int64(-1), uint64(18446744073709551615)},
		{"bigint", decoder{kind: kindInt}, int64(-9223372036854775808), int64(-9223372036854775808)},
		{"decimal", decoder{kind: kindDecimal, scale: 2}, fakeDecimal("1.5"), "1.5@2"},
		{"float", decoder{kind: kindFloat}, float32(1.25), float32(1.25)},
		{"double", decoder{kind: kindDouble}, 2.5, 2.5},
		{"bit", decoder{kind: kindBit}, int64(-1), uint64(18446744073709551615)},
		{"year", decoder{kind: kindYear}, 2155, int64(2155)},
		{"year zero", decoder{kind: kindYear}, 0, int64(0)},
		{"date zero", decoder{kind: kindDate}, "0000-00-00", "0000-00-00"},
		{"time fraction padded", decoder{kind: kindTime, scale: 3}, "12:00:00", "12:00:00.000"},
		{"time negative", decoder{kind: kindTime, scale: 6}, "-838:59:59.000000", "-838:59:59.000000"},
		{"time no fsp", decoder{kind: kindTime}, "-00:00:01", "-00:00:01"},
		{"datetime naive", decoder{kind: kindDatetime, scale: 6}, "2024-01-31 23:59:59.123456", "2024-01-31 23:59:59.123456"},
		{"timestamp utc", decoder{kind: kindTimestamp, scale: 6}, "2024-01-31 23:59:59.123456", "2024-01-31T23:59:59.123456Z"},
		{"timestamp zero", decoder{kind: kindTimestamp}, "0000-00-00 00:00:00", "0000-00-00 00:00:00"},
		{"text from bytes", decoder{kind: kindString}, []byte("漢字😀"), "漢字😀"},
		{"varbinary from string", decoder{kind: kindBytes}, "\x00\xff", []byte{0, 0xff}},
		{"empty blob", decoder{kind: kindBytes}, []byte(nil), []byte{}},
		{"binary padded", decoder{kind: kindBytes, padTo: 4}, "\x01", []byte{1, 0, 0, 0}},
		{"json mariadb", decoder{kind: kindJSON}, []byte(`{"a":1}`), json.RawMessage(`{"a":1}`)},
		{"json mysql", decoder{kind: kindJSON}, `[1]`, json.RawMessage(`[1]`)},
		{"json empty", decoder{kind: kindJSON}, []byte{}, json.RawMessage(`null`)},
		{"enum", decoder{kind: kindEnum, labels: []string{"a", "b"}}, int64(2), "b"},
		{"enum error value", decoder{kind: kindEnum, labels: []string{"a"}}, int64(0), ""},
		{"set", decoder{kind: kindSet, labels: []string{"x", "y", "z"}}, int64(5), []string{"x", "z"}},
		{"set empty", decoder{kind: kindSet, labels: []string{"x"}}, int64(0), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.d.convert(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("convert(%#v) = %#v (%T), want %#v (%T)", tt.in, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestDecoderConvertErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    decoder
		in   any
	}{
		{"enum out of range", decoder{kind: kindEnum, labels: []string{"a"}}, int64(2)},
		{"set bit without label", decoder{kind: kindSet, labels: []string{"a"}}, int64(2)},
		{"wrong go type", decoder{kind: kindFloat}, "1.5"},
		{"partial json", decoder{kind: kindJSON}, struct{}{}},
	}
	for _, tt := range tests {
		if _, err := tt.d.convert(tt.in); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestColumnDecoderUnsupported(t *testing.T) {
	t.Parallel()
	if _, _, err := columnDecoder(columnMeta{typ: 0xf2 /* VECTOR */}); err == nil {
		t.Error("want an error for an unsupported type")
	}
}

func TestJSONValidColumn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"json_valid(`doc`)": "doc", "json_valid(`a``b`)": "a`b", "JSON_VALID(x)": "x", "x > 1": ""} {
		got, ok := jsonValidColumn(in)
		if got != want || ok != (want != "") {
			t.Errorf("jsonValidColumn(%q) = %q, %v", in, got, ok)
		}
	}
}
