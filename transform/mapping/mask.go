package mapping

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/tributary-cdc/tributary/transform"
)

// masker hides one canonical value. Its errors become RowError reasons, so
// they name types, never values.
type masker func(v any) (any, error)

// redacted replaces every value a redact mask hides.
const redacted = "***"

func compileMask(m Mask, env func(string) (string, bool), readFile func(string) ([]byte, error)) (masker, error) {
	hasSalt := m.SaltEnv != "" || m.SaltFile != ""
	switch m.Kind {
	case MaskHash:
		if m.N != 0 {
			return nil, errors.New("n applies to keep_last only")
		}
		salt, err := loadSalt(m, env, readFile)
		if err != nil {
			return nil, err
		}
		return hashMask(salt), nil
	case MaskRedact:
		if m.N != 0 || hasSalt {
			return nil, errors.New("redact takes no n, salt_env or salt_file")
		}
		return func(any) (any, error) { return redacted, nil }, nil
	case MaskKeepLast:
		if hasSalt {
			return nil, errors.New("salt_env and salt_file apply to hash only")
		}
		if m.N < 1 {
			return nil, errors.New("keep_last needs n, the number of trailing characters kept (at least 1)")
		}
		n := m.N
		return func(v any) (any, error) { return keepLast(v, n) }, nil
	case "":
		return nil, errors.New("missing kind (want hash, redact, keep_last)")
	}
	return nil, fmt.Errorf("unknown kind %q (want hash, redact, keep_last)", m.Kind)
}

// loadSalt reads the HMAC key. It must be secret and stable: changing it
// changes every hash, and joins across topics break until all are rehashed.
func loadSalt(m Mask, env func(string) (string, bool), readFile func(string) ([]byte, error)) ([]byte, error) {
	var salt string
	switch {
	case m.SaltEnv != "" && m.SaltFile != "":
		return nil, errors.New("set salt_env or salt_file, not both")
	case m.SaltEnv != "":
		v, ok := env(m.SaltEnv)
		if !ok {
			return nil, fmt.Errorf("salt_env: environment variable %s is not set", m.SaltEnv)
		}
		salt = v
	case m.SaltFile != "":
		b, err := readFile(m.SaltFile)
		if err != nil {
			return nil, fmt.Errorf("salt_file: %w", err)
		}
		salt = strings.TrimRight(string(b), "\r\n")
	default:
		return nil, errors.New("hash needs a secret salt: set salt_env or salt_file")
	}
	if salt == "" {
		return nil, errors.New("the salt is empty")
	}
	return []byte(salt), nil
}

// hashMask returns the hex HMAC-SHA256 of the value's canonical JSON
// encoding (so 42 and "42" hash differently, and the hash does not depend
// on the source kind). Each call takes a keyed HMAC and buffers from a pool:
// building them costs two SHA-256 blocks and several allocations.
func hashMask(salt []byte) masker {
	type state struct {
		h   hash.Hash
		row transform.Row
		buf []byte
		sum [sha256.Size]byte
	}
	pool := &sync.Pool{New: func() any {
		return &state{h: hmac.New(sha256.New, salt), row: make(transform.Row, 1), buf: make([]byte, 0, 256)}
	}}
	return func(v any) (any, error) {
		if v == nil {
			return nil, nil
		}
		st := pool.Get().(*state)
		defer pool.Put(st)
		st.row[0].Value = v
		enc, err := st.row.AppendJSON(st.buf[:0])
		st.row[0].Value = nil
		if err != nil {
			return nil, errors.New("the value does not encode as JSON")
		}
		if cap(enc) <= 64<<10 {
			st.buf = enc // keep a grown buffer, but not a huge one
		}
		st.h.Reset()
		st.h.Write(enc[len(`{"":`) : len(enc)-1])
		return hex.EncodeToString(st.h.Sum(st.sum[:0])), nil
	}
}

// encodeValue appends the canonical JSON of v, through the event encoder:
// a one-field row is {"":<v>}.
func encodeValue(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	dst, err := transform.Row{{Value: v}}.AppendJSON(dst)
	if err != nil {
		return dst, errors.New("the value does not encode as JSON")
	}
	const open = len(`{"":`)
	enc := dst[n+open : len(dst)-1]
	return append(dst[:n], enc...), nil
}

// keepLast masks all but the last n characters (runes) of the value's string
// form: strings as they are, integers and numbers (cast) as their digits.
// Values of n characters or fewer are masked whole, so keep_last never
// reveals a complete value.
func keepLast(v any, n int) (any, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case uint64:
		s = strconv.FormatUint(v, 10)
	case json.RawMessage:
		if _, ok := numberText(string(v)); !ok {
			return nil, errors.New("keep_last needs a string or number, got a JSON document")
		}
		s = string(v)
	default:
		return nil, fmt.Errorf("keep_last needs a string or number, got %s", typeName(v))
	}
	total := utf8.RuneCountInString(s)
	hide := total - n
	if hide <= 0 {
		return strings.Repeat("*", total), nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := range s {
		if hide == 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteByte('*')
		hide--
	}
	return b.String(), nil
}
