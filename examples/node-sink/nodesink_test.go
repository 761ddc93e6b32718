// Package nodesink_test drives the Node.js sink plugin of this directory
// through the sdk's plugin client and through a host: the wire contract is
// language-neutral, and these tests prove it with a plugin not written in Go.
package nodesink_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/internal/nodetest"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

const (
	testKey    = "node-key"
	testSecret = "node-secret-never-printed"
)

var loopback = sdk.EgressPolicy{
	AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	AllowHTTP:  true,
}

// plugin writes an executable that runs lrs-sink.js with this machine's
// node into a temporary directory and returns the directory and the name.
// Without node or the installed npm dependencies the test is skipped, unless
// CI is set (CI installs both).
func plugin(t *testing.T) (dir, name string) {
	t.Helper()
	src, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	node := nodetest.Node(t, src, "@grpc/grpc-js")
	dir = t.TempDir()
	name = "lrs-node"
	script := fmt.Sprintf("#!/bin/sh\nexec %s %s \"$@\"\n", strconv.Quote(node), strconv.Quote(filepath.Join(src, "lrs-sink.js")))
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, name
}

func launch(t *testing.T) *sdk.Process {
	t.Helper()
	dir, name := plugin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: filepath.Join(dir, name), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("launch the node plugin: %v", err)
	}
	t.Cleanup(func() {
		proc.Kill()
		select {
		case <-proc.Exited():
		case <-time.After(10 * time.Second):
			t.Error("the node plugin did not exit after Kill")
		}
	})
	return proc
}

func newLRS(t testing.TB, opts lrstest.Options) (*lrstest.LRS, *httptest.Server) {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = []lrstest.Credential{{Key: testKey, Secret: testSecret}}
	}
	l := lrstest.New(opts)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv
}

func config(endpoint string) map[string]any {
	return map[string]any{"endpoint": endpoint, "key": testKey, "secret": testSecret, "xapi_version": "1.0.3"}
}

// TestConformance runs the sdk's conformance kit over the real connection to
// the node process: every check that applies over the wire.
func TestConformance(t *testing.T) {
	proc := launch(t)
	sinktest.RunRemote(t, sinktest.Harness{
		Provider:      proc.Provider(),
		EgressSetting: "endpoint",
		Egress:        loopback,
		Timeout:       10 * time.Second,
		Config: lrstest.Scenarios(lrstest.ScenarioSink{
			Key: testKey, Secret: testSecret, SecretSetting: "secret",
			Config:  config,
			Invalid: map[string]any{"endpoint": "ftp://lrs.example.com/", "xapi_version": "0.9"},
		}),
	})
}

// TestEgressRefused: the node sink applies the host's egress policy itself;
// without an exception for loopback, a loopback LRS is refused and nothing
// reaches it.
func TestEgressRefused(t *testing.T) {
	proc := launch(t)
	l, srv := newLRS(t, lrstest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	policy := sdk.EgressPolicy{AllowHTTP: true}
	for _, endpoint := range []string{srv.URL + "/xapi/", "http://[::ffff:127.0.0.1]:1/xapi/", "http://2130706433:1/xapi/", "http://localhost:1/xapi/"} {
		sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "egress", Org: "acme", Config: config(endpoint), Egress: policy})
		if err != nil {
			t.Fatalf("Configure(%s) = %v", endpoint, err)
		}
		_, err = sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(1)})
		if err == nil || sdk.IsPermanent(err) {
			t.Errorf("Deliver to %s = %v, want a retryable egress refusal", endpoint, err)
		}
		if err != nil && !containsAll(err.Error(), "egress policy refused", "loopback") {
			t.Errorf("Deliver to %s: error %q does not give the policy's reason", endpoint, err)
		}
		if err := sink.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.Requests()); n != 0 {
		t.Errorf("the refused LRS received %d requests", n)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestHostDelivers: a host configured with the node plugin by name delivers
// an organization's statements to a loopback LRS, and the connection test
// reports the plugin's steps.
func TestHostDelivers(t *testing.T) {
	dir, name := plugin(t)
	l, srv := newLRS(t, lrstest.Options{})
	cfg := host.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Plugins.Dir = dir
	cfg.Queue.Sync = "none"
	cfg.Delivery.Linger = 5 * time.Millisecond
	cfg.Egress.AllowCIDRs = []string{"127.0.0.0/8"}
	cfg.Egress.AllowHTTP = true
	cfg.Plugins.AllowRuntime = append(cfg.Plugins.AllowRuntime, name) // org admins may choose it
	cfg.Orgs = map[string]host.OrgConfig{
		"acme": {
			OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"},
			Sinks:       []host.SinkConfig{{ID: "node", Label: "Node LRS", Plugin: name, Config: config(srv.URL + "/xapi/")}},
		},
	}
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer scancel()
		if err := h.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})

	report, err := h.TestIntegration(ctx, "acme", host.Integration{Label: "Node LRS", Plugin: name, Config: config(srv.URL + "/xapi/")})
	if err != nil {
		t.Fatalf("TestIntegration: %v", err)
	}
	if !report.OK() {
		t.Errorf("connection test of the node sink failed: %+v", report)
	}

	var want []string
	for i := range 25 {
		st, probs := xapi.Check([]byte(fmt.Sprintf(`{
			"actor": {"objectType": "Agent", "account": {"homePage": "https://acme.learningflow.example", "name": "u-%d"}},
			"verb": {"id": "http://adlnet.gov/expapi/verbs/experienced", "display": {"en-US": "experienced"}},
			"object": {"objectType": "Activity", "id": "https://acme.learningflow.example/activities/a-%d"},
			"timestamp": "2026-03-14T09:12:30Z"}`, i, i)), xapi.V103)
		if err := probs.Err(); err != nil {
			t.Fatal(err)
		}
		st.ID = xapi.NewUUID()
		want = append(want, st.ID)
		if err := h.Record(ctx, "acme", st); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	got := l.IDs()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the LRS holds %d statements %v, want the %d recorded %v", len(got), got, len(want), want)
	}
}

// TestNodeUnitTests runs the plugin's own JavaScript tests (node --test).
func TestNodeUnitTests(t *testing.T) {
	plugin(t) // skips without node or its dependencies
	out, err := exec.Command("node", "--test", "lib/").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test lib/: %v\n%s", err, out)
	}
}
