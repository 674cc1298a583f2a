package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tributary-cdc/tributary/internal/testenv"
)

// `tributary validate` catches file-level TLS mistakes before any
// connection: each names its key and the cause.
func TestValidateCatchesTLSFiles(t *testing.T) {
	t.Parallel()
	c := testenv.WriteCerts(t)
	config := func(kafkaTLS, sourceTLS string) string {
		return fmt.Sprintf(`
checkpoints: {dir: /tmp/x}
kafka:
  brokers: ["127.0.0.1:9093"]
  tls: %s
sources:
  - name: crm
    addr: 127.0.0.1:3306
    user: tributary
    password_env: X
    server_id: 7
    tls: %s
  - name: orders
    kind: postgres
    addr: 127.0.0.1:5432
    user: tributary
    password_env: Y
    database: orders
    tls: %s
`, kafkaTLS, sourceTLS, sourceTLS)
	}
	ok := fmt.Sprintf("{mode: verify-full, ca_file: %q, cert_file: %q, key_file: %q}", c.CA, c.ClientCert, c.ClientKey)
	tests := []struct {
		name             string
		kafkaTLS, srcTLS string
		want             []string
	}{
		{"all valid", fmt.Sprintf("{enabled: true, ca_file: %q}", c.CA), ok, nil},
		{"kafka CA missing", fmt.Sprintf("{enabled: true, ca_file: %q}", c.Dir+"/missing.pem"), ok, []string{"kafka.tls.ca_file: open " + c.Dir + "/missing.pem"}},
		{"kafka CA not PEM", fmt.Sprintf("{enabled: true, ca_file: %q}", c.NotPEM), ok, []string{"kafka.tls.ca_file " + c.NotPEM + ": no PEM certificate"}},
		{"source key mismatch", "{enabled: false}", fmt.Sprintf("{mode: verify-ca, cert_file: %q, key_file: %q}", c.ClientCert, c.OtherKey),
			[]string{"sources[crm].tls.cert_file/key_file: not a matching PEM certificate and private key", "sources[orders].tls.cert_file/key_file"}},
		{"source mode typo", "{enabled: false}", "{mode: verify_full}", []string{`sources[crm].tls.mode "verify_full"`, `sources[orders].tls.mode "verify_full"`}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(config(tt.kafkaTLS, tt.srcTLS)))
		if len(tt.want) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
	}
}
