package lrs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

// The names of the connection test steps, in order.
const (
	StepURL     = "url"
	StepDNS     = "dns"
	StepConnect = "connect"
	StepTLS     = "tls"
	StepAbout   = "about"
	StepToken   = "token"
	StepAuth    = "auth"
)

// stepRun is the result of one step function.
type stepRun struct {
	status sdk.StepStatus
	msg    string
	// stop skips the later steps (the step failed in a way that makes
	// them meaningless).
	stop bool
}

func passed(format string, a ...any) stepRun {
	return stepRun{status: sdk.StepPassed, msg: fmt.Sprintf(format, a...)}
}

func warning(format string, a ...any) stepRun {
	return stepRun{status: sdk.StepWarning, msg: fmt.Sprintf(format, a...)}
}

func skipped(format string, a ...any) stepRun {
	return stepRun{status: sdk.StepSkipped, msg: fmt.Sprintf(format, a...)}
}

// failed is a failure that makes later steps meaningless.
func failed(format string, a ...any) stepRun {
	return stepRun{status: sdk.StepFailed, msg: fmt.Sprintf(format, a...), stop: true}
}

// failedGoOn is a failure after which later steps still tell something.
func failedGoOn(format string, a ...any) stepRun {
	return stepRun{status: sdk.StepFailed, msg: fmt.Sprintf(format, a...)}
}

// TestConnection checks, step by step, that the LRS can be reached and
// accepts the credentials, without writing anything to it:
//
//   - url: the endpoint and the egress policy (https unless http is
//     allowed, with a warning; an address that is not allowed);
//   - dns: the host name resolves, to addresses the policy allows;
//   - connect: a TCP connection (skipped when a proxy is used);
//   - tls: the TLS handshake and certificate (skipped for http and through
//     a proxy; a warning when verification is turned off);
//   - token (auth oauth2 only): the token endpoint issues an access token
//     for the client credentials;
//   - about: GET about answers and lists the configured xAPI version;
//   - auth: an authenticated GET statements?limit=1 (401: the key or secret
//     is wrong; 403: a warning, the key may write but not read; 404: the URL
//     is probably not the xAPI endpoint).
//
// Each step is timed. After a failure that makes later steps meaningless,
// they are reported skipped. The error is only for a ctx that ended or a
// closed sink.
func (s *Sink) TestConnection(ctx context.Context) (sdk.Report, error) {
	if s.closed.Load() {
		return sdk.Report{}, ErrClosed
	}
	t := &connTest{s: s}
	type step struct {
		name, title string
		run         func(context.Context) stepRun
	}
	steps := []step{
		{StepURL, "Check the address", t.url},
		{StepDNS, "Find the LRS", t.dns},
		{StepConnect, "Connect to the LRS", t.connect},
		{StepTLS, "Secure the connection", t.tls},
	}
	if s.cfg.authMode() == AuthOAuth2 {
		// Every request to the LRS carries the token, the about request
		// too.
		steps = append(steps, step{StepToken, "Get an access token", t.token})
	}
	steps = append(steps, step{StepAbout, "Check the xAPI version", t.about})
	switch s.cfg.authMode() {
	case AuthOAuth2:
		steps = append(steps, step{StepAuth, "Check the access token", t.auth})
	case AuthBearer:
		steps = append(steps, step{StepAuth, "Check the bearer token", t.auth})
	default:
		steps = append(steps, step{StepAuth, "Check the key and secret", t.auth})
	}
	var rep sdk.Report
	stop := false
	for _, st := range steps {
		if stop {
			rep.Steps = append(rep.Steps, sdk.Step{
				Name: st.name, Title: st.title, Status: sdk.StepSkipped,
				Message: "Not checked because an earlier step failed.",
			})
			continue
		}
		start := time.Now()
		r := st.run(ctx)
		rep.Steps = append(rep.Steps, sdk.Step{
			Name: st.name, Title: st.title, Status: r.status, Message: r.msg,
			Duration: time.Since(start),
		})
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("lrs: connection test: %w", context.Cause(ctx))
		}
		stop = r.stop
	}
	return rep, nil
}

// connTest holds what the steps learn about the connection.
type connTest struct {
	s *Sink
	// proxy is the proxy the environment configures for the endpoint.
	proxy *url.URL
}

func (t *connTest) url(context.Context) stepRun {
	s := t.s
	if err := s.cfg.checkPolicy(s.dialer.Policy()); err != nil {
		var ce *sdk.ConfigError
		if errors.As(err, &ce) && len(ce.Fields) > 0 {
			return failed("The address %s cannot be used: it %s.", s.cfg.Endpoint, ce.Fields[0].Message)
		}
		return failed("The address %s cannot be used.", s.cfg.Endpoint)
	}
	req, err := http.NewRequest(http.MethodGet, s.resource("about", nil), nil)
	if err == nil {
		t.proxy = s.dialer.ProxyFor(req)
	}
	if s.endpoint.Scheme == "http" {
		creds := "the key, the secret"
		if s.cfg.authMode() != AuthBasic {
			creds = "the " + s.credentialsName()
		}
		return warning("The address %s uses plain http: %s and the statements travel unencrypted. Use https if the LRS offers it.", s.cfg.Endpoint, creds)
	}
	return passed("The address %s is a valid https address.", s.cfg.Endpoint)
}

func (t *connTest) dns(ctx context.Context) stepRun {
	s := t.s
	host := s.endpoint.Hostname()
	if _, err := netip.ParseAddr(host); err == nil {
		return passed("The address names the LRS by its IP address %s; no lookup needed.", host)
	}
	addrs, err := s.dialer.Resolve(ctx, "tcp", host)
	var ee *sdk.EgressError
	switch {
	case errors.As(err, &ee):
		return failed("The name %s points to %s, %s, which LearningFlow is not allowed to reach. If this LRS is on an internal network, ask the LearningFlow operator to allow it.", host, ee.Addr, ee.Reason)
	case err != nil:
		return failed("The name %s could not be found. Check the spelling of the address.", host)
	}
	strs := make([]string, len(addrs))
	for i, a := range addrs {
		strs[i] = a.String()
	}
	return passed("The name %s was found (%s).", host, strings.Join(strs, ", "))
}

func (t *connTest) connect(ctx context.Context) stepRun {
	if t.proxy != nil {
		return skipped("Connections go through the proxy server %s; the next steps check the LRS through it.", t.proxy.Host)
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.cfg.timeout())
	defer cancel()
	c, err := t.s.dialer.DialContext(ctx, "tcp", t.s.hostPort())
	if err != nil {
		return failed("Could not connect to %s: %s. Check the address and port, and that the LRS accepts connections from LearningFlow.", t.s.hostPort(), dialReason(err))
	}
	_ = c.Close()
	return passed("Connected to %s.", t.s.hostPort())
}

func (t *connTest) tls(ctx context.Context) stepRun {
	s := t.s
	if s.endpoint.Scheme == "http" {
		return skipped("Plain http: there is no secure connection to check.")
	}
	if t.proxy != nil {
		return skipped("Connections go through the proxy server %s; the next steps check the secure connection through it.", t.proxy.Host)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	raw, err := s.dialer.DialContext(ctx, "tcp", s.hostPort())
	if err != nil {
		return failed("Could not connect to %s: %s.", s.hostPort(), dialReason(err))
	}
	defer raw.Close()
	cfg := s.tlsConfig.Clone()
	cfg.ServerName = s.endpoint.Hostname()
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		return failed("%s", tlsReason(err, s.endpoint.Hostname()))
	}
	state := conn.ConnectionState()
	if s.cfg.InsecureSkipVerify {
		return warning("Certificate verification is turned off: the connection is encrypted, but nothing proves it reaches the real LRS, so someone on the network could read the key and secret. Turn verification back on, adding the LRS's certificate authority if needed.")
	}
	msg := "Secure connection with " + tls.VersionName(state.Version)
	if len(state.PeerCertificates) > 0 {
		msg += fmt.Sprintf("; the certificate is valid until %s", state.PeerCertificates[0].NotAfter.UTC().Format("2006-01-02"))
	}
	return passed("%s.", msg)
}

func (t *connTest) about(ctx context.Context) stepRun {
	s := t.s
	u := s.resource("about", nil)
	r, err := s.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return failed("The LRS did not answer at %s: %s.", u, requestReason(err, s.endpoint.Hostname()))
	}
	switch {
	case r.status == http.StatusNotFound:
		return failed("Nothing answered at %s: this URL is probably not the xAPI endpoint. Check the path of the address; the LRS's documentation names its xAPI endpoint (it often ends in /xapi/).", u)
	case r.status >= 300 && r.status < 400:
		return failed("The LRS redirected %s to %s. Use the address it redirects to.", u, sanitize(r.header.Get("Location")))
	case r.status != http.StatusOK:
		return failed("The LRS answered %s at %s. %s", statusText(r.status), u, lrsMessage(r.body))
	}
	var doc struct {
		Version []string `json:"version"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || len(doc.Version) == 0 {
		return failed("The answer at %s is not an xAPI about document: this URL is probably not the xAPI endpoint. Check the path of the address.", u)
	}
	versions := make([]string, len(doc.Version))
	for i, v := range doc.Version {
		versions[i] = sanitize(v)
	}
	if !slices.Contains(versions, string(s.cfg.Version)) {
		return failedGoOn("This LRS supports xAPI %s, but the integration is set to xAPI %s. Choose a version the LRS supports.", strings.Join(versions, ", "), s.cfg.Version)
	}
	return passed("The LRS supports xAPI %s.", s.cfg.Version)
}

func (t *connTest) token(ctx context.Context) stepRun {
	s := t.s
	a, ok := s.auth.(*oauthAuth)
	if !ok {
		return skipped("No access token is needed.")
	}
	a.mu.Lock()
	a.token = nil // always fetch: the test checks the token endpoint now
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.timeout())
	defer cancel()
	_, err := a.header(ctx)
	var te *TokenError
	var ee *sdk.EgressError
	switch {
	case errors.As(err, &te):
		return failed("The token endpoint %s did not issue a token: %s.", s.cfg.OAuthEndpoint, te.Message)
	case errors.As(err, &ee):
		return failed("The token endpoint %s cannot be used: %s is %s, which LearningFlow is not allowed to reach. If it is on an internal network, ask the LearningFlow operator to allow it.", s.cfg.OAuthEndpoint, ee.Addr, ee.Reason)
	case err != nil:
		return failed("The token endpoint %s did not answer: %s. Check the token URL.", s.cfg.OAuthEndpoint, requestReason(err, ""))
	}
	if u, err := url.Parse(s.cfg.OAuthEndpoint); err == nil && u.Scheme == "http" {
		return warning("The authorization server issued an access token, but the token URL %s uses plain http: the client secret and the tokens travel unencrypted. Use https if the server offers it.", s.cfg.OAuthEndpoint)
	}
	return passed("The authorization server issued an access token.")
}

func (t *connTest) auth(ctx context.Context) stepRun {
	s := t.s
	u := s.resource("statements", url.Values{"limit": {"1"}})
	r, err := s.do(ctx, http.MethodGet, u, nil)
	if err != nil {
		return failed("The LRS did not answer: %s.", requestReason(err, s.endpoint.Hostname()))
	}
	switch r.status {
	case http.StatusOK:
		return passed("The LRS accepts the %s.", s.credentialsName())
	case http.StatusUnauthorized:
		if s.cfg.authMode() == AuthBasic {
			return failed("The LRS rejected the credentials: the API key or secret is wrong.")
		}
		return failed("The LRS rejected the %s. Check that this LRS accepts it, and the scopes or token in the settings.", s.credentialsName())
	case http.StatusForbidden:
		if s.cfg.authMode() == AuthBasic {
			return warning("The key and secret are valid, but they may not read statements. That is fine for sending statements: write-only keys are common.")
		}
		return warning("The %s is valid, but it may not read statements. That is fine for sending statements: write-only credentials are common.", s.credentialsName())
	case http.StatusNotFound:
		return failed("Nothing answered at %s: this URL is probably not the xAPI endpoint. Check the path of the address.", s.resource("statements", nil))
	}
	msg := lrsMessage(r.body)
	if msg != "" {
		msg = " (" + msg + ")"
	}
	return failed("The LRS answered %s when reading statements%s.", statusText(r.status), msg)
}

// credentialsName names the credentials of the configured mode for admin
// messages.
func (s *Sink) credentialsName() string {
	switch s.cfg.authMode() {
	case AuthOAuth2:
		return "access token"
	case AuthBearer:
		return "bearer token"
	}
	return "key and secret"
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}

// dialReason explains a dial error in plain words.
func dialReason(err error) string {
	var ee *sdk.EgressError
	var de *sdk.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &ee):
		return fmt.Sprintf("%s is %s, which LearningFlow is not allowed to reach", ee.Addr, ee.Reason)
	case errors.As(err, &de):
		return "the name could not be found"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (timed out)"
	}
	return "the connection failed"
}

// tlsReason explains a TLS handshake error in plain words.
func tlsReason(err error, host string) string {
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	switch {
	case errors.As(err, &ua):
		return "The LRS's certificate is not signed by a trusted certificate authority. If your organization runs its own certificate authority, add its certificate (CA bundle) to the integration."
	case errors.As(err, &he):
		names := he.Certificate.DNSNames
		if len(names) > 3 {
			names = append(names[:3:3], "…")
		}
		return fmt.Sprintf("The LRS's certificate is not valid for %s (it is for %s). Check the address.", host, strings.Join(names, ", "))
	case errors.As(err, &ci):
		if ci.Reason == x509.Expired {
			return "The LRS's certificate has expired or is not yet valid."
		}
		return "The LRS's certificate is not valid."
	case errors.As(err, &ve):
		return "The LRS's certificate could not be verified."
	}
	return "The secure connection failed. The LRS may not speak https on this port, or may require a client certificate."
}

// requestReason explains a failed request in plain words.
func requestReason(err error, host string) string {
	var te *TimeoutError
	var ve *tls.CertificateVerificationError
	var oe *net.OpError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("no answer within %s", te.Timeout)
	case errors.As(err, &ve):
		return strings.TrimSuffix(tlsReason(err, host), ".")
	case errors.As(err, &oe) && oe.Op == "remote error":
		// A TLS alert from the LRS, for example "tls: certificate
		// required" when TLS 1.3 asks for a client certificate after the
		// handshake.
		return fmt.Sprintf("the LRS refused the secure connection (%s); it may require a client certificate", sanitize(oe.Err.Error()))
	}
	return dialReason(err)
}
