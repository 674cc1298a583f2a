package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/sasl"

	"github.com/tributary-cdc/tributary/internal/testenv"
	"github.com/tributary-cdc/tributary/sink"
)

func tlsPath(name string) string { return testenv.TLSPath(name) }

// securedConfigs are the ways to reach the test broker's secured
// listeners; the password variables are set by setSecrets.
func securedConfigs() map[string]Config {
	sasl := func(mech, env string) Config {
		c := testConfig(testenv.KafkaSASLSSLAddr())
		c.TLS = TLS{Enabled: true, CAFile: tlsPath(testenv.TLSCACert)}
		c.SASL = SASL{Mechanism: mech, Username: testenv.KafkaSCRAMUser, PasswordEnv: env}
		return c
	}
	mtls := testConfig(testenv.KafkaMTLSAddr())
	mtls.TLS = TLS{Enabled: true, CAFile: tlsPath(testenv.TLSCACert), CertFile: tlsPath(testenv.TLSClientCert), KeyFile: tlsPath(testenv.TLSClientKey)}
	return map[string]Config{
		"SASL_SSL SCRAM-SHA-512": sasl(MechanismSCRAMSHA512, "TEST_KAFKA_SCRAM"),
		"SASL_SSL SCRAM-SHA-256": sasl(MechanismSCRAMSHA256, "TEST_KAFKA_SCRAM"),
		"SASL_SSL PLAIN":         sasl(MechanismPlain, "TEST_KAFKA_PLAIN"),
		"SSL mutual TLS":         mtls,
	}
}

func setSecrets(t *testing.T) {
	t.Setenv("TEST_KAFKA_SCRAM", testenv.KafkaSCRAMPassword)
	t.Setenv("TEST_KAFKA_PLAIN", testenv.KafkaPlainPassword)
	t.Setenv("TEST_KAFKA_WRONG", "not-the-password")
}

// The sink creates its topic, writes and gets acks over every secured
// listener, and the same Connection reads the messages back.
func TestSecuredListenersWriteAndRead(t *testing.T) {
	requireKafka(t)
	setSecrets(t)
	for name, cfg := range securedConfigs() {
		t.Run(name, func(t *testing.T) {
			topic := testenv.UniqueName(t, "secured")
			a := newAcks()
			s, err := New(cfg, a.ack, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var msgs []sink.Message
			for i := 1; i <= 3; i++ {
				msgs = append(msgs, sink.Message{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Seq: uint64(i)})
			}
			if err := s.Write(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= 3; i++ {
				if a.okCount(i) != 1 {
					t.Fatalf("seq %d acked %d times", i, a.okCount(i))
				}
			}
			conn, err := NewConnection(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := conn.ReadTopic(ctx, topic, 3, 30*time.Second)
			if err != nil || len(got) != 3 {
				t.Fatalf("read back %d messages: %v", len(got), err)
			}
		})
	}
}

// Each refusal stops the start-up probe with the key to fix and the
// cause, instead of a plaintext connection or a hang.
func TestSecuredRefusalsNameTheKey(t *testing.T) {
	requireKafka(t)
	setSecrets(t)
	base := securedConfigs()
	tests := []struct {
		name   string
		modify func() Config
		want   []string
	}{
		{"SASL_SSL listener, TLS off", func() Config {
			c := base["SASL_SSL SCRAM-SHA-512"]
			c.TLS = TLS{}
			return c
		}, []string{"kafka.tls.enabled", "set kafka.tls.enabled: true"}},
		{"wrong SASL password", func() Config {
			c := base["SASL_SSL SCRAM-SHA-512"]
			c.SASL.PasswordEnv = "TEST_KAFKA_WRONG"
			return c
		}, []string{"kafka.sasl", "refused the credentials", "SASL Authentication Failed"}},
		{"broker certificate from another CA", func() Config {
			c := base["SASL_SSL SCRAM-SHA-512"]
			c.TLS.CAFile = tlsPath(testenv.TLSOtherCACert)
			return c
		}, []string{"kafka.tls.ca_file", "not signed by a CA"}},
		{"host name mismatch", func() Config {
			c := base["SASL_SSL SCRAM-SHA-512"]
			c.TLS.ServerName = "kafka.example.com"
			return c
		}, []string{"kafka.tls.server_name", "not valid for this host name"}},
		{"SASL on a listener without it", func() Config {
			c := base["SSL mutual TLS"]
			c.SASL = base["SASL_SSL SCRAM-SHA-512"].SASL
			return c
		}, []string{"kafka.sasl"}},
		{"mutual TLS without a client certificate", func() Config {
			c := base["SSL mutual TLS"]
			c.TLS.CertFile, c.TLS.KeyFile = "", ""
			return c
		}, []string{"kafka.tls.cert_file", "requires a client certificate"}},
		{"client certificate from another CA", func() Config {
			c := base["SSL mutual TLS"]
			c.TLS.CertFile, c.TLS.KeyFile = tlsPath(testenv.TLSOtherClientCert), tlsPath(testenv.TLSOtherClientKey)
			return c
		}, []string{"kafka.tls.cert_file", "refused the client certificate"}},
		{"TLS to the plaintext listener", func() Config {
			c := testConfig(testenv.KafkaAddr())
			c.TLS = TLS{Enabled: true, CAFile: tlsPath(testenv.TLSCACert)}
			return c
		}, []string{"kafka.tls.enabled", "did not answer in TLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Probe(context.Background(), tt.modify(), 5*time.Second)
			if err == nil {
				t.Fatal("Probe succeeded")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			for _, secret := range []string{testenv.KafkaSCRAMPassword, "not-the-password"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes a password", err)
				}
			}
		})
	}
}

// gssapi stands for a mechanism the client can name but the listener
// does not enable; the broker refuses it at the handshake, before any
// exchange.
type gssapi struct{}

func (gssapi) Name() string { return "GSSAPI" }
func (gssapi) Start(context.Context) (sasl.StateMachine, []byte, error) {
	return nil, nil, errors.New("not implemented")
}

func TestSASLMechanismNotEnabledIsNamed(t *testing.T) {
	requireKafka(t)
	setSecrets(t)
	cfg := securedConfigs()["SASL_SSL SCRAM-SHA-512"]
	conn, err := NewConnection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.sasl = gssapi{}
	cfg.SASL.Mechanism = "GSSAPI"
	err = probe(context.Background(), cfg, conn, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "kafka.sasl.mechanism") || !strings.Contains(err.Error(), "does not enable SASL mechanism GSSAPI") {
		t.Fatalf("probe = %v, want kafka.sasl.mechanism named", err)
	}
}
