package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CertFiles are PEM files written by WriteCerts for unit tests: a CA, a
// server certificate for localhost/127.0.0.1 and a client certificate
// signed by it, and a key that belongs to neither.
type CertFiles struct {
	Dir                   string
	CA                    string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	OtherKey              string // a valid key matching no certificate
	NotPEM                string // a file that holds no PEM block
}

// WriteCerts generates fresh certificates into a temporary directory.
func WriteCerts(t testing.TB) CertFiles {
	t.Helper()
	dir := t.TempDir()
	f := CertFiles{Dir: dir}
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, der
	}
	caKey, _ := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tributary test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caCert, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	f.CA = write("ca.pem", "CERTIFICATE", caCert)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certName, keyName string) (string, string) {
		k, der := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		c, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return write(certName, "CERTIFICATE", c), write(keyName, "PRIVATE KEY", der)
	}
	f.ServerCert, f.ServerKey = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, "server.pem", "server.key")
	f.ClientCert, f.ClientKey = leaf(3, "tributary", x509.ExtKeyUsageClientAuth, "client.pem", "client.key")
	_, otherDER := newKey()
	f.OtherKey = write("other.key", "PRIVATE KEY", otherDER)
	f.NotPEM = filepath.Join(dir, "not-pem.txt")
	if err := os.WriteFile(f.NotPEM, []byte("this is not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
