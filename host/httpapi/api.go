package httpapi

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/host"
)

// Options configure the API handler.
type Options struct {
	// Authorizer decides every request. Required: New fails without one
	// (use AllowAll explicitly for a loopback-only server).
	Authorizer Authorizer
	// Prefix is the path the handler is mounted at, for example
	// "/admin/lrs/api"; routes are served below it. Default "" (the root).
	Prefix string
	// MaxBodyBytes limits JSON request bodies. Default 1 MiB.
	MaxBodyBytes int64
	// MaxEventsBytes limits the body of POST /events. Default 64 MiB.
	MaxEventsBytes int64
	// Workers is the number of events POST /events records at once.
	// Default 8.
	Workers int
	// TestTimeout bounds a connection test (and the test of a save).
	// Default 60s.
	TestTimeout time.Duration
	// Logger receives server-side failures; never secrets. Default:
	// discard.
	Logger *slog.Logger
	// Recorder, when set, records the events of POST /events instead of
	// the host itself (to count or observe them). Default: the host.
	Recorder Recorder
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxEventsBytes = 64 << 20
	DefaultTestTimeout    = 60 * time.Second
)

// ErrNoAuthorizer is returned by New without Options.Authorizer.
var ErrNoAuthorizer = errors.New("httpapi: an Authorizer is required (AllowAll only for a server nobody else can reach)")

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3.1 document of the API (YAML), with paths
// relative to the handler's prefix.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// api serves the routes.
type api struct {
	h    *host.Host
	auth Authorizer
	opts Options
	log  *slog.Logger
}

// New returns the handler of the admin API over h.
func New(h *host.Host, opts Options) (http.Handler, error) {
	if opts.Authorizer == nil {
		return nil, ErrNoAuthorizer
	}
	if opts.Prefix != "" && (!strings.HasPrefix(opts.Prefix, "/") || strings.HasSuffix(opts.Prefix, "/") || strings.ContainsAny(opts.Prefix, "{} ")) {
		return nil, fmt.Errorf("httpapi: prefix %q must start with / and not end with one", opts.Prefix)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxEventsBytes <= 0 {
		opts.MaxEventsBytes = DefaultMaxEventsBytes
	}
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.TestTimeout <= 0 {
		opts.TestTimeout = DefaultTestTimeout
	}
	if opts.Recorder == nil {
		opts.Recorder = h
	}
	a := &api{h: h, auth: opts.Authorizer, opts: opts, log: opts.Logger}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	p := opts.Prefix
	mux.HandleFunc("GET "+p+"/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
	for _, rt := range a.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		h := http.Handler(rt.handle)
		if rt.action != "" {
			h = a.authorized(rt.action, rt.handle)
		}
		mux.Handle(method+" "+p+path, h)
	}
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "There is no such API route; see openapi.yaml.", nil)
	})

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "Requests from other sites are not accepted.", nil)
	}))
	return noStore(cop.Handler(mux)), nil
}

// route is one route of the API. Routes with an action are authorized
// for their {org} before the handler runs; the others authorize by
// themselves (GET /orgs filters, POST /events checks every line).
type route struct {
	pattern string
	action  Action
	handle  http.HandlerFunc
}

func (a *api) routes() []route {
	return []route{
		{"GET /orgs", "", a.orgs},
		{"GET /orgs/{org}", ActionRead, a.org},
		{"PUT /orgs/{org}", ActionWrite, a.putOrg},
		{"DELETE /orgs/{org}", ActionWrite, a.removeOrg},
		{"GET /orgs/{org}/integrations", ActionRead, a.integrations},
		{"POST /orgs/{org}/integrations/test", ActionTest, a.test},
		{"POST /orgs/{org}/integrations", ActionWrite, a.save},
		{"DELETE /orgs/{org}/integrations/{id}", ActionWrite, a.remove},
		{"POST /orgs/{org}/integrations/{id}/resume", ActionWrite, a.resume},
		{"GET /orgs/{org}/status", ActionRead, a.status},
		{"GET /orgs/{org}/deadletters", ActionRead, a.deadLetters},
		{"POST /orgs/{org}/deadletters/replay", ActionReplay, a.replay},
		{"POST /orgs/{org}/deadletters/purge", ActionPurge, a.purge},
		{"POST /events", "", a.events},
	}
}

// noStore keeps answers out of caches and stops content sniffing.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// authorized runs next when the Authorizer allows action on the
// request's {org}; it answers 401 or 403 otherwise, before the host is
// asked anything (so a refusal says nothing about whether the
// organization exists).
func (a *api) authorized(action Action, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.allow(w, r, r.PathValue("org"), action) {
			return
		}
		next(w, r)
	})
}

// allow asks the Authorizer and answers a refusal itself.
func (a *api) allow(w http.ResponseWriter, r *http.Request, org string, action Action) bool {
	err := a.auth.Authorize(r, org, action)
	if err != nil {
		a.log.Info("request refused by the authorizer", "method", r.Method, "path", r.URL.Path, "org", org, "action", string(action))
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnauthenticated):
		writeError(w, http.StatusUnauthorized, "unauthenticated", "Log in first.", nil)
	default:
		writeError(w, http.StatusForbidden, "forbidden", fmt.Sprintf("You may not %s this organization's LRS settings.", actionVerb(action)), nil)
	}
	return false
}

func actionVerb(a Action) string {
	switch a {
	case ActionRead:
		return "see"
	case ActionWrite:
		return "change"
	case ActionTest:
		return "test"
	case ActionReplay:
		return "replay the dead letters of"
	case ActionPurge:
		return "delete the dead letters of"
	case ActionIngest:
		return "send events for"
	}
	return string(a)
}

// --- organizations ---

// orgs lists the organizations the caller may read.
func (a *api) orgs(w http.ResponseWriter, r *http.Request) {
	out := []OrgView{}
	for _, org := range a.h.Orgs() {
		if a.auth.Authorize(r, org, ActionRead) != nil {
			continue
		}
		list, err := a.h.Integrations(org)
		if errors.Is(err, host.ErrOrgUnknown) {
			continue // removed meanwhile
		}
		if err != nil {
			a.hostError(w, r, err)
			return
		}
		out = append(out, OrgView{ID: org, Integrations: len(list)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"orgs": out})
}

func (a *api) org(w http.ResponseWriter, r *http.Request) {
	o, err := a.h.Org(r.PathValue("org"))
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOrg(o))
}

// orgRequest is the body of PUT /orgs/{org}. The settings replace the
// stored ones as a whole: a field left out takes its default.
type orgRequest struct {
	Settings *OrgSettingsView `json:"settings"`
}

func (a *api) putOrg(w http.ResponseWriter, r *http.Request) {
	var req orgRequest
	if !decodeJSON(w, r, a.opts.MaxBodyBytes, &req) {
		return
	}
	if req.Settings == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "The settings are not valid: correct the fields marked.", []FieldError{{Field: "settings", Message: "is required"}})
		return
	}
	id := r.PathValue("org")
	err := a.h.PutOrg(r.Context(), id, req.Settings.settings())
	var ce *host.ConfigError
	if errors.As(err, &ce) {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "The settings are not valid: correct the fields marked.", orgFields(id, ce.Problems))
		return
	}
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	a.org(w, r)
}

func (a *api) removeOrg(w http.ResponseWriter, r *http.Request) {
	if err := a.h.RemoveOrg(r.Context(), r.PathValue("org")); err != nil {
		a.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- integrations ---

func (a *api) integrations(w http.ResponseWriter, r *http.Request) {
	list, err := a.h.Integrations(r.PathValue("org"))
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	out := make([]IntegrationView, 0, len(list))
	for _, in := range list {
		out = append(out, viewIntegration(in))
	}
	writeJSON(w, http.StatusOK, map[string]any{"integrations": out})
}

// IntegrationRequest is the body of test and save: the LRS Set Up form as
// JSON. Without an id it is a new integration, whose id the host makes
// from the label; with one it replaces that integration, and an empty (or
// Masked) secret keeps the saved one while the destinations stay the same.
// A secret left out is not kept: switching the authentication mode sends
// only the new mode's fields.
type IntegrationRequest struct {
	ID     string         `json:"id"`
	Label  string         `json:"label"`
	Plugin string         `json:"plugin"`
	Config map[string]any `json:"config"`
}

// candidate checks the request's own fields and returns the integration;
// a new one gets its id from the host, which refuses a taken one.
func (a *api) candidate(w http.ResponseWriter, r *http.Request) (host.Integration, bool, bool) {
	var req IntegrationRequest
	if !decodeJSON(w, r, a.opts.MaxBodyBytes, &req) {
		return host.Integration{}, false, false
	}
	in := host.Integration{ID: strings.TrimSpace(req.ID), Label: strings.TrimSpace(req.Label), Plugin: strings.TrimSpace(req.Plugin), Config: req.Config}
	if in.Plugin == "" {
		in.Plugin = "lrs"
	}
	if in.Config == nil {
		in.Config = map[string]any{}
	}
	if in.Label == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid_config", "The settings are not valid: correct the fields marked.", []FieldError{{Field: "label", Message: "is required"}})
		return in, false, false
	}
	// Empty values are not settings: a form sends every field. An empty
	// secret is the exception: it asks to keep the saved one (the host
	// keeps a secret only where the request names it).
	for k, v := range in.Config {
		if (v == nil || v == "") && !host.IsSecretKey(k) {
			delete(in.Config, k)
		}
	}
	isNew := in.ID == ""
	if isNew {
		id, err := a.h.NewIntegrationID(r.PathValue("org"), in.Label, in.Plugin)
		if err != nil {
			a.hostError(w, r, err)
			return in, false, false
		}
		in.ID = id
	}
	return in, isNew, true
}

func (a *api) test(w http.ResponseWriter, r *http.Request) {
	in, _, ok := a.candidate(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.TestTimeout)
	defer cancel()
	rep, err := a.h.TestIntegration(ctx, r.PathValue("org"), in)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewReport(rep))
}

// SaveResponse is the answer of a successful save.
type SaveResponse struct {
	Integration IntegrationView `json:"integration"`
	Report      ReportView      `json:"report"`
}

func (a *api) save(w http.ResponseWriter, r *http.Request) {
	in, isNew, ok := a.candidate(w, r)
	if !ok {
		return
	}
	org := r.PathValue("org")
	ctx, cancel := context.WithTimeout(r.Context(), a.opts.TestTimeout)
	defer cancel()
	// SaveIntegration runs the connection test: the server, not the page,
	// decides that only tested settings are saved.
	rep, err := a.h.SaveIntegration(ctx, org, in, host.SaveOptions{CreateOnly: isNew})
	if errors.Is(err, host.ErrTestFailed) {
		rv := viewReport(rep)
		var e ErrorBody
		e.Error.Code, e.Error.Message = "test_failed", "The connection test failed, so nothing was saved: "+failedStep(rv)
		e.Report = &rv
		writeJSON(w, http.StatusUnprocessableEntity, e)
		return
	}
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	list, err := a.h.Integrations(org)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	for _, x := range list {
		if x.ID == in.ID {
			writeJSON(w, http.StatusOK, SaveResponse{Integration: viewIntegration(x), Report: viewReport(rep)})
			return
		}
	}
	a.hostError(w, r, fmt.Errorf("%w: %s/%s removed while it was saved", host.ErrIntegrationUnknown, org, in.ID))
}

// failedStep names the first failed step of a report and its message.
func failedStep(rv ReportView) string {
	for _, s := range rv.Steps {
		if s.Status == "failed" {
			return s.Title + ": " + s.Message
		}
	}
	return "see the report."
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	if err := a.h.RemoveIntegration(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		a.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) resume(w http.ResponseWriter, r *http.Request) {
	if err := a.h.Resume(r.Context(), r.PathValue("org"), r.PathValue("id")); err != nil {
		a.hostError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) status(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	st, err := a.h.Status(org)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	list, err := a.h.Integrations(org)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	auth := make(map[string]string, len(list))
	for _, in := range list {
		if mode, ok := in.Config["auth"].(string); ok {
			auth[in.ID] = mode
		}
	}
	writeJSON(w, http.StatusOK, viewStatus(st, auth, time.Now()))
}

// --- dead letters ---

// DeadLettersResponse is the answer of GET /orgs/{org}/deadletters.
type DeadLettersResponse struct {
	Total       int              `json:"total"`
	DeadLetters []DeadLetterView `json:"dead_letters"`
}

func (a *api) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "bad_query", "limit must be a whole number from 1 to 10000.", []FieldError{{Field: "limit", Message: "must be 1 to 10000"}})
			return
		}
		limit = n
	}
	org := r.PathValue("org")
	dls, err := a.h.DeadLetters(r.Context(), org, host.DeadLetterFilter{Sink: r.URL.Query().Get("sink")})
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	list, err := a.h.Integrations(org)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	exists := make(map[string]bool, len(list))
	for _, in := range list {
		exists[in.ID] = true
	}
	writeJSON(w, http.StatusOK, DeadLettersResponse{Total: len(dls), DeadLetters: viewDeadLetters(dls, limit, exists)})
}

// DeadLetterRequest selects dead letters to replay or purge; empty fields
// select all. Into (replay only) queues them for that integration instead
// of the one they were dead-lettered for: the way to deliver the letters
// of a removed integration.
type DeadLetterRequest struct {
	Sink string   `json:"sink"`
	IDs  []string `json:"ids"`
	Into string   `json:"into,omitempty"`
}

func (a *api) replay(w http.ResponseWriter, r *http.Request) {
	var req DeadLetterRequest
	if !decodeJSON(w, r, a.opts.MaxBodyBytes, &req) {
		return
	}
	org := r.PathValue("org")
	f := host.DeadLetterFilter{Sink: req.Sink, IDs: req.IDs}
	var (
		n   int
		err error
	)
	if req.Into != "" {
		n, err = a.h.ReplayDeadLettersInto(r.Context(), org, f, req.Into)
		if errors.Is(err, host.ErrIntegrationUnknown) {
			writeError(w, http.StatusUnprocessableEntity, "integration_unknown", "There is no integration to replay into with this id: choose one of the organization's integrations.",
				[]FieldError{{Field: "into", Message: "is not an integration of this organization"}})
			return
		}
	} else {
		n, err = a.h.ReplayDeadLetters(r.Context(), org, f)
	}
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	left, err := a.h.DeadLetters(r.Context(), org, f)
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": n, "left": len(left)})
}

func (a *api) purge(w http.ResponseWriter, r *http.Request) {
	var req DeadLetterRequest
	if !decodeJSON(w, r, a.opts.MaxBodyBytes, &req) {
		return
	}
	if req.Into != "" {
		writeError(w, http.StatusBadRequest, "bad_json", "into is for replay only.", []FieldError{{Field: "into", Message: "is for replay only"}})
		return
	}
	n, err := a.h.PurgeDeadLetters(r.Context(), r.PathValue("org"), host.DeadLetterFilter{Sink: req.Sink, IDs: req.IDs})
	if err != nil {
		a.hostError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"purged": n})
}

// --- events ---

// EventsResponse is the answer of POST /events.
type EventsResponse struct {
	RecordStats
	// Results has one entry per non-empty line, in line order.
	Results []LineResult `json:"results"`
}

// events records an NDJSON body of event envelopes and answers with the
// result of every line. Each line is authorized for its own organization;
// bad lines are reported with their line number and code and never stop
// the others.
func (a *api) events(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-ndjson" {
		writeError(w, http.StatusUnsupportedMediaType, "content_type", "Send NDJSON with Content-Type: application/x-ndjson.", nil)
		return
	}
	var results []LineResult
	body := http.MaxBytesReader(w, r.Body, a.opts.MaxEventsBytes)
	st, err := Record(r.Context(), a.opts.Recorder, body, RecordOptions{
		Workers:  a.opts.Workers,
		Allow:    func(org string) error { return a.auth.Authorize(r, org, ActionIngest) },
		OnResult: func(res LineResult) { results = append(results, res) },
	})
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("The body is larger than %d bytes; lines read before the limit were recorded.", a.opts.MaxEventsBytes), nil)
		return
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return // the client went away
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_body", "The body could not be read to its end; lines read before were recorded.", nil)
		return
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Line < results[j].Line })
	if results == nil {
		results = []LineResult{}
	}
	writeJSON(w, http.StatusOK, EventsResponse{RecordStats: st, Results: results})
}
