package panel

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// testPlugins are the plugins of this test binary.
var testPlugins hosttest.Plugins

func TestMain(m *testing.M) {
	defer testPlugins.Remove()
	m.Run()
}

// testHost starts a host with orgs and fast delivery and breaker.
func testHost(t testing.TB, orgs map[string]host.OrgConfig) *host.Host {
	t.Helper()
	cfg := hosttest.Config(t, testPlugins.Dir(t, "lrs", "mock"))
	// The tests save mock and archive integrations at run time, with their
	// file settings; production keeps those for the configuration file.
	cfg.Plugins.AllowRuntime = []string{"lrs", "mock", "archive"}
	cfg.Plugins.ConfigOnlySettings = map[string][]string{}
	cfg.Delivery.BreakerOpen = 300 * time.Millisecond
	cfg.Orgs = orgs
	return hosttest.New(t, cfg)
}

// org is an organization without integrations.
func org(id string) host.OrgConfig {
	return host.OrgConfig{OrgSettings: host.OrgSettings{BaseIRI: "https://" + id + ".learningflow.example"}}
}

// servePanel serves the panel of h under prefix with az.
func servePanel(t testing.TB, h *host.Host, prefix string, az httpapi.Authorizer) *httptest.Server {
	t.Helper()
	handler, err := New(h, Options{Authorizer: az, Prefix: prefix, Hint: "The test LRS is on 127.0.0.1."})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// quizEvent returns a valid quiz.completed event envelope as NDJSON.
func quizEvent(org, id string) string {
	return fmt.Sprintf(`{"id":%q,"org":%q,"kind":"quiz.completed","time":"2025-03-14T09:12:30Z","user":{"id":"u-1"},`+
		`"payload":{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":%q,"score":7,"max_score":10,`+
		`"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z"}}`, id, org, "att-"+id)
}
