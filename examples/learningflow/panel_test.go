package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host"
)

// TestPanelSetUpFlow walks the LRS Set Up form through the API in order:
// failing and passing tests, the save that only a passing test allows, and
// secrets that never come back.
func TestPanelSetUpFlow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, endpoint := testLRS(t)
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)
	api := srv.URL + "/api/orgs/acme"
	otherEndpoint := strings.Replace(endpoint, "127.0.0.1", "localhost", 1)

	type answer struct {
		reportView
		Error struct {
			Code   string       `json:"code"`
			Fields []fieldError `json:"fields"`
		} `json:"error"`
		Report      *reportView      `json:"report"`
		Integration *integrationView `json:"integration"`
	}
	statuses := func(r *reportView) map[string]string {
		if r == nil {
			return nil
		}
		m := map[string]string{}
		for _, s := range r.Steps {
			m[s.Name] = s.Status
		}
		return m
	}
	passing := map[string]string{"url": "warning", "dns": "passed", "connect": "passed", "tls": "skipped", "about": "passed", "auth": "passed"}
	wrongAuth := map[string]string{"url": "warning", "dns": "passed", "connect": "passed", "tls": "skipped", "about": "passed", "auth": "failed"}

	steps := []struct {
		name       string
		path       string
		body       integrationRequest
		wantStatus int
		wantCode   string
		wantFields []fieldError
		wantSteps  map[string]string
		wantSaved  *integrationView
	}{
		{
			name: "test with a wrong secret fails at auth", path: "/integrations/test",
			body:       lrsForm("", "Acme LRS", endpoint, testKey, "not-the-secret"),
			wantStatus: http.StatusOK, wantSteps: wrongAuth,
		},
		{
			name: "save with a wrong secret is refused", path: "/integrations",
			body:       lrsForm("", "Acme LRS", endpoint, testKey, "not-the-secret"),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "test_failed", wantSteps: wrongAuth,
		},
		{
			name: "test with the right secret passes", path: "/integrations/test",
			body:       lrsForm("", "Acme LRS", endpoint, testKey, testSecret),
			wantStatus: http.StatusOK, wantSteps: passing,
		},
		{
			name: "save after a passing test", path: "/integrations",
			body:       lrsForm("", "Acme LRS", endpoint, testKey, testSecret),
			wantStatus: http.StatusOK, wantSteps: passing,
			wantSaved: &integrationView{ID: "acme-lrs", Label: "Acme LRS", Plugin: "lrs", Source: host.SourceSaved,
				Config: map[string]any{"xapi_version": "2.0.0", "endpoint": endpoint, "key": testKey}, SecretsSet: []string{"secret"}},
		},
		{
			name: "saving again with an empty secret keeps the stored one", path: "/integrations",
			body:       lrsForm("acme-lrs", "Acme LRS (renamed)", endpoint, testKey, ""),
			wantStatus: http.StatusOK, wantSteps: passing,
			wantSaved: &integrationView{ID: "acme-lrs", Label: "Acme LRS (renamed)", Plugin: "lrs", Source: host.SourceSaved,
				Config: map[string]any{"xapi_version": "2.0.0", "endpoint": endpoint, "key": testKey}, SecretsSet: []string{"secret"}},
		},
		{
			name: "a new address needs the secret again", path: "/integrations/test",
			body:       lrsForm("acme-lrs", "Acme LRS", otherEndpoint, testKey, ""),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "config.secret", Message: "enter it again: the address changed"}},
		},
		{
			name: "a new integration may not take an existing label", path: "/integrations/test",
			body:       lrsForm("", "ACME  lrs", endpoint, testKey, testSecret),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "label", Message: "another integration already has this label; edit that one or choose another label"}},
		},
		{
			name: "the label is required", path: "/integrations",
			body:       lrsForm("", " ", endpoint, testKey, testSecret),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "label", Message: "is required"}},
		},
		{
			name: "plugin field errors name the form field", path: "/integrations/test",
			body:       lrsForm("", "Second LRS", "", testKey, testSecret),
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "config.endpoint", Message: "is required"}},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var got answer
			status, raw := call(t, ctx, http.MethodPost, api+st.path, "application/json", st.body, &got)
			if status != st.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, st.wantStatus, raw)
			}
			if strings.Contains(raw, testSecret) || strings.Contains(raw, "not-the-secret") {
				t.Errorf("the answer holds a secret: %s", raw)
			}
			if got.Error.Code != st.wantCode {
				t.Errorf("error code = %q, want %q", got.Error.Code, st.wantCode)
			}
			if diff := cmp.Diff(st.wantFields, got.Error.Fields); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
			rep := &got.reportView
			if got.Report != nil {
				rep = got.Report
			}
			if st.wantSteps != nil {
				if diff := cmp.Diff(st.wantSteps, statuses(rep)); diff != "" {
					t.Errorf("report step statuses mismatch (-want +got):\n%s", diff)
				}
			}
			if st.wantSaved != nil {
				if got.Integration == nil {
					t.Fatalf("no integration in the answer: %s", raw)
				}
				saved := *got.Integration
				saved.Saved = nil
				if diff := cmp.Diff(*st.wantSaved, saved); diff != "" {
					t.Errorf("saved integration mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}

	var list struct {
		Integrations []integrationView `json:"integrations"`
	}
	status, raw := call(t, ctx, http.MethodGet, api+"/integrations", "", nil, &list)
	if status != http.StatusOK {
		t.Fatalf("GET integrations status = %d: %s", status, raw)
	}
	if strings.Contains(raw, testSecret) || strings.Contains(raw, host.Masked) {
		t.Errorf("the listing shows a secret or its mask: %s", raw)
	}
	if len(list.Integrations) != 1 || list.Integrations[0].ID != "acme-lrs" {
		t.Errorf("integrations = %+v, want only acme-lrs", list.Integrations)
	}
	page, _ := call(t, ctx, http.MethodGet, srv.URL+"/orgs/acme", "", nil, nil)
	if page != http.StatusOK {
		t.Errorf("GET /orgs/acme status = %d", page)
	}
	_, html := call(t, ctx, http.MethodGet, srv.URL+"/orgs/acme", "", nil, nil)
	if strings.Contains(html, testSecret) || !strings.Contains(html, "saved (leave empty to keep it)") {
		t.Errorf("the page shows the secret or lacks the saved hint")
	}
	if strings.Contains(logs.String(), testSecret) || strings.Contains(logs.String(), "not-the-secret") {
		t.Errorf("the logs hold a secret:\n%s", logs.String())
	}

	status, _ = call(t, ctx, http.MethodDelete, api+"/integrations/acme-lrs", "", nil, nil)
	if status != http.StatusNoContent {
		t.Errorf("DELETE integration status = %d, want %d", status, http.StatusNoContent)
	}
	status, _ = call(t, ctx, http.MethodDelete, api+"/integrations/acme-lrs", "", nil, nil)
	if status != http.StatusNotFound {
		t.Errorf("second DELETE status = %d, want %d", status, http.StatusNotFound)
	}
}

// TestPanelRequestChecks checks what the API refuses before it acts.
func TestPanelRequestChecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)
	form := lrsForm("", "X", "https://lrs.example.com/xapi/", "k", "s")
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        any
		header      []string
		wantStatus  int
		wantCode    string
	}{
		{name: "form content type", method: "POST", path: "/api/orgs/acme/integrations/test", contentType: "application/x-www-form-urlencoded", body: "label=X", wantStatus: http.StatusUnsupportedMediaType, wantCode: "content_type"},
		{name: "text content type", method: "POST", path: "/api/orgs/acme/integrations", contentType: "text/plain", body: `{"label":"X"}`, wantStatus: http.StatusUnsupportedMediaType, wantCode: "content_type"},
		{name: "cross-site fetch", method: "POST", path: "/api/orgs/acme/integrations/test", contentType: "application/json", body: form, header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: http.StatusForbidden, wantCode: "cross_origin"},
		{name: "foreign origin", method: "DELETE", path: "/api/orgs/acme/integrations/x", header: []string{"Origin", "https://evil.example"}, wantStatus: http.StatusForbidden, wantCode: "cross_origin"},
		{name: "malformed JSON", method: "POST", path: "/api/orgs/acme/integrations/test", contentType: "application/json", body: `{"label":`, wantStatus: http.StatusBadRequest, wantCode: "bad_json"},
		{name: "unknown field", method: "POST", path: "/api/orgs/acme/integrations/test", contentType: "application/json", body: `{"lable":"X"}`, wantStatus: http.StatusBadRequest, wantCode: "bad_json"},
		{name: "two JSON values", method: "POST", path: "/api/orgs/acme/deadletters/purge", contentType: "application/json", body: `{} {}`, wantStatus: http.StatusBadRequest, wantCode: "bad_json"},
		{name: "unknown organization", method: "POST", path: "/api/orgs/nobody/integrations/test", contentType: "application/json", body: form, wantStatus: http.StatusNotFound, wantCode: "org_unknown"},
		{name: "unknown organization status", method: "GET", path: "/api/orgs/nobody/status", wantStatus: http.StatusNotFound, wantCode: "org_unknown"},
		{name: "unknown integration", method: "POST", path: "/api/orgs/acme/integrations/nope/resume", wantStatus: http.StatusNotFound, wantCode: "integration_unknown"},
		{name: "bad dead-letter limit", method: "GET", path: "/api/orgs/acme/deadletters?limit=0", wantStatus: http.StatusBadRequest, wantCode: "bad_query"},
		{name: "events need NDJSON", method: "POST", path: "/events", contentType: "text/plain", body: quizEvent("acme", "e1"), wantStatus: http.StatusUnsupportedMediaType, wantCode: "content_type"},
		{name: "same-origin fetch passes the origin check", method: "GET", path: "/api/orgs", header: []string{"Sec-Fetch-Site", "same-origin"}, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got apiError
			status, raw := call(t, ctx, tt.method, srv.URL+tt.path, tt.contentType, tt.body, &got, tt.header...)
			if status != tt.wantStatus || got.Error.Code != tt.wantCode {
				t.Errorf("%s %s = %d %q, want %d %q; body %s", tt.method, tt.path, status, got.Error.Code, tt.wantStatus, tt.wantCode, raw)
			}
		})
	}
}

// TestPanelEventsAndStatus posts events with bad lines and follows the
// delivery in the status JSON.
func TestPanelEventsAndStatus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lrs, endpoint := testLRS(t)
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {
			OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"},
			Sinks: []host.SinkConfig{{ID: "lrs", Label: "Acme LRS", Plugin: "lrs",
				Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "key": testKey, "secret": testSecret}}},
		},
		"empty": {OrgSettings: host.OrgSettings{BaseIRI: "https://empty.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)

	body := strings.Join([]string{
		quizEvent("acme", "e1"),
		"",
		`{"id":"e2","org":"acme","kind":"quiz.completed",`,
		`{"id":"e3","org":"acme","kind":"quiz.started","user":{"id":"u-1"},"payload":{}}`,
		quizEvent("acme", "e4"),
		`{"id":"e5","org":"acme","kind":"quiz.completed","user":{"id":"u-1"},"payload":{"quiz_id":"qz-5","score":"seven"}}`,
		quizEvent("nobody", "e6"),
		quizEvent("empty", "e7"),
		`[1,2]`,
		"",
	}, "\r\n")
	var got eventsResponse
	status, raw := call(t, ctx, http.MethodPost, srv.URL+"/events", "application/x-ndjson", body, &got)
	if status != http.StatusOK {
		t.Fatalf("POST /events status = %d: %s", status, raw)
	}
	type line struct {
		Line   int
		Status string
		Field  string
	}
	var lines []line
	var statements int
	for _, r := range got.Results {
		lines = append(lines, line{r.Line, r.Status, r.Field})
		if r.Status == statusRefused && r.Error == "" {
			t.Errorf("line %d is refused without a reason", r.Line)
		}
		statements += r.Statements
	}
	want := []line{
		{1, statusRecorded, ""},
		{3, statusRefused, ""},
		{4, statusRefused, "kind"},
		{5, statusRecorded, ""},
		{6, statusRefused, "payload.score"},
		{7, statusRefused, "org"},
		{8, statusRefused, ""},
		{9, statusRefused, ""},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("line results mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(recordStats{Events: 8, Recorded: 2, Refused: 6, Statements: int64(statements)}, got.recordStats); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	if statements == 0 {
		t.Fatal("the recorded events yielded no statements")
	}

	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var st statusView
	status, raw = call(t, ctx, http.MethodGet, srv.URL+"/api/orgs/acme/status", "", nil, &st)
	if status != http.StatusOK || len(st.Integrations) != 1 {
		t.Fatalf("GET status = %d: %s", status, raw)
	}
	s := st.Integrations[0]
	if s.LastSuccess == nil {
		t.Errorf("last_success is not set after a delivery")
	}
	s.LastSuccess = nil
	wantSink := sinkView{ID: "lrs", Label: "Acme LRS", Plugin: "lrs", State: host.StateActive, Delivered: int64(statements)}
	if diff := cmp.Diff(wantSink, s); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	// Refused events of the org itself are counted (not those of unknown
	// orgs or malformed lines).
	if st.RefusedEvents != 2 {
		t.Errorf("refused_events = %d, want 2", st.RefusedEvents)
	}
	if lrs.Len() != statements {
		t.Errorf("the LRS stored %d statements, want %d", lrs.Len(), statements)
	}
}

// TestPanelDeadLetters lists, replays and purges dead letters of an
// integration that rejects every statement.
func TestPanelDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"beacon": {
			OrgSettings: host.OrgSettings{BaseIRI: "https://beacon.learningflow.example"},
			Sinks: []host.SinkConfig{{ID: "picky", Label: "Picky LRS", Plugin: "mock",
				Config: map[string]any{"reject": []any{map[string]any{"contains": "actor", "message": "refused by the test"}}}}},
		},
	}, &logs)
	srv := testPanel(t, h, &logs)
	api := srv.URL + "/api/orgs/beacon"

	var posted eventsResponse
	call(t, ctx, http.MethodPost, srv.URL+"/events", "application/x-ndjson", quizEvent("beacon", "d1")+"\n"+quizEvent("beacon", "d2")+"\n", &posted)
	n := int(posted.Statements)
	if posted.Recorded != 2 || n == 0 {
		t.Fatalf("POST /events = %+v, want 2 events recorded", posted.recordStats)
	}
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	type list struct {
		Total       int              `json:"total"`
		DeadLetters []deadLetterView `json:"dead_letters"`
	}
	var dl list
	call(t, ctx, http.MethodGet, api+"/deadletters", "", nil, &dl)
	if dl.Total != n || len(dl.DeadLetters) != n {
		t.Fatalf("dead letters = %d listed of %d, want %d", len(dl.DeadLetters), dl.Total, n)
	}
	for _, d := range dl.DeadLetters {
		if d.Sink != "picky" || d.Class != host.DeadLetterRejected || !strings.Contains(d.Reason, "refused by the test") {
			t.Errorf("dead letter = %+v, want a rejection by picky with the rule's message", d)
		}
	}
	var st statusView
	call(t, ctx, http.MethodGet, api+"/status", "", nil, &st)
	if got := st.Integrations[0]; got.DeadLettered != int64(n) || got.DeadLetters != n {
		t.Errorf("status dead_lettered = %d, dead_letters = %d, want %d", got.DeadLettered, got.DeadLetters, n)
	}

	var replayed map[string]int
	call(t, ctx, http.MethodPost, api+"/deadletters/replay", "application/json", map[string]any{"sink": "picky"}, &replayed)
	if diff := cmp.Diff(map[string]int{"replayed": n}, replayed); diff != "" {
		t.Errorf("replay mismatch (-want +got):\n%s", diff)
	}
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	call(t, ctx, http.MethodGet, api+"/deadletters?limit=1", "", nil, &dl)
	if dl.Total != n || len(dl.DeadLetters) != 1 {
		t.Fatalf("after the replay: %d listed of %d, want 1 of %d (rejected again)", len(dl.DeadLetters), dl.Total, n)
	}

	var purged map[string]int
	call(t, ctx, http.MethodPost, api+"/deadletters/purge", "application/json", map[string]any{"ids": []string{dl.DeadLetters[0].ID}}, &purged)
	if diff := cmp.Diff(map[string]int{"purged": 1}, purged); diff != "" {
		t.Errorf("purge of one mismatch (-want +got):\n%s", diff)
	}
	call(t, ctx, http.MethodPost, api+"/deadletters/purge", "application/json", map[string]any{}, &purged)
	if diff := cmp.Diff(map[string]int{"purged": n - 1}, purged); diff != "" {
		t.Errorf("purge of the rest mismatch (-want +got):\n%s", diff)
	}
	call(t, ctx, http.MethodGet, api+"/deadletters", "", nil, &dl)
	if dl.Total != 0 {
		t.Errorf("%d dead letters left after purging all", dl.Total)
	}
}

func TestIntegrationID(t *testing.T) {
	tests := []struct{ label, want string }{
		{"Acme LRS", "acme-lrs"},
		{"  Acme -- LRS (prod) ", "acme-lrs-prod"},
		{"Übung 1", "bung-1"},
		{"***", "lrs"},
		{strings.Repeat("a", 60), strings.Repeat("a", 48)},
	}
	for _, tt := range tests {
		if got := integrationID(tt.label, "lrs"); got != tt.want {
			t.Errorf("integrationID(%q) = %q, want %q", tt.label, got, tt.want)
		}
	}
}

// TestPanelSaveWithoutSecretsKey checks the answer when the host may not
// store secrets: a clear error, nothing saved.
func TestPanelSaveWithoutSecretsKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, endpoint := testLRS(t)
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs, func(c *host.Config) { c.Secrets.Key = "" })
	srv := testPanel(t, h, &logs)
	var got apiError
	status, raw := call(t, ctx, http.MethodPost, srv.URL+"/api/orgs/acme/integrations", "application/json",
		lrsForm("", "Acme LRS", endpoint, testKey, testSecret), &got)
	if status != http.StatusServiceUnavailable || got.Error.Code != "secrets_key_missing" {
		t.Errorf("save = %d %q, want %d secrets_key_missing; body %s", status, got.Error.Code, http.StatusServiceUnavailable, raw)
	}
	list, err := h.Integrations("acme")
	if err != nil || len(list) != 0 {
		t.Errorf("integrations after a refused save = %v (%v), want none", list, err)
	}
}

// TestPanelOrgs creates, reads, updates and removes an organization
// through the API, with the answers to invalid settings and cross-origin
// requests on the way.
func TestPanelOrgs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)
	api := srv.URL + "/api/orgs/"

	created := orgSettingsView{BaseIRI: "https://globex.learningflow.example"}
	updated := orgSettingsView{BaseIRI: "https://globex.learningflow.example/", Identity: "mbox", SendNames: true,
		ChatText: "truncate", ChatTruncate: 80, ScormInteractionVerb: "answered", Platform: "Globex Academy"}

	type answer struct {
		orgInfoView
		Error struct {
			Code   string       `json:"code"`
			Fields []fieldError `json:"fields"`
		} `json:"error"`
	}
	steps := []struct {
		name        string
		method      string
		org         string
		contentType string
		body        any
		header      []string
		wantStatus  int
		wantCode    string
		wantFields  []fieldError
		wantOrg     *orgInfoView
	}{
		{
			name: "unknown before it is created", method: http.MethodGet, org: "globex",
			wantStatus: http.StatusNotFound, wantCode: "org_unknown",
		},
		{
			name: "cross-site PUT is refused", method: http.MethodPut, org: "globex", contentType: "application/json",
			body: orgRequest{Settings: &created}, header: []string{"Sec-Fetch-Site", "cross-site"},
			wantStatus: http.StatusForbidden, wantCode: "cross_origin",
		},
		{
			name: "PUT from a foreign origin is refused", method: http.MethodPut, org: "globex", contentType: "application/json",
			body: orgRequest{Settings: &created}, header: []string{"Origin", "https://evil.example"},
			wantStatus: http.StatusForbidden, wantCode: "cross_origin",
		},
		{
			name: "PUT needs JSON", method: http.MethodPut, org: "globex", contentType: "application/x-www-form-urlencoded",
			body: "settings.base_iri=https://globex.learningflow.example", wantStatus: http.StatusUnsupportedMediaType, wantCode: "content_type",
		},
		{
			name: "refused requests created nothing", method: http.MethodGet, org: "globex",
			wantStatus: http.StatusNotFound, wantCode: "org_unknown",
		},
		{
			name: "create", method: http.MethodPut, org: "globex", contentType: "application/json", body: orgRequest{Settings: &created},
			wantStatus: http.StatusOK, wantOrg: &orgInfoView{ID: "globex", Source: host.SourceSaved, Settings: created},
		},
		{
			name: "read", method: http.MethodGet, org: "globex",
			wantStatus: http.StatusOK, wantOrg: &orgInfoView{ID: "globex", Source: host.SourceSaved, Settings: created},
		},
		{
			name: "update every setting", method: http.MethodPut, org: "globex", contentType: "application/json", body: orgRequest{Settings: &updated},
			wantStatus: http.StatusOK, wantOrg: &orgInfoView{ID: "globex", Source: host.SourceSaved, Settings: updated},
		},
		{
			name: "invalid settings name their fields", method: http.MethodPut, org: "globex", contentType: "application/json",
			body:       map[string]any{"settings": map[string]any{"base_iri": "globex", "identity": "phone", "chat_text": "truncate", "scorm_interaction_verb": "did"}},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{
				{Field: "settings.base_iri", Message: "not an absolute http or https IRI with a host"},
				{Field: "settings.identity", Message: `"phone" is not one of account, mbox, mbox_sha1sum`},
				{Field: "settings.chat_truncate", Message: "must be positive with chat_text truncate"},
				{Field: "settings.scorm_interaction_verb", Message: `"did" is not one of responded, answered`},
			},
		},
		{
			name: "base_iri is required", method: http.MethodPut, org: "globex", contentType: "application/json",
			body: map[string]any{"settings": map[string]any{"platform": "x"}}, wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "settings.base_iri", Message: "required"}},
		},
		{
			name: "settings are required", method: http.MethodPut, org: "globex", contentType: "application/json",
			body: map[string]any{}, wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{{Field: "settings", Message: "is required"}},
		},
		{
			name: "unknown setting", method: http.MethodPut, org: "globex", contentType: "application/json",
			body:       map[string]any{"settings": map[string]any{"base_iri": "https://globex.learningflow.example", "colour": "red"}},
			wantStatus: http.StatusBadRequest, wantCode: "bad_json",
		},
		{
			name: "a bad id and bad settings are both named", method: http.MethodPut, org: "-globex", contentType: "application/json",
			body:       map[string]any{"settings": map[string]any{"base_iri": "https://globex.learningflow.example?x=1"}},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid_config",
			wantFields: []fieldError{
				{Field: "id", Message: "organization id must be 1 to 128 letters, digits, '.', '_' or '-'"},
				{Field: "settings.base_iri", Message: "must not have a query or fragment"},
			},
		},
		{
			name: "refused settings left the stored ones alone", method: http.MethodGet, org: "globex",
			wantStatus: http.StatusOK, wantOrg: &orgInfoView{ID: "globex", Source: host.SourceSaved, Settings: updated},
		},
		{
			name: "a configured organization reads as config", method: http.MethodGet, org: "acme",
			wantStatus: http.StatusOK, wantOrg: &orgInfoView{ID: "acme", Source: host.SourceConfig, Settings: orgSettingsView{BaseIRI: "https://acme.learningflow.example"}},
		},
		{
			name: "delete", method: http.MethodDelete, org: "globex", wantStatus: http.StatusNoContent,
		},
		{
			name: "unknown after delete", method: http.MethodGet, org: "globex", wantStatus: http.StatusNotFound, wantCode: "org_unknown",
		},
		{
			name: "delete again", method: http.MethodDelete, org: "globex", wantStatus: http.StatusNotFound, wantCode: "org_unknown",
		},
		{
			name: "cross-origin DELETE is refused", method: http.MethodDelete, org: "acme", header: []string{"Origin", "https://evil.example"},
			wantStatus: http.StatusForbidden, wantCode: "cross_origin",
		},
	}
	listed := func(t *testing.T) []string {
		t.Helper()
		var list struct {
			Orgs []orgView `json:"orgs"`
		}
		if status, raw := call(t, ctx, http.MethodGet, srv.URL+"/api/orgs", "", nil, &list); status != http.StatusOK {
			t.Fatalf("GET /api/orgs = %d: %s", status, raw)
		}
		var ids []string
		for _, o := range list.Orgs {
			ids = append(ids, o.ID)
		}
		return ids
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			var got answer
			status, raw := call(t, ctx, st.method, api+st.org, st.contentType, st.body, &got, st.header...)
			if status != st.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", status, st.wantStatus, raw)
			}
			if got.Error.Code != st.wantCode {
				t.Errorf("error code = %q, want %q", got.Error.Code, st.wantCode)
			}
			if diff := cmp.Diff(st.wantFields, got.Error.Fields); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
			if st.wantOrg != nil {
				if diff := cmp.Diff(*st.wantOrg, got.orgInfoView); diff != "" {
					t.Errorf("organization mismatch (-want +got):\n%s", diff)
				}
			}
		})
		if st.name == "create" {
			t.Run("listed after create", func(t *testing.T) {
				if diff := cmp.Diff([]string{"acme", "globex"}, listed(t)); diff != "" {
					t.Errorf("GET /api/orgs ids mismatch (-want +got):\n%s", diff)
				}
				if page, _ := call(t, ctx, http.MethodGet, srv.URL+"/orgs/globex", "", nil, nil); page != http.StatusOK {
					t.Errorf("GET /orgs/globex = %d, want %d", page, http.StatusOK)
				}
			})
		}
	}
	if diff := cmp.Diff([]string{"acme"}, listed(t)); diff != "" {
		t.Errorf("GET /api/orgs ids after delete mismatch (-want +got):\n%s", diff)
	}
	var posted eventsResponse
	call(t, ctx, http.MethodPost, srv.URL+"/events", "application/x-ndjson", quizEvent("globex", "after-delete"), &posted)
	if len(posted.Results) != 1 || posted.Results[0].Status != statusRefused || posted.Results[0].Field != "org" {
		t.Errorf("event of the removed organization = %+v, want refused at org", posted.Results)
	}
}

// TestPanelWithoutOrganizations: when the last organization is removed, the
// panel offers to add one instead of answering 404.
func TestPanelWithoutOrganizations(t *testing.T) {
	var logs syncBuffer
	h := testHost(t, map[string]host.OrgConfig{
		"acme": {OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"}},
	}, &logs)
	srv := testPanel(t, h, &logs)
	if err := h.RemoveOrg(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="first-org"`) {
		t.Fatalf("GET / without organizations = %d %q, want the add-organization form", resp.StatusCode, body)
	}
	if err := h.PutOrg(context.Background(), "globex", host.OrgSettings{BaseIRI: "https://globex.learningflow.example"}); err != nil {
		t.Fatal(err)
	}
	resp, err = client.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/orgs/globex" {
		t.Errorf("GET / with one organization = %d to %q, want a redirect to /orgs/globex", resp.StatusCode, resp.Header.Get("Location"))
	}
}
