package testenv

import (
	"net"
	"testing"
	"time"
)

// KafkaProxiedAddr is the broker's second PLAINTEXT listener that
// scripts/services opens for fault-injection tests, and KafkaProxyAddr the
// address that listener advertises. A test runs a proxy on KafkaProxyAddr
// forwarding to KafkaProxiedAddr (StartProxyAt) and gives clients
// KafkaProxyAddr as their bootstrap broker: the metadata they get back
// names the proxy again, so every connection, not only the bootstrap one,
// goes through it.
func KafkaProxiedAddr() string { return "127.0.0.1:" + env("TRIBUTARY_KAFKA_PROXIED_PORT", "19094") }
func KafkaProxyAddr() string   { return "127.0.0.1:" + env("TRIBUTARY_KAFKA_PROXY_PORT", "19095") }

// StartProxyAt is StartProxy listening on the fixed address listen (which a
// server advertises, say), instead of a free port. The address may still be
// held for a moment by a proxy an earlier test closed, so binding is retried
// for a few seconds.
func StartProxyAt(t testing.TB, listen, target string) *Proxy {
	t.Helper()
	var (
		ln  net.Listener
		err error
	)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if ln, err = net.Listen("tcp", listen); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("proxy listen on %s: %v", listen, err)
	}
	p := &Proxy{t: t, target: target, ln: ln, conns: map[*proxyConn]struct{}{}, open: make(chan struct{})}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}
