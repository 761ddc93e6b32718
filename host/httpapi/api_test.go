package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

func TestNewNeedsAnAuthorizer(t *testing.T) {
	t.Parallel()
	if _, err := New(nil, Options{}); !errors.Is(err, ErrNoAuthorizer) {
		t.Errorf("New without an Authorizer = %v, want ErrNoAuthorizer", err)
	}
	for _, prefix := range []string{"api", "/api/", "/a/{org}"} {
		if _, err := New(nil, Options{Authorizer: AllowAll(), Prefix: prefix}); err == nil {
			t.Errorf("New with prefix %q succeeded, want an error", prefix)
		}
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("the document is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := []string{"GET /openapi.yaml"}
	for _, rt := range (&api{}).routes() {
		served = append(served, rt.pattern)
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("documented routes differ from the served ones (-served +documented):\n%s", diff)
	}
	srv := serve(t, testHost(t, nil), Options{Prefix: "/admin/lrs/api"})
	c := newClient(t, srv, "/admin/lrs/api")
	if code, body := c.do(http.MethodGet, "/openapi.yaml", nil, nil); code != http.StatusOK || body != string(OpenAPI()) {
		t.Errorf("GET openapi.yaml = %d, want 200 with the document", code)
	}
}

func TestSetUpFlow(t *testing.T) {
	t.Parallel()
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	endpoint := lrs.Endpoint
	h := testHost(t, map[string]host.OrgConfig{"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}})
	c := newClient(t, serve(t, h, Options{Prefix: "/api"}), "/api")

	// A wrong secret: the failing step says so and nothing is saved.
	var failed ErrorBody
	code, _ := c.do(http.MethodPost, "/orgs/acme/integrations", lrsForm("", "Acme LRS", endpoint, testKey, "wrong"), &failed)
	if code != http.StatusUnprocessableEntity || failed.Error.Code != "test_failed" || failed.Report == nil || failed.Report.OK {
		t.Fatalf("save with a wrong secret = %d %+v, want 422 test_failed with a failed report", code, failed)
	}
	if !strings.Contains(failed.Error.Message, "Check the key and secret") {
		t.Errorf("message %q does not name the failing step", failed.Error.Message)
	}
	var list struct{ Integrations []IntegrationView }
	c.do(http.MethodGet, "/orgs/acme/integrations", nil, &list)
	if len(list.Integrations) != 0 {
		t.Fatalf("integrations after a failed test = %+v, want none", list.Integrations)
	}

	// The right secret: one request tests, saves and activates.
	var saved SaveResponse
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", lrsForm("", "Acme LRS", endpoint, testKey, testSecret), &saved); code != http.StatusOK {
		t.Fatalf("save = %d %s", code, body)
	}
	want := IntegrationView{ID: "acme-lrs", Label: "Acme LRS", Plugin: "lrs", Source: host.SourceSaved,
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "key": testKey}, SecretsSet: []string{"secret"}}
	saved.Integration.Saved = nil
	if diff := cmp.Diff(want, saved.Integration); diff != "" {
		t.Errorf("saved integration (-want +got):\n%s", diff)
	}
	var res EventsResponse
	if code, body := c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "e1")+"\n"), &res); code != http.StatusOK || res.Recorded != 1 {
		t.Fatalf("POST /events = %d %s", code, body)
	}
	eventually(t, "statements at the LRS", func() bool { return len(lrs.Statements()) == int(res.Statements) })

	// The same label again is another integration with a taken id.
	var exists ErrorBody
	if code, _ := c.do(http.MethodPost, "/orgs/acme/integrations/test", lrsForm("", "ACME lrs", endpoint, testKey, testSecret), &exists); code != http.StatusConflict || exists.Error.Code != "integration_exists" {
		t.Errorf("test of a taken label = %d %+v, want 409 integration_exists", code, exists)
	}
	// Editing without the secret keeps it for the same LRS, also when its
	// statements URL is pasted.
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", lrsForm("acme-lrs", "Acme LRS", endpoint+"statements", testKey, ""), &saved); code != http.StatusOK {
		t.Errorf("save of the same LRS without the secret = %d %s, want 200", code, body)
	}
	// ... but never sends it to another address.
	var moved ErrorBody
	code, _ = c.do(http.MethodPost, "/orgs/acme/integrations/test", lrsForm("acme-lrs", "Acme LRS", "http://127.0.0.2:1/xapi/", testKey, ""), &moved)
	if code != http.StatusUnprocessableEntity || len(moved.Error.Fields) == 0 || moved.Error.Fields[0].Field != "config.secret" {
		t.Errorf("test of another address without the secret = %d %+v, want 422 on config.secret", code, moved)
	}
	var st StatusView
	c.do(http.MethodGet, "/orgs/acme/status", nil, &st)
	if len(st.Integrations) != 1 || st.Integrations[0].StateText != "Active" || st.Integrations[0].ErrorCurrent {
		t.Errorf("status = %+v, want one active integration without a current error", st.Integrations)
	}
}

func TestTestConnectionPluginProblemsAre4xx(t *testing.T) {
	t.Parallel()
	orgs := map[string]host.OrgConfig{"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}}}
	c := newClient(t, serve(t, testHost(t, orgs), Options{}), "")
	h := testHost(t, orgs, func(cfg *host.Config) { cfg.Plugins.SHA256 = map[string]string{"mock": strings.Repeat("00", 32)} })
	cSum := newClient(t, serve(t, h, Options{}), "")
	tests := []struct {
		name     string
		c        *client
		plugin   string
		wantCode string
	}{
		{"unknown plugin", c, "nosuch", "plugin_unknown"},
		{"checksum mismatch", cSum, "mock", "plugin_unusable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e ErrorBody
			code, _ := tt.c.do(http.MethodPost, "/orgs/acme/integrations/test", IntegrationRequest{Label: "X", Plugin: tt.plugin, Config: map[string]any{}}, &e)
			if code != http.StatusUnprocessableEntity || e.Error.Code != tt.wantCode || len(e.Error.Fields) != 1 || e.Error.Fields[0].Field != "plugin" {
				t.Errorf("test = %d %+v, want 422 %s on plugin", code, e, tt.wantCode)
			}
		})
	}
}

func TestEventsLineCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	orgs := map[string]host.OrgConfig{
		"acme":   mockOrg("acme", dir),
		"beacon": mockOrg("beacon", dir),
		"empty":  {OrgSettings: host.OrgSettings{BaseIRI: "https://empty.learningflow.example"}},
	}
	h := testHost(t, orgs)
	c := newClient(t, serve(t, h, Options{Authorizer: AuthorizerFunc(func(_ *http.Request, org string, _ Action) error {
		if org == "beacon" {
			return ErrForbidden
		}
		return nil
	})}), "")
	invalid := strings.Replace(quizEvent("acme", "bad"), `"score":7`, `"score":"seven"`, 1)
	body := strings.Join([]string{
		quizEvent("acme", "ok"),
		`{"id":`,
		invalid,
		quizEvent("nobody", "x"),
		quizEvent("empty", "y"),
		quizEvent("beacon", "z"),
		strings.Replace(quizEvent("acme", "k"), "quiz.completed", "quiz.unheard_of", 1),
	}, "\n")
	var res EventsResponse
	if code, raw := c.do(http.MethodPost, "/events", ndjson(body), &res); code != http.StatusOK {
		t.Fatalf("POST /events = %d %s", code, raw)
	}
	var got []string
	for _, r := range res.Results {
		got = append(got, fmt.Sprintf("%d %s %s", r.Line, r.Status, r.Code))
	}
	want := []string{"1 recorded ", "2 refused malformed", "3 refused invalid", "4 refused unknown_org",
		"5 refused no_integrations", "6 refused forbidden", "7 refused unknown_kind"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("line results (-want +got):\n%s", diff)
	}
	if res.Events != 7 || res.Recorded != 1 || res.Refused != 6 {
		t.Errorf("counts = %+v, want 7 events, 1 recorded, 6 refused", res.RecordStats)
	}

	// A full queue is its own code.
	full := testHost(t, map[string]host.OrgConfig{"acme": mockOrg("acme", t.TempDir())}, func(cfg *host.Config) {
		cfg.Orgs["acme"].Sinks[0].Config["auth_fail"] = "unauthenticated" // nothing leaves the queue
		cfg.Queue.MaxQueueBytes = 4096
	})
	cf := newClient(t, serve(t, full, Options{}), "")
	var lines []string
	for i := range 20 {
		lines = append(lines, quizEvent("acme", fmt.Sprint("f", i)))
	}
	res = EventsResponse{}
	cf.do(http.MethodPost, "/events", ndjson(strings.Join(lines, "\n")), &res)
	if !slices.ContainsFunc(res.Results, func(r LineResult) bool { return r.Code == CodeQueueFull }) {
		t.Errorf("no line refused with %s by a full queue: %+v", CodeQueueFull, res.Results)
	}
}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	t.Parallel()
	h := testHost(t, map[string]host.OrgConfig{"acme": mockOrg("acme", t.TempDir())})
	srv := serve(t, h, Options{})
	c := newClient(t, srv, "")
	tests := []struct {
		name, header, value string
	}{
		{"fetch metadata", "Sec-Fetch-Site", "cross-site"},
		{"origin of another site", "Origin", "https://evil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{http.MethodPost, "/orgs/acme/deadletters/purge"},
				{http.MethodDelete, "/orgs/acme/integrations/mock"},
				{http.MethodPut, "/orgs/acme"},
				{http.MethodPost, "/events"},
			} {
				var e ErrorBody
				code, _ := c.as(tt.header, tt.value).do(req.method, req.path, "{}", &e)
				if code != http.StatusForbidden || e.Error.Code != "cross_origin" {
					t.Errorf("%s %s = %d %+v, want 403 cross_origin", req.method, req.path, code, e)
				}
			}
		})
	}
	var list struct{ Integrations []IntegrationView }
	if code, _ := c.as("Sec-Fetch-Site", "same-origin").do(http.MethodGet, "/orgs/acme/integrations", nil, &list); code != http.StatusOK || len(list.Integrations) != 1 {
		t.Errorf("same-origin read = %d %+v, want 200 and the integration (nothing removed)", code, list)
	}
}

func TestReplayDeadLettersIntoAnotherIntegration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oc := mockOrg("acme", dir)
	oc.Sinks[0].Config["auth_fail"] = "unauthenticated"
	h := testHost(t, map[string]host.OrgConfig{"acme": oc})
	lrs := hosttest.StartLRS(t, hosttest.LRSOptions{})
	endpoint := lrs.Endpoint
	c := newClient(t, serve(t, h, Options{}), "")
	var res EventsResponse
	c.do(http.MethodPost, "/events", ndjson(quizEvent("acme", "a")+"\n"+quizEvent("acme", "b")), &res)
	if code, body := c.do(http.MethodDelete, "/orgs/acme/integrations/mock", nil, nil); code != http.StatusNoContent {
		t.Fatalf("remove = %d %s", code, body)
	}
	var dls DeadLettersResponse
	c.do(http.MethodGet, "/orgs/acme/deadletters", nil, &dls)
	if dls.Total != int(res.Statements) || dls.Total == 0 || dls.DeadLetters[0].IntegrationExists {
		t.Fatalf("dead letters = %+v, want the %d statements of a removed integration", dls, res.Statements)
	}
	var e ErrorBody
	if code, _ := c.do(http.MethodPost, "/orgs/acme/deadletters/replay", DeadLetterRequest{Into: "nosuch"}, &e); code != http.StatusUnprocessableEntity || e.Error.Fields[0].Field != "into" {
		t.Errorf("replay into a missing integration = %d %+v, want 422 on into", code, e)
	}
	if code, body := c.do(http.MethodPost, "/orgs/acme/integrations", lrsForm("", "LRS", endpoint, testKey, testSecret), nil); code != http.StatusOK {
		t.Fatalf("save = %d %s", code, body)
	}
	var out map[string]int
	if code, body := c.do(http.MethodPost, "/orgs/acme/deadletters/replay", DeadLetterRequest{Into: "lrs"}, &out); code != http.StatusOK {
		t.Fatalf("replay = %d %s", code, body)
	}
	if diff := cmp.Diff(map[string]int{"replayed": dls.Total, "left": 0}, out); diff != "" {
		t.Errorf("replay answer (-want +got):\n%s", diff)
	}
	eventually(t, "replayed statements at the LRS", func() bool { return len(lrs.Statements()) == dls.Total })
	var purged map[string]int
	if code, _ := c.do(http.MethodPost, "/orgs/acme/deadletters/purge", DeadLetterRequest{}, &purged); code != http.StatusOK || purged["purged"] != 0 {
		t.Errorf("purge after the replay = %d %v, want 200 and nothing purged", code, purged)
	}
}

// TestOpenAPIListingsCannotHoldSecrets: the document itself refuses an
// integration whose settings hold a secret value, so every listing the
// tests validate against it proves that none leaked; and it describes
// the authentication modes.
func TestOpenAPIListingsCannotHoldSecrets(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	integration := doc.Components.Schemas["Integration"].Value
	shown := func(config map[string]any) map[string]any {
		return map[string]any{"id": "acme-lrs", "label": "Acme LRS", "plugin": "lrs", "source": "saved", "config": config, "secrets_set": []any{"client_secret"}}
	}
	ok := map[string]any{"xapi_version": "1.0.3", "endpoint": "https://lrs.example/xapi/", "auth": "oauth2",
		"oauth_endpoint": "https://lrs.example/oauth/token", "client_id": "lf", "scopes": "statements/write"}
	if err := integration.VisitJSON(shown(ok)); err != nil {
		t.Errorf("an OAuth 2.0 integration without secrets does not validate: %v", err)
	}
	for _, key := range []string{"secret", "client_secret", "bearer_token", "client_key_pem"} {
		withSecret := map[string]any{key: host.Masked}
		for k, v := range ok {
			withSecret[k] = v
		}
		if err := integration.VisitJSON(shown(withSecret)); err == nil {
			t.Errorf("an integration listing with %s validates, want it refused", key)
		}
	}
	sent := doc.Components.Schemas["SettingsSent"].Value
	if auth := sent.Properties["auth"]; auth == nil || !cmp.Equal([]any{"basic", "oauth2", "bearer"}, auth.Value.Enum) {
		t.Errorf("SettingsSent.auth does not list the modes: %+v", auth)
	}
	for _, key := range []string{"secret", "client_secret", "bearer_token"} {
		if p := sent.Properties[key]; p == nil || !p.Value.WriteOnly {
			t.Errorf("SettingsSent.%s is not a write-only setting", key)
		}
	}
	if err := sent.VisitJSON(map[string]any{"auth": "kerberos"}); err == nil {
		t.Error("SettingsSent accepts an unknown auth mode")
	}
}
