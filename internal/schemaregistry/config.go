// Package schemaregistry registers Avro schemas with a Confluent-compatible
// schema registry (Confluent Schema Registry, Apicurio Registry's
// /apis/ccompat/v7, Redpanda) through github.com/hamba/avro/v2/registry, and
// caches their ids, so that a schema is registered once per table version,
// never per event.
package schemaregistry

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/tributary-cdc/tributary/internal/tlsconf"
)

// SubjectStrategy says which subject a schema is registered under, as the
// Confluent serializers' subject.name.strategy does.
type SubjectStrategy string

const (
	// SubjectTopic (TopicNameStrategy, the default): <topic>-key and
	// <topic>-value. One schema lineage per topic: what Kafka Connect,
	// ksqlDB and most consumers expect.
	SubjectTopic SubjectStrategy = "topic"
	// SubjectRecord (RecordNameStrategy): the record's full name, e.g.
	// tributary.crm.shop.orders.Value; the lineage follows the record
	// wherever it is written.
	SubjectRecord SubjectStrategy = "record"
	// SubjectTopicRecord (TopicRecordNameStrategy): <topic>-<record name>.
	SubjectTopicRecord SubjectStrategy = "topic_record"
)

// OnIncompatible says what happens when the registry rejects a table's new
// schema as incompatible with the subject's earlier versions.
type OnIncompatible string

const (
	// Halt (the default) stops the source with the registry's reason, the
	// table and the DDL that changed it; nothing after it is written.
	Halt OnIncompatible = "halt"
	// DeadLetter sends the table's events to kafka.dead_letter_topic (as
	// JSON dead-letter records of kind schema_registry) until its schema is
	// accepted, and goes on with the other tables.
	DeadLetter OnIncompatible = "dead_letter"
)

// Config is the `schema_registry:` block.
type Config struct {
	// URL is the base of the Confluent-compatible API, e.g.
	// http://registry:8081 or, for Apicurio, http://host:8080/apis/ccompat/v7.
	URL       string    `yaml:"url"`
	BasicAuth BasicAuth `yaml:"basic_auth"`
	TLS       TLS       `yaml:"tls"`
	// SubjectStrategy: topic (default), record or topic_record.
	SubjectStrategy SubjectStrategy `yaml:"subject_strategy"`
	// Compatibility, when set, is set on every subject before its first
	// registration by this process (BACKWARD, BACKWARD_TRANSITIVE, FORWARD,
	// FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE). Empty leaves the
	// registry's default, which is BACKWARD for Confluent and NONE for
	// Apicurio.
	Compatibility  string         `yaml:"compatibility"`
	OnIncompatible OnIncompatible `yaml:"on_incompatible"`
	// Timeout bounds each request (default 10s). A registry that does not
	// answer is asked again a few times with backoff; then the source
	// restarts from its checkpoint (with the pipeline's backoff) and is not
	// ready until the registry answers.
	Timeout time.Duration `yaml:"timeout"`
}

// BasicAuth is HTTP basic authentication; the password comes from an
// environment variable or a file, never from the config itself.
type BasicAuth struct {
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
}

// TLS verifies an https registry against ca_file (else the system roots)
// and presents cert_file/key_file when set.
type TLS struct {
	CAFile     string `yaml:"ca_file"`
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	ServerName string `yaml:"server_name"`
}

// Set reports whether the block is configured.
func (c Config) Set() bool { return c.URL != "" }

// WithDefaults fills the optional settings.
func (c Config) WithDefaults() Config {
	if c.SubjectStrategy == "" {
		c.SubjectStrategy = SubjectTopic
	}
	if c.OnIncompatible == "" {
		c.OnIncompatible = Halt
	}
	c.Compatibility = strings.ToUpper(c.Compatibility)
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

var compatibilities = []string{"BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"}

// Validate checks the block; key is its key ("schema_registry"). It reads
// no secret.
func (c Config) Validate(key string) error {
	c = c.WithDefaults()
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("%s.url: required (the registry's Confluent-compatible API, e.g. http://127.0.0.1:8081)", key))
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("%s.url %q: want an http:// or https:// URL", key, redactURL(c.URL)))
	case u.User != nil:
		errs = append(errs, fmt.Errorf("%s.url: credentials in the URL are not accepted; use %s.basic_auth", key, key))
	}
	switch c.SubjectStrategy {
	case SubjectTopic, SubjectRecord, SubjectTopicRecord:
	default:
		errs = append(errs, fmt.Errorf("%s.subject_strategy %q: want topic, record or topic_record", key, c.SubjectStrategy))
	}
	if c.Compatibility != "" && !contains(compatibilities, c.Compatibility) {
		errs = append(errs, fmt.Errorf("%s.compatibility %q: want one of %s", key, c.Compatibility, strings.Join(compatibilities, ", ")))
	}
	switch c.OnIncompatible {
	case Halt, DeadLetter:
	default:
		errs = append(errs, fmt.Errorf("%s.on_incompatible %q: want halt or dead_letter", key, c.OnIncompatible))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout %s: want a positive duration", key, c.Timeout))
	}
	b := c.BasicAuth
	switch {
	case b.PasswordEnv != "" && b.PasswordFile != "":
		errs = append(errs, fmt.Errorf("%s.basic_auth: set password_env or password_file, not both", key))
	case b.Username == "" && (b.PasswordEnv != "" || b.PasswordFile != ""):
		errs = append(errs, fmt.Errorf("%s.basic_auth.username: required with a password", key))
	case b.Username != "" && b.PasswordEnv == "" && b.PasswordFile == "":
		errs = append(errs, fmt.Errorf("%s.basic_auth: set password_env or password_file", key))
	}
	if f := c.TLS.files(); f.Set() {
		if u != nil && u.Scheme != "https" {
			errs = append(errs, fmt.Errorf("%s.tls: set, but %s.url is not https", key, key))
		}
		if _, _, err := f.Load(key + ".tls"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (t TLS) files() tlsconf.Files {
	return tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile}
}

// password resolves the basic-auth password.
func (b BasicAuth) password(key string) (string, error) {
	switch {
	case b.PasswordEnv != "":
		v, ok := os.LookupEnv(b.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("%s.basic_auth.password_env: environment variable %s is not set", key, b.PasswordEnv)
		}
		return v, nil
	case b.PasswordFile != "":
		raw, err := os.ReadFile(b.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("%s.basic_auth.password_file: %w", key, err)
		}
		return strings.TrimRight(string(raw), "\r\n"), nil
	}
	return "", nil
}

func (t TLS) config(key string) (*tls.Config, error) {
	roots, certs, err := t.files().Load(key + ".tls")
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, Certificates: certs, ServerName: t.ServerName}, nil
}

// redactURL drops any user info from u for messages.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		if i := strings.Index(u, "@"); i >= 0 {
			return "…" + u[i:]
		}
		return u
	}
	p.User = nil
	return p.String()
}
