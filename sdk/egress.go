package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// EgressError reports a connection that the egress policy refused: the
// endpoint's host is, or resolved to, an address that organizations may not
// reach (loopback, private, link-local, metadata...) and that the host
// operator did not allow. It is unclassified (retryable) when a sink returns
// it from Deliver: the DNS answer may change or the operator may allow the
// range.
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

// ErrPlainHTTP reports a plain http:// URL (an endpoint or a redirect) that
// the egress policy refuses because it does not set AllowHTTP.
var ErrPlainHTTP = errors.New("egress policy refused a plain http:// URL: use https")

// DNSError reports that an endpoint's host name could not be resolved.
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

// Resolver looks up the addresses of host names. *net.Resolver implements
// it. Tests and the conformance kit use one that answers from a table, so
// that no real DNS is needed.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
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

// IPv6 ranges that carry an IPv4 address, and where.
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")           // ::a.b.c.d (deprecated)
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT ::ffff:0:a.b.c.d
	nat64Prefix    = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 addresses carried inside the IPv6 address
// a, and the kind of IPv6 address that carries them.
func embeddedIPv4(a netip.Addr) ([]netip.Addr, string) {
	if !a.Is6() || a.Is4In6() {
		return nil, ""
	}
	b := a.As16()
	v4 := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[i+1], b[i+2], b[i+3]}) }
	switch {
	case ipv4Compatible.Contains(a):
		return []netip.Addr{v4(12)}, "an IPv4-compatible IPv6 address"
	case ipv4Translated.Contains(a):
		return []netip.Addr{v4(12)}, "an IPv4-translated IPv6 address"
	case nat64Prefix.Contains(a):
		return []netip.Addr{v4(12)}, "an IPv6 translation address"
	case sixToFour.Contains(a):
		return []netip.Addr{v4(2)}, "an IPv6 translation address"
	case teredo.Contains(a):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		return []netip.Addr{client, v4(4)}, "a Teredo IPv6 address"
	}
	return nil, ""
}

// Refuses reports whether p refuses connections to a, and why (for example
// "a loopback address"). IPv4-mapped IPv6 addresses are checked as IPv4, and
// the IPv4 addresses embedded in IPv4-compatible, IPv4-translated, NAT64,
// 6to4 and Teredo addresses are checked too, so that an internal IPv4
// address cannot be reached through an IPv6 form. An address inside
// AllowCIDRs is allowed.
func (p EgressPolicy) Refuses(a netip.Addr) (reason string, refused bool) {
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
	inner, kind := embeddedIPv4(a)
	for _, in := range inner {
		if reason, refused := p.Refuses(in); refused {
			return reason + " (embedded in " + kind + ")", true
		}
	}
	return "", false
}

// CheckURL checks what can be decided about an endpoint URL without
// resolving names: a plain http:// URL is refused with [ErrPlainHTTP] unless
// p.AllowHTTP, and a host that is an address (in any form a resolver would
// accept, such as 2130706433 or 0x7f.1 for 127.0.0.1) is refused with an
// *[EgressError] if p refuses it. Names are checked when they are resolved,
// at connect time.
func (p EgressPolicy) CheckURL(u *url.URL) error {
	if strings.EqualFold(u.Scheme, "http") && !p.AllowHTTP {
		return ErrPlainHTTP
	}
	host := u.Hostname()
	if a, ok := parseAddr(host); ok {
		if reason, refused := p.Refuses(a); refused {
			return &EgressError{Host: host, Addr: a.Unmap().WithZone(""), Reason: reason}
		}
	}
	return nil
}

// parseAddr parses host as an IP address: an IPv4 or IPv6 literal (with an
// optional zone), or an IPv4 address in the forms inet_aton accepts
// (decimal, octal and hexadecimal parts, fewer than four parts), with an
// optional trailing dot. The system resolver accepts those forms, so they
// must be checked as addresses, not names. Only a pair of brackets around
// the whole host is taken off, and a literal is tried as it is before its
// trailing dot goes: the zone of an IPv6 literal may be any text ("::%."
// and "::%]" are the unspecified address, zones "." and "]").
func parseAddr(host string) (netip.Addr, bool) {
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	host = strings.TrimSuffix(host, ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return a, true
	}
	return parseLegacyIPv4(host)
}

// parseLegacyIPv4 parses the inet_aton forms of an IPv4 address: one to
// four dot-separated numbers, each decimal, octal (leading 0) or
// hexadecimal (leading 0x); the last fills the remaining bytes.
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			p, base = p[2:], 16
		case len(p) > 1 && p[0] == '0':
			p, base = p[1:], 8
		}
		if p == "" || strings.ContainsAny(p, "+-_") {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// NoProxy is an [EgressOptions].Proxy that never uses a proxy.
func NoProxy(*http.Request) (*url.URL, error) { return nil, nil }

// EgressOptions tunes an [EgressDialer] and the HTTP transport and client it
// builds. The zero value is ready to use.
type EgressOptions struct {
	// Proxy chooses the proxy of a request, like http.Transport's Proxy.
	// Nil means http.ProxyFromEnvironment; [NoProxy] turns proxies off.
	Proxy func(*http.Request) (*url.URL, error)
	// DialTimeout bounds connecting. Zero means 30 seconds.
	DialTimeout time.Duration
	// TLS is the TLS configuration of the transport. Nil means the system
	// roots and at least TLS 1.2, with certificates verified.
	TLS *tls.Config
}

// EgressDialer connects under an egress policy. It resolves host names
// itself (with the policy's Resolver, or the system's), checks every
// resolved address, and connects to a checked address literal, so a DNS
// answer that changes between check and connect (DNS rebinding) cannot
// reach a refused address. A net.Dialer Control hook checks the address of
// the socket once more just before connect.
//
// Proxies: when Proxy picks a proxy for a request, the connection goes to
// the proxy, an address the host operator chose, and it is not checked.
// The request's host is checked when the proxy is chosen (resolved, every
// address checked), but the proxy resolves the name again on its own, so
// protection against DNS rebinding is then the proxy's job.
//
// An EgressDialer is safe for concurrent use.
type EgressDialer struct {
	policy   EgressPolicy
	resolver Resolver
	dialer   net.Dialer
	proxy    func(*http.Request) (*url.URL, error)
	tls      *tls.Config
	// proxies holds the host:port of proxies chosen by proxy. Dials to
	// them are not checked against the policy.
	proxies sync.Map
}

// NewEgressDialer returns a dialer that applies p to every connection.
func NewEgressDialer(p EgressPolicy, o EgressOptions) *EgressDialer {
	d := &EgressDialer{policy: p, resolver: p.Resolver, proxy: o.Proxy, tls: o.TLS}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	if d.proxy == nil {
		d.proxy = http.ProxyFromEnvironment
	}
	if d.tls == nil {
		d.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	d.dialer.Timeout = o.DialTimeout
	if d.dialer.Timeout <= 0 {
		d.dialer.Timeout = 30 * time.Second
	}
	d.dialer.KeepAlive = 30 * time.Second
	d.dialer.Control = d.control
	return d
}

// Client returns an HTTP client whose every connection, redirect and proxy
// goes through the egress policy p: a one-line way for a sink to reach an
// endpoint entered by an organization. See [EgressDialer.Client].
func (p EgressPolicy) Client(o EgressOptions) *http.Client {
	return NewEgressDialer(p, o).Client(nil)
}

// Policy returns the policy d applies.
func (d *EgressDialer) Policy() EgressPolicy { return d.policy }

// control is the last check, on the socket address about to be connected.
func (d *EgressDialer) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress policy: unexpected dial address %q", address)
	}
	if reason, refused := d.policy.Refuses(ap.Addr()); refused {
		return &EgressError{Addr: ap.Addr().Unmap().WithZone(""), Reason: reason}
	}
	return nil
}

// Resolve returns the addresses of host (itself for an address literal)
// and checks every one of them against the policy. Any refused address
// makes the host refused (an *[EgressError]): a name that points inside the
// network is suspect even if it also has public addresses. A name that
// does not resolve is a *[DNSError]. network is "tcp", "tcp4" or "tcp6".
func (d *EgressDialer) Resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, ok := parseAddr(host); ok {
		addrs = []netip.Addr{a}
	} else {
		ipNet := "ip"
		switch network {
		case "tcp4":
			ipNet = "ip4"
		case "tcp6":
			ipNet = "ip6"
		}
		var err error
		addrs, err = d.resolver.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, &DNSError{Host: host, Err: err}
		}
		if len(addrs) == 0 {
			return nil, &DNSError{Host: host, Err: errors.New("no addresses")}
		}
	}
	for _, a := range addrs {
		if reason, refused := d.policy.Refuses(a); refused {
			return nil, &EgressError{Host: host, Addr: a.Unmap().WithZone(""), Reason: reason}
		}
	}
	return addrs, nil
}

// DialContext connects to addr (host:port) under the policy. It has the
// signature of http.Transport's DialContext.
func (d *EgressDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := d.proxies.Load(addr); ok {
		plain := net.Dialer{Timeout: d.dialer.Timeout, KeepAlive: d.dialer.KeepAlive}
		return plain.DialContext(ctx, network, addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	addrs, err := d.Resolve(ctx, network, host)
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

// Proxy is the http.Transport Proxy hook: it asks the configured proxy
// function and, when a proxy is used, checks the request's host here, since
// the dialer then only sees the proxy.
func (d *EgressDialer) Proxy(req *http.Request) (*url.URL, error) {
	u, err := d.proxy(req)
	if err != nil || u == nil {
		return u, err
	}
	if _, err := d.Resolve(req.Context(), "tcp", req.URL.Hostname()); err != nil {
		return nil, err
	}
	d.proxies.Store(proxyAddr(u), struct{}{})
	return u, nil
}

// ProxyFor returns the proxy the options choose for req, without checking
// anything; nil when there is none. A connection test uses it to say that
// connections go through a proxy.
func (d *EgressDialer) ProxyFor(req *http.Request) *url.URL {
	u, err := d.proxy(req)
	if err != nil {
		return nil
	}
	return u
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

// Transport returns a new HTTP transport that dials through d, picks
// proxies through d and uses the TLS configuration of the options. Its
// fields may be tuned before first use.
func (d *EgressDialer) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 d.Proxy,
		DialContext:           d.DialContext,
		TLSClientConfig:       d.tls,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(d.dialer.Timeout, 15*time.Second),
		ExpectContinueTimeout: time.Second,
	}
}

// maxRedirects is how many redirects a client of [EgressDialer.Client]
// follows.
const maxRedirects = 10

// Client returns an HTTP client over rt (a new [EgressDialer.Transport]
// when rt is nil) that checks every redirect against the policy: a redirect
// to plain http:// is refused unless AllowHTTP, one to a refused address
// literal is refused before anything is sent, and one to a name is checked
// when it is resolved, like any connection. A client that must not follow
// redirects at all sets CheckRedirect to return http.ErrUseLastResponse.
// rt must dial through d for the policy to hold.
func (d *EgressDialer) Client(rt http.RoundTripper) *http.Client {
	if rt == nil {
		rt = d.Transport()
	}
	return &http.Client{Transport: rt, CheckRedirect: d.checkRedirect}
}

func (d *EgressDialer) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return d.policy.CheckURL(req.URL)
}
