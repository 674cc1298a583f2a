package testenv

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy for fault-injection tests: point a client at Addr
// instead of the server, then cut or blackhole the path between them.
//
// Cut closes every current connection abruptly (a reset to the client);
// later connections go through again. Blackhole(true) keeps connections,
// current and new, open but forwards no byte in either direction, like a
// network path that silently drops packets: the client sees a half-open
// connection that never answers, and only a read timeout tells it. Bytes
// sent meanwhile are held (at most one buffer per direction, then TCP
// backpressure) and forwarded after Blackhole(false) or Restore, as TCP
// retransmission would deliver them once the path heals.
//
// The proxy is closed, with all its connections, when the test ends.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[*proxyConn]struct{}
	open   chan struct{} // closed while bytes flow; a fresh one while blackholed
	closed bool
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	client, server net.Conn
	once           sync.Once
	done           chan struct{}
}

// close ends both sides; abrupt sends a reset rather than a FIN.
func (c *proxyConn) close(abrupt bool) {
	c.once.Do(func() {
		if abrupt {
			for _, nc := range []net.Conn{c.client, c.server} {
				if tc, ok := nc.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
			}
		}
		c.client.Close()
		c.server.Close()
		close(c.done)
	})
}

// StartProxy listens on 127.0.0.1 on a free port and forwards every
// connection to target.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{t: t, target: target, ln: ln, conns: map[*proxyConn]struct{}{}, open: make(chan struct{})}
	close(p.open)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's listening address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every current connection abruptly. New connections are
// accepted and forwarded as before (unless blackholed).
func (p *Proxy) Cut() {
	p.mu.Lock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(true)
	}
}

// Blackhole stops (on) or resumes (off) forwarding bytes on every
// connection, without closing any.
func (p *Proxy) Blackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open: // flowing
		if on {
			p.open = make(chan struct{})
		}
	default: // blackholed
		if !on {
			close(p.open)
		}
	}
}

// Restore heals the path: bytes flow again on every connection.
func (p *Proxy) Restore() { p.Blackhole(false) }

// Conns is the number of connections the proxy currently holds.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			p.t.Logf("proxy: dial %s: %v", p.target, err)
			client.(*net.TCPConn).SetLinger(0)
			client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.close(true)
			return
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, c.server, c.client)
		go p.pipe(c, c.client, c.server)
	}
}

// pipe copies src to dst, holding each chunk while the proxy is
// blackholed. When either side ends, the whole connection is closed.
func (p *Proxy) pipe(c *proxyConn, dst, src net.Conn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			select {
			case <-open:
			case <-c.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				c.close(true)
				return
			}
		}
		if err != nil {
			// A clean EOF is passed on as a close; anything else as a reset.
			c.close(!errors.Is(err, io.EOF))
			return
		}
	}
}
