package sinktest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
)

// Names the kit's resolver answers for, so that the egress check needs no
// real DNS. They end in .invalid, which never resolves elsewhere.
const (
	loopbackName = "loopback.egress.sinktest.invalid"
	metadataName = "metadata.egress.sinktest.invalid"
	privateName  = "private.egress.sinktest.invalid"
)

// kitResolver answers for the kit's names and hands other names to next
// (the harness's resolver, or the system's).
type kitResolver struct{ next sdk.Resolver }

var kitNames = map[string][]netip.Addr{
	loopbackName: {netip.MustParseAddr("127.0.0.1")},
	metadataName: {netip.MustParseAddr("169.254.169.254")},
	privateName:  {netip.MustParseAddr("::ffff:10.0.0.1")},
}

func (r kitResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := kitNames[strings.ToLower(strings.TrimSuffix(host, "."))]; ok {
		return a, nil
	}
	if r.next != nil {
		return r.next.LookupNetIP(ctx, network, host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// withKitResolver returns p with the kit's resolver in front of its own.
func withKitResolver(p sdk.EgressPolicy) sdk.EgressPolicy {
	if _, ok := p.Resolver.(kitResolver); !ok {
		p.Resolver = kitResolver{next: p.Resolver}
	}
	return p
}

// trap is a TCP listener on a refused address that counts the connections
// made to it and closes them at once.
type trap struct {
	ln    net.Listener
	conns atomic.Int32
	wg    sync.WaitGroup
}

func newTrap(t *testing.T, addr string) *trap {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil
	}
	tr := &trap{ln: ln}
	tr.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.conns.Add(1)
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		tr.wg.Wait()
	})
	return tr
}

func (tr *trap) port() string {
	return strconv.Itoa(tr.ln.Addr().(*net.TCPAddr).Port)
}

// egressCase is one refused destination.
type egressCase struct {
	name string
	url  string
	// addr is the refused address; the policy's reason for it must appear
	// in the sink's answer.
	addr netip.Addr
}

func checkEgress(t *testing.T, c *checker) {
	if c.h.EgressSetting == "" {
		t.Skip("the harness names no EgressSetting: the sink does not connect out")
	}
	tr := newTrap(t, "127.0.0.1:0")
	if tr == nil {
		t.Fatal("sinktest: cannot listen on 127.0.0.1")
	}
	p := tr.port()
	addr := netip.MustParseAddr
	cases := []egressCase{
		{"loopback", "http://127.0.0.1:" + p + "/", addr("127.0.0.1")},
		{"loopback decimal", "http://2130706433:" + p + "/", addr("127.0.0.1")},
		{"loopback hexadecimal", "http://0x7f000001:" + p + "/", addr("127.0.0.1")},
		{"loopback octal", "http://0177.0.0.1:" + p + "/", addr("127.0.0.1")},
		{"loopback short", "http://127.1:" + p + "/", addr("127.0.0.1")},
		{"loopback IPv6", "http://[::1]:" + p + "/", addr("::1")},
		{"loopback IPv4-mapped", "http://[::ffff:127.0.0.1]:" + p + "/", addr("127.0.0.1")},
		{"loopback IPv4-compatible", "http://[::7f00:1]:" + p + "/", addr("::7f00:1")},
		{"loopback NAT64", "http://[64:ff9b::7f00:1]:" + p + "/", addr("64:ff9b::7f00:1")},
		{"private", "http://10.0.0.1:" + p + "/", addr("10.0.0.1")},
		{"private IPv6", "http://[fd12:3456::1]:" + p + "/", addr("fd12:3456::1")},
		{"link-local", "http://169.254.1.1:" + p + "/", addr("169.254.1.1")},
		{"link-local IPv6", "http://[fe80::1]:" + p + "/", addr("fe80::1")},
		{"metadata", "http://169.254.169.254/latest/meta-data/", addr("169.254.169.254")},
		{"metadata IPv6", "http://[fd00:ec2::254]/latest/meta-data/", addr("fd00:ec2::254")},
		{"name resolving to loopback", "http://" + loopbackName + ":" + p + "/", addr("127.0.0.1")},
		{"name resolving to metadata", "http://" + metadataName + "/latest/meta-data/", addr("169.254.169.254")},
		{"name resolving to mapped private", "http://" + privateName + ":" + p + "/", addr("10.0.0.1")},
	}
	policy := sdk.EgressPolicy{AllowHTTP: true, Resolver: c.h.Egress.Resolver}
	for _, ec := range cases {
		t.Run(ec.name, func(t *testing.T) {
			if c.h.remote && strings.Contains(ec.url, ".invalid") {
				t.Skip("a plugin process resolves names itself: the kit cannot answer for it")
			}
			reason, refused := policy.Refuses(ec.addr)
			if !refused {
				t.Fatalf("sinktest: the policy allows %s", ec.addr)
			}
			before := tr.conns.Load()
			c.refused(t, c.egressConfig(t, ec.url), policy, reason)
			if n := tr.conns.Load() - before; n != 0 {
				t.Errorf("the sink made %d connections to %s, a refused address", n, ec.url)
			}
		})
	}
	t.Run("redirect to a refused address", func(t *testing.T) {
		c.checkRedirect(t, policy)
	})
}

// egressConfig returns the configuration of an instance that delivers,
// with its endpoint setting replaced by url.
func (c *checker) egressConfig(t *testing.T, url string) map[string]any {
	t.Helper()
	base := c.h.Config(t, Scenario{Behavior: Deliver})
	if base == nil {
		t.Skip("harness cannot configure an instance that delivers")
	}
	cfg := maps.Clone(base)
	cfg[c.h.EgressSetting] = url
	return cfg
}

// refused checks that an instance configured with cfg under policy is
// refused: Configure fails with a field error on the endpoint setting, or
// Deliver and TestConnection fail giving the policy's reason.
func (c *checker) refused(t *testing.T, cfg map[string]any, policy sdk.EgressPolicy, reason string) {
	t.Helper()
	ctx := c.ctx(t)
	sink, err := c.p.Configure(ctx, sdk.ConfigureRequest{Instance: c.handle(t), Org: "sinktest", Config: cfg, Egress: policy})
	var cerr *sdk.ConfigError
	switch {
	case errors.As(err, &cerr):
		for _, f := range cerr.Fields {
			if f.Field == c.h.EgressSetting {
				return // refused when configuring
			}
		}
		t.Fatalf("Configure = %v; want it to accept the instance or name %q", err, c.h.EgressSetting)
	case err != nil:
		t.Fatalf("Configure = %v", err)
	}
	defer func() { _ = sink.Close(c.ctx(t)) }()
	resp, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: Statements(2)})
	if err == nil && len(resp.Verdicts) > 0 {
		err = resp.Verdicts[0].Err
	}
	switch {
	case err == nil:
		t.Errorf("Deliver to a refused address succeeded; want it refused by the egress policy (%s)", reason)
	case !strings.Contains(err.Error(), reason):
		t.Errorf("Deliver to a refused address = %v; want the policy's reason %q", err, reason)
	}
	if tester, ok := sink.(sdk.ConnectionTester); ok {
		rep, err := tester.TestConnection(ctx)
		if err != nil {
			t.Fatalf("TestConnection = %v", err)
		}
		said := false
		for _, st := range rep.Steps {
			said = said || (st.Status == sdk.StepFailed && strings.Contains(st.Message, reason))
		}
		if rep.OK() || !said {
			t.Errorf("TestConnection of a refused address = %+v; want a failed step giving the policy's reason %q", rep.Steps, reason)
		}
	}
}

// checkRedirect checks that a redirect from an allowed server to a refused
// address is not followed there.
func (c *checker) checkRedirect(t *testing.T, base sdk.EgressPolicy) {
	tr := newTrap(t, "127.0.0.2:0")
	target := "http://169.254.169.254/latest/meta-data/"
	if tr != nil {
		target = "http://127.0.0.2:" + tr.port() + "/"
	}
	srv := NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	}))
	policy := base
	policy.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg := c.egressConfig(t, srv.URL+"/")
	ctx := c.ctx(t)
	sink, err := c.p.Configure(ctx, sdk.ConfigureRequest{Instance: c.handle(t), Org: "sinktest", Config: cfg, Egress: policy})
	if err != nil {
		t.Fatalf("Configure(allowed server) = %v", err)
	}
	defer func() { _ = sink.Close(c.ctx(t)) }()
	got := c.deliver(t, sink, Statements(1))
	if got[0].Delivered {
		t.Errorf("Deliver through a redirect to %s succeeded; want it refused", target)
	}
	if tr != nil && tr.conns.Load() != 0 {
		t.Errorf("the sink followed a redirect to %s, a refused address (%d connections)", target, tr.conns.Load())
	}
}

// handle returns a fresh instance handle.
func (c *checker) handle(t *testing.T) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return fmt.Sprintf("sinktest/%s/%d", t.Name(), c.seq)
}

// NewServer starts an httptest server on loopback for a harness and closes
// it at the end of the test, also when a handler stalls without reading
// the request body: the requests' contexts are cancelled and the client
// connections closed before the server is, so a handler that waits on
// r.Context().Done() returns and the test does not hang.
func NewServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewUnstartedServer(h)
	srv.Config.BaseContext = func(net.Listener) context.Context { return ctx }
	srv.Start()
	t.Cleanup(func() {
		cancel()
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}
