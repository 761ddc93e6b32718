package launch_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
	"github.com/learningflow/lrsbridge/host/launch"
	"github.com/learningflow/lrsbridge/internal/nodetest"
)

// testPlugins are the plugins of this test binary.
var testPlugins hosttest.Plugins

func TestMain(m *testing.M) {
	defer testPlugins.Remove()
	m.Run()
}

// env is a host with one organization "acme" whose mock integration
// records delivered statements to a file, and a launch Server on loopback.
type env struct {
	host     *host.Host
	srv      *launch.Server
	http     *httptest.Server
	record   string // the mock sink's record file
	endpoint string
}

type envOptions struct {
	sync     string // queue.sync; "none" when empty
	dir      string // launch store directory; a temp dir when empty
	now      func() time.Time
	keep     time.Duration // Config.KeepStatements
	identity string        // the org's identity policy; account when empty
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	cfg := hosttest.Config(t, testPlugins.Dir(t, "mock"))
	if o.sync != "" {
		cfg.Queue.Sync = host.SyncPolicy(o.sync)
	}
	e := &env{record: filepath.Join(t.TempDir(), "delivered.ndjson")}
	oc := host.OrgConfig{Sinks: []host.SinkConfig{{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{"record_file": e.record}}}}
	oc.BaseIRI = "https://acme.learningflow.example"
	oc.Identity = o.identity
	cfg.Orgs = map[string]host.OrgConfig{"acme": oc}
	h := hosttest.New(t, cfg)
	e.host = h
	var ls *launch.Server
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ls.ServeHTTP(w, r) }))
	t.Cleanup(e.http.Close)
	e.endpoint = e.http.URL + "/xapi/"
	dir := o.dir
	if dir == "" {
		dir = filepath.Join(cfg.DataDir, "launch")
	}
	var err error
	ls, err = launch.New(h, launch.Config{Dir: dir, Endpoint: e.endpoint, AllowOrigins: []string{"*"}, NoSync: o.sync == "", Now: o.now, KeepStatements: o.keep})
	if err != nil {
		t.Fatalf("launch.New: %v", err)
	}
	t.Cleanup(func() { _ = ls.Close() })
	e.srv = ls
	return e
}

// delivered returns the statements the mock integration received, by id.
func (e *env) delivered(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.host.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	out := make(map[string]json.RawMessage)
	f, err := os.Open(e.record)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var line struct {
			ID        string          `json:"id"`
			Statement json.RawMessage `json:"statement"`
		}
		raw := append([]byte(nil), sc.Bytes()...)
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Fatalf("record line %s: %v", raw, err)
		}
		var st struct {
			ID string `json:"id"`
		}
		body := line.Statement
		if body == nil {
			body = raw
		}
		_ = json.Unmarshal(body, &st)
		out[st.ID] = body
	}
	return out
}

// contentStep is one step a Node.js content program of testdata reports:
// a JSON line {"step", "ok", "status", "value", "error"}.
type contentStep struct {
	Step   string `json:"step"`
	OK     bool   `json:"ok"`
	Status int    `json:"status"`
	Value  any    `json:"value"`
	Error  string `json:"error"`
}

// runContent runs script of testdata/dir (whose npm package module must
// be installed) with node and the launch URL, and returns the steps it
// reported, by name, in order.
func runContent(t *testing.T, dir, module, script, launchURL string) (map[string]contentStep, []string) {
	t.Helper()
	dir = filepath.Join("testdata", dir)
	node := nodetest.Node(t, dir, module)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, launchURL)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s failed: %v\n%s%s", script, err, out, stderr.Bytes())
	}
	steps := map[string]contentStep{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s contentStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s output line %q: %v", script, sc.Text(), err)
		}
		steps[s.Step] = s
		order = append(order, s.Step)
	}
	return steps, order
}
