package netguard_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ytcaption/ytcaption/internal/netguard"
)

func proxyClient(t *testing.T, p *netguard.Proxy, tls *http.Transport) *http.Client {
	u, _ := url.Parse(p.URL())
	tr := &http.Transport{Proxy: http.ProxyURL(u)}
	if tls != nil {
		tr.TLSClientConfig = tls.TLSClientConfig
	}
	return &http.Client{Transport: tr}
}

func TestProxy(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "media")
	}))
	defer target.Close()
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "secure media")
	}))
	defer tlsTarget.Close()
	log := slog.New(slog.DiscardHandler)

	strict, err := netguard.NewProxy(netguard.Policy{}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	// Plain HTTP through the proxy to loopback: refused, never reached.
	resp, err := proxyClient(t, strict, nil).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, netguard.RefusedReason) {
		t.Fatalf("plain: %s", resp.Status)
	}
	// HTTPS (CONNECT) to loopback: the tunnel is refused.
	_, err = proxyClient(t, strict, tlsTarget.Client().Transport.(*http.Transport)).Get(tlsTarget.URL)
	if err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("tunnel: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("refused targets were reached %d times", hits.Load())
	}

	// An operator allow-list entry lets exactly that address:port through.
	allowed, err := netguard.NewProxy(netguard.Policy{Allow: []string{strings.TrimPrefix(target.URL, "http://"),
		strings.TrimPrefix(tlsTarget.URL, "https://")}}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer allowed.Close()
	resp, err = proxyClient(t, allowed, nil).Get(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "media" {
		t.Fatalf("allowed plain: %s %q", resp.Status, body)
	}
	resp, err = proxyClient(t, allowed, tlsTarget.Client().Transport.(*http.Transport)).Get(tlsTarget.URL)
	if err != nil {
		t.Fatalf("allowed tunnel: %v", err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secure media" {
		t.Fatalf("allowed tunnel body %q", body)
	}
}
