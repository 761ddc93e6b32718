package lrs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// testCertPair returns a self-signed client certificate and its key in PEM.
func testCertPair(t testing.TB) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(42),
		Subject:               pkix.Name{CommonName: "lrsbridge test client"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// newTLSLRS serves an LRS over TLS on loopback; configure changes the
// server's TLS configuration before it starts.
func newTLSLRS(t testing.TB, configure func(*tls.Config)) (*lrstest.LRS, *httptest.Server) {
	t.Helper()
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})
	srv := httptest.NewUnstartedServer(l)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	if configure != nil {
		configure(srv.TLS)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return l, srv
}

func serverCAPEM(srv *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

func TestTLS(t *testing.T) {
	t.Parallel()
	clientCert, clientKey := testCertPair(t)
	clientPool := x509.NewCertPool()
	clientPool.AppendCertsFromPEM(clientCert)
	requireClientCert := func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = clientPool
	}
	tests := []struct {
		name      string
		server    func(*tls.Config)
		cfg       func(m map[string]any, srv *httptest.Server)
		wantErr   func(error) bool // nil: Deliver succeeds
		wantSteps []stepStatus
		// wantMessage is a phrase of the failed or warned step's message.
		wantMessage string
	}{
		{
			name: "verified with provided ca",
			cfg:  func(m map[string]any, srv *httptest.Server) { m[KeyCAPEM] = serverCAPEM(srv) },
			wantSteps: []stepStatus{{StepURL, sdk.StepPassed}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepPassed},
				{StepTLS, sdk.StepPassed}, {StepAbout, sdk.StepPassed}, {StepAuth, sdk.StepPassed}},
		},
		{
			name: "default roots do not trust the server",
			cfg:  func(map[string]any, *httptest.Server) {},
			wantErr: func(err error) bool {
				var ua x509.UnknownAuthorityError
				return errors.As(err, &ua) && !sdk.IsPermanent(err)
			},
			wantSteps: []stepStatus{{StepURL, sdk.StepPassed}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepPassed},
				{StepTLS, sdk.StepFailed}, {StepAbout, sdk.StepSkipped}, {StepAuth, sdk.StepSkipped}},
			wantMessage: "not signed by a trusted certificate authority",
		},
		{
			name: "insecure flag works and warns",
			cfg:  func(m map[string]any, _ *httptest.Server) { m[KeyInsecureSkipVerify] = true },
			wantSteps: []stepStatus{{StepURL, sdk.StepPassed}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepPassed},
				{StepTLS, sdk.StepWarning}, {StepAbout, sdk.StepPassed}, {StepAuth, sdk.StepPassed}},
			wantMessage: "verification is turned off",
		},
		{
			name:   "client certificate",
			server: requireClientCert,
			cfg: func(m map[string]any, srv *httptest.Server) {
				m[KeyCAPEM] = serverCAPEM(srv)
				m[KeyClientCertPEM] = string(clientCert)
				m[KeyClientKeyPEM] = string(clientKey)
			},
			wantSteps: []stepStatus{{StepURL, sdk.StepPassed}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepPassed},
				{StepTLS, sdk.StepPassed}, {StepAbout, sdk.StepPassed}, {StepAuth, sdk.StepPassed}},
		},
		{
			name:    "client certificate missing",
			server:  requireClientCert,
			cfg:     func(m map[string]any, srv *httptest.Server) { m[KeyCAPEM] = serverCAPEM(srv) },
			wantErr: func(err error) bool { return err != nil && !sdk.IsPermanent(err) && !sdk.IsAuth(err) },
			// TLS 1.3 reports a missing client certificate after the
			// handshake, so the failure shows in the first request.
			wantSteps: []stepStatus{{StepURL, sdk.StepPassed}, {StepDNS, sdk.StepPassed}, {StepConnect, sdk.StepPassed},
				{StepTLS, sdk.StepPassed}, {StepAbout, sdk.StepFailed}, {StepAuth, sdk.StepSkipped}},
			wantMessage: "may require a client certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, srv := newTLSLRS(t, tt.server)
			cfg := baseConfig(srv.URL + "/xapi/")
			tt.cfg(cfg, srv)
			policy := loopbackPolicy
			policy.AllowHTTP = false
			// An empty root pool stands in for the system roots, which do
			// not trust the test server either.
			s := newTestSink(t, cfg, policy, withRoots(x509.NewCertPool()))
			resp, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 3)})
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Deliver() error = %v", err)
				}
				if got := l.Len(); got != 3 {
					t.Errorf("LRS holds %d statements, want 3 (verdicts %v)", got, resp.Verdicts)
				}
			} else if !tt.wantErr(err) {
				t.Errorf("Deliver() error = %v, not the expected kind", err)
			}
			rep, err := s.TestConnection(context.Background())
			if err != nil {
				t.Fatalf("TestConnection() error = %v", err)
			}
			var got []stepStatus
			for _, st := range rep.Steps {
				got = append(got, stepStatus{st.Name, st.Status})
			}
			if diff := cmp.Diff(tt.wantSteps, got); diff != "" {
				t.Errorf("TestConnection() steps (-want +got):\n%s\nreport: %+v", diff, rep)
			}
			found := tt.wantMessage == ""
			for _, st := range rep.Steps {
				if (st.Status == sdk.StepFailed || st.Status == sdk.StepWarning) && strings.Contains(st.Message, tt.wantMessage) {
					found = true
				}
			}
			if !found {
				t.Errorf("no failed or warning step says %q: %+v", tt.wantMessage, rep.Steps)
			}
		})
	}
}

func TestTLSMinVersion(t *testing.T) {
	t.Parallel()
	l, srv := newTLSLRS(t, func(c *tls.Config) {
		c.MinVersion = tls.VersionTLS10
		c.MaxVersion = tls.VersionTLS11
	})
	cfg := baseConfig(srv.URL + "/xapi/")
	cfg[KeyCAPEM] = serverCAPEM(srv)
	s := newTestSink(t, cfg, loopbackPolicy)
	if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)}); err == nil {
		t.Fatalf("Deliver() to a TLS 1.1 server succeeded, want an error")
	}
	if got := l.Len(); got != 0 {
		t.Errorf("LRS holds %d statements, want 0", got)
	}
}
