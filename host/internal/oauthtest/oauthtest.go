// Package oauthtest serves, on loopback, what an LRS behind OAuth 2.0 or a
// static bearer token looks like to lrsbridge, for the tests of the admin
// API and of the settings panel: a token endpoint that issues access
// tokens for the client credentials grant, and an LRS (an lrstest.LRS
// behind a gate) that accepts only the tokens issued and not revoked, or
// the static bearer token. Like some real servers, both echo what they
// were sent in their refusals, so tests see whether a secret leaks through
// an error message.
package oauthtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// Server is a token endpoint and an LRS that checks bearer tokens. It is
// safe for concurrent use.
type Server struct {
	// Store holds the statements the LRS accepted.
	Store *lrstest.LRS
	// TokenURL is the token endpoint; Endpoint the LRS's xAPI endpoint.
	TokenURL, Endpoint string

	mu           sync.Mutex
	clientID     string
	clientSecret string
	bearer       string
	issued       []string
	valid        map[string]bool
	seen         []string // Authorization headers of statement POSTs
}

// Options are the credentials a Server accepts.
type Options struct {
	// ClientID and ClientSecret are the client credentials the token
	// endpoint accepts.
	ClientID, ClientSecret string
	// Bearer, when set, is a static bearer token the LRS accepts besides
	// the issued ones.
	Bearer string
}

// New starts a Server on loopback; it stops when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{Store: lrstest.New(lrstest.Options{}), clientID: opts.ClientID, clientSecret: opts.ClientSecret,
		bearer: opts.Bearer, valid: map[string]bool{}}
	token := httptest.NewServer(http.HandlerFunc(s.serveToken))
	t.Cleanup(token.Close)
	lrs := httptest.NewServer(http.HandlerFunc(s.serveLRS))
	t.Cleanup(lrs.Close)
	s.TokenURL = token.URL + "/oauth/token"
	s.Endpoint = lrs.URL + s.Store.BasePath()
	return s
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || r.PostFormValue("grant_type") != "client_credentials" || id != s.clientID || secret != s.clientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": fmt.Sprintf("unknown client %s with secret %s", id, secret)})
		return
	}
	tok := fmt.Sprintf("issued-token-%d-%s", len(s.issued)+1, strings.ReplaceAll(r.PostFormValue("scope"), " ", "."))
	s.issued = append(s.issued, tok)
	s.valid[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

// serveLRS passes requests with an accepted bearer token to the store;
// about needs none.
func (s *Server) serveLRS(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Get("Authorization")
	tok, isBearer := strings.CutPrefix(h, "Bearer ")
	s.mu.Lock()
	ok := isBearer && (s.valid[tok] || (s.bearer != "" && tok == s.bearer))
	if ok && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/statements") {
		s.seen = append(s.seen, h)
	}
	s.mu.Unlock()
	if !ok && !strings.HasSuffix(r.URL.Path, "/about") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "unauthorized; you sent Authorization: " + h})
		return
	}
	r.Header.Del("Authorization")
	s.Store.ServeHTTP(w, r)
}

// SetClientSecret changes the client secret the token endpoint accepts
// and revokes every token issued so far: the client's secret was rotated.
func (s *Server) SetClientSecret(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientSecret = secret
	clear(s.valid)
}

// SetBearer changes the static bearer token the LRS accepts ("" accepts
// none).
func (s *Server) SetBearer(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bearer = token
}

// Issued returns the access tokens issued so far, in order.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Seen returns the Authorization headers of the statement POSTs the LRS
// accepted, in order.
func (s *Server) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}
