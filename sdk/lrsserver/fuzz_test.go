package lrsserver_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// FuzzStatementsPost posts arbitrary bodies with arbitrary content types:
// the server never panics and answers 200 (all stored) or a 4xx error
// with nothing stored.
func FuzzStatementsPost(f *testing.F) {
	f.Add([]byte(`{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"}}`), "application/json")
	f.Add([]byte(`[{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://example.com/v"},"object":{"id":"http://example.com/a"},"context":{"contextActivities":{"parent":{"id":"http://example.com/p"}}}}]`), "application/json")
	f.Add([]byte("--b\r\nContent-Type: application/json\r\n\r\n{}\r\n--b--\r\n"), "multipart/mixed; boundary=b")
	f.Add([]byte(`statementId=x&content=%7B%7D`), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		store := lrsserver.NewMemoryStore(nil)
		srv := lrsserver.New(store, lrsserver.Options{})
		req := httptest.NewRequest(http.MethodPost, "/statements", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("X-Experience-API-Version", "1.0.3")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			if store.Len("") == 0 {
				t.Errorf("200 but nothing stored for %q", body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if store.Len("") != 0 {
				t.Errorf("%d but %d statements stored", rec.Code, store.Len(""))
			}
		default:
			t.Errorf("status %d for %q", rec.Code, body)
		}
	})
}

// FuzzParseAgent parses arbitrary agent parameters: no panic, and an
// accepted agent always has an identity.
func FuzzParseAgent(f *testing.F) {
	f.Add(`{"mbox":"mailto:a@example.com"}`)
	f.Add(`{"objectType":"Group","account":{"homePage":"http://x.example","name":"g"}}`)
	f.Add(`{"objectType":"Group","member":[{"mbox":"mailto:a@example.com"}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		a, err := lrsserver.ParseAgent(s)
		if err == nil && lrsserver.AgentKey(a) == "" {
			t.Errorf("ParseAgent(%q) accepted an agent without identity", s)
		}
	})
}
