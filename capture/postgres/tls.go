package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// sslMode is the libpq sslmode the connections use: tls.mode, else the
// older sslmode key, else prefer.
func (c Config) sslMode() string {
	switch {
	case c.TLS.Mode != "":
		return string(c.TLS.Mode)
	case c.SSLMode != "":
		return c.SSLMode
	}
	return string(tlsconf.Prefer)
}

// tlsParams are the libpq keywords of the tls block; pgconn builds its TLS
// configuration from them exactly as libpq does (require with a root CA
// verifies the chain, verify-full the host name too).
func (c Config) tlsParams() []string {
	q := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	kv := []string{"sslmode=" + q(c.sslMode())}
	if c.TLS.CAFile != "" {
		kv = append(kv, "sslrootcert="+q(c.TLS.CAFile))
	}
	if c.TLS.CertFile != "" {
		kv = append(kv, "sslcert="+q(c.TLS.CertFile), "sslkey="+q(c.TLS.KeyFile))
	}
	return kv
}

// withServerName applies tls.server_name to every TLS attempt of cfg
// (pgconn checks the certificate against the host otherwise).
func (c Config) withServerName(cfg *pgconn.Config) {
	if c.TLS.ServerName == "" {
		return
	}
	if cfg.TLSConfig != nil {
		cfg.TLSConfig.ServerName = c.TLS.ServerName
	}
	for _, fb := range cfg.Fallbacks {
		if fb.TLSConfig != nil {
			fb.TLSConfig.ServerName = c.TLS.ServerName
		}
	}
}

// pgconnConfig parses connString into a pgconn config with the tls block
// applied; errors name the key, never the password.
func (s *Source) pgconnConfig(replication bool) (*pgconn.Config, error) {
	cfg, err := pgconn.ParseConfig(s.connString(replication))
	if err != nil {
		return nil, s.tlsConfigError(err)
	}
	s.cfg.withServerName(cfg)
	return cfg, nil
}

// pgxConfig is pgconnConfig for a pgx connection.
func (s *Source) pgxConfig() (*pgx.ConnConfig, error) { return s.pgxConfigFor(s.addr()) }

// pgxConfigFor is pgxConfig for the server at addr.
func (s *Source) pgxConfigFor(addr string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(s.connStringFor(addr, false))
	if err != nil {
		return nil, s.tlsConfigError(err)
	}
	s.cfg.withServerName(&cfg.Config)
	return cfg, nil
}

// connectPgx opens a query connection with the source's TLS settings.
func (s *Source) connectPgx(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := s.pgxConfig()
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// tlsConfigError is a connection string pgconn could not turn into a TLS
// configuration: the files were checked by Validate, so this is a file
// that changed since; it names the block and is permanent.
func (s *Source) tlsConfigError(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// ParseConfigError quotes the connection string with the password
		// redacted; its inner error says what is wrong.
		return &capture.PermanentError{Err: fmt.Errorf("sources[%s].tls: %v", s.name, errors.Unwrap(pe))}
	}
	return err
}

// permanentIfTLS turns a TLS failure into a *capture.PermanentError naming
// the key: reconnecting with the same settings cannot succeed.
func (s *Source) permanentIfTLS(err error) error {
	if err == nil {
		return nil
	}
	var perm *capture.PermanentError
	if errors.As(err, &perm) {
		return err
	}
	key := "sources[" + s.name + "].tls"
	if he := tlsconf.Explain(key, s.cfg.TLS.CertFile != "", err); he != nil {
		return &capture.PermanentError{Err: fmt.Errorf("connect to %s: %w", s.addr(), he)}
	}
	if strings.Contains(err.Error(), "server refused TLS connection") {
		return &capture.PermanentError{Err: fmt.Errorf("connect to %s: %s.mode %s: the server offers no TLS (ssl = off): %w", s.addr(), key, s.cfg.sslMode(), err)}
	}
	return err
}
