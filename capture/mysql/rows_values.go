package mysql

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// fromSQL converts a value as go-sql-driver returns it from the binary
// protocol (int64, float32, float64, []byte; uint64 above MaxInt64 as
// digits) to the canonical value convert gives for the binlog's value.
func (d decoder) fromSQL(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, isBytes := v.([]byte)
	switch d.kind {
	case kindInt, kindYear:
		if x, ok := v.(int64); ok {
			return x, nil
		}
	case kindUint:
		switch x := v.(type) {
		case int64:
			return uint64(x), nil
		case []byte:
			return strconv.ParseUint(string(x), 10, 64)
		}
	case kindFloat:
		if x, ok := v.(float32); ok {
			return x, nil
		}
	case kindDouble:
		if x, ok := v.(float64); ok {
			return x, nil
		}
	case kindBit:
		if isBytes && len(b) <= 8 {
			var buf [8]byte
			copy(buf[8-len(b):], b)
			return binary.BigEndian.Uint64(buf[:]), nil
		}
	case kindDecimal, kindDate, kindDatetime, kindString, kindEnum:
		if isBytes {
			return string(b), nil
		}
	case kindTime:
		if isBytes {
			return fixFraction(string(b), d.scale), nil
		}
	case kindTimestamp:
		if isBytes {
			return timestampUTC(string(b)), nil
		}
	case kindBytes:
		if isBytes {
			out := append([]byte{}, b...) // never nil: nil []byte is not ""
			if len(out) < d.padTo {
				out = append(out, make([]byte, d.padTo-len(out))...)
			}
			return out, nil
		}
	case kindJSON:
		if isBytes {
			if len(b) == 0 {
				return json.RawMessage("null"), nil
			}
			return json.RawMessage(b), nil
		}
	case kindSet:
		if isBytes {
			if len(b) == 0 {
				return []string{}, nil
			}
			return strings.Split(string(b), ","), nil
		}
	}
	return nil, fmt.Errorf("unexpected %T from the server for this column", v)
}

// fromJSON is the inverse of the JSON encoding (transform) for the kinds a
// key can have.
func (d decoder) fromJSON(raw json.RawMessage) (any, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	var labels []string
	switch d.kind {
	case kindInt, kindYear:
		return strconv.ParseInt(string(raw), 10, 64)
	case kindUint, kindBit:
		return strconv.ParseUint(string(raw), 10, 64)
	case kindFloat, kindDouble:
		bits := 64
		if d.kind == kindFloat {
			bits = 32
		}
		var f float64
		if err := json.Unmarshal(raw, &s); err == nil {
			switch s {
			case "NaN":
				f = math.NaN()
			case "Infinity":
				f = math.Inf(1)
			case "-Infinity":
				f = math.Inf(-1)
			default:
				return nil, fmt.Errorf("not a number")
			}
		} else {
			var err error
			if f, err = strconv.ParseFloat(string(raw), bits); err != nil {
				return nil, err
			}
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case kindSet:
		if err := json.Unmarshal(raw, &labels); err != nil {
			return nil, err
		}
		return labels, nil
	case kindJSON:
		return nil, errors.New("JSON key columns are not supported")
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if d.kind == kindBytes {
		return base64.StdEncoding.DecodeString(s)
	}
	return s, nil
}
