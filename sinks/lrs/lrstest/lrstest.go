// Package lrstest provides LRS, an in-memory Learning Record Store that
// behaves like a conformant xAPI 1.0.3 / 2.0 LRS for what lrsbridge uses: the
// about resource and the statements resource (POST, PUT and GET), with Basic
// authentication, version headers, validation, conflicts and size limits,
// plus knobs to inject faults (scripted status codes with Retry-After,
// latency). It is an http.Handler: serve it with net/http/httptest in tests,
// or with an http.Server in a development LRS.
//
// # Behaviour
//
// Requests other than GET about must carry X-Experience-API-Version with a
// version the LRS supports (400 otherwise). With Credentials configured,
// statement requests need HTTP Basic credentials (401 otherwise); a
// read-only credential gets 403 on writes and a write-only one 403 on reads.
//
// POST statements takes a JSON array or a single statement. Each statement
// is checked with xapi.Check for the request's version (or Options.Validate);
// one invalid statement rejects the whole batch with 400 and a message naming
// it (index and id). Duplicate ids within a batch are a 400. A statement
// whose id is already stored with different content is a 409; a resend of
// identical content is accepted without change (200 with its id) or answered
// 409, as Options.Resend chooses: the specification lets an LRS do either.
// Nothing of a rejected batch is stored. A body larger than
// Options.MaxBodyBytes, or more statements than Options.MaxStatements, is a
// 413. Stored statements get stored, authority and version properties.
//
// PUT statements?statementId= stores one statement (204). GET statements
// returns one statement by statementId, or {"statements": [...], "more": ...}
// filtered by since and until (on stored), limited by limit, in stored order
// (ascending=true) or newest first, with more linking to the next page.
// Every response carries X-Experience-API-Version and
// X-Experience-API-Consistent-Through.
//
// Error answers are JSON objects {"message": "..."}.
//
// LRS is safe for concurrent use.
package lrstest

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

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

// Access says what a credential may do.
type Access int

// The access levels.
const (
	// ReadWrite may read and write statements (the zero value).
	ReadWrite Access = iota
	// ReadOnly may read statements; writes get 403.
	ReadOnly
	// WriteOnly may write statements; reads get 403.
	WriteOnly
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
// with identical content.
type ResendPolicy int

// The resend policies.
const (
	// ResendAccept accepts the identical statement without storing it
	// again: POST lists its id, PUT answers 204 (the zero value). This is
	// what the specification describes for a matching statement.
	ResendAccept ResendPolicy = iota
	// ResendConflict answers 409 to any statement whose id is stored, as
	// several LRSs do.
	ResendConflict
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

// stored is a statement in the store.
type stored struct {
	id       string
	received map[string]json.RawMessage // as sent, for comparing resends
	full     []byte                     // with stored, authority and version
	at       time.Time
}

// LRS is an in-memory Learning Record Store; see the package documentation.
// Create it with New.
type LRS struct {
	opts     Options
	base     string
	versions []string

	mu       sync.Mutex
	byID     map[string]int // index into list
	list     []*stored
	faults   []Fault
	latency  time.Duration
	requests []Request
}

var _ http.Handler = (*LRS)(nil)

// New returns an empty LRS configured by opts.
func New(opts Options) *LRS {
	l := &LRS{opts: opts, byID: make(map[string]int)}
	l.base = opts.BasePath
	if l.base == "" {
		l.base = DefaultBasePath
	}
	if !strings.HasSuffix(l.base, "/") {
		l.base += "/"
	}
	l.versions = append([]string(nil), opts.Versions...)
	if len(l.versions) == 0 {
		l.versions = append([]string(nil), DefaultVersions...)
	}
	if l.opts.PageSize <= 0 {
		l.opts.PageSize = DefaultPageSize
	}
	if l.opts.Now == nil {
		l.opts.Now = time.Now
	}
	if l.opts.Validate == nil {
		l.opts.Validate = func(b []byte, v xapi.Version) error {
			_, probs := xapi.Check(b, v)
			return probs.Err()
		}
	}
	return l
}

// BasePath returns the path of the xAPI endpoint, for example "/xapi/".
func (l *LRS) BasePath() string { return l.base }

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
func (l *LRS) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list)
}

// Statements returns the stored statements in the order they were stored,
// as the LRS returns them (with stored, authority and version).
func (l *LRS) Statements() []json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]json.RawMessage, len(l.list))
	for i, s := range l.list {
		out[i] = s.full
	}
	return out
}

// IDs returns the ids of the stored statements in the order they were
// stored.
func (l *LRS) IDs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.list))
	for i, s := range l.list {
		out[i] = s.id
	}
	return out
}

// Statement returns the stored statement with id, if any.
func (l *LRS) Statement(id string) (json.RawMessage, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, ok := l.byID[strings.ToLower(id)]
	if !ok {
		return nil, false
	}
	return l.list[i].full, true
}

// Requests returns the requests answered so far (the last MaxRequestLog),
// oldest first.
func (l *LRS) Requests() []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Request(nil), l.requests...)
}

// Reset empties the LRS: it forgets the stored statements, the queued
// faults, the latency and the remembered requests.
func (l *LRS) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byID = make(map[string]int)
	l.list, l.faults, l.requests, l.latency = nil, nil, nil, 0
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

	h := w.Header()
	h.Set("X-Experience-API-Version", l.versions[len(l.versions)-1])
	h.Set("X-Experience-API-Consistent-Through", l.opts.Now().UTC().Format(time.RFC3339Nano))

	resource := strings.TrimPrefix(r.URL.Path, l.base)
	if !strings.HasPrefix(r.URL.Path, l.base) || (resource != "about" && resource != "statements") {
		rec.Resource = r.URL.Path
		writeError(w, http.StatusNotFound, "no xAPI resource at "+r.URL.Path)
		return
	}
	rec.Resource = resource

	l.mu.Lock()
	latency := l.latency
	fault, faulted := l.takeFault(r.Method, resource)
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

	if resource == "about" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"version": l.versions})
		return
	}

	v, ok := l.version(rec.Version)
	if !ok {
		msg := "missing X-Experience-API-Version header"
		if rec.Version != "" {
			msg = "unsupported X-Experience-API-Version " + strconv.Quote(rec.Version) + "; supported: " + strings.Join(l.versions, ", ")
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	cred, ok := l.authenticate(r)
	if !ok {
		h.Set("WWW-Authenticate", `Basic realm="xAPI"`)
		writeError(w, http.StatusUnauthorized, "authentication required: unknown key or wrong secret")
		return
	}

	switch r.Method {
	case http.MethodPost:
		if cred.Access == ReadOnly {
			writeError(w, http.StatusForbidden, "this credential may not write statements")
			return
		}
		l.post(w, r, v, cred, &rec)
	case http.MethodPut:
		if cred.Access == ReadOnly {
			writeError(w, http.StatusForbidden, "this credential may not write statements")
			return
		}
		l.put(w, r, v, cred, &rec)
	case http.MethodGet, http.MethodHead:
		if cred.Access == WriteOnly {
			writeError(w, http.StatusForbidden, "this credential may not read statements")
			return
		}
		l.get(w, r)
	default:
		h.Set("Allow", "GET, HEAD, POST, PUT")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
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

// version maps a version header to the xAPI version to validate for.
func (l *LRS) version(h string) (xapi.Version, bool) {
	for _, s := range l.versions {
		switch {
		case s == h && s == string(xapi.V200):
			return xapi.V200, true
		case strings.HasPrefix(s, "1.0.") && strings.HasPrefix(h, "1.0.") && len(h) == 5 && h[4] >= '0' && h[4] <= s[4]:
			return xapi.V103, true
		}
	}
	return "", false
}

// authenticate checks the Basic credentials of r. Without configured
// credentials every request is accepted with ReadWrite access.
func (l *LRS) authenticate(r *http.Request) (Credential, bool) {
	if len(l.opts.Credentials) == 0 {
		return Credential{Access: ReadWrite}, true
	}
	key, secret, ok := r.BasicAuth()
	if !ok {
		return Credential{}, false
	}
	for _, c := range l.opts.Credentials {
		if subtle.ConstantTimeCompare([]byte(key), []byte(c.Key)) == 1 &&
			subtle.ConstantTimeCompare([]byte(secret), []byte(c.Secret)) == 1 {
			return c, true
		}
	}
	return Credential{}, false
}

// readBody reads a statements request body within MaxBodyBytes; it answers
// 413 itself and returns false when the body is too large.
func (l *LRS) readBody(w http.ResponseWriter, r *http.Request, rec *Request) ([]byte, bool) {
	limit := l.opts.MaxBodyBytes
	if limit > 0 && r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than %d bytes", r.ContentLength, limit))
		return nil, false
	}
	var rd io.Reader = r.Body
	if limit > 0 {
		rd = http.MaxBytesReader(w, r.Body, limit)
	}
	b, err := io.ReadAll(rd)
	rec.BodyBytes = len(b)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "cannot read the request body")
		return nil, false
	}
	return b, true
}

// checked is a statement of a request that passed validation.
type checked struct {
	id       string
	received map[string]json.RawMessage
	existing bool // an identical statement is stored
}

// check validates the statements of a write request as one unit. It
// answers the error itself and returns false when the request is rejected.
func (l *LRS) check(w http.ResponseWriter, raws []json.RawMessage, v xapi.Version) ([]checked, bool) {
	out := make([]checked, 0, len(raws))
	seen := make(map[string]int, len(raws))
	for i, raw := range raws {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("statement %d is not a JSON object", i))
			return nil, false
		}
		var id string
		if rawID, ok := m["id"]; ok {
			_ = json.Unmarshal(rawID, &id)
		}
		if err := l.opts.Validate(raw, v); err != nil {
			name := fmt.Sprintf("statement %d", i)
			if id != "" {
				name += " (id " + id + ")"
			}
			writeError(w, http.StatusBadRequest, name+" is invalid: "+strings.ReplaceAll(err.Error(), "\n", "; "))
			return nil, false
		}
		if id == "" {
			id = newUUID()
			m["id"], _ = json.Marshal(id)
		}
		key := strings.ToLower(id)
		if j, dup := seen[key]; dup {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("statements %d and %d have the same id %s", j, i, id))
			return nil, false
		}
		seen[key] = i
		out = append(out, checked{id: id, received: m})
	}
	return out, true
}

// store stores the checked statements as one unit, or answers 409 and
// returns false if one of them conflicts with a stored statement.
func (l *LRS) store(w http.ResponseWriter, cs []checked, v xapi.Version, cred Credential) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range cs {
		c := &cs[i]
		j, ok := l.byID[strings.ToLower(c.id)]
		if !ok {
			continue
		}
		if l.opts.Resend == ResendConflict || !sameStatement(l.list[j].received, c.received) {
			writeError(w, http.StatusConflict, "a statement with id "+c.id+" is already stored")
			return false
		}
		c.existing = true
	}
	now := l.opts.Now().UTC()
	for _, c := range cs {
		if c.existing {
			continue
		}
		full := make(map[string]json.RawMessage, len(c.received)+3)
		for k, val := range c.received {
			full[k] = val
		}
		full["stored"], _ = json.Marshal(now.Format("2006-01-02T15:04:05.000Z"))
		full["authority"], _ = json.Marshal(map[string]any{
			"objectType": "Agent",
			"account":    map[string]string{"homePage": "https://lrstest.invalid/", "name": authorityName(cred)},
		})
		if _, ok := full["version"]; !ok {
			ver := "1.0.0"
			if v == xapi.V200 {
				ver = "2.0.0"
			}
			full["version"], _ = json.Marshal(ver)
		}
		b, _ := json.Marshal(full)
		l.byID[strings.ToLower(c.id)] = len(l.list)
		l.list = append(l.list, &stored{id: c.id, received: c.received, full: b, at: now})
	}
	return true
}

func authorityName(c Credential) string {
	if c.Key == "" {
		return "anonymous"
	}
	return c.Key
}

// sameStatement compares two received statements, ignoring the properties
// the LRS sets.
func sameStatement(a, b map[string]json.RawMessage) bool {
	norm := func(m map[string]json.RawMessage) any {
		c := make(map[string]any, len(m))
		for k, v := range m {
			switch k {
			case "stored", "authority", "version":
				continue
			}
			var x any
			_ = json.Unmarshal(v, &x)
			c[k] = x
		}
		return c
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func (l *LRS) post(w http.ResponseWriter, r *http.Request, v xapi.Version, cred Credential, rec *Request) {
	body, ok := l.readBody(w, r, rec)
	if !ok {
		return
	}
	raws, err := splitStatements(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rec.Statements = len(raws)
	if most := l.opts.MaxStatements; most > 0 && len(raws) > most {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d statements in one request, at most %d allowed", len(raws), most))
		return
	}
	cs, ok := l.check(w, raws, v)
	if !ok {
		return
	}
	if !l.store(w, cs, v, cred) {
		return
	}
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.id
	}
	writeJSON(w, http.StatusOK, ids)
}

func (l *LRS) put(w http.ResponseWriter, r *http.Request, v xapi.Version, cred Credential, rec *Request) {
	id := r.URL.Query().Get("statementId")
	if id == "" {
		writeError(w, http.StatusBadRequest, "PUT statements needs the statementId parameter")
		return
	}
	body, ok := l.readBody(w, r, rec)
	if !ok {
		return
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		writeError(w, http.StatusBadRequest, "PUT statements takes one statement object")
		return
	}
	rec.Statements = 1
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		writeError(w, http.StatusBadRequest, "the statement is not a JSON object")
		return
	}
	if rawID, ok := m["id"]; ok {
		var bodyID string
		if json.Unmarshal(rawID, &bodyID) != nil || !strings.EqualFold(bodyID, id) {
			writeError(w, http.StatusBadRequest, "the statement id does not match the statementId parameter")
			return
		}
	} else {
		// Validate the statement with the id the parameter gives it.
		m["id"], _ = json.Marshal(id)
		body, _ = json.Marshal(m)
	}
	cs, ok := l.check(w, []json.RawMessage{body}, v)
	if !ok {
		return
	}
	if !l.store(w, cs, v, cred) {
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (l *LRS) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if id := q.Get("statementId"); id != "" {
		b, ok := l.Statement(id)
		if !ok {
			writeError(w, http.StatusNotFound, "no statement with id "+id)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b)
		return
	}
	if q.Get("voidedStatementId") != "" {
		writeError(w, http.StatusNotFound, "no voided statement with that id")
		return
	}
	limit := l.opts.PageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit must be a non-negative integer")
			return
		}
		if n > 0 && n < limit {
			limit = n
		}
	}
	var since, until time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &since}, {"until", &until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name+" must be an RFC 3339 timestamp")
				return
			}
			*p.t = t
		}
	}
	ascending := q.Get("ascending") == "true"
	offset := 0
	if s := q.Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "offset must be a non-negative integer")
			return
		}
		offset = n
	}

	l.mu.Lock()
	var match []*stored
	for _, s := range l.list {
		if (!since.IsZero() && !s.at.After(since)) || (!until.IsZero() && s.at.After(until)) {
			continue
		}
		match = append(match, s)
	}
	l.mu.Unlock()
	if !ascending {
		for i, j := 0, len(match)-1; i < j; i, j = i+1, j-1 {
			match[i], match[j] = match[j], match[i]
		}
	}
	if offset > len(match) {
		offset = len(match)
	}
	page := match[offset:]
	more := ""
	if len(page) > limit {
		page = page[:limit]
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("offset", strconv.Itoa(offset+limit))
		more = l.base + "statements?" + next.Encode()
	}
	list := make([]json.RawMessage, len(page))
	for i, s := range page {
		list[i] = s.full
	}
	writeJSON(w, http.StatusOK, map[string]any{"statements": list, "more": more})
}

// splitStatements reads a POST body: a JSON array of statements or one
// statement object.
func splitStatements(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty request body")
	}
	switch body[0] {
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, errors.New("the body is not a JSON array of statements")
		}
		if len(raws) == 0 {
			return nil, errors.New("the array holds no statement")
		}
		return raws, nil
	case '{':
		if !json.Valid(body) {
			return nil, errors.New("the body is not valid JSON")
		}
		return []json.RawMessage{body}, nil
	}
	return nil, errors.New("the body is neither a statement nor an array of statements")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
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
