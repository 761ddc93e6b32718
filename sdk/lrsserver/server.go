package lrsserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Defaults of Options.
const (
	// DefaultPageSize is the most statements one GET returns when
	// Options.PageSize is zero.
	DefaultPageSize = 100
	// DefaultMaxBodyBytes bounds request bodies when Options.MaxBodyBytes
	// is zero.
	DefaultMaxBodyBytes = 16 << 20
)

// DefaultVersions are the versions the about resource lists when
// Options.Versions is empty.
var DefaultVersions = []string{"1.0.3", "2.0.0"}

// Access says what a principal may do.
type Access int

// The access levels.
const (
	// ReadWrite may read and write (the zero value).
	ReadWrite Access = iota
	// ReadOnly may read; writes get 403.
	ReadOnly
	// WriteOnly may write; reads get 403.
	WriteOnly
)

// Principal is who a request acts for, as Options.Authenticate finds it.
type Principal struct {
	// Name names the principal in the authority of the statements it
	// stores (an account under Options.AuthorityHomePage).
	Name string
	// Access is what it may do.
	Access Access
	// Namespace is the store partition it reads and writes.
	Namespace string
	// Learner, when set, restricts the principal to one learner: statement
	// reads see only statements whose actor is this agent, and state and
	// agent profile requests must name it (403 otherwise). Activity
	// profiles are then read-only.
	Learner *xapi.Actor
	// Registration, when set, restricts statement reads to statements of
	// this registration and state requests to it (403 otherwise).
	Registration string
	// NoVoiding refuses voiding statements with 403.
	NoVoiding bool
}

// Errors Authenticate returns.
var (
	// ErrUnauthorized: no credentials, unknown or expired ones (401).
	ErrUnauthorized = errors.New("authentication required")
	// ErrForbidden: the credentials may not do this (403).
	ErrForbidden = errors.New("forbidden")
)

// DocumentRequest is a document request as Options.AdmitDocument sees
// it.
type DocumentRequest struct {
	// Method is the request's method (the alternate request syntax's
	// method parameter when it uses one).
	Method string
	// Resource is ResState, ResActivityProfile or ResAgentProfile.
	Resource string
	// Params are the request's parameters (from the query, or the form of
	// the alternate request syntax), unchecked.
	Params url.Values
	// ContentType is the Content-Type of a write's body.
	ContentType string
	// Body is the body of a PUT or POST.
	Body []byte
}

// refusal makes err, returned by a hook, an error with a status: 403
// unless it carries one.
func refusal(err error) error {
	var se *StatusError
	if errors.As(err, &se) {
		return err
	}
	return &StatusError{Status: http.StatusForbidden, Err: err}
}

// StatusError carries the HTTP status an error is answered with. Recorder
// errors may wrap one.
type StatusError struct {
	// Status is the HTTP status.
	Status int
	// Err is the problem; its message is sent to the client.
	Err error
}

// Error returns the message of e.
func (e *StatusError) Error() string { return e.Err.Error() }

// Unwrap returns e.Err.
func (e *StatusError) Unwrap() error { return e.Err }

func statusErr(status int, format string, args ...any) error {
	return &StatusError{Status: status, Err: fmt.Errorf(format, args...)}
}

// Recorder is told about the statements of an accepted write before they
// are stored, and may replace them (normalize them). It is called once per
// request with the new statements (resends of stored ones left out), each
// with its id. When it returns an error nothing is stored and the client gets
// the error's StatusError status (503 for other errors). It is called
// concurrently.
type Recorder interface {
	Record(ctx context.Context, p *Principal, statements []*xapi.Statement) ([]*xapi.Statement, error)
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, p *Principal, statements []*xapi.Statement) ([]*xapi.Statement, error)

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, p *Principal, sts []*xapi.Statement) ([]*xapi.Statement, error) {
	return f(ctx, p, sts)
}

// ResendPolicy chooses the answer to a statement whose id is already stored
// with identical content.
type ResendPolicy int

// The resend policies.
const (
	// ResendAccept accepts the identical statement without storing it
	// again (the zero value).
	ResendAccept ResendPolicy = iota
	// ResendConflict answers 409 to any statement whose id is stored.
	ResendConflict
)

// Options configure a Server. The zero value serves an LRS without
// authentication for xAPI 1.0.3 and 2.0.0 at "/".
type Options struct {
	// BasePath is the path of the xAPI endpoint; "/" when empty. It ends
	// in "/" (one is added).
	BasePath string
	// Versions are the versions supported and listed by about;
	// DefaultVersions when empty. "1.0.3" admits 1.0, 1.0.0 to 1.0.3.
	Versions []string
	// Authenticate finds the principal of a request, or returns an error
	// wrapping ErrUnauthorized (401) or ErrForbidden (403). Nil lets every
	// request in as a ReadWrite principal of namespace "".
	Authenticate func(r *http.Request) (*Principal, error)
	// Recorder, when set, sees new statements before they are stored.
	Recorder Recorder
	// Admit, when set, is asked about every statement of a write as the
	// client sent it (raw, its JSON), before the LRS completes it: its ID
	// is empty when the client sent none (and no statementId parameter),
	// its Timestamp zero when it had none. An error refuses the whole write before
	// anything is stored or recorded, with the error's StatusError status
	// (403 for other errors). It is for rules beyond xAPI's, such as a
	// profile's (cmi5 requires ids and timestamps from the content).
	Admit func(p *Principal, st *xapi.Statement, raw []byte) error
	// AdmitDocument, when set, is asked about every state, activity
	// profile and agent profile request before it is answered (after
	// authentication, before the parameters are checked), with the body
	// of a write. An error refuses the request with the error's
	// StatusError status (403 for other errors). Like Admit, it is for a
	// profile's rules (cmi5 protects LMS.LaunchData and checks
	// cmi5LearnerPreferences).
	AdmitDocument func(p *Principal, r DocumentRequest) error
	// AuthorityHomePage is the homePage of the authority account put on
	// stored statements; "https://lrs.invalid/" when empty.
	AuthorityHomePage string
	// MaxBodyBytes answers 413 to larger bodies; DefaultMaxBodyBytes when
	// zero, no limit when negative.
	MaxBodyBytes int64
	// MaxStatements answers 413 to a POST with more statements; no limit
	// when zero.
	MaxStatements int
	// Resend chooses the answer to an identical resend.
	Resend ResendPolicy
	// Validate checks one statement for a version; nil uses xapi.Check.
	Validate func(statement []byte, v xapi.Version) error
	// PageSize is the most statements one GET returns; DefaultPageSize
	// when zero.
	PageSize int
	// AllowOrigins are the origins browsers may call from (CORS); "*"
	// allows any. Empty: no CORS headers.
	AllowOrigins []string
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// Server serves the LRS side of xAPI over a Store. It is an http.Handler
// and is safe for concurrent use.
type Server struct {
	opts     Options
	store    Store
	base     string
	versions []string
	flight   inflight
}

var _ http.Handler = (*Server)(nil)

// New returns a Server over store.
func New(store Store, opts Options) *Server {
	s := &Server{opts: opts, store: store}
	s.base = opts.BasePath
	if s.base == "" {
		s.base = "/"
	}
	if !strings.HasPrefix(s.base, "/") {
		s.base = "/" + s.base
	}
	if !strings.HasSuffix(s.base, "/") {
		s.base += "/"
	}
	s.versions = append([]string(nil), opts.Versions...)
	if len(s.versions) == 0 {
		s.versions = append([]string(nil), DefaultVersions...)
	}
	if s.opts.PageSize <= 0 {
		s.opts.PageSize = DefaultPageSize
	}
	if s.opts.MaxBodyBytes == 0 {
		s.opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.AuthorityHomePage == "" {
		s.opts.AuthorityHomePage = "https://lrs.invalid/"
	}
	if s.opts.Validate == nil {
		s.opts.Validate = func(b []byte, v xapi.Version) error {
			_, probs := xapi.Check(b, v)
			return probs.Err()
		}
	}
	return s
}

// BasePath returns the path of the endpoint, ending in "/".
func (s *Server) BasePath() string { return s.base }

// Resource names, as Resource returns them.
const (
	ResAbout           = "about"
	ResStatements      = "statements"
	ResState           = "activities/state"
	ResActivityProfile = "activities/profile"
	ResActivities      = "activities"
	ResAgentProfile    = "agents/profile"
	ResAgents          = "agents"
)

// allowedMethods are the methods of each resource, as an Allow header.
var allowedMethods = map[string]string{
	ResAbout:           "GET, HEAD",
	ResStatements:      "GET, HEAD, PUT, POST",
	ResState:           "GET, HEAD, PUT, POST, DELETE",
	ResActivityProfile: "GET, HEAD, PUT, POST, DELETE",
	ResAgentProfile:    "GET, HEAD, PUT, POST, DELETE",
	ResActivities:      "GET, HEAD",
	ResAgents:          "GET, HEAD",
}

var resources = []string{ResAbout, ResStatements, ResState, ResActivityProfile, ResActivities, ResAgentProfile, ResAgents}

// Resource returns the xAPI resource a path names under base ("" for
// none). Repeated and trailing slashes are tolerated, so an endpoint
// written with a trailing slash still works for clients that append
// "/statements".
func Resource(base, path string) string {
	rest, ok := strings.CutPrefix(path, base)
	if !ok {
		if path+"/" != base {
			return ""
		}
		rest = ""
	}
	rest = strings.Trim(rest, "/")
	for strings.Contains(rest, "//") {
		rest = strings.ReplaceAll(rest, "//", "/")
	}
	for _, r := range resources {
		if rest == r {
			return r
		}
	}
	return ""
}

// request is one xAPI request being answered.
type request struct {
	w        http.ResponseWriter
	r        *http.Request
	resource string
	method   string
	header   http.Header
	query    url.Values
	body     io.Reader
	version  xapi.Version
	p        *Principal
}

// ServeHTTP answers one xAPI request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	s.cors(w, r)
	h.Set("X-Experience-API-Version", s.versions[len(s.versions)-1])
	h.Set("X-Experience-API-Consistent-Through", xapi.FormatTimestamp(s.flight.through(s.opts.Now())))
	res := Resource(s.base, r.URL.Path)
	if res == "" {
		writeError(w, http.StatusNotFound, "no xAPI resource at "+r.URL.Path+"; resources live under "+s.base)
		return
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := &request{w: w, r: r, resource: res, method: r.Method, header: r.Header, body: r.Body}
	if err := s.prepare(q); err != nil {
		s.fail(w, err)
		return
	}
	if allow := allowedMethods[res]; !strings.Contains(", "+allow+",", ", "+q.method+",") {
		h.Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s takes %s, not %s", res, allow, q.method))
		return
	}
	if res == ResAbout {
		s.about(q)
		return
	}
	v, err := s.version(q.header.Get("X-Experience-API-Version"))
	if err != nil {
		s.fail(w, err)
		return
	}
	q.version = v
	if v == xapi.V103 {
		h.Set("X-Experience-API-Version", "1.0.3")
	} else {
		h.Set("X-Experience-API-Version", string(xapi.V200))
	}
	p, err := s.authenticate(q)
	if err != nil {
		s.fail(w, err)
		return
	}
	q.p = p
	write := q.method != http.MethodGet && q.method != http.MethodHead
	if write && p.Access == ReadOnly {
		s.fail(w, statusErr(http.StatusForbidden, "this credential may only read"))
		return
	}
	if !write && p.Access == WriteOnly {
		s.fail(w, statusErr(http.StatusForbidden, "this credential may only write"))
		return
	}
	switch res {
	case ResStatements:
		err = s.statements(q)
	case ResState, ResActivityProfile, ResAgentProfile:
		err = s.documents(q)
	case ResActivities:
		err = s.activities(q)
	case ResAgents:
		err = s.agents(q)
	}
	if err != nil {
		s.fail(w, err)
	}
}

// cors adds the CORS headers for an allowed Origin.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	CORS(w, r, s.opts.AllowOrigins)
}

// CORS adds the CORS headers of an xAPI endpoint to the answer of r when
// its Origin is one of origins ("*" allows any).
func CORS(w http.ResponseWriter, r *http.Request, origins []string) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(origins) == 0 {
		return
	}
	allowed := false
	for _, o := range origins {
		if o == "*" || strings.EqualFold(o, origin) {
			allowed = true
			break
		}
	}
	if !allowed {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, Accept-Language")
	h.Set("Access-Control-Expose-Headers", "ETag, Last-Modified, Content-Type, X-Experience-API-Version, X-Experience-API-Consistent-Through")
	h.Set("Access-Control-Max-Age", "600")
}

// Headers the alternate request syntax carries as form fields.
var formHeaders = []string{"Authorization", "X-Experience-API-Version", "Content-Type", "Content-Length", "If-Match", "If-None-Match"}

// prepare reads the query and, for the alternate request syntax (POST with
// a method parameter), the method, headers, parameters and content from
// the form body.
func (s *Server) prepare(q *request) error {
	vals, err := url.ParseQuery(q.r.URL.RawQuery)
	if err != nil {
		return statusErr(http.StatusBadRequest, "the query string is malformed: %v", err)
	}
	q.query = vals
	if _, alt := vals["method"]; !alt {
		return nil
	}
	if q.r.Method != http.MethodPost {
		return statusErr(http.StatusBadRequest, "the method parameter (alternate request syntax) needs a POST request")
	}
	if len(vals) != 1 {
		return statusErr(http.StatusBadRequest, "with the method parameter (alternate request syntax) every other parameter belongs in the form body")
	}
	m := strings.ToUpper(vals.Get("method"))
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPost, http.MethodDelete:
	default:
		return statusErr(http.StatusBadRequest, "method parameter %q is not GET, HEAD, PUT, POST or DELETE", vals.Get("method"))
	}
	ct := q.r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		return statusErr(http.StatusBadRequest, "the alternate request syntax needs Content-Type application/x-www-form-urlencoded, got %q", ct)
	}
	body, err := s.readAll(q.w, q.r.Body)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return statusErr(http.StatusBadRequest, "the form body is malformed: %v", err)
	}
	q.method = m
	q.header = q.r.Header.Clone()
	for _, name := range formHeaders {
		for k, vs := range form {
			if !strings.EqualFold(k, name) {
				continue
			}
			delete(form, k)
			if v := vs[0]; name == "X-Experience-API-Version" && strings.HasPrefix(v, "2.") {
				return statusErr(http.StatusBadRequest, "the alternate request syntax (method parameter) exists in xAPI 1.0.x only, not in %s; send the request itself", v)
			}
			// A version header sent as a real header wins over the form
			// field; every other form field replaces its header.
			if name != "X-Experience-API-Version" || q.header.Get(name) == "" {
				q.header.Set(name, vs[0])
			}
		}
	}
	if v := q.r.Header.Get("X-Experience-API-Version"); strings.HasPrefix(v, "2.") {
		return statusErr(http.StatusBadRequest, "the alternate request syntax (method parameter) exists in xAPI 1.0.x only, not in %s; send the request itself", v)
	}
	if _, ok := form["content"]; !ok && (m == http.MethodPut || m == http.MethodPost) {
		return statusErr(http.StatusBadRequest, "the alternate request syntax carries the body of a %s in the content form field, which is missing", m)
	}
	content := form.Get("content")
	delete(form, "content")
	if q.header.Get("Content-Type") == "application/x-www-form-urlencoded" || q.header.Get("Content-Type") == "" {
		q.header.Set("Content-Type", "application/json")
	}
	q.query = form
	q.body = strings.NewReader(content)
	return nil
}

// readAll reads a body within MaxBodyBytes.
func (s *Server) readAll(w http.ResponseWriter, body io.Reader) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	limit := s.opts.MaxBodyBytes
	if limit > 0 {
		body = io.LimitReader(body, limit+1)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, statusErr(http.StatusBadRequest, "cannot read the request body: %v", err)
	}
	if limit > 0 && int64(len(b)) > limit {
		return nil, statusErr(http.StatusRequestEntityTooLarge, "the request body is larger than %d bytes", limit)
	}
	return b, nil
}

// version maps a version header to the version of the request.
func (s *Server) version(h string) (xapi.Version, error) {
	if h == "" {
		return "", statusErr(http.StatusBadRequest, "missing X-Experience-API-Version header; send 1.0.3 or 2.0.0")
	}
	for _, v := range s.versions {
		switch {
		case v == string(xapi.V200) && (h == "2.0" || isPatch(h, "2.0.")):
			return xapi.V200, nil
		case strings.HasPrefix(v, "1.0.") && (h == "1.0" || isPatch10(h)):
			return xapi.V103, nil
		}
	}
	return "", statusErr(http.StatusBadRequest, "unsupported X-Experience-API-Version %q; supported: %s", h, strings.Join(s.versions, ", "))
}

// isPatch10 reports whether h is 1.0.N.
func isPatch10(h string) bool { return isPatch(h, "1.0.") }

// isPatch reports whether h is prefix followed by a patch number.
func isPatch(h, prefix string) bool {
	rest, ok := strings.CutPrefix(h, prefix)
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.ParseUint(rest, 10, 16)
	return err == nil
}

func (s *Server) authenticate(q *request) (*Principal, error) {
	if s.opts.Authenticate == nil {
		return &Principal{Name: "anonymous"}, nil
	}
	r := q.r
	if q.header.Get("Authorization") != r.Header.Get("Authorization") {
		r = r.Clone(r.Context())
		r.Header = q.header
	}
	p, err := s.opts.Authenticate(r)
	switch {
	case errors.Is(err, ErrForbidden):
		return nil, &StatusError{Status: http.StatusForbidden, Err: err}
	case err != nil:
		q.w.Header().Set("WWW-Authenticate", `Basic realm="xAPI"`)
		return nil, &StatusError{Status: http.StatusUnauthorized, Err: err}
	case p == nil:
		return nil, statusErr(http.StatusUnauthorized, "authentication required")
	}
	return p, nil
}

func (s *Server) about(q *request) {
	if q.method != http.MethodGet && q.method != http.MethodHead {
		q.w.Header().Set("Allow", "GET, HEAD")
		writeError(q.w, http.StatusMethodNotAllowed, "about takes GET or HEAD")
		return
	}
	if len(q.query) > 0 {
		writeError(q.w, http.StatusBadRequest, "about takes no parameters")
		return
	}
	writeJSON(q.w, q.method, http.StatusOK, map[string]any{"version": s.aboutVersions(q)})
}

// aboutVersions lists the supported versions. A request that names a
// 1.0.x version gets the 1.0.x versions only, each patch spelled out (1.0.0
// to 1.0.3): a 1.0.x client reads any other value as an error.
func (s *Server) aboutVersions(q *request) []string {
	h := q.header.Get("X-Experience-API-Version")
	if h != "1.0" && !isPatch10(h) {
		return s.versions
	}
	for _, v := range s.versions {
		if strings.HasPrefix(v, "1.0.") {
			q.w.Header().Set("X-Experience-API-Version", "1.0.3")
			return []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"}
		}
	}
	return s.versions
}

// fail answers an error.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var se *StatusError
	if errors.As(err, &se) {
		writeError(w, se.Status, se.Err.Error())
		return
	}
	// Other errors come from the store or the recorder: their text may
	// name files or hosts, so the client gets a plain message.
	writeError(w, http.StatusServiceUnavailable, "the LRS cannot handle the request now; try again later")
}
