// Package netguard decides which network addresses the control plane may be
// asked to reach on a user's behalf (source and webhook URLs). Loopback,
// private, link-local, CGNAT, multicast, unspecified and cloud-metadata
// addresses are refused unless explicitly allowed.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
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
	if ip.Is4() && (cgnat.Contains(ip) || ip.As4()[0] == 0 || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		return false
	}
	if ip.Is6() {
		// 6to4/Teredo/NAT64 embed IPv4 addresses that may be private.
		b := ip.As16()
		if b[0] == 0x20 && b[1] == 0x02 { // 2002::/16
			return Public(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
		if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b { // 64:ff9b::/96
			return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		}
		if b[0] == 0xfc || b[0] == 0xfd { // unique local
			return false
		}
	}
	return true
}

// Resolver looks up host addresses.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CheckURL refuses a URL whose host is, or resolves to, a non-public address.
// A name that does not resolve passes: it cannot be reached either, and the
// connection-time check (Control) still applies.
func CheckURL(ctx context.Context, r Resolver, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if !Public(ip) {
			return fmt.Errorf("%w: %s", ErrForbidden, ip)
		}
		return nil
	}
	if host == "localhost" || len(host) > 10 && host[len(host)-10:] == ".localhost" {
		return fmt.Errorf("%w: %s", ErrForbidden, host)
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, ip := range ips {
		if !Public(ip) {
			return fmt.Errorf("%w: %s resolves to %s", ErrForbidden, host, ip)
		}
	}
	return nil
}

// Control is a net.Dialer Control function that refuses non-public
// addresses at connect time, after DNS resolution and on every redirect, so
// DNS rebinding cannot slip past CheckURL.
func Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbidden, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !Public(ip) {
		return fmt.Errorf("%w: %s", ErrForbidden, host)
	}
	return nil
}
