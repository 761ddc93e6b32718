package sdk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
)

// tableResolver answers from a table; other names do not exist.
type tableResolver map[string][]netip.Addr

func (r tableResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestEgressPolicy_CheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url      string
		policy   sdk.EgressPolicy
		wantAddr string // refused address; "" when allowed
		wantHTTP bool   // refused as plain http
	}{
		{url: "https://lrs.example.com/xapi/"},
		{url: "https://93.184.215.14/"},
		{url: "https://1e100.net/"},
		{url: "http://lrs.example.com/", wantHTTP: true},
		{url: "HTTP://lrs.example.com/", wantHTTP: true},
		{url: "http://lrs.example.com/", policy: sdk.EgressPolicy{AllowHTTP: true}},
		{url: "https://127.0.0.1/", wantAddr: "127.0.0.1"},
		{url: "https://127.0.0.1./", wantAddr: "127.0.0.1"},
		{url: "https://2130706433/", wantAddr: "127.0.0.1"},
		{url: "https://0x7f000001/", wantAddr: "127.0.0.1"},
		{url: "https://0X7F.1/", wantAddr: "127.0.0.1"},
		{url: "https://0177.0.0.1/", wantAddr: "127.0.0.1"},
		{url: "https://127.1/", wantAddr: "127.0.0.1"},
		{url: "https://10.1/", wantAddr: "10.0.0.1"},
		{url: "https://169.254.43518/", wantAddr: "169.254.169.254"},
		{url: "https://2852039166/", wantAddr: "169.254.169.254"},
		{url: "https://0xa9.0xfe.0xa9.0xfe/", wantAddr: "169.254.169.254"},
		{url: "https://[::1]:8443/", wantAddr: "::1"},
		{url: "https://[::ffff:127.0.0.1]/", wantAddr: "127.0.0.1"},
		{url: "https://[::ffff:7f00:1]/", wantAddr: "127.0.0.1"},
		{url: "https://[::7f00:1]/", wantAddr: "::7f00:1"},
		{url: "https://[::ffff:0:7f00:1]/", wantAddr: "::ffff:0:7f00:1"},
		{url: "https://[64:ff9b::a9fe:a9fe]/", wantAddr: "64:ff9b::a9fe:a9fe"},
		{url: "https://[2002:a00:1::]/", wantAddr: "2002:a00:1::"},
		{url: "https://[fe80::1%25eth0]/", wantAddr: "fe80::1"},
		{url: "https://[fd00:ec2::254]/", wantAddr: "fd00:ec2::254"},
		{url: "https://127.0.0.1/", policy: loopback},
		{url: "https://256.0.0.1/"}, // not an address: a name, checked when resolved
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.url, err)
		}
		err = tt.policy.CheckURL(u)
		var ee *sdk.EgressError
		switch {
		case tt.wantHTTP:
			if !errors.Is(err, sdk.ErrPlainHTTP) {
				t.Errorf("CheckURL(%s) = %v; want ErrPlainHTTP", tt.url, err)
			}
		case tt.wantAddr != "":
			if !errors.As(err, &ee) || ee.Addr.String() != tt.wantAddr || ee.Reason == "" {
				t.Errorf("CheckURL(%s) = %v; want an *EgressError for %s", tt.url, err, tt.wantAddr)
			}
		case err != nil:
			t.Errorf("CheckURL(%s) = %v; want nil", tt.url, err)
		}
	}
}

var loopback = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

// countingServer serves 204 on loopback and counts the requests it gets.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestEgressPolicy_Client(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, nil)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	portStr := ":" + itoa(port)
	resolver := tableResolver{
		"lrs.example.test":      {netip.MustParseAddr("127.0.0.1")},
		"mixed.example.test":    {netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.0.0.1")},
		"metadata.example.test": {netip.MustParseAddr("169.254.169.254")},
		"mapped.example.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
		"compat.example.test":   {netip.MustParseAddr("::7f00:1")},
	}
	httpOnly := sdk.EgressPolicy{AllowHTTP: true, Resolver: resolver}
	allowLoopback := loopback
	allowLoopback.Resolver = resolver
	tests := []struct {
		name     string
		url      string
		policy   sdk.EgressPolicy
		wantAddr string // refused address; "" when the request goes through
	}{
		{name: "allowed loopback by name", url: "http://lrs.example.test" + portStr, policy: allowLoopback},
		{name: "allowed loopback literal", url: srv.URL, policy: allowLoopback},
		{name: "loopback literal", url: srv.URL, policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "loopback decimal", url: "http://2130706433" + portStr, policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "loopback by name", url: "http://lrs.example.test" + portStr, policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "mapped by name", url: "http://mapped.example.test" + portStr, policy: httpOnly, wantAddr: "127.0.0.1"},
		{name: "ipv4-compatible by name", url: "http://compat.example.test" + portStr, policy: httpOnly, wantAddr: "::7f00:1"},
		{name: "one private among public", url: "http://mixed.example.test" + portStr, policy: allowLoopback, wantAddr: "10.0.0.1"},
		{name: "metadata by name", url: "http://metadata.example.test/latest", policy: allowLoopback, wantAddr: "169.254.169.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := hits.Load()
			c := tt.policy.Client(sdk.EgressOptions{Proxy: sdk.NoProxy})
			defer c.CloseIdleConnections()
			resp, err := c.Get(tt.url)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.wantAddr == "" {
				if err != nil {
					t.Fatalf("Get(%s) = %v", tt.url, err)
				}
				return
			}
			var ee *sdk.EgressError
			if !errors.As(err, &ee) || ee.Addr.String() != tt.wantAddr {
				t.Fatalf("Get(%s) = %v; want an *EgressError for %s", tt.url, err, tt.wantAddr)
			}
			if !strings.Contains(err.Error(), ee.Reason) {
				t.Errorf("error %q does not give the reason %q", err, ee.Reason)
			}
			if got := hits.Load() - before; got != 0 {
				t.Errorf("the server got %d requests; want none", got)
			}
		})
	}
}

// TestEgressPolicy_Client_redirect checks that a redirect from an allowed
// server to a refused address is refused before anything is sent there.
func TestEgressPolicy_Client_redirect(t *testing.T) {
	t.Parallel()
	target, targetHits := countingServer(t, nil)
	port := itoa(target.Listener.Addr().(*net.TCPAddr).Port)
	resolver := tableResolver{"internal.example.test": {netip.MustParseAddr("127.0.0.1")}}
	for _, to := range []string{
		"http://127.0.0.1:" + port + "/",
		"http://internal.example.test:" + port,
		"http://169.254.169.254/latest/meta-data/",
		"http://2130706433:" + port + "/",
	} {
		t.Run(to, func(t *testing.T) {
			// The allowed server is reached through its name; only its
			// name's address is allowed, by a policy that allows nothing
			// else: the redirect target is the same loopback address
			// reached through another name or form, or another refused
			// address.
			srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to, http.StatusTemporaryRedirect)
			})
			policy := sdk.EgressPolicy{AllowHTTP: true, Resolver: resolver}
			d := sdk.NewEgressDialer(policy, sdk.EgressOptions{Proxy: sdk.NoProxy})
			tr := d.Transport()
			// The test server itself is dialled directly: it stands for a
			// public server, which the policy allows.
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr == srv.Listener.Addr().String() {
					var plain net.Dialer
					return plain.DialContext(ctx, network, addr)
				}
				return d.DialContext(ctx, network, addr)
			}
			c := d.Client(tr)
			defer c.CloseIdleConnections()
			before := targetHits.Load()
			resp, err := c.Post(srv.URL, "application/json", strings.NewReader(`{}`))
			if resp != nil {
				resp.Body.Close()
			}
			var ee *sdk.EgressError
			if !errors.As(err, &ee) {
				t.Fatalf("Post through a redirect to %s = %v; want an *EgressError", to, err)
			}
			if got := targetHits.Load() - before; got != 0 {
				t.Errorf("the redirect target got %d requests; want none", got)
			}
		})
	}
}

// TestEgressDialer_Proxy checks that a proxy is dialled although its
// address is refused, while the request's host is still checked.
func TestEgressDialer_Proxy(t *testing.T) {
	t.Parallel()
	proxy, hits := countingServer(t, nil)
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	resolver := tableResolver{
		"public.example.test":   {netip.MustParseAddr("93.184.215.14")},
		"internal.example.test": {netip.MustParseAddr("10.0.0.1")},
	}
	policy := sdk.EgressPolicy{AllowHTTP: true, Resolver: resolver}
	c := policy.Client(sdk.EgressOptions{Proxy: http.ProxyURL(proxyURL)})
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://public.example.test/x")
	if err != nil {
		t.Fatalf("Get through the proxy = %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("the proxy got %d requests; want 1", hits.Load())
	}
	_, err = c.Get("http://internal.example.test/x")
	var ee *sdk.EgressError
	if !errors.As(err, &ee) || ee.Addr != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("Get of a private name through the proxy = %v; want an *EgressError for 10.0.0.1", err)
	}
	if hits.Load() != 1 {
		t.Errorf("the proxy got %d requests; want 1", hits.Load())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// FuzzCheckURL checks that any host either parses as an address the same
// way the standard library does, or is left to the resolver, without
// panics.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "[::1]", "1e100.net", "127.0.0.1.", "0x", "00", "1.2.3.4.5", "4294967296"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		u := &url.URL{Scheme: "https", Host: host}
		err := sdk.EgressPolicy{}.CheckURL(u)
		var ee *sdk.EgressError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("CheckURL(%q) = %v; want nil or an *EgressError", host, err)
		}
		if a, perr := netip.ParseAddr(u.Hostname()); perr == nil {
			reason, refused := sdk.EgressPolicy{}.Refuses(a)
			if refused != (err != nil) {
				t.Fatalf("CheckURL(%q) = %v but Refuses = %q, %v", host, err, reason, refused)
			}
		}
	})
}
