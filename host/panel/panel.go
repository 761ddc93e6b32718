package panel

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

//go:embed web
var webFS embed.FS

// Options configure the panel.
type Options struct {
	// Authorizer decides every request of the page and of its API.
	// Required; an organization is shown to a caller it allows
	// httpapi.ActionRead.
	Authorizer httpapi.Authorizer
	// Prefix is the path the handler is mounted at, for example
	// "/admin/lrs". Default "" (the root).
	Prefix string
	// Notice, when set, is shown at the top of every page (the demo says
	// that it has no login).
	Notice string
	// Hint, when set, is shown above the LRS form (never a secret).
	Hint string
	// API configures the API below the page; its Authorizer and Prefix
	// are set by the panel.
	API httpapi.Options
	// Logger receives failures; never secrets. Default: discard.
	Logger *slog.Logger
}

// panel serves the pages.
type panel struct {
	h    *host.Host
	opts Options
	log  *slog.Logger
	page *template.Template
	new  *template.Template
}

// New returns the handler of the panel and its API over h.
func New(h *host.Host, opts Options) (http.Handler, error) {
	if opts.Authorizer == nil {
		return nil, httpapi.ErrNoAuthorizer
	}
	apiOpts := opts.API
	apiOpts.Authorizer, apiOpts.Prefix = opts.Authorizer, opts.Prefix+"/api"
	if apiOpts.Logger == nil {
		apiOpts.Logger = opts.Logger
	}
	api, err := httpapi.New(h, apiOpts)
	if err != nil {
		return nil, err
	}
	p := &panel{h: h, opts: opts, log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.page = template.Must(template.New("org.html").ParseFS(webFS, "web/org.html"))
	p.new = template.Must(template.New("first.html").ParseFS(webFS, "web/first.html"))

	mux := http.NewServeMux()
	static, _ := fs.Sub(webFS, "web/static") // embedded
	pre := opts.Prefix
	mux.Handle("GET "+pre+"/static/", http.StripPrefix(pre+"/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET "+pre+"/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, pre+"/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET "+pre+"/{$}", p.index)
	mux.HandleFunc("GET "+pre+"/orgs/{org}", p.orgPage)
	mux.Handle(pre+"/api/", api)
	return securityHeaders(mux), nil
}

// securityHeaders keep the page out of frames, stop content sniffing and
// let the page load only its own script and style.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// readable lists the organizations the caller may read.
func (p *panel) readable(r *http.Request) []string {
	var out []string
	for _, org := range p.h.Orgs() {
		if p.opts.Authorizer.Authorize(r, org, httpapi.ActionRead) == nil {
			out = append(out, org)
		}
	}
	return out
}

// common is what every page shows.
type common struct {
	Base   string // the panel's prefix
	API    string // the API's prefix
	Notice string
}

func (p *panel) common() common {
	return common{Base: p.opts.Prefix, API: p.opts.Prefix + "/api", Notice: p.opts.Notice}
}

func (p *panel) index(w http.ResponseWriter, r *http.Request) {
	if orgs := p.readable(r); len(orgs) > 0 {
		http.Redirect(w, r, p.opts.Prefix+"/orgs/"+orgs[0], http.StatusSeeOther)
		return
	}
	if len(p.h.Orgs()) > 0 {
		http.Error(w, "You may not see the LRS settings of any organization. Log in as an organization's admin.", http.StatusForbidden)
		return
	}
	// Nothing to show: offer to add an organization (the API decides
	// whether the caller may).
	p.render(w, p.new, struct{ common }{p.common()})
}

// pageData is what org.html renders.
type pageData struct {
	common
	Org  string
	Orgs []string
	Hint string
	// Edit is the LRS integration the form starts with, if any.
	Edit *formValues
}

// formValues are the LRS form's values of a saved integration, without
// secrets; Saved names the secrets that are set.
type formValues struct {
	ID, Label, Version, Endpoint, Auth string
	Config                             map[string]any
	Saved                              map[string]bool
}

// Value returns a non-secret setting as text; a list (scopes) as its
// items separated by spaces.
func (f *formValues) Value(key string) string {
	switch v := f.Config[key].(type) {
	case nil:
		return ""
	case []any:
		items := make([]string, len(v))
		for i, x := range v {
			items[i] = fmt.Sprint(x)
		}
		return strings.Join(items, " ")
	case []string:
		return strings.Join(v, " ")
	default:
		return fmt.Sprint(v)
	}
}

func (p *panel) orgPage(w http.ResponseWriter, r *http.Request) {
	org := r.PathValue("org")
	if err := p.opts.Authorizer.Authorize(r, org, httpapi.ActionRead); err != nil {
		code := http.StatusForbidden
		if errors.Is(err, httpapi.ErrUnauthenticated) {
			code = http.StatusUnauthorized
		}
		http.Error(w, "You may not see this organization's LRS settings.", code)
		return
	}
	list, err := p.h.Integrations(org)
	if errors.Is(err, host.ErrOrgUnknown) {
		http.Error(w, "This organization does not exist.", http.StatusNotFound)
		return
	}
	if err != nil {
		p.log.Error("render panel", "org", org, "error", err)
		http.Error(w, "The page cannot be shown; the server log has the details.", http.StatusInternalServerError)
		return
	}
	d := pageData{common: p.common(), Org: org, Orgs: p.readable(r), Hint: p.opts.Hint}
	for _, in := range list {
		if in.Plugin == "lrs" {
			d.Edit = editValues(in)
			break
		}
	}
	p.render(w, p.page, d)
}

func editValues(in host.IntegrationInfo) *formValues {
	f := &formValues{ID: in.ID, Label: in.Label, Config: map[string]any{}, Saved: map[string]bool{}}
	for k, v := range in.Config {
		if host.IsSecretKey(k) {
			f.Saved[k] = v == host.Masked
			continue
		}
		f.Config[k] = v
	}
	f.Version, f.Endpoint, f.Auth = f.Value("xapi_version"), f.Value("endpoint"), f.Value("auth")
	if f.Auth == "" {
		f.Auth = "basic"
	}
	return f
}

func (p *panel) render(w http.ResponseWriter, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		p.log.Error("render panel", "error", err)
		http.Error(w, "The page cannot be shown; the server log has the details.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
