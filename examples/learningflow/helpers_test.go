package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/learningflow/lrsbridge/host"
	"github.com/learningflow/lrsbridge/host/hosttest"
)

// testPlugins are the plugins of this test binary.
var testPlugins hosttest.Plugins

func TestMain(m *testing.M) {
	defer testPlugins.Remove()
	m.Run()
}

// plugins returns the directory of the built-in plugins, built once per
// test binary.
func plugins(t testing.TB) string {
	t.Helper()
	return testPlugins.Dir(t)
}

// syncBuffer is a bytes.Buffer safe for concurrent writers (the host's
// logger).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testHost starts a host with orgs, fast delivery settings and loopback
// allowed, logging into logs; mutate functions change the configuration
// last.
func testHost(t testing.TB, orgs map[string]host.OrgConfig, logs io.Writer, mutate ...func(*host.Config)) *host.Host {
	t.Helper()
	cfg := hosttest.Config(t, plugins(t))
	cfg.Orgs = orgs
	for _, m := range mutate {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return hosttest.New(t, cfg, host.WithLogger(log))
}

// call sends a request to the panel and decodes a JSON answer into out
// (when not nil). It returns the status and the raw body.
func call(t testing.TB, ctx context.Context, method, url, contentType string, body any, out any, header ...string) (int, string) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: answer is not JSON (%v): %s", method, url, err, data)
		}
	}
	return resp.StatusCode, string(data)
}

// quizEvent returns a valid quiz.completed event envelope as NDJSON.
func quizEvent(org, id string) string {
	return fmt.Sprintf(`{"id":%q,"org":%q,"kind":"quiz.completed","time":"2025-03-14T09:12:30Z","user":{"id":"u-1"},`+
		`"payload":{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":%q,"score":7,"max_score":10,`+
		`"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z"}}`, id, org, "att-"+id)
}

// testClient sends the tests' requests over a transport of its own: test
// servers closing in parallel tests close http.DefaultTransport's idle
// connections, which fails a POST that was about to reuse one.
var testClient = &http.Client{Transport: &http.Transport{}}
