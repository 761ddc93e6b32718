package httpapi

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
	"github.com/learningflow/lrsbridge/host/internal/oauthtest"
)

// Credentials of the OAuth 2.0 client and the bearer token of the tests.
const (
	testClientID     = "lf-client"
	testClientSecret = "client-s3cret-of-acme"
	testBearer       = "static-bearer-token-of-acme"
	testScopes       = "statements/write statements/read"
)

// oauthForm is the LRS Set Up form with OAuth 2.0 client credentials, as
// the panel sends it (an empty secret keeps the saved one).
func oauthForm(id, endpoint, tokenURL, clientSecret string) IntegrationRequest {
	cfg := map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "auth": "oauth2",
		"oauth_endpoint": tokenURL, "client_id": testClientID, "scopes": testScopes, "client_secret": clientSecret}
	return IntegrationRequest{ID: id, Label: "Acme LRS", Plugin: "lrs", Config: cfg}
}

// bearerForm is the LRS Set Up form with a static bearer token.
func bearerForm(id, endpoint, token string) IntegrationRequest {
	cfg := map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "auth": "bearer", "bearer_token": token}
	return IntegrationRequest{ID: id, Label: "Acme LRS", Plugin: "lrs", Config: cfg}
}

// steps returns "name status" for every step of a report.
func steps(r *ReportView) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name+" "+s.Status)
	}
	return out
}

// step returns the step of a report named name.
func step(r *ReportView, name string) StepView {
	if r != nil {
		for _, s := range r.Steps {
			if s.Name == name {
				return s
			}
		}
	}
	return StepView{}
}

// secretForms are the forms of a secret that must never reach an answer:
// as is, URL-encoded (the token request's form), base64 in its variants
// (Basic credentials, sealed or encoded copies) and as Basic credentials
// of the client.
func secretForms(secret string) []string {
	forms := []string{secret, url.QueryEscape(secret)}
	for _, s := range []string{secret, testClientID + ":" + secret} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			forms = append(forms, enc.EncodeToString([]byte(s)))
		}
	}
	return forms
}

// waitForPause waits until acme's one integration is paused_auth and
// returns its status.
func waitForPause(t *testing.T, c *client) SinkView {
	t.Helper()
	var st StatusView
	eventually(t, "the pause", func() bool {
		c.do(http.MethodGet, "/orgs/acme/status", nil, &st)
		return len(st.Integrations) == 1 && st.Integrations[0].State == host.StatePausedAuth
	})
	return st.Integrations[0]
}

// noSecretsAnswered fails the test when an answer c received holds a form
// of one of secrets.
func noSecretsAnswered(t *testing.T, c *client, secrets ...string) {
	t.Helper()
	if len(*c.answers) == 0 {
		t.Fatal("no answers to check")
	}
	for _, s := range secrets {
		for _, form := range secretForms(s) {
			for _, a := range *c.answers {
				if strings.Contains(a, form) {
					t.Errorf("an answer holds the secret %q (as %q):\n%s", s, form, a)
				}
			}
		}
	}
}

// TestOAuth2SetUpFlow saves an LRS integration with OAuth 2.0 client
// credentials through the API, with the real LRS plugin against a loopback
// token endpoint and LRS: a wrong client secret fails the token step in
// plain words and saves nothing; the right one saves, and statements
// arrive with the issued token. A saved secret is kept only while both
// destinations (the LRS and the token endpoint) stay. When the token
// endpoint starts refusing the client, the status says so and what to do.
// No answer ever holds a secret or a token.
func TestOAuth2SetUpFlow(t *testing.T) {
	t.Parallel()
	as := oauthtest.New(t, oauthtest.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := testHostWith(t, map[string]host.OrgConfig{"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}},
		[]host.Option{host.WithLogger(logger)})
	c := newClient(t, serve(t, h, Options{Prefix: "/api", Logger: logger}), "/api")
	const wrong = "not-the-client-s3cret"

	// A wrong client secret: the token step fails and says what to fix.
	var failed ErrorBody
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", oauthForm("", as.Endpoint, as.TokenURL, wrong), &failed); code != http.StatusUnprocessableEntity || failed.Error.Code != "test_failed" {
		t.Fatalf("save with a wrong client secret = %d %s, want 422 test_failed", code, body)
	}
	wantSteps := []string{"url warning", "dns passed", "connect passed", "tls skipped", "token failed", "about skipped", "auth skipped"}
	if diff := cmp.Diff(wantSteps, steps(failed.Report)); diff != "" {
		t.Errorf("steps of a wrong client secret (-want +got):\n%s", diff)
	}
	tok := step(failed.Report, "token")
	wantMsg := "The token endpoint " + as.TokenURL + " did not issue a token: the authorization server rejected the client id or client secret; check them in the integration settings."
	if tok.Title != "Get an access token" || tok.Message != wantMsg {
		t.Errorf("token step = %q: %q, want %q", tok.Title, tok.Message, wantMsg)
	}
	if want := "The connection test failed, so nothing was saved: Get an access token: " + wantMsg; failed.Error.Message != want {
		t.Errorf("message = %q, want %q", failed.Error.Message, want)
	}
	if list, _ := h.Integrations("acme"); len(list) != 0 {
		t.Fatalf("integrations after a failed test = %+v, want none", list)
	}

	// The right one: tested, saved and active in one request.
	var saved SaveResponse
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", oauthForm("", as.Endpoint, as.TokenURL, testClientSecret), &saved); code != http.StatusOK {
		t.Fatalf("save = %d %s", code, body)
	}
	wantSteps = []string{"url warning", "dns passed", "connect passed", "tls skipped", "token warning", "about passed", "auth passed"}
	if diff := cmp.Diff(wantSteps, steps(&saved.Report)); diff != "" {
		t.Errorf("steps of a save (-want +got):\n%s", diff)
	}
	want := IntegrationView{ID: "acme-lrs", Label: "Acme LRS", Plugin: "lrs", Source: host.SourceSaved,
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": as.Endpoint, "auth": "oauth2", "oauth_endpoint": as.TokenURL,
			"client_id": testClientID, "scopes": testScopes}, SecretsSet: []string{"client_secret"}}
	saved.Integration.Saved = nil
	if diff := cmp.Diff(want, saved.Integration); diff != "" {
		t.Errorf("saved integration (-want +got):\n%s", diff)
	}
	var res EventsResponse
	if code, body := c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "e1")+"\n"+quizEvent("acme", "e2")), &res); code != http.StatusOK || res.Recorded != 2 {
		t.Fatalf("POST /events = %d %s", code, body)
	}
	eventually(t, "statements at the LRS", func() bool { return as.Store.Len() == int(res.Statements) })
	issued := as.Issued()
	for _, h := range as.Seen() {
		if !strings.HasPrefix(h, "Bearer issued-token-") || !strings.Contains(strings.Join(issued, " "), strings.TrimPrefix(h, "Bearer ")) {
			t.Errorf("statements sent with %q, want an issued token (%v)", h, issued)
		}
	}
	if len(as.Seen()) == 0 {
		t.Error("the LRS saw no statement POST with a token")
	}

	// Re-saving with the secret left empty or masked keeps it while both
	// destinations stay; a new token endpoint or LRS needs it again.
	for _, secret := range []string{"", host.Masked} {
		if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", oauthForm("acme-lrs", as.Endpoint, as.TokenURL, secret), nil); code != http.StatusOK {
			t.Errorf("re-save with client_secret %q = %d %s, want 200", secret, code, body)
		}
	}
	for name, form := range map[string]IntegrationRequest{
		"another token endpoint": oauthForm("acme-lrs", as.Endpoint, as.TokenURL+"/other", ""),
		"another LRS":            oauthForm("acme-lrs", "http://127.0.0.2:1/xapi/", as.TokenURL, host.Masked),
	} {
		var e ErrorBody
		code, _ := c.do(http.MethodPost, "/orgs/acme/integrations/test", form, &e)
		if code != http.StatusUnprocessableEntity || len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "config.client_secret" {
			t.Errorf("%s without the client secret = %d %+v, want 422 on config.client_secret", name, code, e)
		}
	}

	// The client secret is rotated: the token endpoint refuses the old
	// one, and the LRS the tokens issued with it.
	as.SetClientSecret("rotated-client-s3cret")
	c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "e3")), &res)
	got := waitForPause(t, c)
	wantState := [3]string{"Paused: the token endpoint refused the client credentials", "Enter the new client secret and test again.",
		"The authorization server rejected the client id or client secret; check them in the integration settings (token endpoint answered 401, invalid_client)."}
	if diff := cmp.Diff(wantState, [3]string{got.StateText, got.NextStep, got.LastErrorSummary}); diff != "" {
		t.Errorf("status of the pause (-want +got):\n%s", diff)
	}
	before := as.Store.Len()
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", oauthForm("acme-lrs", as.Endpoint, as.TokenURL, "rotated-client-s3cret"), nil); code != http.StatusOK {
		t.Fatalf("save with the new client secret = %d %s", code, body)
	}
	eventually(t, "the queued statements delivered", func() bool { return as.Store.Len() > before })
	noSecretsAnswered(t, c, testClientSecret, wrong, "rotated-client-s3cret")
	noSecretsAnswered(t, c, as.Issued()...)
	if !strings.Contains(logs.String(), "paused_auth") {
		t.Fatalf("the pause was not logged:\n%s", logs.String())
	}
	for _, s := range append([]string{testClientSecret, wrong, "rotated-client-s3cret"}, as.Issued()...) {
		for _, form := range secretForms(s) {
			if strings.Contains(logs.String(), form) {
				t.Errorf("the log holds the secret %q (as %q)", s, form)
			}
		}
	}
}

// TestBearerAndSwitchingModes saves an integration with a static bearer
// token, and switches an integration from one authentication mode to
// another: the fields of the other mode are not needed, and its saved
// secret is dropped, not kept.
func TestBearerAndSwitchingModes(t *testing.T) {
	t.Parallel()
	as := oauthtest.New(t, oauthtest.Options{ClientID: testClientID, ClientSecret: testClientSecret, Bearer: testBearer})
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	basicEndpoint := lrs.Endpoint
	h := testHost(t, map[string]host.OrgConfig{"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}})
	c := newClient(t, serve(t, h, Options{}), "")

	var failed ErrorBody
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", bearerForm("", as.Endpoint, "wrong-bearer-token"), &failed); code != http.StatusUnprocessableEntity || failed.Error.Code != "test_failed" {
		t.Fatalf("save with a wrong bearer token = %d %s, want 422 test_failed", code, body)
	}
	if diff := cmp.Diff([]string{"url warning", "dns passed", "connect passed", "tls skipped", "about passed", "auth failed"}, steps(failed.Report)); diff != "" {
		t.Errorf("steps of a wrong bearer token (-want +got):\n%s", diff)
	}
	if s := step(failed.Report, "auth"); s.Title != "Check the bearer token" || !strings.HasPrefix(s.Message, "The LRS rejected the bearer token.") {
		t.Errorf("auth step = %+v, want the bearer token named", s)
	}
	if list, _ := h.Integrations("acme"); len(list) != 0 {
		t.Fatalf("integrations after a failed test = %+v, want none", list)
	}

	// Basic first, then the same integration with each other mode, and
	// back: only the chosen mode's settings are sent and kept.
	basic := lrsForm("", "Acme LRS", basicEndpoint, testKey, testSecret)
	tests := []struct {
		name    string
		form    IntegrationRequest
		secrets []string
	}{
		{"basic", basic, []string{"secret"}},
		{"basic to oauth2", oauthForm("acme-lrs", as.Endpoint, as.TokenURL, testClientSecret), []string{"client_secret"}},
		{"oauth2 to bearer", bearerForm("acme-lrs", as.Endpoint, testBearer), []string{"bearer_token"}},
		{"bearer, token kept", bearerForm("acme-lrs", as.Endpoint, ""), []string{"bearer_token"}},
		{"bearer to basic", lrsForm("acme-lrs", "Acme LRS", basicEndpoint, testKey, testSecret), []string{"secret"}},
	}
	for _, tt := range tests {
		var saved SaveResponse
		if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", tt.form, &saved); code != http.StatusOK {
			t.Errorf("%s: save = %d %s", tt.name, code, body)
			continue
		}
		if diff := cmp.Diff(tt.secrets, saved.Integration.SecretsSet); diff != "" {
			t.Errorf("%s: secrets set (-want +got):\n%s", tt.name, diff)
		}
		list, err := h.Integrations("acme")
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: integrations = %+v, %v", tt.name, list, err)
		}
		var keys []string
		for k := range list[0].Config {
			keys = append(keys, k)
		}
		for _, k := range keys {
			if _, sent := tt.form.Config[k]; !sent && !slices.Contains(tt.secrets, k) {
				t.Errorf("%s: the saved configuration keeps %q, which was not sent", tt.name, k)
			}
		}
		if tt.name == "oauth2 to bearer" {
			var res EventsResponse
			c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "b1")), &res)
			eventually(t, "statements sent with the bearer token", func() bool { return as.Store.Len() == int(res.Statements) })
			for _, h := range as.Seen() {
				if h != "Bearer "+testBearer && !strings.HasPrefix(h, "Bearer issued-token-") {
					t.Errorf("statements sent with %q", h)
				}
			}
		}
	}
	if lrs.Len() != 0 {
		t.Errorf("the Basic LRS got %d statements, want none", lrs.Len())
	}

	// The LRS stops accepting the bearer token (and echoes it in its
	// refusal): the pause names the bearer token, the status never shows it.
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", bearerForm("acme-lrs", as.Endpoint, testBearer), nil); code != http.StatusOK {
		t.Fatalf("save with the bearer token = %d %s", code, body)
	}
	as.SetBearer("")
	c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "b2")), nil)
	got := waitForPause(t, c)
	if diff := cmp.Diff([2]string{"Paused: the LRS refused the bearer token", "Enter the new bearer token and test again."}, [2]string{got.StateText, got.NextStep}); diff != "" {
		t.Errorf("status of the pause (-want +got):\n%s", diff)
	}
	if got.LastError == "" {
		t.Error("the pause has no last error")
	}
	t.Logf("last error of the pause: %s", got.LastError)
	noSecretsAnswered(t, c, testBearer, "wrong-bearer-token", testClientSecret, testSecret)
}

// TestAuthModeSettingsProblems: settings of an authentication mode that
// cannot work are refused before anything is sent, each on its field, and
// nothing is saved.
func TestAuthModeSettingsProblems(t *testing.T) {
	t.Parallel()
	as := oauthtest.New(t, oauthtest.Options{ClientID: testClientID, ClientSecret: testClientSecret})
	h := testHost(t, map[string]host.OrgConfig{"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}})
	c := newClient(t, serve(t, h, Options{}), "")
	form := func(change func(cfg map[string]any)) IntegrationRequest {
		f := oauthForm("", as.Endpoint, as.TokenURL, testClientSecret)
		change(f.Config)
		return f
	}
	tests := []struct {
		name string
		form IntegrationRequest
		want FieldError
	}{
		{"token endpoint on a refused address", form(func(cfg map[string]any) { cfg["oauth_endpoint"] = "http://169.254.169.254/oauth/token" }),
			FieldError{"config.oauth_endpoint", "must not be 169.254.169.254, a cloud metadata service address, which this server may not reach"}},
		{"no token endpoint", form(func(cfg map[string]any) { delete(cfg, "oauth_endpoint") }),
			FieldError{"config.oauth_endpoint", "is required with auth oauth2 (the token URL of the authorization server)"}},
		{"no client id", form(func(cfg map[string]any) { cfg["client_id"] = "" }),
			FieldError{"config.client_id", "is required with auth oauth2"}},
		{"empty client secret of a new integration", form(func(cfg map[string]any) { cfg["client_secret"] = "" }),
			FieldError{"config.client_secret", "is required with auth oauth2"}},
		{"unknown mode", form(func(cfg map[string]any) { cfg["auth"] = "kerberos" }),
			FieldError{"config.auth", "must be basic, oauth2 or bearer"}},
		{"bearer without a token", bearerForm("", as.Endpoint, ""),
			FieldError{"config.bearer_token", "is required with auth bearer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/orgs/acme/integrations/test", "/orgs/acme/integrations"} {
				var e ErrorBody
				code, _ := c.do(http.MethodPost, path, tt.form, &e)
				if code != http.StatusUnprocessableEntity || e.Error.Code != "invalid_config" {
					t.Errorf("POST %s = %d %+v, want 422 invalid_config", path, code, e)
					continue
				}
				if diff := cmp.Diff([]FieldError{tt.want}, e.Error.Fields); diff != "" {
					t.Errorf("POST %s: field errors (-want +got):\n%s", path, diff)
				}
			}
		})
	}
	if list, _ := h.Integrations("acme"); len(list) != 0 {
		t.Errorf("integrations = %+v, want none saved", list)
	}
	if len(as.Issued()) != 0 {
		t.Errorf("tokens were fetched for refused settings: %v", as.Issued())
	}
	noSecretsAnswered(t, c, testClientSecret)
}
