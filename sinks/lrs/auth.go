package lrs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/learningflow/lrsbridge/sdk"
)

// tokenMargin is how long before its expiry a cached OAuth 2.0 token is
// replaced, so that a request never leaves with a token about to expire.
const tokenMargin = 30 * time.Second

// authorizer puts the credentials of the configured mode on requests.
type authorizer interface {
	// header returns the Authorization header value for a request. ctx
	// bounds a token fetch.
	header(ctx context.Context) (string, error)
	// rejected is told that the LRS answered 401 to a request sent with
	// value; it reports whether a retry with a new value is worth it (at
	// most once per request).
	rejected(value string) bool
}

// staticAuth is Basic or a static bearer token: one header value.
type staticAuth struct{ value Secret }

func (a staticAuth) header(context.Context) (string, error) { return a.value.Reveal(), nil }
func (a staticAuth) rejected(string) bool                   { return false }

// oauthAuth gets bearer tokens with the OAuth 2.0 client credentials grant
// and caches them until shortly before they expire. Token requests use the
// sink's HTTP client, so they go through the same egress policy.
type oauthAuth struct {
	conf   clientcredentials.Config
	client *http.Client
	// mu serializes fetches, so that concurrent deliveries share one.
	mu    sync.Mutex
	token *oauth2.Token
}

func (a *oauthAuth) header(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.token; t != nil && (t.Expiry.IsZero() || time.Until(t.Expiry) > tokenMargin) {
		return "Bearer " + t.AccessToken, nil
	}
	t, err := a.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, a.client))
	if err != nil {
		return "", tokenError(ctx, err)
	}
	if t.AccessToken == "" || strings.ContainsAny(t.AccessToken, " \t\r\n") {
		return "", &TokenError{Message: "the token endpoint answered without a usable access token"}
	}
	a.token = t
	return "Bearer " + t.AccessToken, nil
}

func (a *oauthAuth) rejected(value string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != nil && "Bearer "+a.token.AccessToken == value {
		a.token = nil
	}
	return true
}

// TokenError reports that no OAuth 2.0 token could be obtained from the
// token endpoint (oauth_endpoint). Deliver returns it classified:
// sdk.Unauthenticated when the authorization server rejected the client
// credentials, sdk.Forbidden when it refused the scopes, retryable for a
// server error. It never includes secrets or tokens. Its message begins
// with "oauth2 token: " also after crossing the plugin boundary: the admin
// API tells by it that the token endpoint, not the LRS, refused.
type TokenError struct {
	// StatusCode is the HTTP status of the token endpoint; 0 if it was not
	// reached or answered without a token.
	StatusCode int
	// Code is the OAuth 2.0 error code, for example "invalid_client".
	Code string
	// Message explains the problem in plain words.
	Message string
}

// Error describes the problem; it never includes secrets.
func (e *TokenError) Error() string {
	s := "oauth2 token: " + e.Message
	if e.StatusCode != 0 {
		s += " (token endpoint answered " + strconv.Itoa(e.StatusCode)
		if e.Code != "" {
			s += ", " + e.Code
		}
		s += ")"
	}
	return s
}

// tokenError classifies a failed token fetch. Transport failures (egress
// policy, DNS, timeout) keep their error, wrapped; the body of a refusal is
// never kept, since a token endpoint may echo the credentials.
func tokenError(ctx context.Context, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if ctx.Err() != nil {
			return fmt.Errorf("lrs: get an oauth2 token: %w", context.Cause(ctx))
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("lrs: get an oauth2 token: %w", err)
	}
	te := &TokenError{Code: oauthCode(re.ErrorCode)}
	if re.Response != nil {
		te.StatusCode = re.Response.StatusCode
	}
	switch {
	case te.Code == "invalid_client" || te.Code == "unauthorized_client" || te.StatusCode == http.StatusUnauthorized:
		te.Message = "the authorization server rejected the client id or client secret; check them in the integration settings"
		return sdk.Unauthenticated(te)
	case te.Code == "invalid_scope" || te.StatusCode == http.StatusForbidden:
		te.Message = "the authorization server refused the requested scopes for this client; check the scopes in the integration settings"
		return sdk.Forbidden(te)
	case te.StatusCode >= 400 && te.StatusCode < 500 && te.StatusCode != http.StatusTooManyRequests:
		te.Message = "the authorization server refused the token request; check the token URL, client id and scopes"
		return sdk.Unauthenticated(te)
	}
	te.Message = "the authorization server did not issue a token; delivery will try again"
	return te
}

// oauthCode keeps an OAuth 2.0 error code if it looks like one (a short
// word of letters and underscores), so that nothing else of the body
// reaches an error.
func oauthCode(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return ""
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && r != '_' {
			return ""
		}
	}
	return s
}

// newAuthorizer returns the authorizer of the configured mode, and the
// secret values whose derived forms are redacted from error text.
func newAuthorizer(c Config, client *http.Client) (authorizer, []string) {
	switch c.authMode() {
	case AuthBearer:
		tok := c.BearerToken.Reveal()
		return staticAuth{value: NewSecret("Bearer " + tok)}, []string{tok}
	case AuthOAuth2:
		id, secret := c.ClientID, c.ClientSecret.Reveal()
		a := &oauthAuth{
			conf: clientcredentials.Config{
				ClientID: id, ClientSecret: secret, TokenURL: c.OAuthEndpoint, Scopes: c.Scopes,
			},
			client: client,
		}
		return a, []string{secret, id + ":" + secret, url.QueryEscape(id) + ":" + url.QueryEscape(secret), url.QueryEscape(secret)}
	}
	pair := c.Key + ":" + c.Secret.Reveal()
	return staticAuth{value: NewSecret("Basic " + base64.StdEncoding.EncodeToString([]byte(pair)))}, []string{c.Secret.Reveal(), pair}
}

// setAuth sets the authorizer and the redactor of s from its configuration
// and client.
func (s *Sink) setAuth() {
	var secrets []string
	s.auth, secrets = newAuthorizer(s.cfg, s.client)
	s.redact = newRedactor(secrets...)
}

// token returns the access token the sink holds, for redaction; "" when
// none.
func (s *Sink) token() string {
	a, ok := s.auth.(*oauthAuth)
	if !ok {
		return ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token == nil {
		return ""
	}
	return a.token.AccessToken
}
