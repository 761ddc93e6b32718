package lrstest_test

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/learningflow/lrsbridge/sdk/lrsserver/lrsservertest"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// TestConformance runs the LRS conformance kit against the test LRS.
func TestConformance(t *testing.T) {
	lrsservertest.Run(t, func(t *testing.T) lrsservertest.Target {
		l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "s"}}})
		srv := httptest.NewServer(l)
		t.Cleanup(srv.Close)
		return lrsservertest.Target{
			Endpoint:      srv.URL + l.BasePath(),
			Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("k:s")),
			Agent:         `{"objectType":"Agent","mbox":"mailto:learner@example.com"}`,
		}
	})
}
