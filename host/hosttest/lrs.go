package hosttest

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// Credentials that the LRS of StartLRS takes (HTTP Basic).
const (
	// LRSKey is the key (Basic user name).
	LRSKey = "lf-key"
	// LRSSecret is the secret (Basic password).
	LRSSecret = "correct-horse-battery-staple"
)

// LRSOptions configure StartLRS. The zero value is an LRS for xAPI 1.0.3
// and 2.0.0.
type LRSOptions struct {
	// Versions are the xAPI versions the LRS takes and lists in its about
	// resource; lrsserver.DefaultVersions when empty.
	Versions []string
}

// LRS is a development Learning Record Store on loopback: the conformant
// LRS of package sdk/lrsserver over memory, which takes the credentials
// LRSKey and LRSSecret. Its methods are safe for concurrent use.
type LRS struct {
	// Endpoint is the URL of the xAPI endpoint, ending in "/": what an
	// LRS integration's endpoint setting takes.
	Endpoint string

	store   *lrsserver.MemoryStore
	server  *lrsserver.Server
	version string // the latest version it takes, for refusals

	mu      sync.Mutex
	refusal refusal
}

// refusal is the answer that Refuse scripts.
type refusal struct {
	method string
	status int
}

var _ http.Handler = (*LRS)(nil)

// StartLRS starts an LRS on a loopback port, configured by opts; it stops
// when the test ends.
func StartLRS(t testing.TB, opts LRSOptions) *LRS {
	t.Helper()
	l := &LRS{store: lrsserver.NewMemoryStore(nil), version: lrsserver.DefaultVersions[len(lrsserver.DefaultVersions)-1]}
	if n := len(opts.Versions); n > 0 {
		l.version = opts.Versions[n-1]
	}
	l.server = lrsserver.New(l.store, lrsserver.Options{
		BasePath:          "/xapi/",
		Versions:          opts.Versions,
		Authenticate:      authenticate,
		AuthorityHomePage: "https://lrs.hosttest.invalid/",
		AllowOrigins:      []string{"*"},
	})
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	l.Endpoint = srv.URL + l.server.BasePath()
	return l
}

// authenticate lets in the requests that carry LRSKey and LRSSecret.
func authenticate(r *http.Request) (*lrsserver.Principal, error) {
	key, secret, ok := r.BasicAuth()
	if !ok {
		return nil, fmt.Errorf("%w: send HTTP Basic credentials", lrsserver.ErrUnauthorized)
	}
	if subtle.ConstantTimeCompare([]byte(key), []byte(LRSKey))&subtle.ConstantTimeCompare([]byte(secret), []byte(LRSSecret)) != 1 {
		return nil, fmt.Errorf("%w: unknown key or wrong secret", lrsserver.ErrUnauthorized)
	}
	return &lrsserver.Principal{Name: key}, nil
}

// Len returns how many statements the LRS stores.
func (l *LRS) Len() int { return l.store.Len("") }

// Statements returns the stored statements in the order they were stored,
// as the LRS returns them (with stored, authority and version).
func (l *LRS) Statements() []json.RawMessage {
	var out []json.RawMessage
	_ = l.store.Statements(context.Background(), "", func(r *lrsserver.Record) bool {
		out = append(out, r.Full)
		return true
	})
	return out
}

// Refuse makes the LRS answer status, with an xAPI error message, to every
// request of the statements resource with method (any method when method
// is empty) until Accept is called: an outage (503), an LRS that rejects
// statements (400 to POST) or credentials that stopped working (401).
func (l *LRS) Refuse(method string, status int) {
	l.mu.Lock()
	l.refusal = refusal{method: method, status: status}
	l.mu.Unlock()
}

// Accept ends what Refuse started: the LRS answers as an LRS again. The
// statements stored before stay.
func (l *LRS) Accept() {
	l.mu.Lock()
	l.refusal = refusal{}
	l.mu.Unlock()
}

// ServeHTTP answers one xAPI request.
func (l *LRS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	ref := l.refusal
	l.mu.Unlock()
	if ref.status != 0 && (ref.method == "" || ref.method == r.Method) &&
		lrsserver.Resource(l.server.BasePath(), r.URL.Path) == lrsserver.ResStatements {
		body, _ := json.Marshal(map[string]string{"message": "refused by the test: " + http.StatusText(ref.status)})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Experience-API-Version", l.version)
		w.WriteHeader(ref.status)
		_, _ = w.Write(body)
		return
	}
	l.server.ServeHTTP(w, r)
}
