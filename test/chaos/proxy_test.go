package chaos_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy is a loopback TCP proxy in front of the control-plane replicas, one
// per agent. It balances new connections round-robin and fails over when a
// replica refuses (what a load balancer does), and it can be switched to a
// partition: nothing passes in either direction, on open or new
// connections, until it heals — then the held bytes flow on, like TCP
// retransmissions after a network heals.
type proxy struct {
	ln        net.Listener
	upstreams []string
	next      atomic.Uint64

	mu     sync.Mutex
	open   chan struct{} // closed while traffic flows
	closed chan struct{}
	conns  map[net.Conn]struct{}
}

func newProxy(t testing.TB, upstreams []string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &proxy{ln: ln, upstreams: upstreams, open: make(chan struct{}), closed: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.open)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// URL is the base URL an agent uses.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

// partition stops all traffic through the proxy until heal.
func (p *proxy) partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

// heal lets traffic flow again.
func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

// gate blocks while the proxy is partitioned; false once it is closed.
func (p *proxy) gate() bool {
	p.mu.Lock()
	open := p.open
	p.mu.Unlock()
	select {
	case <-open:
		return true
	case <-p.closed:
		return false
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

// dial connects to the next replica that accepts, trying each once.
func (p *proxy) dial() (net.Conn, error) {
	start := p.next.Add(1)
	var err error
	for i := range len(p.upstreams) {
		addr := p.upstreams[(int(start)+i)%len(p.upstreams)]
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
			return c, nil
		}
	}
	return nil, err
}

func (p *proxy) handle(client net.Conn) {
	p.track(client, true)
	defer func() { p.track(client, false); client.Close() }()
	if !p.gate() {
		return
	}
	up, err := p.dial()
	if err != nil {
		return // the client sees the connection close, as with a refused one
	}
	p.track(up, true)
	defer func() { p.track(up, false); up.Close() }()
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, client); done <- struct{}{} }()
	go func() { p.pipe(client, up); done <- struct{}{} }()
	<-done
}

// pipe copies src to dst, holding each chunk while partitioned.
func (p *proxy) pipe(dst, src net.Conn) {
	defer func() {
		// Pass the end of the stream on; a full close ends the other way too.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}
