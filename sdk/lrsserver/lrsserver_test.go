package lrsserver_test

import (
	"net/http/httptest"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
	"github.com/learningflow/lrsbridge/sdk/lrsserver/lrsservertest"
)

// TestConformance runs the conformance kit against a Server over a
// MemoryStore without authentication.
func TestConformance(t *testing.T) {
	lrsservertest.Run(t, func(t *testing.T) lrsservertest.Target {
		srv := httptest.NewServer(lrsserver.New(lrsserver.NewMemoryStore(nil), lrsserver.Options{BasePath: "/xapi/", AllowOrigins: []string{"*"}}))
		t.Cleanup(srv.Close)
		return lrsservertest.Target{Endpoint: srv.URL + "/xapi/", Agent: `{"objectType":"Agent","mbox":"mailto:learner@example.com"}`}
	})
}
