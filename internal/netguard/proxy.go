package netguard

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RefusedReason is the reason phrase of the proxy's refusal, so a client's
// error output (e.g. yt-dlp's "HTTP Error 403: …") says what happened.
const RefusedReason = "Forbidden by ytcaption egress policy"

// Proxy is a forward HTTP proxy on loopback that connects only where its
// policy allows, checking the resolved address of every connection. The
// agent points yt-dlp at it, so no source URL, redirect or DNS answer can
// make a download reach loopback, private or metadata addresses.
type Proxy struct {
	policy    Policy
	dialer    *net.Dialer
	transport *http.Transport
	srv       *http.Server
	ln        net.Listener
	log       *slog.Logger
	wg        sync.WaitGroup

	mu      sync.Mutex
	tunnels map[net.Conn]struct{} // hijacked: the server no longer tracks them
}

// NewProxy starts a proxy on 127.0.0.1 with an ephemeral port.
func NewProxy(policy Policy, log *slog.Logger) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := policy.Dialer()
	d.Timeout = 30 * time.Second
	p := &Proxy{policy: policy, dialer: d, ln: ln, log: log, tunnels: map[net.Conn]struct{}{},
		transport: &http.Transport{DialContext: d.DialContext, Proxy: nil, ResponseHeaderTimeout: 2 * time.Minute}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	p.wg.Go(func() { _ = p.srv.Serve(ln) })
	return p, nil
}

// URL is the proxy's address for clients ("http://127.0.0.1:port").
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// Close stops the proxy and its tunnels.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.transport.CloseIdleConnections()
	p.mu.Lock()
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// ServeHTTP handles CONNECT tunnels (HTTPS) and absolute-form requests (HTTP).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.tunnel(w, r)
		return
	}
	if r.URL.Host == "" || (r.URL.Scheme != "http" && r.URL.Scheme != "https") {
		http.Error(w, "only proxy requests are served here", http.StatusBadRequest)
		return
	}
	host, err := p.canonical(r.URL.Host, r.URL.Scheme)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Host = host
	for _, h := range []string{"Proxy-Connection", "Proxy-Authorization", "Connection", "Keep-Alive", "Te", "Trailer", "Upgrade"} {
		out.Header.Del(h)
	}
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request) {
	host, err := p.canonical(r.Host, "https")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	up, err := p.dialer.DialContext(r.Context(), "tcp", host)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		http.Error(w, "tunnels unsupported", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		up.Close()
		return
	}
	_, _ = client.Write([]byte("HTTP/1.1 200 Connection Established\r\n\r\n"))
	p.mu.Lock()
	p.tunnels[client], p.tunnels[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	p.wg.Go(func() {
		defer func() {
			p.mu.Lock()
			delete(p.tunnels, client)
			delete(p.tunnels, up)
			p.mu.Unlock()
			up.Close()
			client.Close()
		}()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, buf); done <- struct{}{} }()
		go func() { _, _ = io.Copy(client, up); done <- struct{}{} }()
		<-done
	})
}

// canonical rewrites a host spelled as a number ("2130706433",
// "0x7f000001", "127.1") — which clients and some resolvers read as an
// address — to that address, checked against the policy.
func (p *Proxy) canonical(hostport, scheme string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "80"
		if scheme == "https" {
			port = "443"
		}
	}
	ip, ok := ParseHost(strings.Trim(host, "[]"))
	if !ok {
		return net.JoinHostPort(host, port), nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return "", fmt.Errorf("%w: bad port %q", ErrForbidden, port)
	}
	if err := p.policy.Check(ip, uint16(n)); err != nil {
		return "", err
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// fail answers a refused or failed connection. A refusal gets a distinctive
// reason phrase (written raw: net/http cannot set one).
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, ErrForbidden) {
		http.Error(w, "upstream connection failed", http.StatusBadGateway)
		return
	}
	p.log.Warn("egress refused", "host", r.Host, "err", err)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, herr := hj.Hijack(); herr == nil {
			_, _ = c.Write([]byte("HTTP/1.1 403 " + RefusedReason + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			_ = c.Close()
			return
		}
	}
	http.Error(w, RefusedReason, http.StatusForbidden)
}
