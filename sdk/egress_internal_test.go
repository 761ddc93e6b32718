package sdk

import (
	"net/netip"
	"testing"
)

var loopbackPolicy = EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

func TestEgressPolicy_Refuses(t *testing.T) {
	t.Parallel()
	allowTen := EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	tests := []struct {
		addr   string
		policy EgressPolicy
		want   string // reason; "" for allowed
	}{
		{addr: "93.184.215.14", want: ""},
		{addr: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", want: ""},
		{addr: "127.0.0.1", want: "a loopback address"},
		{addr: "127.8.9.10", want: "a loopback address"},
		{addr: "::1", want: "a loopback address"},
		{addr: "::ffff:127.0.0.1", want: "a loopback address"},
		{addr: "10.0.0.1", want: "a private address"},
		{addr: "172.16.5.4", want: "a private address"},
		{addr: "172.32.0.1", want: ""},
		{addr: "192.168.1.1", want: "a private address"},
		{addr: "fd12:3456::1", want: "a private (unique local) address"},
		{addr: "100.64.0.1", want: "a carrier-grade NAT (shared) address"},
		{addr: "169.254.1.1", want: "a link-local address"},
		{addr: "fe80::1", want: "a link-local address"},
		{addr: "fe80::1%eth0", want: "a link-local address"},
		{addr: "0.0.0.0", want: "an unspecified (\"this network\") address"},
		{addr: "::", want: "an unspecified address"},
		{addr: "224.0.0.1", want: "a multicast address"},
		{addr: "ff02::1", want: "a multicast address"},
		{addr: "255.255.255.255", want: "a reserved or broadcast address"},
		{addr: "169.254.169.254", want: "a cloud metadata service address"},
		{addr: "fd00:ec2::254", want: "a cloud metadata service address"},
		{addr: "100.100.100.200", want: "a cloud metadata service address"},
		{addr: "64:ff9b::a00:1", want: "a private address (embedded in an IPv6 translation address)"},
		{addr: "2002:7f00:1::1", want: "a loopback address (embedded in an IPv6 translation address)"},
		{addr: "64:ff9b::7f00:1", want: "a loopback address (embedded in an IPv6 translation address)"},
		{addr: "64:ff9b::808:808", want: ""},
		{addr: "::7f00:1", want: "a loopback address (embedded in an IPv4-compatible IPv6 address)"},
		{addr: "::127.0.0.1", want: "a loopback address (embedded in an IPv4-compatible IPv6 address)"},
		{addr: "::a9fe:a9fe", want: "a cloud metadata service address (embedded in an IPv4-compatible IPv6 address)"},
		{addr: "::ffff:0:7f00:1", want: "a loopback address (embedded in an IPv4-translated IPv6 address)"},
		{addr: "::ffff:0:a00:1", want: "a private address (embedded in an IPv4-translated IPv6 address)"},
		{addr: "2001:0:4136:e378:8000:63bf:80ff:fffe", want: "a loopback address (embedded in a Teredo IPv6 address)"},
		{addr: "2001:0:4136:e378:8000:63bf:f7f7:f7f7", want: ""},
		{addr: "::808:808", want: ""},
		{addr: "10.1.2.3", policy: allowTen, want: ""},
		{addr: "::ffff:10.1.2.3", policy: allowTen, want: ""},
		{addr: "10.2.0.1", policy: allowTen, want: "a private address"},
		{addr: "127.0.0.1", policy: loopbackPolicy, want: ""},
		{addr: "::7f00:1", policy: loopbackPolicy, want: ""},
		{addr: "169.254.169.254", policy: EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}, want: ""},
	}
	for _, tt := range tests {
		reason, refused := tt.policy.Refuses(netip.MustParseAddr(tt.addr))
		if refused != (tt.want != "") || reason != tt.want {
			t.Errorf("Refuses(%s) = %q, %v; want %q", tt.addr, reason, refused, tt.want)
		}
	}
}

// TestEgressControl checks the last check on the socket address, which
// catches an address that reached the dialer without being resolved here.
func TestEgressControl(t *testing.T) {
	t.Parallel()
	d := NewEgressDialer(EgressPolicy{}, EgressOptions{})
	for _, tt := range []struct {
		addr   string
		wantOK bool
	}{
		{"93.184.215.14:443", true},
		{"[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", true},
		{"127.0.0.1:443", false},
		{"[::ffff:10.0.0.1]:443", false},
		{"169.254.169.254:80", false},
		{"not-an-address", false},
	} {
		err := d.control("tcp", tt.addr, nil)
		if (err == nil) != tt.wantOK {
			t.Errorf("control(%s) = %v, want ok %v", tt.addr, err, tt.wantOK)
		}
	}
}
