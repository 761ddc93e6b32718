package panel

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/httpapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// Credentials of the test LRS.
const (
	testKey    = "lf-key"
	testSecret = "correct-horse-battery-staple"
)

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// plugins builds the repository's plugins once per test binary.
func plugins(t testing.TB) string {
	t.Helper()
	pluginOnce.Do(func() {
		if pluginDir, pluginErr = os.MkdirTemp("", "lrsbridge-panel-plugins-"); pluginErr != nil {
			return
		}
		for _, name := range []string{"lrs", "mock"} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(pluginDir, name), "../../plugins/"+name)
			if out, err := cmd.CombinedOutput(); err != nil {
				pluginErr = fmt.Errorf("build plugin %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

// testLRS starts a development LRS with the test credentials and opts.
func testLRS(t testing.TB, opts lrstest.Options) (*lrstest.LRS, string) {
	t.Helper()
	opts.Credentials = []lrstest.Credential{{Key: testKey, Secret: testSecret}}
	l := lrstest.New(opts)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv.URL + l.BasePath()
}

// testHost starts a host with orgs and fast delivery and breaker.
func testHost(t testing.TB, orgs map[string]host.OrgConfig) *host.Host {
	t.Helper()
	cfg := host.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Plugins.Dir = plugins(t)
	// The tests save mock and archive integrations at run time, with their
	// file settings; production keeps those for the configuration file.
	cfg.Plugins.AllowRuntime = []string{"lrs", "mock", "archive"}
	cfg.Plugins.ConfigOnlySettings = map[string][]string{}
	cfg.Queue.Sync = "none"
	cfg.Delivery.Linger = 5 * time.Millisecond
	cfg.Delivery.BackoffInitial = 10 * time.Millisecond
	cfg.Delivery.BackoffMax = 100 * time.Millisecond
	cfg.Delivery.BreakerOpen = 300 * time.Millisecond
	cfg.Delivery.Timeout = 10 * time.Second
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	cfg.Egress.AllowHTTP = true
	cfg.Secrets.Key = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	cfg.Orgs = orgs
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return h
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
