package lrsserver_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// serve sends one request with body to srv and returns the recorder.
func serve(srv *lrsserver.Server, method, target, ct, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("X-Experience-API-Version", "1.0.3")
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return w
}

// TestAdmit checks that Options.Admit sees statements as sent (no id, no
// timestamp, the raw JSON) and that its refusal keeps the whole write
// out, with 403 or the status it carries.
func TestAdmit(t *testing.T) {
	const noID = `{"actor":{"mbox":"mailto:a@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"http://example.com/a"}}`
	withID := strings.Replace(noID, `{"actor"`, `{"id":"`+xapi.NewUUID()+`","timestamp":"2026-01-01T10:00:00+02:00","actor"`, 1)
	var seen []string
	refuse := error(nil)
	store := lrsserver.NewMemoryStore(nil)
	srv := lrsserver.New(store, lrsserver.Options{Admit: func(p *lrsserver.Principal, st *xapi.Statement, raw []byte) error {
		seen = append(seen, st.ID+"|"+st.Timestamp.String()+"|"+string(raw))
		return refuse
	}})
	if w := serve(srv, http.MethodPost, "/statements", "application/json", "["+noID+","+withID+"]"); w.Code != http.StatusOK {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	if len(seen) != 2 || !strings.HasPrefix(seen[0], "|0001-01-01 00:00:00 +0000 UTC|"+noID) || !strings.Contains(seen[1], "2026-01-01 08:00:00 +0000 UTC|"+withID) {
		t.Errorf("Admit saw %q, want the first without id and timestamp, each with its raw JSON", seen)
	}
	for _, c := range []struct {
		err  error
		want int
	}{{errors.New("no"), http.StatusForbidden}, {&lrsserver.StatusError{Status: http.StatusTeapot, Err: errors.New("no")}, http.StatusTeapot}} {
		refuse = c.err
		if w := serve(srv, http.MethodPost, "/statements", "application/json", "["+noID+"]"); w.Code != c.want || !strings.Contains(w.Body.String(), "no") {
			t.Errorf("refused POST = %d %s, want %d with the refusal", w.Code, w.Body, c.want)
		}
	}
	n := 0
	_ = store.Statements(t.Context(), "", func(*lrsserver.Record) bool { n++; return true })
	if n != 2 {
		t.Errorf("%d statements stored, want the 2 of the admitted write only", n)
	}
}

// TestAdmitDocument checks that Options.AdmitDocument sees document
// requests, with the body of writes, and that its refusal leaves the
// document unchanged.
func TestAdmitDocument(t *testing.T) {
	var got []lrsserver.DocumentRequest
	srv := lrsserver.New(lrsserver.NewMemoryStore(nil), lrsserver.Options{AdmitDocument: func(p *lrsserver.Principal, r lrsserver.DocumentRequest) error {
		got = append(got, r)
		if r.Params.Get("stateId") == "locked" && r.Method != http.MethodGet {
			return errors.New("locked is read-only")
		}
		return nil
	}})
	const q = "/activities/state?activityId=http%3A%2F%2Fexample.com%2Fa&agent=%7B%22mbox%22%3A%22mailto%3Aa%40example.com%22%7D&stateId="
	if w := serve(srv, http.MethodPut, q+"open", "application/json", `{"a":1}`); w.Code != http.StatusNoContent {
		t.Fatalf("PUT open = %d %s", w.Code, w.Body)
	}
	if w := serve(srv, http.MethodPut, q+"locked", "application/json", `{"a":1}`); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "read-only") {
		t.Errorf("PUT locked = %d %s, want 403 with the refusal", w.Code, w.Body)
	}
	if w := serve(srv, http.MethodGet, q+"locked", "", ""); w.Code != http.StatusNotFound {
		t.Errorf("GET locked = %d %s, want 404: the refused PUT stored nothing", w.Code, w.Body)
	}
	if len(got) != 3 || string(got[0].Body) != `{"a":1}` || got[0].ContentType != "application/json" || got[0].Resource != lrsserver.ResState || got[2].Body != nil {
		t.Errorf("AdmitDocument saw %+v", got)
	}
}
