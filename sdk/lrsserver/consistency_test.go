package lrsserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// stepClock is a clock that moves one second forward at every reading.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// racingStore stores one statement through the server while a statement
// read starts, as a concurrent client would.
type racingStore struct {
	*lrsserver.MemoryStore
	write func() // set to nil once it ran; the test calls the server from one goroutine
}

// race runs the write once; the write's own store calls do not race again.
func (s *racingStore) race() {
	if w := s.write; w != nil {
		s.write = nil
		w()
	}
}

func (s *racingStore) Statements(ctx context.Context, ns string, fn func(*lrsserver.Record) bool) error {
	s.race()
	return s.MemoryStore.Statements(ctx, ns, fn)
}

func (s *racingStore) Statement(ctx context.Context, ns, id string) (lrsserver.Record, bool, error) {
	s.race()
	return s.MemoryStore.Statement(ctx, ns, id)
}

// TestConsistentThroughAfterRead checks that X-Experience-API-Consistent-
// Through is never before the stored time of a statement the answer holds,
// even when the statement was stored while the request was being answered
// (xAPI Communication 2.1.3: the header's value is not before any returned
// stored value).
func TestConsistentThroughAfterRead(t *testing.T) {
	const stmt = `{"id":"%s","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}`
	tests := []struct {
		name  string
		query func(id string) string
	}{
		{name: "query", query: func(string) string { return "" }},
		{name: "statementId", query: func(id string) string { return "?statementId=" + id }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			store := &racingStore{MemoryStore: lrsserver.NewMemoryStore(nil)}
			srv := lrsserver.New(store, lrsserver.Options{Now: clock.Now})
			id := xapi.NewUUID()
			store.write = func() {
				r := httptest.NewRequest(http.MethodPost, "/statements", strings.NewReader(strings.Replace(stmt, "%s", id, 1)))
				r.Header.Set("X-Experience-API-Version", "1.0.3")
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					t.Errorf("POST during the read: status %d: %s", w.Code, w.Body)
				}
			}
			r := httptest.NewRequest(http.MethodGet, "/statements"+tt.query(id), nil)
			r.Header.Set("X-Experience-API-Version", "1.0.3")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("GET: status %d: %s", w.Code, w.Body)
			}
			through, err := xapi.ParseTimestamp(w.Header().Get("X-Experience-API-Consistent-Through"))
			if err != nil {
				t.Fatalf("X-Experience-API-Consistent-Through: %v", err)
			}
			var res struct {
				Statements []struct{ Stored string }
				Stored     string
			}
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
				t.Fatal(err)
			}
			stored := []string{res.Stored}
			if tt.name == "query" {
				stored = nil
				for _, s := range res.Statements {
					stored = append(stored, s.Stored)
				}
			}
			if len(stored) != 1 {
				t.Fatalf("answer holds %d statements, want the one stored during the read: %s", len(stored), w.Body)
			}
			st, err := xapi.ParseTimestamp(stored[0])
			if err != nil {
				t.Fatal(err)
			}
			if st.After(through) {
				t.Errorf("stored %s is after X-Experience-API-Consistent-Through %s", stored[0], w.Header().Get("X-Experience-API-Consistent-Through"))
			}
		})
	}
}

// TestWriteInProgress checks that a statement sent without a timestamp
// reaches the Recorder with its stored time as timestamp, and that reads
// answered while the Recorder runs give an X-Experience-API-Consistent-
// Through before that stored time (the statement is not visible yet).
func TestWriteInProgress(t *testing.T) {
	clock := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var srv *lrsserver.Server
	var seen time.Time
	var throughDuring string
	rec := lrsserver.RecorderFunc(func(ctx context.Context, p *lrsserver.Principal, sts []*xapi.Statement) ([]*xapi.Statement, error) {
		seen = sts[0].Timestamp
		r := httptest.NewRequest(http.MethodGet, "/statements", nil)
		r.Header.Set("X-Experience-API-Version", "2.0.0")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		throughDuring = w.Header().Get("X-Experience-API-Consistent-Through")
		return sts, nil
	})
	srv = lrsserver.New(lrsserver.NewMemoryStore(nil), lrsserver.Options{Now: clock.Now, Recorder: rec})
	id := xapi.NewUUID()
	r := httptest.NewRequest(http.MethodPost, "/statements", strings.NewReader(`{"id":"`+id+`","actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}`))
	r.Header.Set("X-Experience-API-Version", "2.0.0")
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("POST: status %d: %s", w.Code, w.Body)
	}
	r = httptest.NewRequest(http.MethodGet, "/statements?statementId="+id, nil)
	r.Header.Set("X-Experience-API-Version", "2.0.0")
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	var st struct{ Timestamp, Stored string }
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil {
		t.Fatalf("GET statementId: %v: %s", err, w.Body)
	}
	stored, err := xapi.ParseTimestamp(st.Stored)
	if err != nil {
		t.Fatal(err)
	}
	if st.Timestamp != st.Stored || !seen.Equal(stored) {
		t.Errorf("timestamp %s, recorder saw %s, want both the stored time %s", st.Timestamp, xapi.FormatTimestamp(seen), st.Stored)
	}
	through, err := xapi.ParseTimestamp(throughDuring)
	if err != nil {
		t.Fatalf("X-Experience-API-Consistent-Through during the write %q: %v", throughDuring, err)
	}
	if !through.Before(stored) {
		t.Errorf("a read during the write claimed consistency through %s, not before the write's stored time %s", throughDuring, st.Stored)
	}
}
