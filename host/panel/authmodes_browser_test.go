//go:build unix

package panel

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/host/internal/oauthtest"
	"github.com/learningflow/lrsbridge/host/panel/paneltest"
)

// Credentials of the OAuth 2.0 client and the bearer token of the tests.
const (
	testClientID     = "lf-client"
	testClientSecret = "client-s3cret-of-acme"
	testBearer       = "static-bearer-token-of-acme"
)

// sentForms records the configurations the page sends to test or save an
// integration.
type sentForms struct {
	mu    sync.Mutex
	forms []map[string]any
}

// wrap records the bodies of POST .../integrations and .../test.
func (s *sentForms) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/integrations") || strings.HasSuffix(r.URL.Path, "/integrations/test")) {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req httpapi.IntegrationRequest
			if json.Unmarshal(body, &req) == nil {
				s.mu.Lock()
				s.forms = append(s.forms, req.Config)
				s.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// last returns the keys of the last configuration sent, sorted.
func (s *sentForms) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.forms) == 0 {
		return nil
	}
	var keys []string
	for k := range s.forms[len(s.forms)-1] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// chooseAuth selects an authentication mode as a user would.
func chooseAuth(mode string) string {
	return `(() => { const s = document.getElementById("auth"); s.value = ` + strconv.Quote(mode) + `;
		s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`
}

// TestBrowserAuthModes drives the LRS form in headless Chromium with the
// OAuth 2.0 and bearer modes against a loopback token endpoint and LRS,
// through the real LRS plugin: a wrong client secret fails the token step
// and saves nothing; the right one saves and activates with one click and
// statements arrive with the issued token; a masked secret is kept only
// for the same token endpoint; switching the mode hides and does not send
// the other mode's fields; a token endpoint that starts refusing shows a
// pause in plain words. No secret ever reaches the page.
func TestBrowserAuthModes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	as := oauthtest.New(t, oauthtest.Options{ClientID: testClientID, ClientSecret: testClientSecret, Bearer: testBearer})
	h := testHost(t, map[string]host.OrgConfig{"acme": org("acme")})
	handler, err := New(h, Options{Authorizer: httpapi.AllowAll()})
	must(t, err)
	var sent sentForms
	srv := httptest.NewServer(sent.wrap(handler))
	t.Cleanup(srv.Close)
	page := paneltest.Start(t, ctx)
	must(t, page.Call(ctx, "Page.navigate", map[string]any{"url": srv.URL + "/orgs/acme"}, nil))
	page.WaitFor(t, ctx, "the panel script", `window.lrsPanel && window.lrsPanel.ready`)
	secrets := []string{testClientSecret, testBearer, "wrong-client-s3cret", "basic-secret-typed-first"}

	submit := func(t *testing.T) {
		t.Helper()
		must(t, page.Eval(ctx, `(() => { const r = document.getElementById("report"); delete r.dataset.ok; r.replaceChildren();
			document.getElementById("form-message").textContent = ""; return true; })()`, nil))
		must(t, page.Eval(ctx, click("test-btn"), nil))
		page.WaitFor(t, ctx, "the answer", `!document.getElementById("test-btn").disabled && document.getElementById("form-message").textContent !== ""`)
	}
	message := func(t *testing.T) string {
		t.Helper()
		var m string
		must(t, page.Eval(ctx, `document.getElementById("form-message").textContent`, &m))
		return m
	}
	tokenURLStep := "The token endpoint " + as.TokenURL + " did not issue a token: the authorization server rejected the client id or client secret; check them in the integration settings."

	t.Run("OAuth 2.0 with a wrong client secret: the token step says what to fix, nothing saved", func(t *testing.T) {
		// Basic fields typed first must not be sent once OAuth 2.0 is chosen.
		must(t, page.Eval(ctx, fill(map[string]string{"key": "basic-key", "secret": "basic-secret-typed-first"}), nil))
		must(t, page.Eval(ctx, chooseAuth("oauth2"), nil))
		var shown []string
		must(t, page.Eval(ctx, `[...document.querySelectorAll(".auth-fields")].filter(f => !f.hidden).map(f => f.dataset.auth)`, &shown))
		if diff := cmp.Diff([]string{"oauth2"}, shown); diff != "" {
			t.Errorf("fields shown (-want +got):\n%s", diff)
		}
		var placeholder string
		must(t, page.Eval(ctx, `document.getElementById("client_secret").placeholder`, &placeholder))
		if placeholder != "the client's secret" {
			t.Errorf("client secret placeholder = %q, want the field's own words", placeholder)
		}
		must(t, page.Eval(ctx, fill(map[string]string{"label": "Acme LRS", "endpoint": as.Endpoint, "oauth_endpoint": as.TokenURL,
			"client_id": testClientID, "client_secret": "wrong-client-s3cret", "scopes": "statements/write"}), nil))
		submit(t)
		var got struct{ Token, TokenMsg, About string }
		must(t, page.Eval(ctx, `(() => { const s = (n) => document.querySelector('#report li[data-name="' + n + '"]') || {dataset: {}, querySelector: () => ({})};
			return {Token: s("token").dataset.status, TokenMsg: s("token").querySelector(".msg").textContent, About: s("about").dataset.status}; })()`, &got))
		if diff := cmp.Diff(struct{ Token, TokenMsg, About string }{"failed", tokenURLStep, "skipped"}, got); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if want := "Nothing was saved. Get an access token: " + tokenURLStep; message(t) != want {
			t.Errorf("message = %q, want %q", message(t), want)
		}
		if diff := cmp.Diff([]string{"auth", "client_id", "client_secret", "endpoint", "oauth_endpoint", "scopes", "xapi_version"}, sent.last()); diff != "" {
			t.Errorf("settings sent (-want +got):\n%s", diff)
		}
		if list, _ := h.Integrations("acme"); len(list) != 0 {
			t.Errorf("integrations after a failed test: %+v", list)
		}
	})

	t.Run("the right client secret: one click saves and activates", func(t *testing.T) {
		must(t, page.Eval(ctx, fill(map[string]string{"client_secret": testClientSecret}), nil))
		submit(t)
		if want := "Saved and active. Statements of this organization now go to Acme LRS."; message(t) != want {
			t.Fatalf("message = %q, want %q", message(t), want)
		}
		var tokenStep string
		must(t, page.Eval(ctx, `document.querySelector('#report li[data-name="token"]').dataset.status`, &tokenStep))
		if tokenStep != "warning" { // passed, with a warning of the plain http token URL
			t.Errorf("token step = %q, want warning", tokenStep)
		}
		n := postEvents(t, srv.URL, "acme", "oauth", 3)
		page.WaitFor(t, ctx, "the delivered count", deliveredCount("acme-lrs")+` >= `+strconv.Itoa(n))
		if as.Store.Len() != n || len(as.Seen()) == 0 {
			t.Errorf("the LRS stored %d statements in %d requests, want %d", as.Store.Len(), len(as.Seen()), n)
		}
		for _, h := range as.Seen() {
			if !strings.HasPrefix(h, "Bearer issued-token-") {
				t.Errorf("statements sent with %q, want an issued token", h)
			}
		}
	})

	t.Run("the saved form after a reload", func(t *testing.T) {
		must(t, page.Call(ctx, "Page.reload", map[string]any{}, nil))
		page.WaitFor(t, ctx, "the reloaded panel", `window.lrsPanel && window.lrsPanel.ready`)
		var got struct {
			Auth, TokenURL, ClientID, Scopes, Saved, Placeholder string
			Hint                                                 bool
		}
		must(t, page.Eval(ctx, `({Auth: document.getElementById("auth").value, TokenURL: document.getElementById("oauth_endpoint").value,
			ClientID: document.getElementById("client_id").value, Scopes: document.getElementById("scopes").value,
			Saved: document.getElementById("client_secret").dataset.saved, Placeholder: document.getElementById("client_secret").placeholder,
			Hint: !document.getElementById("secret-hint").hidden})`, &got))
		want := struct {
			Auth, TokenURL, ClientID, Scopes, Saved, Placeholder string
			Hint                                                 bool
		}{"oauth2", as.TokenURL, testClientID, "statements/write", "true", "saved (leave empty to keep it)", true}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("form of the saved integration (-want +got):\n%s", diff)
		}
	})

	t.Run("the masked secret is kept for the same token endpoint only", func(t *testing.T) {
		submit(t)
		if !strings.HasPrefix(message(t), "Saved and active") {
			t.Errorf("re-save with the secret left empty: %q, want saved", message(t))
		}
		must(t, page.Eval(ctx, fill(map[string]string{"oauth_endpoint": as.TokenURL + "/other"}), nil))
		submit(t)
		var fieldErr string
		must(t, page.Eval(ctx, `document.querySelector('.field-error[data-field="config.client_secret"]').textContent`, &fieldErr))
		if !strings.HasPrefix(message(t), "Nothing was saved.") || !strings.Contains(fieldErr, "enter it again") {
			t.Errorf("another token endpoint without the secret: message %q, field error %q", message(t), fieldErr)
		}
		list, err := h.Integrations("acme")
		must(t, err)
		if len(list) != 1 || list[0].Config["oauth_endpoint"] != as.TokenURL {
			t.Errorf("integrations after the refused change: %+v", list)
		}
		must(t, page.Eval(ctx, fill(map[string]string{"oauth_endpoint": as.TokenURL}), nil))
	})

	t.Run("switching to a bearer token hides and does not send the OAuth fields", func(t *testing.T) {
		must(t, page.Eval(ctx, chooseAuth("bearer"), nil))
		var shown []string
		must(t, page.Eval(ctx, `[...document.querySelectorAll(".auth-fields")].filter(f => !f.hidden).map(f => f.dataset.auth)`, &shown))
		if diff := cmp.Diff([]string{"bearer"}, shown); diff != "" {
			t.Errorf("fields shown (-want +got):\n%s", diff)
		}
		must(t, page.Eval(ctx, fill(map[string]string{"bearer_token": testBearer}), nil))
		submit(t)
		if !strings.HasPrefix(message(t), "Saved and active") {
			t.Fatalf("save with a bearer token: %q", message(t))
		}
		if diff := cmp.Diff([]string{"auth", "bearer_token", "endpoint", "xapi_version"}, sent.last()); diff != "" {
			t.Errorf("settings sent (-want +got):\n%s", diff)
		}
		list, err := h.Integrations("acme")
		must(t, err)
		if _, kept := list[0].Config["client_secret"]; kept || list[0].Config["auth"] != "bearer" {
			t.Errorf("saved configuration %v, want bearer without the client secret", list[0].Config)
		}
		before := len(as.Seen())
		postEvents(t, srv.URL, "acme", "bearer", 1)
		waitFor(t, ctx, "statements sent with the bearer token", func() bool { return len(as.Seen()) > before })
		if got := as.Seen()[before]; got != "Bearer "+testBearer {
			t.Errorf("statements sent with %q, want the bearer token", got)
		}
	})

	t.Run("a token endpoint that starts refusing: the pause in plain words", func(t *testing.T) {
		// The form shows the saved bearer integration: the OAuth fields
		// are empty again.
		must(t, page.Eval(ctx, chooseAuth("oauth2"), nil))
		var emptied string
		must(t, page.Eval(ctx, `document.getElementById("oauth_endpoint").value + document.getElementById("client_id").value`, &emptied))
		if emptied != "" {
			t.Errorf("OAuth fields after saving a bearer integration = %q, want empty", emptied)
		}
		must(t, page.Eval(ctx, fill(map[string]string{"oauth_endpoint": as.TokenURL, "client_id": testClientID, "client_secret": testClientSecret}), nil))
		submit(t)
		if !strings.HasPrefix(message(t), "Saved and active") {
			t.Fatalf("back to OAuth 2.0: %q", message(t))
		}
		as.SetClientSecret("rotated-client-s3cret")
		postEvents(t, srv.URL, "acme", "rotated", 1)
		page.WaitFor(t, ctx, "the pause", stateText("acme-lrs")+` === "Paused: the token endpoint refused the client credentials"`)
		var next string
		must(t, page.Eval(ctx, `document.querySelector('#status-list li[data-id="acme-lrs"] .next').textContent`, &next))
		if next != "Enter the new client secret and test again." {
			t.Errorf("next step = %q", next)
		}
	})

	var html string
	must(t, page.Eval(ctx, `document.documentElement.outerHTML`, &html))
	for _, s := range secrets {
		if strings.Contains(html, s) {
			t.Errorf("the page shows the secret %q", s)
		}
	}
	must(t, page.Eval(ctx, "true", nil))
	if len(page.Problems()) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(page.Problems(), "\n"))
	}
}
