// Package lrstest provides LRS, an in-memory Learning Record Store for
// tests: the conformant LRS of package sdk/lrsserver (every xAPI 1.0.3 and
// 2.0.0 resource: about, statements with voiding, filters, paging and
// attachments, state, activity and agent profiles, activities, agents) over
// a lrsserver.MemoryStore, with HTTP Basic credentials and knobs to inject
// faults (scripted status codes with Retry-After, latency) and a log of the
// requests answered. It is an http.Handler: serve it with net/http/httptest
// in tests, or with an http.Server in a development LRS.
//
// # Behaviour
//
// See package sdk/lrsserver for the xAPI behaviour. With Credentials
// configured, requests other than about need HTTP Basic credentials (401
// otherwise); a read-only credential gets 403 on writes and a write-only one
// 403 on reads. Options.MaxBodyBytes and Options.MaxStatements answer 413.
// Options.Resend chooses between accepting an identical resend and a 409:
// the specification lets an LRS do either. Faults queued with Fail replace
// the answers of matching requests (Fault.Resource is a resource name such
// as "statements" or "activities/state").
//
// LRS is safe for concurrent use.
package lrstest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Defaults of Options.
const (
	// DefaultBasePath is the path of the xAPI endpoint when
	// Options.BasePath is empty.
	DefaultBasePath = "/xapi/"
	// DefaultPageSize is the most statements one GET returns when
	// Options.PageSize is zero.
	DefaultPageSize = 100
	// MaxRequestLog is how many requests Requests remembers; older ones are
	// dropped.
	MaxRequestLog = 10000
	// latencyBodyLimit bounds the body buffered before a latency delay.
	latencyBodyLimit = 64 << 20
)

// DefaultVersions are the versions the about resource lists when
// Options.Versions is empty.
var DefaultVersions = []string{"1.0.3", "2.0.0"}

// Access says what a credential may do (lrsserver.Access).
type Access = lrsserver.Access

// The access levels.
const (
	// ReadWrite may read and write (the zero value).
	ReadWrite = lrsserver.ReadWrite
	// ReadOnly may read; writes get 403.
	ReadOnly = lrsserver.ReadOnly
	// WriteOnly may write; reads get 403.
	WriteOnly = lrsserver.WriteOnly
)

// Credential is an HTTP Basic key and secret the LRS accepts.
type Credential struct {
	// Key is the Basic user name.
	Key string
	// Secret is the Basic password.
	Secret string
	// Access is what the credential may do.
	Access Access
}

// ResendPolicy chooses the answer to a statement whose id is already stored
// with identical content (lrsserver.ResendPolicy).
type ResendPolicy = lrsserver.ResendPolicy

// The resend policies.
const (
	// ResendAccept accepts the identical statement without storing it
	// again: POST lists its id, PUT answers 204 (the zero value). This is
	// what the specification describes for a matching statement.
	ResendAccept = lrsserver.ResendAccept
	// ResendConflict answers 409 to any statement whose id is stored, as
	// several LRSs do.
	ResendConflict = lrsserver.ResendConflict
)

// Options configure an LRS. The zero value is a usable LRS without
// authentication that supports xAPI 1.0.3 and 2.0.0.
type Options struct {
	// BasePath is the path of the xAPI endpoint, ending in "/";
	// DefaultBasePath when empty. Other paths answer 404.
	BasePath string
	// Versions are the xAPI versions the LRS supports and lists in about;
	// DefaultVersions when empty. "1.0.3" also admits requests for 1.0.0
	// to 1.0.2.
	Versions []string
	// Credentials are the accepted credentials. When empty, statement
	// requests need no authentication.
	Credentials []Credential
	// MaxBodyBytes answers 413 to a statements request whose body is
	// larger; 0 means no limit.
	MaxBodyBytes int64
	// MaxStatements answers 413 to a POST with more statements; 0 means
	// no limit.
	MaxStatements int
	// Resend chooses the answer to an identical resend.
	Resend ResendPolicy
	// Validate checks one statement for a version; nil uses xapi.Check.
	// It returns an error describing what is wrong, or nil.
	Validate func(statement []byte, v xapi.Version) error
	// PageSize is the most statements one GET returns; DefaultPageSize
	// when zero.
	PageSize int
	// Now returns the current time, for stored; time.Now when nil.
	Now func() time.Time
}

// Fault is a scripted answer that replaces the LRS's own for matching
// requests.
type Fault struct {
	// Status is the HTTP status to answer, for example 503.
	Status int
	// RetryAfter is the Retry-After header to send, if not empty (seconds
	// or an HTTP date).
	RetryAfter string
	// Body is the response body; a JSON message naming the fault when
	// empty.
	Body string
	// Method restricts the fault to one HTTP method; any when empty.
	Method string
	// Resource restricts the fault to "about" or "statements"; any when
	// empty.
	Resource string
	// Times is how many matching requests get the fault; 1 when zero.
	Times int
	// Skip lets that many matching requests through unharmed before the
	// fault applies; while it does, later faults wait too.
	Skip int
}

// Request is what the LRS remembers of a request it answered.
type Request struct {
	// Method and Resource ("about", "statements", or the path when
	// unknown) of the request.
	Method, Resource string
	// Version is the X-Experience-API-Version header.
	Version string
	// ContentType is the Content-Type header.
	ContentType string
	// Key is the Basic user name, "" without credentials.
	Key string
	// Statements is how many statements a POST or PUT carried (0 when the
	// body could not be read).
	Statements int
	// BodyBytes is the size of the request body read.
	BodyBytes int
	// Status is the answer's HTTP status.
	Status int
}

// LRS is an in-memory Learning Record Store; see the package documentation.
// Create it with New.
type LRS struct {
	opts   Options
	store  *lrsserver.MemoryStore
	server *lrsserver.Server

	mu       sync.Mutex
	faults   []Fault
	latency  time.Duration
	requests []Request
}

var _ http.Handler = (*LRS)(nil)

// New returns an empty LRS configured by opts.
func New(opts Options) *LRS {
	l := &LRS{opts: opts, store: lrsserver.NewMemoryStore(nil)}
	base := opts.BasePath
	if base == "" {
		base = DefaultBasePath
	}
	maxBody := opts.MaxBodyBytes
	if maxBody == 0 {
		maxBody = -1
	}
	so := lrsserver.Options{
		BasePath:          base,
		Versions:          opts.Versions,
		AuthorityHomePage: "https://lrstest.invalid/",
		MaxBodyBytes:      maxBody,
		MaxStatements:     opts.MaxStatements,
		Resend:            opts.Resend,
		Validate:          opts.Validate,
		PageSize:          opts.PageSize,
		Now:               opts.Now,
		AllowOrigins:      []string{"*"},
	}
	if len(opts.Credentials) > 0 {
		so.Authenticate = l.authenticate
	}
	l.server = lrsserver.New(l.store, so)
	return l
}

// BasePath returns the path of the xAPI endpoint, for example "/xapi/".
func (l *LRS) BasePath() string { return l.server.BasePath() }

// Fail queues a fault: the next f.Times requests matching f get f's answer
// instead of the LRS's. Faults are applied in the order they were queued.
func (l *LRS) Fail(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	l.mu.Lock()
	l.faults = append(l.faults, f)
	l.mu.Unlock()
}

// SetLatency delays every answer by d (0 turns the delay off). A request
// whose context ends during the delay is abandoned.
func (l *LRS) SetLatency(d time.Duration) {
	l.mu.Lock()
	l.latency = d
	l.mu.Unlock()
}

// Len returns the number of stored statements.
func (l *LRS) Len() int { return l.store.Len("") }

// each calls fn with every stored statement in stored order.
func (l *LRS) each(fn func(r *lrsserver.Record)) {
	_ = l.store.Statements(context.Background(), "", func(r *lrsserver.Record) bool {
		fn(r)
		return true
	})
}

// Statements returns the stored statements in the order they were stored,
// as the LRS returns them (with stored, authority and version).
func (l *LRS) Statements() []json.RawMessage {
	var out []json.RawMessage
	l.each(func(r *lrsserver.Record) { out = append(out, r.Full) })
	return out
}

// IDs returns the ids of the stored statements in the order they were
// stored.
func (l *LRS) IDs() []string {
	out := []string{}
	l.each(func(r *lrsserver.Record) { out = append(out, r.ID) })
	return out
}

// Statement returns the stored statement with id, if any.
func (l *LRS) Statement(id string) (json.RawMessage, bool) {
	r, ok, _ := l.store.Statement(context.Background(), "", strings.ToLower(id))
	if !ok {
		return nil, false
	}
	return r.Full, true
}

// Requests returns the requests answered so far (the last MaxRequestLog),
// oldest first.
func (l *LRS) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.requests...)
}

// Reset empties the LRS: it forgets the stored statements and documents,
// the queued faults, the latency and the remembered requests.
func (l *LRS) Reset() {
	l.store.Reset()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults, l.requests, l.latency = nil, nil, 0
}

// ClearFaults removes every scripted fault, ending an outage started with
// Fail; stored statements stay.
func (l *LRS) ClearFaults() {
	l.mu.Lock()
	l.faults = nil
	l.mu.Unlock()
}

// ResetRequests forgets the remembered requests.
func (l *LRS) ResetRequests() {
	l.mu.Lock()
	l.requests = nil
	l.mu.Unlock()
}

// ServeHTTP answers one xAPI request.
func (l *LRS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{
		Method:      r.Method,
		Version:     r.Header.Get("X-Experience-API-Version"),
		ContentType: r.Header.Get("Content-Type"),
	}
	rec.Key, _, _ = r.BasicAuth()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		l.mu.Lock()
		if len(l.requests) >= MaxRequestLog {
			l.requests = append(l.requests[:0], l.requests[1:]...)
		}
		l.requests = append(l.requests, rec)
		l.mu.Unlock()
	}()
	w = sw

	resource := lrsserver.Resource(l.server.BasePath(), r.URL.Path)
	rec.Resource = resource
	if resource == "" {
		rec.Resource = r.URL.Path
	}
	if resource == lrsserver.ResStatements && (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.Body != nil {
		// Read the body to remember its size and statement count; the
		// server reads it again from the buffer.
		var rd io.Reader = r.Body
		if limit := l.opts.MaxBodyBytes; limit > 0 {
			rd = io.LimitReader(r.Body, limit+1)
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			writeError(w, http.StatusBadRequest, "cannot read the request body")
			return
		}
		rec.BodyBytes = len(b)
		if raws, err := xapi.ParseStatements(b); err == nil && r.URL.Query().Get("method") == "" {
			rec.Statements = len(raws)
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}

	l.mu.Lock()
	latency := l.latency
	fault, faulted := l.takeFault(r.Method, rec.Resource)
	l.mu.Unlock()
	if latency > 0 {
		// Read the body first: the server notices a client that gives up
		// only once the body has been read.
		if r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, latencyBodyLimit))
			if err != nil {
				writeError(w, http.StatusBadRequest, "cannot read the request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if faulted {
		h := w.Header()
		h.Set("X-Experience-API-Version", l.latestVersion())
		if fault.RetryAfter != "" {
			h.Set("Retry-After", fault.RetryAfter)
		}
		if fault.Body != "" {
			w.WriteHeader(fault.Status)
			_, _ = io.WriteString(w, fault.Body)
			return
		}
		writeError(w, fault.Status, "injected fault: "+http.StatusText(fault.Status))
		return
	}
	l.server.ServeHTTP(w, r)
}

func (l *LRS) latestVersion() string {
	if n := len(l.opts.Versions); n > 0 {
		return l.opts.Versions[n-1]
	}
	return DefaultVersions[len(DefaultVersions)-1]
}

// takeFault returns and consumes the first fault matching a request. l.mu
// is held.
func (l *LRS) takeFault(method, resource string) (Fault, bool) {
	for i := range l.faults {
		f := &l.faults[i]
		if (f.Method != "" && f.Method != method) || (f.Resource != "" && f.Resource != resource) {
			continue
		}
		if f.Skip > 0 {
			f.Skip--
			return Fault{}, false
		}
		out := *f
		f.Times--
		if f.Times <= 0 {
			l.faults = append(l.faults[:i], l.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

// authenticate checks the Basic credentials of r against the configured
// credentials.
func (l *LRS) authenticate(r *http.Request) (*lrsserver.Principal, error) {
	key, secret, ok := r.BasicAuth()
	if !ok {
		return nil, fmt.Errorf("%w: send HTTP Basic credentials", lrsserver.ErrUnauthorized)
	}
	for _, c := range l.opts.Credentials {
		if subtle.ConstantTimeCompare([]byte(key), []byte(c.Key)) == 1 &&
			subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) == 1 {
			return &lrsserver.Principal{Name: c.Key, Access: c.Access}, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown key or wrong secret", lrsserver.ErrUnauthorized)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
