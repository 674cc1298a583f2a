package mysql

import (
	"context"
	"crypto/tls"
	"database/sql"
	sqldriver "database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	driver "github.com/go-sql-driver/mysql"

	"github.com/tributary-cdc/tributary/capture"
	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// tlsKey is the source's tls block in messages.
func tlsKey(name string) string { return "sources[" + name + "].tls" }

// applyTLS sets the SQL driver's TLS from the source's tls block. Every
// SQL connection of a source (preflight, metadata, snapshots, verify and
// replay readers, heartbeats) is built through it.
func (c Config) applyTLS(name string, mc *driver.Config) error {
	host, _, _ := net.SplitHostPort(c.Addr)
	tc, err := c.TLS.Config(tlsKey(name), host)
	if err != nil {
		return err
	}
	mc.TLS = tc
	// prefer: the server may not offer TLS at all; every other mode
	// refuses plaintext.
	mc.AllowFallbackToPlaintext = c.TLS.WithDefault().Mode == tlsconf.Prefer
	if c.driverLog != nil {
		mc.Logger = c.driverLog
	}
	return nil
}

// driverLog takes the SQL driver's log lines into the source's log. The
// driver reports a failed TLS handshake only as "invalid connection" and
// logs the cause, so the last error logged is kept for permanentIfTLS.
type driverLog struct {
	log  *slog.Logger
	last atomic.Pointer[error]
}

func newDriverLog(log *slog.Logger) *driverLog { return &driverLog{log: log} }

// Print implements driver.Logger.
func (d *driverLog) Print(v ...any) {
	for _, x := range v {
		if err, ok := x.(error); ok {
			d.last.Store(&err)
		}
	}
	d.log.Warn("mysql driver: " + fmt.Sprint(v...))
}

// lastError is the last error the driver logged, nil if none.
func (d *driverLog) lastError() error {
	if d == nil {
		return nil
	}
	if p := d.last.Load(); p != nil {
		return *p
	}
	return nil
}

// binlogTLS is the binlog connection's TLS config. go-mysql refuses a
// server without TLS when one is set, so for prefer it is set only when
// the SQL session (same server, same settings) did get TLS.
func (s *Source) binlogTLS(ctx context.Context, db *sql.DB) (*tls.Config, error) {
	host, _, _ := net.SplitHostPort(s.addr())
	tc, err := s.cfg.TLS.Config(tlsKey(s.name), host)
	if err != nil || tc == nil || s.cfg.TLS.WithDefault().Mode != tlsconf.Prefer {
		return tc, err
	}
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read the session's TLS cipher: %w", err)
	}
	if cipher == "" {
		s.plainOnce.Do(func() {
			s.log.Warn("the server offers no TLS: connected in plaintext (sources[].tls.mode is prefer; set require or verify-full to refuse plaintext)",
				"source", s.name, "addr", s.addr())
		})
		return nil, nil
	}
	return tc, nil
}

// permanentIfTLS turns a TLS failure (a certificate that does not verify,
// a refused client certificate, a server without TLS when TLS is
// required) into a *capture.PermanentError naming the key: reconnecting
// with the same settings cannot succeed.
func (s *Source) permanentIfTLS(err error) error {
	if err == nil {
		return nil
	}
	var pe *capture.PermanentError
	if errors.As(err, &pe) {
		return err
	}
	key := tlsKey(s.name)
	if he := tlsconf.Explain(key, s.cfg.TLS.CertFile != "", err); he != nil {
		return &capture.PermanentError{Err: fmt.Errorf("connect to %s: %w", s.addr(), he)}
	}
	// The driver's unexported errBadConnNoWrite also reads "bad connection".
	if errors.Is(err, driver.ErrInvalidConn) || errors.Is(err, sqldriver.ErrBadConn) || strings.HasSuffix(err.Error(), "bad connection") {
		cause := s.cfg.driverLog.lastError()
		// Only a refused client certificate hides behind a bad connection
		// without a TLS cause logged; a network outage must not wait for a
		// diagnostic connection on every retry.
		var ne net.Error
		if tlsconf.Explain(key, false, cause) == nil && s.cfg.TLS.CertFile != "" && !(errors.As(cause, &ne) && ne.Timeout()) {
			cause = s.diagnoseTLS()
		}
		if he := tlsconf.Explain(key, s.cfg.TLS.CertFile != "", cause); he != nil {
			return &capture.PermanentError{Err: fmt.Errorf("connect to %s: %w (%w)", s.addr(), he, err)}
		}
	}
	msg := err.Error()
	if errors.Is(err, driver.ErrNoTLS) || strings.Contains(msg, "does not support TLS required by the client") {
		return &capture.PermanentError{Err: fmt.Errorf("connect to %s: %s.mode %s: the server offers no TLS: %w", s.addr(), key, s.cfg.TLS.WithDefault().Mode, err)}
	}
	return err
}

// diagnoseTLS connects once with go-mysql's client, which returns the TLS
// failure that the SQL driver may hide behind "bad connection" (a client
// certificate refused after a TLS 1.3 handshake, for one). nil when the
// connection succeeds or TLS is off.
func (s *Source) diagnoseTLS() error {
	host, _, _ := net.SplitHostPort(s.addr())
	tc, err := s.cfg.TLS.Config(tlsKey(s.name), host)
	if err != nil || tc == nil {
		return err
	}
	// The server may reset the connection before its alert is read; a
	// few attempts almost always see the alert.
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := client.ConnectWithContext(ctx, s.addr(), s.cfg.User, s.cfg.Password, "", 3*time.Second,
			func(c *client.Conn) error { c.SetTLSConfig(tc); return nil })
		cancel()
		if err == nil {
			conn.Close()
			return nil
		}
		if attempt == 5 || tlsconf.Explain("", false, err) != nil {
			return err
		}
	}
}
