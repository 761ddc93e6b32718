package lrs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// ErrClosed is returned by Deliver and TestConnection after Close.
var ErrClosed = errors.New("lrs sink closed")

// Compile-time checks of the interfaces the host discovers.
var (
	_ sdk.Sink             = (*Sink)(nil)
	_ sdk.ConnectionTester = (*Sink)(nil)
	_ sdk.VersionReporter  = (*Sink)(nil)
)

// Sink delivers statements to one LRS over its xAPI statements resource. It
// is one organization's integration.
//
// Deliver and TestConnection may be called concurrently; the sink shares one
// HTTP transport (and its connection pool) between calls. Close is
// idempotent; after Close, Deliver and TestConnection return ErrClosed.
type Sink struct {
	cfg      Config
	endpoint *url.URL
	// statementsURL is the URL deliveries are posted to.
	statementsURL string
	auth          authorizer
	// redact removes forms of the secrets from text the LRS sent back.
	redact    *redactor
	dialer    *sdk.EgressDialer
	transport *http.Transport
	client    *http.Client
	tlsConfig *tls.Config

	// learnedBytes is the largest request body (in bytes) known to be
	// refused with 413 minus one; 0 while unknown. Batches are cut to
	// stay at or below it.
	learnedBytes atomic.Int64
	closed       atomic.Bool
}

// NewProvider returns the sdk.Provider of the LRS sink, for sdk.Serve.
func NewProvider() sdk.Provider {
	return sdk.ProviderFunc(func(ctx context.Context, req sdk.ConfigureRequest) (sdk.Sink, error) {
		return New(ctx, req)
	})
}

// options are test hooks; the exported API has none.
type options struct {
	resolver sdk.Resolver
	envProxy func(*http.Request) (*url.URL, error)
	roots    *x509.CertPool
}

type option func(*options)

// withResolver makes the sink resolve host names with r.
func withResolver(r sdk.Resolver) option { return func(o *options) { o.resolver = r } }

// withProxy replaces http.ProxyFromEnvironment; nil turns proxies off.
func withProxy(f func(*http.Request) (*url.URL, error)) option {
	if f == nil {
		f = sdk.NoProxy
	}
	return func(o *options) { o.envProxy = f }
}

// withRoots replaces the system root certificates.
func withRoots(p *x509.CertPool) option { return func(o *options) { o.roots = p } }

// New configures a sink instance from req: it parses and validates
// req.Config (see ParseConfig), applies the parts of req.Egress that can be
// checked without resolving names, and builds the HTTP client. It does not
// contact the LRS. Invalid configuration is a *sdk.ConfigError.
func New(ctx context.Context, req sdk.ConfigureRequest) (*Sink, error) {
	return newSink(ctx, req)
}

func newSink(_ context.Context, req sdk.ConfigureRequest, opts ...option) (*Sink, error) {
	o := options{envProxy: http.ProxyFromEnvironment}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := ParseConfig(req.Config)
	if err != nil {
		return nil, err
	}
	if cfg.Label == "" {
		cfg.Label = req.Label
	}
	if err := cfg.checkPolicy(req.Egress); err != nil {
		return nil, err
	}
	ep, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("lrs: parse endpoint: %w", err)
	}
	tlsConfig, err := cfg.tlsConfig(o.roots)
	if err != nil {
		return nil, err
	}
	egress := req.Egress
	if o.resolver != nil {
		egress.Resolver = o.resolver
	}
	s := &Sink{
		cfg:       cfg,
		endpoint:  ep,
		tlsConfig: tlsConfig,
	}
	s.dialer, s.transport, s.client = newClient(egress, o.envProxy, tlsConfig, cfg.timeout())
	s.setAuth()
	s.statementsURL = s.resource("statements", nil)
	return s, nil
}

// newClient builds the HTTP client of a sink: the one place where it is
// made. Every connection, proxy and redirect goes through the egress
// policy; redirects are not followed at all (a redirected POST may lose its
// body or move the credentials elsewhere: a 3xx answer tells the admin to
// update the endpoint).
func newClient(egress sdk.EgressPolicy, proxy func(*http.Request) (*url.URL, error), tlsConfig *tls.Config, timeout time.Duration) (*sdk.EgressDialer, *http.Transport, *http.Client) {
	d := sdk.NewEgressDialer(egress, sdk.EgressOptions{
		Proxy:       proxy,
		DialTimeout: min(timeout, 30*time.Second),
		TLS:         tlsConfig,
	})
	tr := d.Transport()
	client := d.Client(tr)
	client.Transport = traced(client.Transport)
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return d, tr, client
}

// tlsConfig builds the TLS client configuration: TLS 1.2 at least, the
// system roots (or roots, in tests) plus the configured CA bundle, the
// client certificate if any, and verification unless InsecureSkipVerify.
func (c Config) tlsConfig(roots *x509.CertPool) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAPEM != "" {
		pool := roots
		if pool == nil {
			sys, err := x509.SystemCertPool()
			if err != nil || sys == nil {
				sys = x509.NewCertPool()
			}
			pool = sys
		} else {
			pool = pool.Clone()
		}
		if !pool.AppendCertsFromPEM([]byte(c.CAPEM)) {
			return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: KeyCAPEM, Message: "holds no usable certificate"}}}
		}
		tc.RootCAs = pool
	} else {
		tc.RootCAs = roots
	}
	if c.ClientCertPEM != "" {
		cert, err := tls.X509KeyPair([]byte(c.ClientCertPEM), []byte(c.ClientKeyPEM.Reveal()))
		if err != nil {
			return nil, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: KeyClientCertPEM, Message: "the client certificate and key do not form a valid pair"}}}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	//nolint:gosec // Only with the explicit insecure_skip_verify flag; the connection test warns.
	tc.InsecureSkipVerify = c.InsecureSkipVerify
	return tc, nil
}

// Config returns the configuration of the sink. Its secrets print masked.
func (s *Sink) Config() Config { return s.cfg }

// XAPIVersion returns the xAPI version of the LRS, so that the host encodes
// statements for it.
func (s *Sink) XAPIVersion() xapi.Version { return s.cfg.Version }

// Close releases idle connections. It is idempotent.
func (s *Sink) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	s.transport.CloseIdleConnections()
	return nil
}

// resource returns the URL of an xAPI resource ("statements", "about")
// below the endpoint.
func (s *Sink) resource(name string, query url.Values) string {
	u := *s.endpoint
	u.Path += name
	if u.RawPath != "" {
		u.RawPath += name
	}
	u.RawQuery = query.Encode()
	return u.String()
}

// hostPort returns the endpoint's host:port with the scheme's default port.
func (s *Sink) hostPort() string {
	port := s.endpoint.Port()
	if port == "" {
		port = "443"
		if s.endpoint.Scheme == "http" {
			port = "80"
		}
	}
	return net.JoinHostPort(s.endpoint.Hostname(), port)
}
