package transform

import "github.com/tributary-cdc/tributary/capture"

// ErrInvalidUTF8 is returned when a string value, column name or JSON
// document is not valid UTF-8 (capture.ErrInvalidUTF8).
var ErrInvalidUTF8 = capture.ErrInvalidUTF8

const hexDigits = "0123456789abcdef"

// The JSON encoding of canonical values lives with their definition in
// package capture, so that sources can name rows by key exactly as events
// do without importing this package.
func appendValue(dst []byte, v any) ([]byte, error)     { return capture.AppendValueJSON(dst, v) }
func appendString(dst []byte, s string) ([]byte, error) { return capture.AppendStringJSON(dst, s) }
func appendStrings(dst []byte, ss []string) ([]byte, error) {
	return capture.AppendStringsJSON(dst, ss)
}
