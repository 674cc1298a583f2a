package tlsconf

import (
	"crypto/tls"
	"fmt"
)

// Mode says how a database connection uses TLS; the names and meanings are
// libpq's sslmode, for MySQL/MariaDB as well.
type Mode string

const (
	// Disable: plaintext only.
	Disable Mode = "disable"
	// Prefer: TLS when the server offers it, unverified; plaintext when it
	// does not. The default, as in libpq and the mysql client.
	Prefer Mode = "prefer"
	// Require: TLS or no connection. The server's certificate is checked
	// against ca_file when one is given (as libpq does), else not at all.
	Require Mode = "require"
	// VerifyCA: TLS, the server's certificate signed by ca_file (or the
	// system roots); any host name.
	VerifyCA Mode = "verify-ca"
	// VerifyFull: VerifyCA and the certificate names the host (server_name,
	// else the host of addr).
	VerifyFull Mode = "verify-full"
)

// Client is a source's `tls:` block.
type Client struct {
	Mode       Mode   `yaml:"mode"`
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Files returns the block's files.
func (c Client) Files() Files {
	return Files{CAFile: c.CAFile, CertFile: c.CertFile, KeyFile: c.KeyFile}
}

// WithDefault returns c with its mode set to Prefer when unset.
func (c Client) WithDefault() Client {
	if c.Mode == "" {
		c.Mode = Prefer
	}
	return c
}

// Validate checks the mode and reads the files (so a missing or broken
// file shows at `tributary validate`). key is the block's key, e.g.
// "sources[crm].tls".
func (c Client) Validate(key string) error {
	switch c.Mode {
	case "", Disable, Prefer, Require, VerifyCA, VerifyFull:
	default:
		return fmt.Errorf("%s.mode %q: want disable, prefer, require, verify-ca or verify-full", key, c.Mode)
	}
	if c.Mode == Disable && (c.Files().Set() || c.ServerName != "") {
		return fmt.Errorf("%s: mode is disable, so ca_file, cert_file, key_file and server_name would be ignored; remove them or choose a TLS mode", key)
	}
	_, _, err := c.Files().Load(key)
	return err
}

// Config builds the tls.Config of c for a server at host, nil for Disable.
// For Prefer it is the configuration to try first; the caller falls back
// to plaintext only when the server does not offer TLS.
func (c Client) Config(key, host string) (*tls.Config, error) {
	c = c.WithDefault()
	if c.Mode == Disable {
		return nil, nil
	}
	roots, certs, err := c.Files().Load(key)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: certs, ServerName: host}
	if c.ServerName != "" {
		cfg.ServerName = c.ServerName
	}
	switch {
	case c.Mode == VerifyFull:
	case c.Mode == VerifyCA || (c.Mode == Require && roots != nil):
		// Go verifies the host name with the chain; verify only the chain.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = verifyChainOnly(roots)
	default: // Prefer, Require without a CA: encrypted, not authenticated
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}
