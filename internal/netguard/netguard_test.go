package netguard_test

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"testing"

	"github.com/ytcaption/ytcaption/internal/netguard"
)

func TestPublic(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true, "93.184.216.34": true,
		"127.0.0.1": false, "127.8.9.10": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.0.0.1": false, "172.16.5.4": false, "192.168.1.1": false, "169.254.169.254": false,
		"100.64.0.1": false, "100.127.255.254": false, "224.0.0.1": false, "255.255.255.255": false,
		"fe80::1": false, "fc00::1": false, "fd12:3456::1": false, "ff02::1": false, "fd00:ec2::254": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "::ffff:8.8.8.8": true,
		"2002:7f00:1::": false, "2002:0808:0808::": true, "64:ff9b::a00:1": false, "0.1.2.3": false,
	}
	for s, want := range cases {
		if got := netguard.Public(netip.MustParseAddr(s)); got != want {
			t.Errorf("Public(%s) = %v, want %v", s, got, want)
		}
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"127.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0X7F000001": "127.0.0.1",
		"0177.0.0.1": "127.0.0.1", "0177.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1",
		"0x7f.0x0.0x0.0x1": "127.0.0.1", "::1": "::1", "::ffff:127.0.0.1": "::ffff:127.0.0.1",
		"fe80::1%eth0": "fe80::1", "3232235777": "192.168.1.1", "0": "0.0.0.0",
	}
	for in, want := range cases {
		ip, ok := netguard.ParseHost(in)
		if !ok || ip.String() != want {
			t.Errorf("ParseHost(%q) = %v %v, want %s", in, ip, ok, want)
		}
	}
	for _, in := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "0x", "1..2", "", "4294967296", "08.1.1.1", "127.0.0.1x"} {
		if ip, ok := netguard.ParseHost(in); ok && in != "0x" {
			t.Errorf("ParseHost(%q) = %v, want not an address", in, ip)
		}
	}
}

// table stands in for DNS, which this machine cannot reach.
type table map[string][]netip.Addr

func (f table) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	r := table{
		"public.example":   {netip.MustParseAddr("93.184.216.34")},
		"rebind.example":   {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("127.0.0.1")},
		"internal.example": {netip.MustParseAddr("10.1.2.3")},
	}
	strict := netguard.Policy{}
	refused := []string{
		"http://127.0.0.1/a", "http://localhost/a", "http://api.localhost./a", "http://[::1]/a", "http://0.0.0.0/a",
		"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/a", "http://2130706433/a", "http://0x7f000001/a",
		"http://[::ffff:127.0.0.1]/a", "http://0177.1/a", "https://rebind.example/v", "https://internal.example/v",
		"http://[fd00:ec2::254]/", "http://100.100.100.200/",
	}
	for _, u := range refused {
		if err := strict.CheckURL(context.Background(), r, u); !errors.Is(err, netguard.ErrForbidden) {
			t.Errorf("CheckURL(%s) = %v, want refused", u, err)
		}
	}
	for _, u := range []string{"https://public.example/v", "https://unknown.example/v", "http://8.8.8.8/a"} {
		if err := strict.CheckURL(context.Background(), r, u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want allowed", u, err)
		}
	}
	allow := netguard.Policy{Allow: []string{"127.0.0.1:8081", "10.1.0.0/16"}}
	for u, ok := range map[string]bool{
		"http://127.0.0.1:8081/a": true, "http://127.0.0.1:8082/a": false, "https://internal.example/v": true,
		"http://10.2.0.1/": false,
	} {
		if err := allow.CheckURL(context.Background(), r, u); (err == nil) != ok {
			t.Errorf("allow-list CheckURL(%s) = %v, want ok=%v", u, err, ok)
		}
	}
	if err := (netguard.Policy{AllowPrivate: true}).CheckURL(context.Background(), r, "http://localhost:1/"); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	p := netguard.Policy{Allow: []string{"127.0.0.1:9"}}
	for addr, ok := range map[string]bool{
		"93.184.216.34:443": true, "127.0.0.1:80": false, "[::1]:443": false, "10.0.0.1:80": false, "bad": false,
		"127.0.0.1:9": true,
	} {
		if err := p.Control("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("Control(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
}

// FuzzCheckURL: no input panics, and a host that parses as a refused
// address is never let through.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1/", "http://[::ffff:10.0.0.1]/", "https://example.com/a", "http://0x7f.1/",
		"http://[fe80::1%25eth0]/", "%zz", "http://2130706433/", "http://0177.0.0.01/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := netguard.Policy{}.CheckURL(context.Background(), table{}, raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			return
		}
		if ip, ok := netguard.ParseHost(u.Hostname()); ok && !netguard.Public(ip) {
			t.Fatalf("accepted %q with refused host %s", raw, ip)
		}
	})
}
