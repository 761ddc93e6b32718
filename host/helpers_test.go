package host

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/archive"
	"github.com/learningflow/lrsbridge/sinks/lrs"
	"github.com/learningflow/lrsbridge/sinks/mock"
	"github.com/learningflow/lrsbridge/sinks/mock/mocktest"
)

// testKit is what this package's tests take from package host/hosttest,
// which they cannot import (it imports host): kit_test.go, an external
// test file, sets it before the tests run.
type testKit struct {
	plugins       func(t testing.TB) string // the built-in plugins, built once
	removePlugins func() error
	config        func(t testing.TB, pluginDir string) Config
	newHost       func(t testing.TB, cfg Config, opts ...Option) *Host
}

var kit testKit

// SetTestKit sets what this package's tests take from host/hosttest; only
// kit_test.go calls it.
func SetTestKit(plugins func(testing.TB) string, removePlugins func() error,
	config func(testing.TB, string) Config, newHost func(testing.TB, Config, ...Option) *Host) {
	kit = testKit{plugins: plugins, removePlugins: removePlugins, config: config, newHost: newHost}
}

// plugins builds plugins/mock, plugins/lrs and plugins/archive into a
// directory shared by the tests of this package.
func plugins(t testing.TB) string {
	t.Helper()
	return kit.plugins(t)
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	if os.Getenv(lrsChildEnv) != "" {
		os.Exit(runLRSChild())
	}
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(runCrashChild())
	}
	if os.Getenv(sharedChildEnv) != "" {
		os.Exit(runSharedChild())
	}
	code := m.Run()
	kit.removePlugins()
	os.Exit(code)
}

// The tests run in two tiers. The fast tier (go test -short) serves the
// mock, lrs and archive sinks in the test's process (WithProvider), so that
// delivery, recording and integration rules are checked in milliseconds.
// The slow tier runs the same tests against the real plugin processes,
// plus the tests that need processes (crashes, restarts, checksums, process
// policies); those call needsProcesses.

// needsProcesses skips a test that starts plugin processes in the fast
// tier.
func needsProcesses(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts plugin processes; not in the fast tier (-short)")
	}
}

// tierOptions returns the options that put the sinks in the test's
// process in the fast tier.
func tierOptions() []Option {
	if !testing.Short() {
		return nil
	}
	return []Option{
		WithProvider("mock", mock.NewProvider()),
		WithProvider("lrs", lrs.NewProvider()),
		WithProvider("archive", archive.NewProvider()),
	}
}

// testConfig returns a configuration for tests: fast retries and breaker,
// no fsync unless asked, plugins built from this repository (in the slow
// tier).
func testConfig(t testing.TB) Config {
	t.Helper()
	pluginDir := t.TempDir() // no plugin executables
	if !testing.Short() {
		pluginDir = plugins(t)
	}
	cfg := kit.config(t, pluginDir)
	cfg.Secrets.Key = "" // the tests that keep secrets set their own
	cfg.Plugins.IdleTimeout = time.Minute
	cfg.Delivery.BreakerOpen = 200 * time.Millisecond
	// Most tests manage every built-in sink at run time; the policy's own
	// tests (policy_test.go) restore the defaults.
	cfg.Plugins.AllowRuntime = []string{"lrs", "mock", "archive"}
	cfg.Plugins.ConfigOnlySettings = nil
	return cfg
}

func addOrg(cfg *Config, id string, sinks ...SinkConfig) {
	oc := OrgConfig{Sinks: sinks}
	oc.BaseIRI = "https://" + id + ".learningflow.example"
	cfg.Orgs[id] = oc
}

func mockSink(id, recordFile string, extra map[string]any) SinkConfig {
	c := map[string]any{"record_file": recordFile}
	for k, v := range extra {
		c[k] = v
	}
	return SinkConfig{ID: id, Label: "Mock " + id, Plugin: "mock", Config: c}
}

// newHost starts a host that is shut down at the end of the test.
func newHost(t testing.TB, cfg Config, opts ...Option) *Host {
	t.Helper()
	return kit.newHost(t, cfg, append(tierOptions(), opts...)...)
}

// statement returns a valid statement for org with a deterministic id.
func statement(org string, i int) *xapi.Statement {
	return &xapi.Statement{
		ID:        xapi.MustUUIDv5(xapi.NamespaceStatement, fmt.Sprintf("%s/%d", org, i)),
		Actor:     xapi.Actor{Account: &xapi.Account{HomePage: "https://" + org + ".learningflow.example", Name: fmt.Sprintf("u-%d", i)}},
		Verb:      xapi.Verb{ID: "http://adlnet.gov/expapi/verbs/experienced", Display: xapi.LanguageMap{"en-US": "experienced"}},
		Object:    &xapi.Activity{ID: fmt.Sprintf("https://%s.learningflow.example/activities/%d", org, i)},
		Timestamp: time.Date(2025, 3, 14, 9, 12, 30, 0, time.UTC),
	}
}

func statements(org string, from, n int) []*xapi.Statement {
	out := make([]*xapi.Statement, n)
	for i := range out {
		out[i] = statement(org, from+i)
	}
	return out
}

// recordedIDs reads a mock recording and returns how often each id was
// delivered and the actors' home pages seen.
func recordedIDs(t testing.TB, file string) (ids map[string]int, homes map[string]int) {
	t.Helper()
	ids, homes = map[string]int{}, map[string]int{}
	raws, err := mocktest.Read(file)
	if os.IsNotExist(err) {
		return ids, homes
	}
	if err != nil {
		t.Fatalf("read recording: %v", err)
	}
	for _, raw := range raws {
		var st struct {
			ID    string `json:"id"`
			Actor struct {
				Account struct {
					HomePage string `json:"homePage"`
				} `json:"account"`
			} `json:"actor"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("recorded statement is not JSON: %v", err)
		}
		ids[st.ID]++
		homes[st.Actor.Account.HomePage]++
	}
	return ids, homes
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitIdle(t testing.TB, h *Host, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func sinkStatus(t testing.TB, h *Host, org, sink string) SinkStatus {
	t.Helper()
	st, err := h.Status(org)
	if err != nil {
		t.Fatalf("Status(%s): %v", org, err)
	}
	for _, s := range st.Sinks {
		if s.ID == sink {
			return s
		}
	}
	t.Fatalf("no status for %s/%s", org, sink)
	return SinkStatus{}
}
