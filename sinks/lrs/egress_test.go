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
			var ee *sdk.EgressError
			if !errors.As(err, &ee) {
				t.Fatalf("Deliver() error = %v, want an *sdk.EgressError", err)
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
		{name: "ipv4-compatible loopback refused", endpoint: "https://[::7f00:1]/xapi/", wantErr: true},
		{name: "ipv4-translated loopback refused", endpoint: "https://[::ffff:0:7f00:1]/xapi/", wantErr: true},
		{name: "nat64 metadata refused", endpoint: "https://[64:ff9b::a9fe:a9fe]/xapi/", wantErr: true},
		{name: "6to4 private refused", endpoint: "https://[2002:a00:1::1]/xapi/", wantErr: true},
		{name: "decimal loopback refused", endpoint: "https://2130706433/xapi/", wantErr: true},
		{name: "octal loopback refused", endpoint: "https://0177.0.0.1/xapi/", wantErr: true},
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
	var ee *sdk.EgressError
	if !errors.As(err, &ee) || ee.Addr != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("Deliver() through a proxy to a private name error = %v, want an *sdk.EgressError for 10.0.0.1", err)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error contains the secret: %v", err)
	}
	if got := l.Len(); got != 1 {
		t.Errorf("LRS holds %d statements, want 1", got)
	}
}
