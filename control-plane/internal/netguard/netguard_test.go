package netguard_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"

	"github.com/ytcaption/ytcaption/control-plane/internal/netguard"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "100.127.255.254": false, "224.0.0.1": false, "255.255.255.255": false,
		"fe80::1": false, "fc00::1": false, "fd12:3456::1": false, "ff02::1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
		"2002:7f00:1::": false, "2002:0808:0808::": true, "64:ff9b::a00:1": false, "0.1.2.3": false,
	}
	for s, want := range cases {
		if got := netguard.Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	// A resolver table stands in for DNS, which this machine cannot reach.
	r := fakeResolver{
		"public.example":   {netip.MustParseAddr("93.184.216.34")},
		"rebind.example":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
		"internal.example": {netip.MustParseAddr("10.1.2.3")},
	}
	cases := []struct {
		url       string
		forbidden bool
	}{
		{"https://public.example/v.mp4", false},
		{"https://unknown.example/v.mp4", false}, // cannot resolve: the connect-time check applies
		{"https://rebind.example/v.mp4", true},
		{"https://internal.example/v.mp4", true},
		{"http://127.0.0.1/a", true},
		{"http://[::1]:8080/a", true},
		{"http://[::ffff:127.0.0.1]/a", true},
		{"http://localhost/a", true},
		{"http://api.localhost/a", true},
		{"http://169.254.169.254/latest/meta-data", true},
		{"http://8.8.8.8/a", false},
	}
	for _, c := range cases {
		err := netguard.CheckURL(context.Background(), r, c.url)
		if got := errors.Is(err, netguard.ErrForbidden); got != c.forbidden {
			t.Errorf("CheckURL(%s) = %v, want forbidden=%v", c.url, err, c.forbidden)
		}
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"93.184.216.34:443": true, "127.0.0.1:80": false, "[::1]:443": false, "10.0.0.1:80": false, "bad": false,
	} {
		if err := netguard.Control("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("Control(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// FuzzCheckURL: no input panics, and a literal non-public address is never
// let through.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://[::ffff:10.0.0.1]/", "https://example.com/a", "http://0x7f.1/", "http://[fe80::1%25eth0]/", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := netguard.CheckURL(context.Background(), fakeResolver{}, raw)
		if err != nil {
			return
		}
		if ip, perr := netip.ParseAddr(hostOf(raw)); perr == nil && !netguard.Public(ip) {
			t.Fatalf("accepted %q with non-public host %s", raw, ip)
		}
	})
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
