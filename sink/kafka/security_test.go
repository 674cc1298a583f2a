package kafkasink

import (
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

func TestSecurityValidate(t *testing.T) {
	c := testenv.WriteCerts(t)
	t.Setenv("TEST_KAFKA_SASL_PASSWORD", "s3cret-sasl")
	valid := func() Config { cfg := Defaults(); cfg.Brokers = []string{"127.0.0.1:9093"}; return cfg }
	scram := SASL{Mechanism: MechanismSCRAMSHA512, Username: "u", PasswordEnv: "TEST_KAFKA_SASL_PASSWORD"}
	tests := []struct {
		name   string
		modify func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"tls with ca", func(c2 *Config) { c2.TLS = TLS{Enabled: true, CAFile: c.CA} }, ""},
		{"mutual tls", func(c2 *Config) {
			c2.TLS = TLS{Enabled: true, CAFile: c.CA, CertFile: c.ClientCert, KeyFile: c.ClientKey, MinVersion: "1.3"}
		}, ""},
		{"sasl_ssl scram", func(c2 *Config) { c2.TLS = TLS{Enabled: true}; c2.SASL = scram }, ""},
		{"scram without tls", func(c2 *Config) { c2.SASL = scram }, ""},
		{"tls keys while disabled", func(c2 *Config) { c2.TLS = TLS{CAFile: c.CA} }, "kafka.tls: ca_file, cert_file, key_file, server_name, min_version or insecure_skip_verify is set but kafka.tls.enabled is false"},
		{"ca missing", func(c2 *Config) { c2.TLS = TLS{Enabled: true, CAFile: c.Dir + "/none.pem"} }, "kafka.tls.ca_file: open "},
		{"ca not pem", func(c2 *Config) { c2.TLS = TLS{Enabled: true, CAFile: c.NotPEM} }, "kafka.tls.ca_file " + c.NotPEM + ": no PEM certificate"},
		{"cert key mismatch", func(c2 *Config) {
			c2.TLS = TLS{Enabled: true, CertFile: c.ClientCert, KeyFile: c.OtherKey}
		}, "kafka.tls.cert_file/key_file: not a matching PEM certificate and private key: private key does not match public key"},
		{"tls 1.1", func(c2 *Config) { c2.TLS = TLS{Enabled: true, MinVersion: "1.1"} }, `kafka.tls.min_version "1.1": want 1.2 or 1.3`},
		{"unknown mechanism", func(c2 *Config) { c2.TLS.Enabled = true; c2.SASL = scram; c2.SASL.Mechanism = "GSSAPI" }, `kafka.sasl.mechanism "GSSAPI": want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"no username", func(c2 *Config) { c2.SASL = scram; c2.SASL.Username = "" }, "kafka.sasl.username: required"},
		{"no password source", func(c2 *Config) { c2.SASL = scram; c2.SASL.PasswordEnv = "" }, "kafka.sasl: password_env or password_file is required"},
		{"two password sources", func(c2 *Config) { c2.SASL = scram; c2.SASL.PasswordFile = "/x" }, "kafka.sasl: set password_env or password_file, not both"},
		{"plain in the clear", func(c2 *Config) { c2.SASL = scram; c2.SASL.Mechanism = MechanismPlain }, "kafka.sasl.mechanism PLAIN sends the password in the clear"},
		{"username without mechanism", func(c2 *Config) { c2.SASL = SASL{Username: "u"} }, "kafka.sasl.mechanism: required"},
	}
	for _, tt := range tests {
		cfg := valid()
		tt.modify(&cfg)
		err := cfg.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v, want error containing %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-sasl") {
			t.Errorf("%s: the error quotes the password: %v", tt.name, err)
		}
	}
}

func TestNewConnectionReadsSecretsAtStart(t *testing.T) {
	cfg := Defaults()
	cfg.Brokers = []string{"127.0.0.1:9093"}
	cfg.TLS.Enabled = true
	cfg.SASL = SASL{Mechanism: MechanismSCRAMSHA256, Username: "u", PasswordEnv: "TEST_KAFKA_SASL_UNSET"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate reads no secret, so an unset variable is not its business: %v", err)
	}
	_, err := NewConnection(cfg)
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.password_env: environment variable TEST_KAFKA_SASL_UNSET is not set") {
		t.Fatalf("NewConnection() = %v, want the unset variable named", err)
	}
	t.Setenv("TEST_KAFKA_SASL_UNSET", "pw")
	conn, err := NewConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := conn.Transport(0)
	if tr.TLS == nil || tr.SASL == nil || tr.SASL.Name() != MechanismSCRAMSHA256 {
		t.Fatalf("transport TLS %v SASL %v: the settings did not reach it", tr.TLS, tr.SASL)
	}
	if d := conn.Dialer(); d.TLS == nil || d.SASLMechanism == nil {
		t.Fatal("dialer without TLS or SASL")
	}
	if got := cfg.Protocol(); got != "SASL_SSL (SCRAM-SHA-256)" {
		t.Fatalf("Protocol() = %q", got)
	}
}
