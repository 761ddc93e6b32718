package lrs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

func TestRefusedAddr(t *testing.T) {
	t.Parallel()
	allowTen := sdk.EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	tests := []struct {
		addr   string
		policy sdk.EgressPolicy
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
		{addr: "10.1.2.3", policy: allowTen, want: ""},
		{addr: "::ffff:10.1.2.3", policy: allowTen, want: ""},
		{addr: "10.2.0.1", policy: allowTen, want: "a private address"},
		{addr: "127.0.0.1", policy: loopbackPolicy, want: ""},
		{addr: "169.254.169.254", policy: sdk.EgressPolicy{AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}, want: ""},
	}
	for _, tt := range tests {
		reason, refused := refusedAddr(netip.MustParseAddr(tt.addr), tt.policy)
		if refused != (tt.want != "") || reason != tt.want {
			t.Errorf("refusedAddr(%s) = %q, %v; want %q", tt.addr, reason, refused, tt.want)
		}
	}
}

// TestEgressControl checks the last check on the socket address, which
// catches an address that reached the dialer without being resolved here.
func TestEgressControl(t *testing.T) {
	t.Parallel()
	d := newEgressDialer(sdk.EgressPolicy{}, nil, nil)
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

func TestEgressPolicy(t *testing.T) {
	t.Parallel()
	l, srv := newLRS(t, lrstest.Options{})
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	resolver := fakeResolver{
		"lrs.example.test":      addrs("127.0.0.1"),
		"internal.example.test": addrs("10.0.0.1"),
		"mixed.example.test":    addrs("93.184.215.14", "10.0.0.1"),
		"metadata.example.test": addrs("169.254.169.254"),
		"mapped.example.test":   addrs("::ffff:127.0.0.1"),
	}
	httpOnly := sdk.EgressPolicy{AllowHTTP: true}
	tests := []struct {
		name     string
		endpoint string
		policy   sdk.EgressPolicy
		// wantAddr is the refused address; empty when delivery works.
		wantAddr string
	}{
		{name: "name resolving to allowed loopback", endpoint: "http://lrs.example.test:" + port + "/xapi/", policy: loopbackPolicy},
		{name: "loopback without allow", endpoint: "http://lrs.example.test:" + port + "/xapi/", policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "ipv4-mapped loopback without allow", endpoint: "http://mapped.example.test:" + port + "/xapi/", policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "name resolving to private", endpoint: "http://internal.example.test:" + port + "/xapi/", policy: loopbackPolicy, wantAddr: "10.0.0.1"},
		{name: "one private address among public ones", endpoint: "http://mixed.example.test:" + port + "/xapi/", policy: loopbackPolicy, wantAddr: "10.0.0.1"},
		{name: "metadata", endpoint: "http://metadata.example.test/xapi/", policy: loopbackPolicy, wantAddr: "169.254.169.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSink(t, baseConfig(tt.endpoint), tt.policy, withResolver(resolver))
			l.ResetRequests()
			_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
			if tt.wantAddr == "" {
				if err != nil {
					t.Fatalf("Deliver() error = %v", err)
				}
				return
			}
			var ee *EgressError
			if !errors.As(err, &ee) {
				t.Fatalf("Deliver() error = %v, want an *EgressError", err)
			}
			if got := ee.Addr.String(); got != tt.wantAddr {
				t.Errorf("refused address = %s, want %s", got, tt.wantAddr)
			}
			if sdk.ClassOf(err) != sdk.ClassRetryable {
				t.Errorf("class = %v, want retryable", sdk.ClassOf(err))
			}
			if n := len(l.Requests()); n != 0 {
				t.Errorf("the LRS saw %d requests, want none", n)
			}
		})
	}
}

func TestEgressConfigure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		policy   sdk.EgressPolicy
		wantErr  bool
	}{
		{name: "https name", endpoint: "https://lrs.example.com/xapi/"},
		{name: "http refused", endpoint: "http://lrs.example.com/xapi/", wantErr: true},
		{name: "http allowed", endpoint: "http://lrs.example.com/xapi/", policy: sdk.EgressPolicy{AllowHTTP: true}},
		{name: "loopback literal refused", endpoint: "https://127.0.0.1:8443/xapi/", wantErr: true},
		{name: "ipv6 loopback literal refused", endpoint: "https://[::1]:8443/xapi/", wantErr: true},
		{name: "metadata literal refused", endpoint: "https://169.254.169.254/xapi/", wantErr: true},
		{name: "loopback literal allowed", endpoint: "https://127.0.0.1:8443/xapi/", policy: loopbackPolicy},
		{name: "public literal", endpoint: "https://93.184.215.14/xapi/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(context.Background(), sdk.ConfigureRequest{Config: baseConfig(tt.endpoint), Egress: tt.policy})
			var ce *sdk.ConfigError
			if tt.wantErr {
				if !errors.As(err, &ce) || len(ce.Fields) != 1 || ce.Fields[0].Field != KeyEndpoint {
					t.Fatalf("New() error = %v, want a *sdk.ConfigError on endpoint", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
		})
	}
}

// TestEgressProxy checks that a proxy from the environment is dialled even
// though its address is not allowed, while the endpoint behind it is still
// checked.
func TestEgressProxy(t *testing.T) {
	t.Parallel()
	// An http proxy receives requests with absolute URLs; the LRS handler
	// serves them by path, so the proxy can be the LRS itself.
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})
	proxy := httptest.NewServer(l)
	t.Cleanup(proxy.Close)
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	useProxy := withProxy(func(*http.Request) (*url.URL, error) { return proxyURL, nil })
	resolver := fakeResolver{
		"lrs.example.test":      addrs("93.184.215.14"),
		"internal.example.test": addrs("10.0.0.1"),
	}
	policy := sdk.EgressPolicy{AllowHTTP: true} // the proxy's loopback address is not allowed

	s := newTestSink(t, baseConfig("http://lrs.example.test/xapi/"), policy, withResolver(resolver), useProxy)
	mustDeliver(t, s, stmt(0))
	if diff := cmp.Diff([]string{stmtID(0)}, l.IDs()); diff != "" {
		t.Errorf("stored through the proxy (-want +got):\n%s", diff)
	}
	rep, err := s.TestConnection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []stepStatus{{StepURL, sdk.StepWarning}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepSkipped},
		{StepTLS, sdk.StepSkipped}, {StepAbout, sdk.StepPassed}, {StepAuth, sdk.StepPassed}}
	if diff := cmp.Diff(want, steps(rep)); diff != "" {
		t.Errorf("TestConnection() through a proxy (-want +got):\n%s", diff)
	}

	s = newTestSink(t, baseConfig("http://internal.example.test/xapi/"), policy, withResolver(resolver), useProxy)
	_, err = s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(1, 2)})
	var ee *EgressError
	if !errors.As(err, &ee) || ee.Addr != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("Deliver() through a proxy to a private name error = %v, want an *EgressError for 10.0.0.1", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error contains the secret: %v", err)
	}
	if got := l.Len(); got != 1 {
		t.Errorf("LRS holds %d statements, want 1", got)
	}
}
