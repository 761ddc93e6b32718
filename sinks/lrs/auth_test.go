package lrs

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

const (
	testClientID     = "lf-client"
	testClientSecret = "client-s3cret-never-printed"
)

// tokenServer is an OAuth 2.0 authorization server on loopback that issues
// bearer tokens for the client credentials grant, and an LRS in front of an
// lrstest.LRS that accepts the tokens it issued (and not revoked).
type tokenServer struct {
	mu        sync.Mutex
	expiresIn int // seconds; 0 means no expiry
	fetches   int
	valid     map[string]bool
	// echo makes the LRS answer 401 with the request's Authorization
	// header in the body, for every request.
	echo bool

	token *httptest.Server
	lrs   *httptest.Server
	store *lrstest.LRS
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	t.Helper()
	ts := &tokenServer{expiresIn: expiresIn, valid: map[string]bool{}}
	ts.token = httptest.NewServer(http.HandlerFunc(ts.serveToken))
	t.Cleanup(ts.token.Close)
	l, srv := newLRS(t, lrstest.Options{})
	t.Cleanup(srv.Close)
	ts.store = l
	ts.lrs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		ts.mu.Lock()
		ok := strings.HasPrefix(h, "Bearer ") && ts.valid[strings.TrimPrefix(h, "Bearer ")]
		echo := ts.echo
		ts.mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/about") {
			l.ServeHTTP(w, r) // about needs no credentials
			return
		}
		if echo || !ok {
			http.Error(w, `{"message":"unauthorized request, headers: Authorization: `+h+`"}`, http.StatusUnauthorized)
			return
		}
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(testKey+":"+testSecret)))
		l.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.lrs.Close)
	return ts
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		_ = r.ParseForm()
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	} else {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	w.Header().Set("Content-Type", "application/json")
	if r.PostFormValue("grant_type") != "client_credentials" || id != testClientID || secret != testClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		// Like some servers, echo what was sent.
		_, _ = fmt.Fprintf(w, `{"error":"invalid_client","error_description":"bad secret %s"}`, secret)
		return
	}
	ts.mu.Lock()
	ts.fetches++
	tok := fmt.Sprintf("token-%d-%s", ts.fetches, r.PostFormValue("scope"))
	tok = strings.ReplaceAll(tok, " ", "+")
	ts.valid[tok] = true
	exp := ts.expiresIn
	ts.mu.Unlock()
	body := map[string]any{"access_token": tok, "token_type": "Bearer"}
	if exp > 0 {
		body["expires_in"] = exp
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (ts *tokenServer) revokeAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.valid)
}

func (ts *tokenServer) fetchCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.fetches
}

func (ts *tokenServer) config() map[string]any {
	return map[string]any{
		KeyXAPIVersion:   "1.0.3",
		KeyEndpoint:      ts.lrs.URL + "/xapi/",
		KeyAuth:          AuthOAuth2,
		KeyOAuthEndpoint: ts.token.URL + "/token",
		KeyClientID:      testClientID,
		KeyClientSecret:  testClientSecret,
		KeyScopes:        "statements/write statements/read",
	}
}

func TestOAuth2_tokenFetchedOnceForManyBatches(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	s := newTestSink(t, ts.config(), loopbackPolicy)
	for i := range 5 {
		mustDeliver(t, s, stmts(i*3, i*3+3)...)
	}
	if got := ts.fetchCount(); got != 1 {
		t.Errorf("token fetches = %d; want 1 for 5 batches", got)
	}
	if got := ts.store.Len(); got != 15 {
		t.Errorf("LRS holds %d statements; want 15", got)
	}
}

func TestOAuth2_scopes(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	for _, scopes := range []any{"statements/write statements/read", []any{"statements/write", "statements/read"}} {
		cfg := ts.config()
		cfg[KeyScopes] = scopes
		c, err := ParseConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"statements/write", "statements/read"}, c.Scopes); diff != "" {
			t.Errorf("scopes from %#v (-want +got):\n%s", scopes, diff)
		}
	}
}

func TestOAuth2_refreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	// A token that expires within tokenMargin is never used twice.
	ts := newTokenServer(t, int(tokenMargin.Seconds())-5)
	s := newTestSink(t, ts.config(), loopbackPolicy)
	for i := range 3 {
		mustDeliver(t, s, stmt(i))
	}
	if got := ts.fetchCount(); got != 3 {
		t.Errorf("token fetches = %d; want 3 (a new token for every batch)", got)
	}
}

func TestOAuth2_refreshedOn401(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	s := newTestSink(t, ts.config(), loopbackPolicy)
	mustDeliver(t, s, stmt(0))
	ts.revokeAll()
	mustDeliver(t, s, stmt(1))
	if got := ts.fetchCount(); got != 2 {
		t.Errorf("token fetches = %d; want 2 (one refresh after the 401)", got)
	}

	// An LRS that rejects every token gets one retry, not a loop.
	ts.mu.Lock()
	ts.echo = true
	ts.mu.Unlock()
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(2, 3)})
	if sdk.ClassOf(err) != sdk.ClassUnauthenticated {
		t.Fatalf("Deliver to an LRS rejecting every token = %v; want unauthenticated", err)
	}
	if got := ts.fetchCount(); got != 3 {
		t.Errorf("token fetches = %d; want 3", got)
	}
	for _, tok := range []string{"token-2-", "token-3-"} {
		if strings.Contains(err.Error(), tok) {
			t.Errorf("error shows the access token %s: %v", tok, err)
		}
	}
}

func TestOAuth2_wrongClientSecret(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	cfg := ts.config()
	cfg[KeyClientSecret] = "wrong-secret-value"
	s := newTestSink(t, cfg, loopbackPolicy)
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 2)})
	if sdk.ClassOf(err) != sdk.ClassUnauthenticated {
		t.Fatalf("Deliver with a wrong client secret = %v; want unauthenticated", err)
	}
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" {
		t.Fatalf("Deliver with a wrong client secret = %v; want a *TokenError invalid_client", err)
	}
	if !strings.Contains(err.Error(), "rejected the client id or client secret") {
		t.Errorf("error %q does not say the client credentials were rejected", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("error shows the client secret: %v", err)
	}
	rep, err := s.TestConnection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok := findStep(rep, StepToken)
	if tok == nil {
		t.Fatalf("TestConnection has no %s step: %+v", StepToken, rep.Steps)
	}
	if tok.Status != sdk.StepFailed || !strings.Contains(tok.Message, "client id or client secret") || strings.Contains(tok.Message, "wrong-secret-value") {
		t.Errorf("token step = %+v; want failed, saying the client credentials were rejected, without the secret", *tok)
	}
}

func findStep(rep sdk.Report, name string) *sdk.Step {
	for i := range rep.Steps {
		if rep.Steps[i].Name == name {
			return &rep.Steps[i]
		}
	}
	return nil
}

func TestOAuth2_testConnection(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	s := newTestSink(t, ts.config(), loopbackPolicy)
	rep, err := s.TestConnection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The token URL of the test server is plain http: the token step
	// passes with a warning that says so.
	tok, auth := findStep(rep, StepToken), findStep(rep, StepAuth)
	if tok == nil || tok.Status != sdk.StepWarning || !strings.Contains(tok.Message, "uses plain http: the client secret") || auth == nil || auth.Status != sdk.StepPassed {
		t.Errorf("TestConnection = %+v; want a token step warning of plain http and a passed auth step", rep.Steps)
	}
}

func TestOAuth2_tokenEndpointRefusedByPolicy(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	// A literal refused address is refused when configuring.
	cfg := ts.config()
	cfg[KeyOAuthEndpoint] = "http://169.254.169.254/token"
	_, err := newSink(context.Background(), sdk.ConfigureRequest{Config: cfg, Egress: loopbackPolicy})
	var ce *sdk.ConfigError
	if !errors.As(err, &ce) || len(ce.Fields) != 1 || ce.Fields[0].Field != KeyOAuthEndpoint {
		t.Fatalf("New with a metadata token endpoint = %v; want a field error on %s", err, KeyOAuthEndpoint)
	}
	// A name resolving to a refused address is refused when connecting.
	port := ts.token.URL[strings.LastIndex(ts.token.URL, ":"):]
	cfg = ts.config()
	cfg[KeyOAuthEndpoint] = "http://idp.example.test" + port + "/token"
	resolver := fakeResolver{"idp.example.test": addrs("10.0.0.7")}
	s := newTestSink(t, cfg, loopbackPolicy, withResolver(resolver))
	_, err = s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
	var ee *sdk.EgressError
	if !errors.As(err, &ee) || ee.Addr != netip.MustParseAddr("10.0.0.7") {
		t.Fatalf("Deliver with a private token endpoint = %v; want an *sdk.EgressError for 10.0.0.7", err)
	}
	if got := ts.fetchCount(); got != 0 {
		t.Errorf("token fetches = %d; want 0", got)
	}
	rep, err := s.TestConnection(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := findStep(rep, StepToken); st == nil || st.Status != sdk.StepFailed || !strings.Contains(st.Message, "a private address") {
		t.Errorf("token step = %+v; want failed for a private address", st)
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 0)
	ts.mu.Lock()
	ts.valid["static-bearer-token"] = true
	ts.mu.Unlock()
	cfg := map[string]any{KeyXAPIVersion: "1.0.3", KeyEndpoint: ts.lrs.URL + "/xapi/", KeyAuth: AuthBearer, KeyBearerToken: "static-bearer-token"}
	s := newTestSink(t, cfg, loopbackPolicy)
	mustDeliver(t, s, stmt(0))
	ts.revokeAll()
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(1, 2)})
	if sdk.ClassOf(err) != sdk.ClassUnauthenticated {
		t.Fatalf("Deliver with a revoked bearer token = %v; want unauthenticated", err)
	}
	if strings.Contains(strings.ToLower(err.Error()), "static-bearer-token") {
		t.Errorf("error shows the bearer token: %v", err)
	}
}

func TestParseConfig_authModes(t *testing.T) {
	t.Parallel()
	base := map[string]any{KeyXAPIVersion: "1.0.3", KeyEndpoint: "https://lrs.example.com/xapi/"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name       string
		in         map[string]any
		wantFields []string
	}{
		{"basic default", with(KeyKey, "k", KeySecret, "s3cret"), nil},
		{"basic explicit", with(KeyAuth, "basic", KeyKey, "k", KeySecret, "s3cret"), nil},
		{"basic missing", with(KeyAuth, "basic"), []string{KeyKey, KeySecret}},
		{"oauth2", with(KeyAuth, "oauth2", KeyOAuthEndpoint, "https://idp.example.com/token", KeyClientID, "id", KeyClientSecret, "cs"), nil},
		{"oauth2 case", with(KeyAuth, "OAuth2", KeyOAuthEndpoint, "https://idp.example.com/token", KeyClientID, "id", KeyClientSecret, "cs"), nil},
		{"oauth2 missing", with(KeyAuth, "oauth2"), []string{KeyOAuthEndpoint, KeyClientID, KeyClientSecret}},
		{"oauth2 bad url", with(KeyAuth, "oauth2", KeyOAuthEndpoint, "ftp://x/token", KeyClientID, "id", KeyClientSecret, "cs"), []string{KeyOAuthEndpoint}},
		{"oauth2 scopes not text", with(KeyAuth, "oauth2", KeyOAuthEndpoint, "https://idp.example.com/token", KeyClientID, "id", KeyClientSecret, "cs", KeyScopes, 5.0), []string{KeyScopes}},
		{"bearer", with(KeyAuth, "bearer", KeyBearerToken, "tok"), nil},
		{"bearer missing", with(KeyAuth, "bearer"), []string{KeyBearerToken}},
		{"unknown mode", with(KeyAuth, "digest"), []string{KeyAuth}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig(tt.in)
			var fields []string
			var ce *sdk.ConfigError
			if errors.As(err, &ce) {
				for _, f := range ce.Fields {
					fields = append(fields, f.Field)
				}
			} else if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("field errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOAuth2_slowTokenEndpoint checks that a token endpoint that does not
// answer within the timeout gives a *TimeoutError, not the caller's
// context.DeadlineExceeded.
func TestOAuth2_slowTokenEndpoint(t *testing.T) {
	t.Parallel()
	ts := newTokenServer(t, 3600)
	slow := sinktest.NewServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	cfg := ts.config()
	cfg[KeyOAuthEndpoint] = slow.URL + "/token"
	cfg[KeyTimeout] = "1s"
	s := newTestSink(t, cfg, loopbackPolicy)
	_, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(0, 1)})
	var te *TimeoutError
	if !errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Deliver with a stalled token endpoint = %v; want a *TimeoutError", err)
	}
	if sdk.ClassOf(err) != sdk.ClassRetryable {
		t.Errorf("class = %v; want retryable", sdk.ClassOf(err))
	}
}
