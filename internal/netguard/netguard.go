// Package netguard decides which network addresses ytcaption may be made to
// reach on a user's behalf (source media and webhook URLs), and enforces it
// where connections are made. Loopback, private, link-local, CGNAT,
// multicast, unspecified and cloud-metadata addresses are refused unless a
// Policy allows them. Both the control plane (submit-time checks, webhook
// delivery) and the agent (a guarding proxy in front of yt-dlp) use it.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrForbidden marks an address that policy refuses.
var ErrForbidden = errors.New("address not allowed")

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Public reports whether ip is a globally routable unicast address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	if ip.Is4() {
		b := ip.As4()
		return !cgnat.Contains(ip) && b[0] != 0 && b != [4]byte{255, 255, 255, 255}
	}
	b := ip.As16()
	switch {
	case b[0] == 0x20 && b[1] == 0x02: // 6to4 embeds an IPv4 address
		return Public(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b: // NAT64
		return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case b[0]&0xfe == 0xfc: // unique local
		return false
	}
	return true
}

// Policy says which non-public targets are allowed anyway.
type Policy struct {
	// AllowPrivate allows every address (dev mode, trusted networks).
	AllowPrivate bool
	// Allow lists operator-approved exceptions: CIDR prefixes ("10.2.0.0/16"),
	// single addresses, or address:port pairs ("127.0.0.1:8081").
	Allow []string
}

// allowed reports whether policy lets a connection reach ip:port.
func (p Policy) allowed(ip netip.Addr, port uint16) bool {
	if p.AllowPrivate || Public(ip) {
		return true
	}
	ip = ip.Unmap()
	for _, a := range p.Allow {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			if ap.Addr().Unmap() == ip && ap.Port() == port {
				return true
			}
			continue
		}
		if pre, err := netip.ParsePrefix(a); err == nil && pre.Contains(ip) {
			return true
		}
		if one, err := netip.ParseAddr(a); err == nil && one.Unmap() == ip {
			return true
		}
	}
	return false
}

// Check refuses ip:port unless the policy allows it.
func (p Policy) Check(ip netip.Addr, port uint16) error {
	if !p.allowed(ip, port) {
		return fmt.Errorf("%w: %s", ErrForbidden, netip.AddrPortFrom(ip.Unmap(), port))
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after name resolution,
// for every address actually dialed (including each redirect hop), so DNS
// rebinding cannot slip past an earlier check.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	return p.Check(ap.Addr(), ap.Port())
}

// Dialer returns a dialer that enforces the policy at connect time.
func (p Policy) Dialer() *net.Dialer {
	return &net.Dialer{Control: p.Control}
}

// Resolver looks up host addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL refuses a URL whose host is, or resolves to, an address the
// policy refuses. Hosts are read the way resolvers and curl read them, so
// "2130706433", "0x7f000001", "0177.1" and "127.1" are all 127.0.0.1. A name
// that does not resolve passes: it cannot be reached either, and the
// connect-time check still applies.
func (p Policy) CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	port := portOf(u)
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip, ok := ParseHost(host); ok {
		return p.Check(ip, port)
	}
	if !p.AllowPrivate && (host == "localhost" || strings.HasSuffix(host, ".localhost")) {
		return fmt.Errorf("%w: %s", ErrForbidden, host)
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if err := p.Check(ip, port); err != nil {
			return fmt.Errorf("%s resolves to a refused address: %w", host, err)
		}
	}
	return nil
}

func portOf(u *url.URL) uint16 {
	if n, err := strconv.ParseUint(u.Port(), 10, 16); err == nil {
		return uint16(n)
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}

// ParseHost reads host as an IP address in any spelling a resolver accepts:
// standard IPv4/IPv6 (with zone), and the inet_aton forms — one to four
// parts, each decimal, octal (leading 0) or hex (0x).
func ParseHost(host string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.WithZone(""), true
	}
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, s := range parts {
		if s == "" {
			return netip.Addr{}, false
		}
		base, digits := 10, s
		switch {
		case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
			base, digits = 16, s[2:]
			if digits == "" {
				digits = "0"
			}
		case len(s) > 1 && s[0] == '0':
			base, digits = 8, s[1:]
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// The last part fills the remaining bytes.
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*uint(i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*uint(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
