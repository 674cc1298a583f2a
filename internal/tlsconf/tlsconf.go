// Package tlsconf builds the client TLS settings of every connection
// Tributary opens (Kafka, MySQL/MariaDB, PostgreSQL) from the files a
// config names. Errors name the config key they are about, so that a
// missing CA file or a mismatched key pair stops the start with the key to
// fix instead of a handshake failure later.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Files are the PEM files of a client TLS block. Empty fields are unset:
// no CAFile means the system roots, no CertFile/KeyFile means no client
// certificate.
type Files struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Set reports whether any file is named.
func (f Files) Set() bool { return f.CAFile != "" || f.CertFile != "" || f.KeyFile != "" }

// Load reads the files. key prefixes the error messages, e.g.
// "kafka.tls" gives "kafka.tls.ca_file: ...".
func (f Files) Load(key string) (roots *x509.CertPool, certs []tls.Certificate, err error) {
	if (f.CertFile == "") != (f.KeyFile == "") {
		return nil, nil, fmt.Errorf("%s: cert_file and key_file go together (a client certificate needs its key)", key)
	}
	if f.CAFile != "" {
		pem, err := os.ReadFile(f.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("%s.ca_file: %w", key, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("%s.ca_file %s: no PEM certificate in it", key, f.CAFile)
		}
	}
	if f.CertFile != "" {
		for _, p := range []struct{ name, path string }{{"cert_file", f.CertFile}, {"key_file", f.KeyFile}} {
			if _, err := os.Stat(p.path); err != nil {
				return nil, nil, fmt.Errorf("%s.%s: %w", key, p.name, err)
			}
		}
		pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			// Never quote the key file's content: it is a secret.
			return nil, nil, fmt.Errorf("%s.cert_file/key_file: not a matching PEM certificate and private key: %s", key, keyPairProblem(err))
		}
		certs = []tls.Certificate{pair}
	}
	return roots, certs, nil
}

// keyPairProblem is tls.LoadX509KeyPair's reason without any file bytes.
func keyPairProblem(err error) string {
	msg := err.Error()
	for _, known := range []string{
		"private key does not match public key",
		"failed to find any PEM data in certificate input",
		"failed to find any PEM data in key input",
		"failed to find certificate PEM data in certificate input",
		"failed to find PEM block with type ending in \"PRIVATE KEY\" in key input",
		"failed to parse private key",
	} {
		if strings.Contains(msg, known) {
			return known
		}
	}
	return "the certificate or key could not be parsed"
}

// ParseVersion turns "1.2" or "1.3" into a tls version constant; "" is
// TLS 1.2.
func ParseVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2", "TLSv1.2":
		return tls.VersionTLS12, nil
	case "1.3", "TLSv1.3":
		return tls.VersionTLS13, nil
	}
	return 0, errors.New("want 1.2 or 1.3 (older versions are not offered)")
}

// verifyChainOnly returns a VerifyConnection that checks the server's
// chain against roots (the system roots when nil) without checking its
// host name: libpq's verify-ca.
func verifyChainOnly(roots *x509.CertPool) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}
