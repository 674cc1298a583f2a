package kafkasink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// TLS is the `kafka.tls` section: how connections to the brokers are
// encrypted and the brokers authenticated.
type TLS struct {
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers'
	// certificates; empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate and its key (PEM), for
	// brokers that require mutual TLS (ssl.client.auth=required).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the brokers' certificates must carry; empty:
	// the host of each broker address.
	ServerName string `yaml:"server_name"`
	// MinVersion is 1.2 (the default) or 1.3.
	MinVersion string `yaml:"min_version"`
	// InsecureSkipVerify accepts any broker certificate: encryption without
	// authentication. Only for tests; a WARN is logged at every start.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL is the `kafka.sasl` section: how the client authenticates.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty: no SASL.
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	// PasswordEnv or PasswordFile says where the password is; it is never
	// written in the config.
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
}

// Mechanisms the sink offers, as Kafka names them.
const (
	MechanismPlain       = "PLAIN"
	MechanismSCRAMSHA256 = "SCRAM-SHA-256"
	MechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

func (t TLS) files() tlsconf.Files {
	return tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile}
}

func (t TLS) set() bool {
	return t.files().Set() || t.ServerName != "" || t.MinVersion != "" || t.InsecureSkipVerify
}

// validateSecurity checks kafka.tls and kafka.sasl without reading the
// password (files are read: a missing CA shows at `tributary validate`).
func (c Config) validateSecurity() []error {
	var errs []error
	if !c.TLS.Enabled && c.TLS.set() {
		errs = append(errs, errors.New("kafka.tls: ca_file, cert_file, key_file, server_name, min_version or insecure_skip_verify is set but kafka.tls.enabled is false; set enabled: true (Tributary never falls back to plaintext) or remove them"))
	}
	if c.TLS.Enabled {
		if _, err := tlsconf.ParseVersion(c.TLS.MinVersion); err != nil {
			errs = append(errs, fmt.Errorf("kafka.tls.min_version %q: %w", c.TLS.MinVersion, err))
		}
		if _, _, err := c.TLS.files().Load("kafka.tls"); err != nil {
			errs = append(errs, err)
		}
	}
	s := c.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.PasswordEnv != "" || s.PasswordFile != "" {
			errs = append(errs, errors.New("kafka.sasl.mechanism: required when kafka.sasl.username or a password is set (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"))
		}
		return errs
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism))
	}
	if s.Username == "" {
		errs = append(errs, errors.New("kafka.sasl.username: required with kafka.sasl.mechanism"))
	}
	switch {
	case s.PasswordEnv != "" && s.PasswordFile != "":
		errs = append(errs, errors.New("kafka.sasl: set password_env or password_file, not both"))
	case s.PasswordEnv == "" && s.PasswordFile == "":
		errs = append(errs, errors.New("kafka.sasl: password_env or password_file is required (a password is never written in the config)"))
	}
	if s.Mechanism == MechanismPlain && !c.TLS.Enabled {
		errs = append(errs, errors.New("kafka.sasl.mechanism PLAIN sends the password in the clear without kafka.tls.enabled: true"))
	}
	return errs
}

// password reads the SASL password from its env var or file.
func (s SASL) password() (string, error) {
	if s.PasswordEnv != "" {
		v, ok := os.LookupEnv(s.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("kafka.sasl.password_env: environment variable %s is not set", s.PasswordEnv)
		}
		return v, nil
	}
	b, err := os.ReadFile(s.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("kafka.sasl.password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// Connection is the resolved way to reach the brokers of a Config: its TLS
// settings and SASL mechanism, secrets read. It is the one place every
// client of Kafka gets its transport, dialer and readers from (the sink,
// topic creation, the start-up probe, verify, tail), so none opens a
// plaintext connection of its own.
type Connection struct {
	Brokers  []string
	clientID string
	tls      *tls.Config
	sasl     sasl.Mechanism
}

// NewConnection resolves cfg's security settings, reading the CA and
// certificate files and the SASL password now.
func NewConnection(cfg Config) (*Connection, error) {
	if errs := cfg.validateSecurity(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c := &Connection{Brokers: cfg.Brokers, clientID: cfg.ClientID}
	if cfg.TLS.Enabled {
		roots, certs, err := cfg.TLS.files().Load("kafka.tls")
		if err != nil {
			return nil, err
		}
		minVersion, _ := tlsconf.ParseVersion(cfg.TLS.MinVersion)
		c.tls = &tls.Config{
			MinVersion: minVersion, RootCAs: roots, Certificates: certs,
			ServerName: cfg.TLS.ServerName, InsecureSkipVerify: cfg.TLS.InsecureSkipVerify, //nolint:gosec // only when configured explicitly, warned at start
		}
	}
	if m := cfg.SASL.Mechanism; m != "" {
		pw, err := cfg.SASL.password()
		if err != nil {
			return nil, err
		}
		switch m {
		case MechanismPlain:
			c.sasl = plain.Mechanism{Username: cfg.SASL.Username, Password: pw}
		case MechanismSCRAMSHA256, MechanismSCRAMSHA512:
			algo := scram.SHA256
			if m == MechanismSCRAMSHA512 {
				algo = scram.SHA512
			}
			mech, err := scram.Mechanism(algo, cfg.SASL.Username, pw)
			if err != nil {
				return nil, fmt.Errorf("kafka.sasl: %w", err)
			}
			c.sasl = mech
		}
	}
	return c, nil
}

// Protocol names the connection as Kafka's security.protocol does
// (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), with the SASL mechanism and
// "mutual TLS" when a client certificate is set; never a secret. For logs
// and /status.
func (c Config) Protocol() string {
	switch {
	case c.TLS.Enabled && c.SASL.Mechanism != "":
		return "SASL_SSL (" + c.SASL.Mechanism + ")"
	case c.TLS.Enabled && c.TLS.CertFile != "":
		return "SSL (mutual TLS)"
	case c.TLS.Enabled:
		return "SSL"
	case c.SASL.Mechanism != "":
		return "SASL_PLAINTEXT (" + c.SASL.Mechanism + ")"
	}
	return "PLAINTEXT"
}

// Transport returns a new transport to the brokers whose metadata cache
// lives metadataTTL (0: kafka-go's default).
func (c *Connection) Transport(metadataTTL time.Duration) *kafka.Transport {
	return &kafka.Transport{ClientID: c.clientID, MetadataTTL: metadataTTL, TLS: c.tlsConfig(), SASL: c.sasl}
}

// Client returns a client of the brokers on t.
func (c *Connection) Client(t *kafka.Transport, timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Transport: t, Timeout: timeout}
}

// Dialer returns a dialer for kafka.Reader and kafka.Conn.
func (c *Connection) Dialer() *kafka.Dialer {
	return &kafka.Dialer{ClientID: c.clientID, Timeout: 10 * time.Second, DualStack: true, TLS: c.tlsConfig(), SASLMechanism: c.sasl}
}

// Reader returns a partition reader: rc with the brokers and dialer set.
func (c *Connection) Reader(rc kafka.ReaderConfig) *kafka.Reader {
	rc.Brokers, rc.Dialer = c.Brokers, c.Dialer()
	return kafka.NewReader(rc)
}

// tlsConfig is a copy per client: kafka-go fills in ServerName per broker.
func (c *Connection) tlsConfig() *tls.Config {
	if c.tls == nil {
		return nil
	}
	return c.tls.Clone()
}
