package testenv

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// echoServer accepts connections on loopback and echoes every byte back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads it back within timeout.
func roundTrip(c net.Conn, msg string, timeout time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, len(msg))
	_, err := io.ReadFull(c, buf)
	return string(buf), err
}

func mustEcho(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	got, err := roundTrip(c, msg, 3*time.Second)
	if err != nil || got != msg {
		t.Fatalf("echo %q through the proxy: got %q, %v", msg, got, err)
	}
}

func TestProxyForwards(t *testing.T) {
	t.Parallel()
	p := StartProxy(t, echoServer(t))
	a, b := dialProxy(t, p), dialProxy(t, p)
	mustEcho(t, a, "hello")
	mustEcho(t, b, "world")
	mustEcho(t, a, "again")
	if n := p.Conns(); n != 2 {
		t.Fatalf("Conns() = %d, want 2", n)
	}
}

func TestProxyCutClosesCurrentConnections(t *testing.T) {
	t.Parallel()
	p := StartProxy(t, echoServer(t))
	a := dialProxy(t, p)
	mustEcho(t, a, "before")
	p.Cut()
	a.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err := a.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read after Cut: %v, want the connection closed", err)
	}
	// New connections go through.
	mustEcho(t, dialProxy(t, p), "after")
	Eventually(t, 3*time.Second, "the cut connection to be dropped", func() bool { return p.Conns() == 1 })
}

func TestProxyBlackholeHoldsBytesUntilRestore(t *testing.T) {
	t.Parallel()
	p := StartProxy(t, echoServer(t))
	a := dialProxy(t, p)
	mustEcho(t, a, "before")

	p.Blackhole(true)
	// An open connection: writes succeed, nothing comes back.
	got, err := roundTrip(a, "lost?", 300*time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read through a blackhole: got %q, %v; want a timeout", got, err)
	}
	// A connection made meanwhile is accepted but never answers either.
	b := dialProxy(t, p)
	if got, err := roundTrip(b, "new", 300*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection through a blackhole: got %q, %v; want a timeout", got, err)
	}

	p.Restore()
	// The held bytes arrive, as retransmission would deliver them.
	a.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, len("lost?"))
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "lost?" {
		t.Fatalf("held bytes after Restore: %q, %v", buf, err)
	}
	mustEcho(t, a, "after")
	b.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf = make([]byte, len("new"))
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "new" {
		t.Fatalf("held bytes of the new connection after Restore: %q, %v", buf, err)
	}
	mustEcho(t, b, "flowing")
	p.Blackhole(false) // idempotent
	mustEcho(t, a, "still")
}

func TestProxyCutWhileBlackholed(t *testing.T) {
	t.Parallel()
	p := StartProxy(t, echoServer(t))
	a := dialProxy(t, p)
	mustEcho(t, a, "before")
	p.Blackhole(true)
	p.Blackhole(true) // idempotent
	a.Write([]byte("held"))
	p.Cut() // a held chunk must not keep its goroutine alive
	Eventually(t, 3*time.Second, "the connection to be dropped", func() bool { return p.Conns() == 0 })
	p.Restore()
	mustEcho(t, dialProxy(t, p), "after")
}

func TestProxyClosedAtCleanup(t *testing.T) {
	t.Parallel()
	target := echoServer(t)
	var addr string
	var conn net.Conn
	t.Run("inner", func(t *testing.T) {
		p := StartProxy(t, target)
		addr = p.Addr()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = c
		mustEcho(t, conn, "x")
	})
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection after the proxy closed: %v, want closed", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("proxy still listening at %s after its test ended", addr)
	}
}

func TestProxyUnreachableTarget(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p := StartProxy(t, dead)
	c, err := net.DialTimeout("tcp", p.Addr(), 3*time.Second)
	if err != nil {
		return // reset before the dial returned: closed too
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read via a proxy whose target is down: %v, want the connection closed", err)
	}
}
