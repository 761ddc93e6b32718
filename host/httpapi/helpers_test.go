package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

// Credentials of the test LRS.
const (
	testKey    = hosttest.LRSKey
	testSecret = hosttest.LRSSecret
)

// testPlugins are the plugins of this test binary.
var testPlugins hosttest.Plugins

func TestMain(m *testing.M) {
	defer testPlugins.Remove()
	m.Run()
}

// testHost starts a host with orgs and fast delivery; mutate functions
// change the configuration last.
func testHost(t testing.TB, orgs map[string]host.OrgConfig, mutate ...func(*host.Config)) *host.Host {
	t.Helper()
	return testHostWith(t, orgs, nil, mutate...)
}

// testHostWith is testHost with options of the host.
func testHostWith(t testing.TB, orgs map[string]host.OrgConfig, opts []host.Option, mutate ...func(*host.Config)) *host.Host {
	t.Helper()
	cfg := hosttest.Config(t, testPlugins.Dir(t, "lrs", "mock"))
	// The tests save mock and archive integrations at run time, with their
	// file settings; production keeps those for the configuration file.
	cfg.Plugins.AllowRuntime = []string{"lrs", "mock", "archive"}
	cfg.Plugins.ConfigOnlySettings = map[string][]string{}
	cfg.Orgs = orgs
	for _, m := range mutate {
		m(&cfg)
	}
	return hosttest.New(t, cfg, opts...)
}

// mockOrg is an organization delivering to the mock plugin, recording
// into a file of dir.
func mockOrg(id, dir string) host.OrgConfig {
	var oc host.OrgConfig
	oc.BaseIRI = "https://" + id + ".learningflow.example"
	oc.Sinks = []host.SinkConfig{{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{"record_file": filepath.Join(dir, id+".ndjson")}}}
	return oc
}

// serve serves the API of h with opts (AllowAll when opts has no
// Authorizer).
func serve(t testing.TB, h *host.Host, opts Options) *httptest.Server {
	t.Helper()
	if opts.Authorizer == nil {
		opts.Authorizer = AllowAll()
	}
	handler, err := New(h, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

func init() {
	// NDJSON bodies are checked as text: their lines are the API's to
	// judge (a malformed line is a result, not a bad request).
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", openapi3filter.PlainBodyDecoder)
}

// spec is the OpenAPI document and its router, loaded once.
var spec = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// client sends requests to an API server and checks every request it
// sends to a documented route, and every answer, against the OpenAPI
// document.
type client struct {
	t      testing.TB
	base   string // server URL plus prefix
	prefix string
	header http.Header
	// answers keeps every answer body, for checks that no secret leaks.
	answers *[]string
}

func newClient(t testing.TB, srv *httptest.Server, prefix string) *client {
	return &client{t: t, base: srv.URL + prefix, prefix: prefix, header: http.Header{}, answers: new([]string)}
}

// as returns a copy of c that sends header name: value.
func (c *client) as(name, value string) *client {
	d := *c
	d.header = c.header.Clone()
	d.header.Set(name, value)
	return &d
}

// do sends a request; body is a string (sent as is, Content-Type ct) or a
// value (sent as JSON). It decodes a JSON answer into out when not nil and
// returns the status and the raw answer.
func (c *client) do(method, path string, body any, out any) (int, string) {
	c.t.Helper()
	ct := ""
	var data []byte
	switch b := body.(type) {
	case nil:
	case ndjson:
		data, ct = []byte(b), "application/x-ndjson"
	case string:
		data, ct = []byte(b), "application/json"
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
		ct = "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(data))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if ct != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	*c.answers = append(*c.answers, string(answer))
	c.validate(req, data, resp, answer)
	if out != nil && len(answer) > 0 {
		if err := json.Unmarshal(answer, out); err != nil {
			c.t.Fatalf("%s %s: answer is not JSON (%v): %s", method, path, err, answer)
		}
	}
	return resp.StatusCode, string(answer)
}

// ndjson is a body sent as application/x-ndjson.
type ndjson string

// validate checks a request to a documented route and its answer against
// the OpenAPI document. Requests to routes or methods the document does
// not have are the tests of refusals; their answers must be errors.
func (c *client) validate(req *http.Request, body []byte, resp *http.Response, answer []byte) {
	c.t.Helper()
	router, err := spec()
	if err != nil {
		c.t.Fatalf("OpenAPI document: %v", err)
	}
	// The document's paths are relative to the prefix.
	vreq := req.Clone(context.Background())
	vreq.URL.Path = strings.TrimPrefix(req.URL.Path, c.prefix)
	vreq.URL.RawPath = ""
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := router.FindRoute(vreq)
	if err != nil {
		if resp.StatusCode < 400 {
			c.t.Errorf("%s %s is not documented but answered %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if resp.StatusCode < 400 {
		// Only accepted requests must match the document; refused ones
		// are the tests of bad input.
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s %s: the request does not match the OpenAPI document: %v", req.Method, req.URL.Path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	out.SetBodyBytes(answer)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s %s: the answer (%d) does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, answer)
	}
}

// lrsForm is the LRS Set Up form as the panel sends it.
func lrsForm(id, label, endpoint, key, secret string) IntegrationRequest {
	// An empty secret is sent as such: it keeps the saved one.
	cfg := map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "key": key, "secret": secret}
	return IntegrationRequest{ID: id, Label: label, Plugin: "lrs", Config: cfg}
}

// quizEvent returns a valid quiz.completed event envelope as NDJSON.
func quizEvent(org, id string) string {
	return fmt.Sprintf(`{"id":%q,"org":%q,"kind":"quiz.completed","time":"2025-03-14T09:12:30Z","user":{"id":"u-1"},`+
		`"payload":{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":%q,"score":7,"max_score":10,`+
		`"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z"}}`, id, org, "att-"+id)
}

// eventually polls cond until it holds, for at most 20 seconds.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers (a log).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testClient sends the tests' requests over a transport of its own: test
// servers closing in parallel tests close http.DefaultTransport's idle
// connections, which fails a POST that was about to reuse one.
var testClient = &http.Client{Transport: &http.Transport{}}
