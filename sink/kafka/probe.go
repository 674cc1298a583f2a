package kafkasink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// Probe asks each broker of cfg.Brokers for cluster metadata, through the
// connection settings the sink uses, and succeeds as soon as one answers.
// When none answers within timeout the error names the config key to fix
// (kafka.brokers, kafka.tls…, kafka.sasl…) and every broker's failure, so
// a wrong address, a refused certificate or a wrong password shows at
// start instead of at the first change.
func Probe(ctx context.Context, cfg Config, timeout time.Duration) error {
	conn, err := NewConnection(cfg)
	if err != nil {
		return err
	}
	return probe(ctx, cfg, conn, timeout)
}

func probe(ctx context.Context, cfg Config, conn *Connection, timeout time.Duration) error {
	transport := conn.Transport(metadataTTL)
	defer transport.CloseIdleConnections()
	var errs []error
	key := "kafka.brokers"
	for _, b := range cfg.Brokers {
		client := &kafka.Client{Addr: kafka.TCP(b), Transport: transport, Timeout: timeout}
		bctx, cancel := context.WithTimeout(ctx, timeout)
		_, err := client.Metadata(bctx, &kafka.MetadataRequest{})
		cancel()
		if err == nil {
			return nil
		}
		k, why := explainConnError(cfg, err)
		if k != "kafka.brokers" {
			key = k
		}
		errs = append(errs, fmt.Errorf("%s: %s: %w", b, why, err))
	}
	return fmt.Errorf("%s: no broker answered a metadata request within %s: %w", key, timeout, errors.Join(errs...))
}

// explainConnError names the config key most likely behind a failed
// connection and says why in words; it never quotes a secret.
func explainConnError(cfg Config, err error) (key, why string) {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		alert      tls.AlertError
		recordHdr  tls.RecordHeaderError
		kafkaError kafka.Error
	)
	msg := err.Error()
	switch {
	case errors.As(err, &kafkaError) && kafkaError == kafka.SASLAuthenticationFailed:
		return "kafka.sasl", fmt.Sprintf("the broker refused the credentials of kafka.sasl.username %q (mechanism %s)", cfg.SASL.Username, cfg.SASL.Mechanism)
	case errors.As(err, &kafkaError) && kafkaError == kafka.UnsupportedSASLMechanism:
		return "kafka.sasl.mechanism", fmt.Sprintf("the broker's listener does not enable SASL mechanism %s", cfg.SASL.Mechanism)
	case errors.As(err, &kafkaError) && kafkaError == kafka.IllegalSASLState:
		return "kafka.sasl", "the listener does not expect SASL (is it SSL or PLAINTEXT rather than SASL_SSL?)"
	case errors.As(err, &hostname):
		return "kafka.tls.server_name", "the broker's certificate is not valid for this host name"
	case errors.As(err, &unknownCA):
		return "kafka.tls.ca_file", "the broker's certificate is not signed by a CA of kafka.tls.ca_file (or the system roots)"
	case errors.As(err, &invalid):
		return "kafka.tls.ca_file", "the broker's certificate is not valid"
	case errors.As(err, &verifyErr):
		return "kafka.tls.ca_file", "the broker's certificate did not verify"
	case errors.As(err, &recordHdr):
		return "kafka.tls.enabled", "the broker did not answer in TLS: this listener is plaintext (PLAINTEXT or SASL_PLAINTEXT)"
	case errors.As(err, &alert) || strings.Contains(msg, "tls: certificate required") || strings.Contains(msg, "tls: bad certificate") || strings.Contains(msg, "tls: unknown certificate authority"):
		if cfg.TLS.CertFile == "" {
			return "kafka.tls.cert_file", "the broker requires a client certificate (mutual TLS) and none is configured"
		}
		return "kafka.tls.cert_file", "the broker refused the client certificate of kafka.tls.cert_file"
	case !cfg.TLS.Enabled && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return "kafka.tls.enabled", "the broker closed the connection: if this listener is SSL or SASL_SSL, set kafka.tls.enabled: true"
	case cfg.TLS.Enabled && cfg.SASL.Mechanism == "" && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return "kafka.tls.enabled", "the broker closed the connection during the TLS handshake: this listener did not answer in TLS (PLAINTEXT or SASL_PLAINTEXT?), or it wants SASL (then configure kafka.sasl)"
	case cfg.SASL.Mechanism == "" && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		return "kafka.sasl", "the broker closed the connection: if this listener is SASL_SSL, configure kafka.sasl"
	}
	return "kafka.brokers", "unreachable or not a Kafka broker"
}
