package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/sdk"
)

//go:embed web
var webFS embed.FS

// Limits of request bodies.
const (
	maxAPIBody    = 1 << 20
	maxEventsBody = 64 << 20
)

// panelOptions configure the settings panel.
type panelOptions struct {
	// Logger receives request errors; never secrets. Default: discard.
	Logger *slog.Logger
	// Hint, when set, is shown above the LRS form (the demo uses it to
	// say where its development LRS is; never a secret).
	Hint string
	// Workers is the number of events POST /events records at once.
	Workers int
}

// panel serves the settings panel (server-rendered HTML, a little
// JavaScript) and the JSON API under it. It has no login: it is meant for
// loopback in the demo; LearningFlow puts its own authentication and
// authorization in front of the API.
type panel struct {
	h    *host.Host
	log  *slog.Logger
	opts panelOptions
	page *template.Template
}

// newPanel returns the handler of the panel and its API for h.
func newPanel(h *host.Host, opts panelOptions) http.Handler {
	p := &panel{h: h, log: opts.Logger, opts: opts}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.page = template.Must(template.New("org.html").Funcs(template.FuncMap{
		"age":      fmtAge,
		"when":     fmtTime,
		"badge":    stateBadge,
		"editable": func(in integrationView) bool { return in.Plugin == "lrs" },
	}).ParseFS(webFS, "web/org.html"))

	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static") // the directory is embedded
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /{$}", p.index)
	mux.HandleFunc("GET /orgs/{org}", p.orgPage)

	mux.HandleFunc("GET /api/orgs", p.apiOrgs)
	mux.HandleFunc("GET /api/orgs/{org}", p.apiOrg)
	mux.HandleFunc("PUT /api/orgs/{org}", p.apiPutOrg)
	mux.HandleFunc("DELETE /api/orgs/{org}", p.apiRemoveOrg)
	mux.HandleFunc("GET /api/orgs/{org}/integrations", p.apiIntegrations)
	mux.HandleFunc("POST /api/orgs/{org}/integrations/test", p.apiTest)
	mux.HandleFunc("POST /api/orgs/{org}/integrations", p.apiSave)
	mux.HandleFunc("DELETE /api/orgs/{org}/integrations/{id}", p.apiRemove)
	mux.HandleFunc("POST /api/orgs/{org}/integrations/{id}/resume", p.apiResume)
	mux.HandleFunc("GET /api/orgs/{org}/status", p.apiStatus)
	mux.HandleFunc("GET /api/orgs/{org}/deadletters", p.apiDeadLetters)
	mux.HandleFunc("POST /api/orgs/{org}/deadletters/replay", p.apiReplay)
	mux.HandleFunc("POST /api/orgs/{org}/deadletters/purge", p.apiPurge)
	mux.HandleFunc("POST /events", p.postEvents)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "cross-origin requests are not accepted", nil)
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets headers that keep the panel out of frames and stop
// content sniffing; the page loads only its own script and style.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// --- views: what the API returns; secrets are never part of them ---

// integrationView is an integration as the API shows it: configuration
// without secret values, and the names of the secrets that are set.
type integrationView struct {
	ID         string         `json:"id"`
	Label      string         `json:"label"`
	Plugin     string         `json:"plugin"`
	Source     string         `json:"source"`
	Saved      *time.Time     `json:"saved,omitempty"`
	Config     map[string]any `json:"config"`
	SecretsSet []string       `json:"secrets_set"`
}

func viewIntegration(in host.IntegrationInfo) integrationView {
	v := integrationView{ID: in.ID, Label: in.Label, Plugin: in.Plugin, Source: in.Source, SecretsSet: []string{}}
	if !in.Saved.IsZero() {
		t := in.Saved
		v.Saved = &t
	}
	v.Config = stripSecrets(in.Config, "", &v.SecretsSet)
	sort.Strings(v.SecretsSet)
	return v
}

// stripSecrets copies cfg without secret values (host masks them; the API
// leaves them out altogether) and appends the paths of set secrets to set.
func stripSecrets(cfg map[string]any, prefix string, set *[]string) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if host.IsSecretKey(k) || v == host.Masked {
			if s, ok := v.(string); !ok || s != "" {
				*set = append(*set, prefix+k)
			}
			continue
		}
		if m, ok := v.(map[string]any); ok {
			out[k] = stripSecrets(m, prefix+k+".", set)
			continue
		}
		out[k] = v
	}
	return out
}

// sinkView is the delivery status of one integration.
type sinkView struct {
	ID            string     `json:"id"`
	Label         string     `json:"label"`
	Plugin        string     `json:"plugin"`
	State         string     `json:"state"`
	Queued        int        `json:"queued"`
	QueuedBytes   int64      `json:"queued_bytes"`
	OldestAgeMS   int64      `json:"oldest_age_ms"`
	InFlight      int        `json:"in_flight"`
	Delivered     int64      `json:"delivered"`
	AlreadyStored int64      `json:"already_stored"`
	Retried       int64      `json:"retried"`
	DeadLettered  int64      `json:"dead_lettered"`
	DeadLetters   int        `json:"dead_letters"`
	LastSuccess   *time.Time `json:"last_success,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorTime *time.Time `json:"last_error_time,omitempty"`
}

// statusView is the delivery status of an organization.
type statusView struct {
	Org           string     `json:"org"`
	RefusedEvents int64      `json:"refused_events"`
	Integrations  []sinkView `json:"integrations"`
	Time          time.Time  `json:"time"`
}

func viewStatus(s host.OrgStatus) statusView {
	v := statusView{Org: s.Org, RefusedEvents: s.RefusedEvents, Integrations: make([]sinkView, 0, len(s.Sinks)), Time: time.Now().UTC()}
	for _, x := range s.Sinks {
		sv := sinkView{
			ID: x.ID, Label: x.Label, Plugin: x.Plugin, State: x.State, Queued: x.Queued, QueuedBytes: x.QueuedBytes,
			OldestAgeMS: x.OldestAge.Milliseconds(), InFlight: x.InFlight, Delivered: x.Delivered, AlreadyStored: x.AlreadyStored,
			Retried: x.Retried, DeadLettered: x.DeadLettered, DeadLetters: x.DeadLetters, LastError: x.LastError,
		}
		if !x.LastSuccess.IsZero() {
			t := x.LastSuccess
			sv.LastSuccess = &t
		}
		if !x.LastErrorTime.IsZero() {
			t := x.LastErrorTime
			sv.LastErrorTime = &t
		}
		v.Integrations = append(v.Integrations, sv)
	}
	return v
}

// deadLetterView is a dead letter without its statement (which holds
// personal data).
type deadLetterView struct {
	ID          string    `json:"id"`
	Sink        string    `json:"sink"`
	StatementID string    `json:"statement_id"`
	Class       string    `json:"class"`
	Reason      string    `json:"reason"`
	Time        time.Time `json:"time"`
	Recorded    time.Time `json:"recorded"`
}

// stepView is one step of a connection test report.
type stepView struct {
	Name       string `json:"name"`
	Title      string `json:"title"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	DurationMS int64  `json:"duration_ms"`
}

// reportView is a connection test report.
type reportView struct {
	OK    bool       `json:"ok"`
	Steps []stepView `json:"steps"`
}

func viewReport(r sdk.Report) reportView {
	v := reportView{OK: r.OK(), Steps: make([]stepView, 0, len(r.Steps))}
	for _, s := range r.Steps {
		v.Steps = append(v.Steps, stepView{Name: s.Name, Title: s.Title, Status: s.Status.String(), Message: s.Message, DurationMS: s.Duration.Milliseconds()})
	}
	return v
}

// --- errors ---

// fieldError is a problem with one field of a request.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiError is the body of every error answer.
type apiError struct {
	Error struct {
		Code    string       `json:"code"`
		Message string       `json:"message"`
		Fields  []fieldError `json:"fields,omitempty"`
	} `json:"error"`
	// Report is the connection test report of a failed save.
	Report *reportView `json:"report,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v) // the client went away
}

func writeError(w http.ResponseWriter, status int, code, msg string, fields []fieldError) {
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Fields = code, msg, fields
	writeJSON(w, status, e)
}

// hostError answers an error of the host: unknown organizations and
// integrations are 404, configuration errors 422 with their fields, a
// stopped host 503, anything else 500 (logged, with a generic message).
func (p *panel) hostError(w http.ResponseWriter, r *http.Request, err error) {
	var ce *sdk.ConfigError
	switch {
	case errors.Is(err, host.ErrOrgUnknown):
		writeError(w, http.StatusNotFound, "org_unknown", "unknown organization", nil)
	case errors.Is(err, host.ErrIntegrationUnknown):
		writeError(w, http.StatusNotFound, "integration_unknown", "unknown integration", nil)
	case errors.As(err, &ce):
		fields := make([]fieldError, 0, len(ce.Fields))
		for _, f := range ce.Fields {
			fields = append(fields, fieldError{Field: configField(f.Field), Message: f.Message})
		}
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "the settings are not valid", fields)
	case errors.Is(err, host.ErrPlaintextSecrets):
		writeError(w, http.StatusServiceUnavailable, "secrets_key_missing",
			"this server cannot store secrets: its operator must set secrets.key (LRSBRIDGE_SECRETS__KEY)", nil)
	case errors.Is(err, host.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "closed", "the host is shutting down", nil)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		writeError(w, http.StatusGatewayTimeout, "timeout", "the operation took too long", nil)
	default:
		// The host redacts secrets from its errors.
		p.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "internal", "the operation failed; see the server log", nil)
	}
}

// configField names a plugin configuration key as the API's request body
// does: "config.endpoint". Integration-level fields (id, plugin, label) keep
// their names.
func configField(f string) string {
	switch f {
	case "id", "plugin", "label", "":
		return f
	}
	return "config." + f
}

// decodeJSON reads a JSON request body into v. Only application/json is
// accepted: together with the cross-origin check, this keeps other sites'
// forms from driving the API. It answers the error itself and returns
// false.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "content_type", "send a JSON body with Content-Type: application/json", nil)
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", maxAPIBody), nil)
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_json", "the body is not valid JSON for this request: "+jsonReason(err), nil)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "bad_json", "the body holds more than one JSON value", nil)
		return false
	}
	return true
}

// --- pages ---

func (p *panel) index(w http.ResponseWriter, r *http.Request) {
	orgs := p.h.Orgs()
	if len(orgs) == 0 {
		// Nothing to show yet: offer to add the first organization.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, firstOrgPage)
		return
	}
	http.Redirect(w, r, "/orgs/"+orgs[0], http.StatusSeeOther)
}

// firstOrgPage is the panel when no organization exists: a form that adds
// one through PUT /api/orgs/{org} and opens its page.
const firstOrgPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LearningFlow · organization settings</title>
<link rel="stylesheet" href="/static/panel.css"></head>
<body><main class="first-org">
<h1>No organizations yet</h1>
<p>Add the first organization to set up its LRS.</p>
<form id="first-org">
<label>Organization id <input name="id" required pattern="[A-Za-z0-9][A-Za-z0-9._-]{0,127}"></label>
<label>Base IRI <input name="base_iri" required placeholder="https://acme.learningflow.example"></label>
<button type="submit" class="primary">Add organization</button>
<p id="first-org-error" role="alert"></p>
</form>
<script>
document.getElementById("first-org").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target, id = f.id.value.trim();
  const res = await fetch("/api/orgs/" + encodeURIComponent(id), {method: "PUT",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({settings: {base_iri: f.base_iri.value.trim()}})});
  if (res.ok) { location.href = "/orgs/" + encodeURIComponent(id); return; }
  const body = await res.json().catch(() => ({}));
  const err = body.error || {};
  document.getElementById("first-org-error").textContent =
    [err.message].concat((err.fields || []).map(x => x.field + ": " + x.message)).join(" · ");
});
</script>
</main></body></html>
`

// pageData is what org.html renders.
type pageData struct {
	Org          string
	Orgs         []string
	Hint         string
	Integrations []integrationView
	Status       statusView
	Edit         *integrationView
	DeadLetters  []deadLetterView
	DeadTotal    int
}

func (p *panel) orgPage(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	list, err := p.h.Integrations(org)
	if errors.Is(err, host.ErrOrgUnknown) {
		http.Error(w, "unknown organization", http.StatusNotFound)
		return
	}
	if err != nil {
		p.log.Error("render panel", "org", org, "error", err)
		http.Error(w, "the panel cannot be shown; see the server log", http.StatusInternalServerError)
		return
	}
	d := pageData{Org: org, Orgs: p.h.Orgs(), Hint: p.opts.Hint}
	for _, in := range list {
		d.Integrations = append(d.Integrations, viewIntegration(in))
	}
	for i := range d.Integrations {
		if d.Integrations[i].Plugin == "lrs" {
			d.Edit = &d.Integrations[i]
			break
		}
	}
	if st, err := p.h.Status(org); err == nil {
		d.Status = viewStatus(st)
	}
	dls, err := p.h.DeadLetters(r.Context(), org, host.DeadLetterFilter{})
	if err == nil {
		d.DeadTotal = len(dls)
		d.DeadLetters = viewDeadLetters(dls, 50)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := p.page.Execute(w, d); err != nil {
		p.log.Error("render panel", "org", org, "error", err)
	}
}

// viewDeadLetters returns the newest limit dead letters, newest first.
func viewDeadLetters(dls []host.DeadLetter, limit int) []deadLetterView {
	out := make([]deadLetterView, 0, min(len(dls), limit))
	for i := len(dls) - 1; i >= 0 && len(out) < limit; i-- {
		d := dls[i]
		out = append(out, deadLetterView{ID: d.ID, Sink: d.Sink, StatementID: d.StatementID, Class: d.Class, Reason: d.Reason, Time: d.Time, Recorded: d.Recorded})
	}
	return out
}

func fmtAge(ms int64) string {
	if ms <= 0 {
		return "–"
	}
	return (time.Duration(ms) * time.Millisecond).Round(time.Second).String()
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	return t.Local().Format("15:04:05")
}

// stateBadge is the CSS class of a delivery state.
func stateBadge(state string) string {
	switch state {
	case "active":
		return "ok"
	case "retrying", "breaker_half_open":
		return "warn"
	case "paused_auth", "paused_config", "breaker_open":
		return "bad"
	}
	return "idle"
}

// --- API ---

// orgView is an organization in GET /api/orgs.
type orgView struct {
	ID           string `json:"id"`
	Integrations int    `json:"integrations"`
}

func (p *panel) apiOrgs(w http.ResponseWriter, r *http.Request) {
	out := []orgView{}
	for _, org := range p.h.Orgs() {
		list, err := p.h.Integrations(org)
		if err != nil {
			p.hostError(w, r, err)
			return
		}
		out = append(out, orgView{ID: org, Integrations: len(list)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

// orgSettingsView is an organization's normalization settings as the API
// shows and takes them, named as the configuration keys under orgs.<id>.
// An empty value takes the host's default; base_iri is required.
type orgSettingsView struct {
	BaseIRI              string `json:"base_iri"`
	Identity             string `json:"identity"`
	SendNames            bool   `json:"send_names"`
	ChatText             string `json:"chat_text"`
	ChatTruncate         int    `json:"chat_truncate"`
	ScormInteractionVerb string `json:"scorm_interaction_verb"`
	Platform             string `json:"platform"`
}

// orgInfoView is an organization in GET and PUT /api/orgs/{org}.
type orgInfoView struct {
	ID       string          `json:"id"`
	Source   string          `json:"source"`
	Settings orgSettingsView `json:"settings"`
}

func viewOrg(o host.OrgInfo) orgInfoView {
	s := o.Settings
	return orgInfoView{ID: o.ID, Source: o.Source, Settings: orgSettingsView{
		BaseIRI: s.BaseIRI, Identity: s.Identity, SendNames: s.SendNames, ChatText: s.ChatText,
		ChatTruncate: s.ChatTruncate, ScormInteractionVerb: s.ScormInteractionVerb, Platform: s.Platform,
	}}
}

// orgRequest is the body of PUT /api/orgs/{org}. The settings replace the
// stored ones as a whole: a field left out takes its default.
type orgRequest struct {
	Settings *orgSettingsView `json:"settings"`
}

func (p *panel) apiOrg(w http.ResponseWriter, r *http.Request) {
	o, err := p.h.Org(r.PathValue("org"))
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
}

func (p *panel) apiPutOrg(w http.ResponseWriter, r *http.Request) {
	var req orgRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if req.Settings == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "the settings are not valid", []fieldError{{Field: "settings", Message: "is required"}})
		return
	}
	id, v := r.PathValue("org"), *req.Settings
	settings := host.OrgSettings{
		BaseIRI: v.BaseIRI, Identity: v.Identity, SendNames: v.SendNames, ChatText: v.ChatText,
		ChatTruncate: v.ChatTruncate, ScormInteractionVerb: v.ScormInteractionVerb, Platform: v.Platform,
	}
	err := p.h.PutOrg(r.Context(), id, settings)
	var ce *host.ConfigError
	if errors.As(err, &ce) {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "the settings are not valid", orgFields(id, ce.Problems))
		return
	}
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	o, err := p.h.Org(id)
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
}

func (p *panel) apiRemoveOrg(w http.ResponseWriter, r *http.Request) {
	if err := p.h.RemoveOrg(r.Context(), r.PathValue("org")); err != nil {
		p.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// orgFields turns the problems of PutOrg's configuration error into field
// errors named as in the request: "id" for the organization id of the path
// (key "orgs.<id>"), "settings.base_iri" for a setting (key
// "orgs.<id>.base_iri").
func orgFields(id string, problems []host.ConfigProblem) []fieldError {
	prefix := "orgs." + id
	fields := make([]fieldError, 0, len(problems))
	for _, prob := range problems {
		field := "settings"
		switch {
		case prob.Key == prefix:
			field = "id"
		case strings.HasPrefix(prob.Key, prefix+"."):
			field = "settings." + strings.TrimPrefix(prob.Key, prefix+".")
		}
		fields = append(fields, fieldError{Field: field, Message: prob.Message})
	}
	return fields
}

func (p *panel) apiIntegrations(w http.ResponseWriter, r *http.Request) {
	list, err := p.h.Integrations(r.PathValue("org"))
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	out := make([]integrationView, 0, len(list))
	for _, in := range list {
		out = append(out, viewIntegration(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": out})
}

// integrationRequest is the body of test and save: the LRS Set Up form as
// JSON. An empty secret of an existing integration (same id and plugin)
// keeps the stored one.
type integrationRequest struct {
	ID     string         `json:"id"`
	Label  string         `json:"label"`
	Plugin string         `json:"plugin"`
	Config map[string]any `json:"config"`
}

// candidate checks the request's own fields and returns the integration.
func (req integrationRequest) candidate() (host.Integration, []fieldError) {
	in := host.Integration{ID: strings.TrimSpace(req.ID), Label: strings.TrimSpace(req.Label), Plugin: strings.TrimSpace(req.Plugin), Config: req.Config}
	if in.Plugin == "" {
		in.Plugin = "lrs"
	}
	if in.Config == nil {
		in.Config = map[string]any{}
	}
	var fields []fieldError
	if in.Label == "" {
		fields = append(fields, fieldError{Field: "label", Message: "is required"})
	}
	// Empty values are not settings: a form sends every field.
	for k, v := range in.Config {
		if v == nil || v == "" {
			delete(in.Config, k)
		}
	}
	return in, fields
}

// checkCandidate completes and checks a candidate against the existing
// integrations of org. A new integration (no id) gets an id made from its
// label, which must not be taken. A stored secret is never reused for
// another address: when the candidate replaces an integration, leaves a
// secret empty (to keep the stored one) and changes the endpoint, the
// secret must be entered again, so that whoever edits the form cannot send
// the stored secret to a server of their choosing.
func (p *panel) checkCandidate(org string, in *host.Integration, isNew bool) []fieldError {
	list, err := p.h.Integrations(org)
	if err != nil {
		return nil // the host reports it
	}
	if isNew {
		in.ID = integrationID(in.Label, in.Plugin)
		for _, x := range list {
			if x.ID == in.ID {
				return []fieldError{{Field: "label", Message: "another integration already has this label; edit that one or choose another label"}}
			}
		}
		return nil
	}
	for _, x := range list {
		if x.ID != in.ID || x.Plugin != in.Plugin {
			continue
		}
		if fmt.Sprint(x.Config["endpoint"]) == fmt.Sprint(in.Config["endpoint"]) {
			return nil
		}
		var fields []fieldError
		for k, v := range x.Config {
			if !host.IsSecretKey(k) || v == "" {
				continue
			}
			if _, given := in.Config[k]; !given {
				fields = append(fields, fieldError{Field: "config." + k, Message: "enter it again: the address changed"})
			}
		}
		sort.Slice(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
		return fields
	}
	return nil
}

// integrationID makes the id of a new integration from its label: lower
// case letters and digits, other runs as '-', at most 48 characters; the
// plugin name when nothing is left.
func integrationID(label, plugin string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(label) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	if id := strings.Trim(b.String(), "-"); id != "" {
		return id
	}
	return plugin
}

func (p *panel) apiTest(w http.ResponseWriter, r *http.Request) {
	var req integrationRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	in, fields := req.candidate()
	if len(fields) == 0 {
		fields = p.checkCandidate(r.PathValue("org"), &in, req.ID == "")
	}
	if len(fields) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "the settings are not valid", fields)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	rep, err := p.h.TestIntegration(ctx, r.PathValue("org"), in)
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewReport(rep))
}

// saveResponse is the answer of a successful save.
type saveResponse struct {
	Integration integrationView `json:"integration"`
	Report      reportView      `json:"report"`
}

func (p *panel) apiSave(w http.ResponseWriter, r *http.Request) {
	var req integrationRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	org := r.PathValue("org")
	in, fields := req.candidate()
	if len(fields) == 0 {
		fields = p.checkCandidate(org, &in, req.ID == "")
	}
	if len(fields) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "the settings are not valid", fields)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 60*time.Second)
	defer cancel()
	// SaveIntegration runs the connection test again: the server, not the
	// page, decides that only tested settings are saved.
	rep, err := p.h.SaveIntegration(ctx, org, in, host.SaveOptions{})
	if errors.Is(err, host.ErrTestFailed) {
		rv := viewReport(rep)
		var e apiError
		e.Error.Code, e.Error.Message = "test_failed", "the connection test failed; nothing was saved"
		e.Report = &rv
		writeJSON(w, http.StatusUnprocessableEntity, e)
		return
	}
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	list, err := p.h.Integrations(org)
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	for _, x := range list {
		if x.ID == in.ID {
			writeJSON(w, http.StatusOK, saveResponse{Integration: viewIntegration(x), Report: viewReport(rep)})
			return
		}
	}
	writeJSON(w, http.StatusOK, saveResponse{Report: viewReport(rep)})
}

func (p *panel) apiRemove(w http.ResponseWriter, r *http.Request) {
	if err := p.h.RemoveIntegration(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		p.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *panel) apiResume(w http.ResponseWriter, r *http.Request) {
	if err := p.h.Resume(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		p.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *panel) apiStatus(w http.ResponseWriter, r *http.Request) {
	st, err := p.h.Status(r.PathValue("org"))
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewStatus(st))
}

func (p *panel) apiDeadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "bad_query", "limit must be a whole number from 1 to 10000", []fieldError{{Field: "limit", Message: "must be 1 to 10000"}})
			return
		}
		limit = n
	}
	dls, err := p.h.DeadLetters(r.Context(), r.PathValue("org"), host.DeadLetterFilter{Sink: r.URL.Query().Get("sink")})
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": len(dls), "dead_letters": viewDeadLetters(dls, limit)})
}

// deadLetterRequest selects dead letters to replay or purge; empty fields
// select all.
type deadLetterRequest struct {
	Sink string   `json:"sink"`
	IDs  []string `json:"ids"`
}

func (p *panel) apiReplay(w http.ResponseWriter, r *http.Request) {
	var req deadLetterRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	n, err := p.h.ReplayDeadLetters(r.Context(), r.PathValue("org"), host.DeadLetterFilter{Sink: req.Sink, IDs: req.IDs})
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n})
}

func (p *panel) apiPurge(w http.ResponseWriter, r *http.Request) {
	var req deadLetterRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	n, err := p.h.PurgeDeadLetters(r.Context(), r.PathValue("org"), host.DeadLetterFilter{Sink: req.Sink, IDs: req.IDs})
	if err != nil {
		p.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"purged": n})
}

// eventsResponse is the answer of POST /events.
type eventsResponse struct {
	recordStats
	// Results has one entry per non-empty line, in line order.
	Results []lineResult `json:"results"`
}

// postEvents records an NDJSON body of event envelopes and answers with
// the result of every line. Bad lines are reported with their line number
// and never stop the others.
func (p *panel) postEvents(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-ndjson" && mt != "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "content_type", "send NDJSON with Content-Type: application/x-ndjson", nil)
		return
	}
	var results []lineResult
	body := http.MaxBytesReader(w, r.Body, maxEventsBody)
	st, err := recordNDJSON(r.Context(), p.h, body, recordOptions{
		Workers:  p.opts.Workers,
		OnResult: func(res lineResult) { results = append(results, res) },
	})
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes; lines read before the limit were recorded", maxEventsBody), nil)
		return
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return // the client went away
	case err != nil:
		p.hostError(w, r, err)
		return
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Line < results[j].Line })
	if results == nil {
		results = []lineResult{}
	}
	writeJSON(w, http.StatusOK, eventsResponse{recordStats: st, Results: results})
}
