package panel

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// adminOf allows the organization named by the X-Admin-Of header.
var adminOf = httpapi.AuthorizerFunc(func(r *http.Request, org string, _ httpapi.Action) error {
	switch r.Header.Get("X-Admin-Of") {
	case "":
		return httpapi.ErrUnauthenticated
	case org:
		return nil
	}
	return httpapi.ErrForbidden
})

func get(t *testing.T, url, adminOf string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if adminOf != "" {
		req.Header.Set("X-Admin-Of", adminOf)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func TestNewNeedsAnAuthorizer(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Options{}); !errors.Is(err, httpapi.ErrNoAuthorizer) {
		t.Errorf("New without an Authorizer = %v, want httpapi.ErrNoAuthorizer", err)
	}
}

// TestPagesFollowTheAuthorizer mounts the panel under a prefix: each admin
// sees only the organizations the authorizer allows, and the API answers
// under the prefix too.
func TestPagesFollowTheAuthorizer(t *testing.T) {
	t.Parallel()
	h := testHost(t, map[string]host.OrgConfig{"acme": org("acme"), "beacon": org("beacon")})
	srv := servePanel(t, h, "/admin/lrs", adminOf)
	base := srv.URL + "/admin/lrs"
	type answer struct {
		Code     int
		Location string
	}
	tests := []struct {
		name, path, admin string
		want              answer
	}{
		{"index goes to the admin's organization", "/", "beacon", answer{http.StatusSeeOther, "/admin/lrs/orgs/beacon"}},
		{"index for an admin of no organization", "/", "nobody", answer{Code: http.StatusForbidden}},
		{"own organization", "/orgs/acme", "acme", answer{Code: http.StatusOK}},
		{"another organization", "/orgs/beacon", "acme", answer{Code: http.StatusForbidden}},
		{"an organization that does not exist", "/orgs/nobody", "nobody", answer{Code: http.StatusNotFound}},
		{"not logged in", "/orgs/acme", "", answer{Code: http.StatusUnauthorized}},
		{"API of another organization", "/api/orgs/beacon/status", "acme", answer{Code: http.StatusForbidden}},
		{"API of its own", "/api/orgs/acme/status", "acme", answer{Code: http.StatusOK}},
		{"asset", "/static/panel.js", "", answer{Code: http.StatusOK}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, header := get(t, base+tt.path, tt.admin)
			if diff := cmp.Diff(tt.want, answer{code, header.Get("Location")}); diff != "" {
				t.Errorf("GET %s as %q (-want +got):\n%s\n%s", tt.path, tt.admin, diff, body)
			}
		})
	}
	if code, _, _ := get(t, srv.URL+"/orgs/acme", "acme"); code != http.StatusNotFound {
		t.Errorf("GET /orgs/acme outside the prefix = %d, want 404", code)
	}
	_, page, header := get(t, base+"/orgs/acme", "acme")
	if strings.Contains(page, "beacon") {
		t.Errorf("acme's page names beacon")
	}
	for _, want := range []string{`data-api="/admin/lrs/api"`, `href="/admin/lrs/static/panel.css"`, `<label for="endpoint">Endpoint URL</label>`, `value="1.0.3" selected`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if csp := header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers: CSP %q, X-Frame-Options %q", csp, header.Get("X-Frame-Options"))
	}
}

// TestFirstOrganizationPage is what a server without organizations shows.
func TestFirstOrganizationPage(t *testing.T) {
	t.Parallel()
	h := testHost(t, nil)
	srv := servePanel(t, h, "", httpapi.AllowAll())
	code, page, _ := get(t, srv.URL+"/", "")
	if code != http.StatusOK || !strings.Contains(page, "No organizations yet") || strings.Contains(page, "<script>") {
		t.Errorf("GET / = %d, want the first-organization page without inline script:\n%s", code, page)
	}
}

// TestEditValuesOfTheAuthModes: the form of a saved integration shows its
// mode's settings as text (scopes from a configuration file may be a
// list) and which secrets are saved, never their values.
func TestEditValuesOfTheAuthModes(t *testing.T) {
	t.Parallel()
	in := host.IntegrationInfo{Integration: host.Integration{ID: "acme-lrs", Label: "Acme LRS", Plugin: "lrs", Config: map[string]any{
		"xapi_version": "1.0.3", "endpoint": "https://lrs.example/xapi/", "auth": "oauth2", "oauth_endpoint": "https://lrs.example/oauth/token",
		"client_id": "lf", "client_secret": host.Masked, "scopes": []any{"statements/write", "statements/read"}, "bearer_token": "",
	}}}
	f := editValues(in)
	got := map[string]string{"auth": f.Auth, "version": f.Version, "endpoint": f.Endpoint, "oauth_endpoint": f.Value("oauth_endpoint"),
		"client_id": f.Value("client_id"), "scopes": f.Value("scopes"), "client_secret": f.Value("client_secret"), "missing": f.Value("key")}
	want := map[string]string{"auth": "oauth2", "version": "1.0.3", "endpoint": "https://lrs.example/xapi/", "oauth_endpoint": "https://lrs.example/oauth/token",
		"client_id": "lf", "scopes": "statements/write statements/read", "client_secret": "", "missing": ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("form values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"client_secret": true, "bearer_token": false}, f.Saved); diff != "" {
		t.Errorf("saved secrets (-want +got):\n%s", diff)
	}
	if basic := editValues(host.IntegrationInfo{Integration: host.Integration{Config: map[string]any{"key": "k"}}}); basic.Auth != "basic" {
		t.Errorf("mode of an integration without auth = %q, want basic", basic.Auth)
	}
}
