package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// HandshakeError is a TLS failure that a retry with the same settings
// cannot fix; Key names the setting to look at.
type HandshakeError struct {
	Key    string // e.g. "sources[crm].tls.ca_file"
	Reason string
	Err    error
}

func (e *HandshakeError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Key, e.Reason, e.Err) }
func (e *HandshakeError) Unwrap() error { return e.Err }

// Explain recognises a TLS failure in err and returns it as a
// *HandshakeError naming the key under block (e.g. "sources[crm].tls"),
// or nil when err is not about TLS. clientCert says whether a client
// certificate was configured.
func Explain(block string, clientCert bool, err error) *HandshakeError {
	if err == nil {
		return nil
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		recordHdr tls.RecordHeaderError
		he        *HandshakeError
	)
	msg := err.Error()
	mk := func(key, reason string) *HandshakeError {
		return &HandshakeError{Key: block + key, Reason: reason, Err: err}
	}
	switch {
	case errors.As(err, &he):
		return he
	case errors.As(err, &hostname):
		return mk(".server_name", "the server's certificate is not valid for this host name (verify-full checks it; set server_name to a name the certificate carries)")
	case errors.As(err, &unknownCA):
		return mk(".ca_file", "the server's certificate is not signed by a CA of ca_file (or the system roots)")
	case errors.As(err, &invalid):
		return mk(".ca_file", "the server's certificate is not valid")
	case errors.As(err, &verify):
		return mk(".ca_file", "the server's certificate did not verify")
	case errors.As(err, &recordHdr):
		return mk(".mode", "the server did not answer in TLS")
	case errors.As(err, &alert) || strings.Contains(msg, "tls: certificate required") ||
		strings.Contains(msg, "tls: bad certificate") || strings.Contains(msg, "tls: unknown certificate authority"):
		if !clientCert {
			return mk(".cert_file", "the server requires a client certificate and none is configured")
		}
		return mk(".cert_file", "the server refused the client certificate")
	}
	return nil
}
