package lrs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"syscall"

	"github.com/learningflow/lrsbridge/sdk"
)

// EgressError reports a connection that the egress policy refused: the
// endpoint's host is, or resolved to, an address that organizations may not
// reach (loopback, private, link-local, metadata...) and that the host
// operator did not allow. Deliver returns it unclassified (retryable): the
// DNS answer may change or the operator may allow the range.
type EgressError struct {
	// Host is the host name or address being connected to.
	Host string
	// Addr is the refused address.
	Addr netip.Addr
	// Reason says what kind of address it is, for example "a loopback
	// address".
	Reason string
}

// Error describes the problem; it never includes secrets.
func (e *EgressError) Error() string {
	if e.Host != "" && e.Host != e.Addr.String() {
		return fmt.Sprintf("egress policy refused %s (resolved to %s): %s", e.Host, e.Addr, e.Reason)
	}
	return fmt.Sprintf("egress policy refused %s: %s", e.Addr, e.Reason)
}

// addrRange is a range of addresses refused by default.
type addrRange struct {
	prefix netip.Prefix
	reason string
}

// refusedRanges lists the address ranges refused unless the policy allows
// them, most specific first so that the reason names the metadata service
// rather than the link-local range it lives in.
var refusedRanges = func() []addrRange {
	list := []struct{ cidr, reason string }{
		// Cloud metadata services (credentials live there).
		{"169.254.169.254/32", "a cloud metadata service address"},
		{"169.254.170.2/32", "a cloud metadata service address"},
		{"169.254.169.253/32", "a cloud DNS service address"},
		{"100.100.100.200/32", "a cloud metadata service address"},
		{"fd00:ec2::254/128", "a cloud metadata service address"},
		{"fd00:ec2::253/128", "a cloud DNS service address"},
		// IPv4.
		{"0.0.0.0/8", "an unspecified (\"this network\") address"},
		{"127.0.0.0/8", "a loopback address"},
		{"10.0.0.0/8", "a private address"},
		{"172.16.0.0/12", "a private address"},
		{"192.168.0.0/16", "a private address"},
		{"100.64.0.0/10", "a carrier-grade NAT (shared) address"},
		{"169.254.0.0/16", "a link-local address"},
		{"192.0.0.0/24", "an IETF protocol assignment address"},
		{"192.0.2.0/24", "a documentation address"},
		{"198.51.100.0/24", "a documentation address"},
		{"203.0.113.0/24", "a documentation address"},
		{"198.18.0.0/15", "a benchmarking address"},
		{"224.0.0.0/4", "a multicast address"},
		{"240.0.0.0/4", "a reserved or broadcast address"},
		// IPv6.
		{"::/128", "an unspecified address"},
		{"::1/128", "a loopback address"},
		{"fc00::/7", "a private (unique local) address"},
		{"fe80::/10", "a link-local address"},
		{"fec0::/10", "a site-local address"},
		{"ff00::/8", "a multicast address"},
		{"100::/64", "a discard address"},
		{"2001:db8::/32", "a documentation address"},
		{"64:ff9b:1::/48", "a local-use NAT64 address"},
	}
	out := make([]addrRange, len(list))
	for i, r := range list {
		out[i] = addrRange{netip.MustParsePrefix(r.cidr), r.reason}
	}
	return out
}()

var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// refusedAddr reports whether the policy refuses connections to a, and why.
// IPv4-mapped IPv6 addresses are checked as IPv4, and IPv4 addresses embedded
// in NAT64 and 6to4 addresses are checked too, so that an internal IPv4
// address cannot be reached through a translating prefix.
func refusedAddr(a netip.Addr, p sdk.EgressPolicy) (reason string, refused bool) {
	a = a.Unmap().WithZone("")
	if !a.IsValid() {
		return "not a valid address", true
	}
	if p.Allows(a) {
		return "", false
	}
	for _, r := range refusedRanges {
		if r.prefix.Contains(a) {
			return r.reason, true
		}
	}
	if a.Is6() {
		b := a.As16()
		var inner netip.Addr
		switch {
		case nat64Prefix.Contains(a):
			inner = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixToFour.Contains(a):
			inner = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if inner.IsValid() {
			if reason, refused := refusedAddr(inner, p); refused {
				return reason + " (embedded in an IPv6 translation address)", true
			}
		}
	}
	return "", false
}

// resolver looks up host names. *net.Resolver implements it; tests inject a
// fake that maps names to chosen addresses.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// egressDialer dials the LRS under the egress policy. It resolves the host
// itself, checks every resolved address, and connects to a checked address
// literal, so a DNS answer that changes between check and connect (DNS
// rebinding) cannot reach a refused address. The net.Dialer's Control hook
// checks the address of the socket once more just before connect.
//
// Proxies: when the environment configures a proxy for the endpoint, the
// connection goes to the proxy, an address the host operator chose; it is
// not checked against the policy. The endpoint's host is then checked when
// the proxy is chosen (resolved here, every address checked), but the proxy
// resolves the name again on its own, so protection against DNS rebinding
// is the proxy's job. Operators who route LRS traffic through a proxy
// should make it enforce the same egress rules.
type egressDialer struct {
	policy   sdk.EgressPolicy
	resolver resolver
	dialer   net.Dialer
	// envProxy picks a proxy for a request, http.ProxyFromEnvironment by
	// default.
	envProxy func(*http.Request) (*url.URL, error)
	// proxies holds the host:port of proxies chosen by envProxy. Dials to
	// them are not checked against the policy.
	proxies sync.Map
}

func newEgressDialer(p sdk.EgressPolicy, r resolver, envProxy func(*http.Request) (*url.URL, error)) *egressDialer {
	if r == nil {
		r = net.DefaultResolver
	}
	d := &egressDialer{policy: p, resolver: r, envProxy: envProxy}
	d.dialer.Control = d.control
	return d
}

// control is the last check, on the socket address about to be connected.
func (d *egressDialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress policy: unexpected dial address %q", address)
	}
	if reason, refused := refusedAddr(ap.Addr(), d.policy); refused {
		return &EgressError{Addr: ap.Addr().Unmap(), Reason: reason}
	}
	return nil
}

// resolve returns the addresses of host (itself for an address literal) and
// checks every one of them against the policy. Any refused address makes
// the host refused: a name that points inside the network is suspect even if
// it also has public addresses.
func (d *egressDialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ipNet := "ip"
		switch network {
		case "tcp4":
			ipNet = "ip4"
		case "tcp6":
			ipNet = "ip6"
		}
		addrs, err = d.resolver.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, &DNSError{Host: host, Err: err}
		}
		if len(addrs) == 0 {
			return nil, &DNSError{Host: host, Err: errors.New("no addresses")}
		}
	}
	for _, a := range addrs {
		if reason, refused := refusedAddr(a, d.policy); refused {
			return nil, &EgressError{Host: host, Addr: a.Unmap().WithZone(""), Reason: reason}
		}
	}
	return addrs, nil
}

// DialContext connects to addr (host:port) under the policy.
func (d *egressDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := d.proxies.Load(addr); ok {
		plain := net.Dialer{Timeout: d.dialer.Timeout, KeepAlive: d.dialer.KeepAlive}
		return plain.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := d.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, a := range addrs {
		if (network == "tcp4" && !a.Unmap().Is4()) || (network == "tcp6" && a.Unmap().Is4()) {
			continue
		}
		c, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("no %s address for %s", network, host)
	}
	return nil, firstErr
}

// proxy is the http.Transport Proxy hook: it asks the environment for a
// proxy and, when one is used, checks the endpoint's host against the policy
// here, since the dialer then only sees the proxy.
func (d *egressDialer) proxy(req *http.Request) (*url.URL, error) {
	if d.envProxy == nil {
		return nil, nil
	}
	u, err := d.envProxy(req)
	if err != nil || u == nil {
		return u, err
	}
	if _, err := d.resolve(req.Context(), "tcp", req.URL.Hostname()); err != nil {
		return nil, err
	}
	d.proxies.Store(proxyAddr(u), struct{}{})
	return u, nil
}

// proxyAddr returns the host:port the transport dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// DNSError reports that the endpoint's host name could not be resolved.
type DNSError struct {
	// Host is the name looked up.
	Host string
	// Err is the resolver's error.
	Err error
}

// Error describes the problem; it never includes secrets.
func (e *DNSError) Error() string { return "resolve " + strconv.Quote(e.Host) + ": " + e.Err.Error() }

// Unwrap returns e.Err.
func (e *DNSError) Unwrap() error { return e.Err }
