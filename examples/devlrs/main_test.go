package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/sdk/lrsserver/lrsservertest"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    options
		wantErr bool
	}{
		{
			name: "defaults with secret from the environment",
			env:  map[string]string{"DEVLRS_SECRET": "s3cret"},
			want: options{listen: "127.0.0.1:8081", key: "devlrs", secret: "s3cret", versions: []string{"1.0.3", "2.0.0"}, path: "/xapi/"},
		},
		{
			name: "flags win over the environment",
			args: []string{"-listen", "127.0.0.1:0", "-key", "K", "-secret", "S", "-versions", "2.0", "-path", "lrs", "-resend", "conflict", "-max-statements", "50"},
			env:  map[string]string{"DEVLRS_SECRET": "other"},
			want: options{listen: "127.0.0.1:0", key: "K", secret: "S", versions: []string{"2.0.0"}, path: "/lrs/", resend: lrstest.ResendConflict, maxStatements: 50},
		},
		{
			name: "no authentication",
			args: []string{"-key", ""},
			want: options{listen: "127.0.0.1:8081", versions: []string{"1.0.3", "2.0.0"}, path: "/xapi/"},
		},
		{name: "unknown version", args: []string{"-versions", "1.0.3,0.95"}, wantErr: true},
		{name: "no version", args: []string{"-versions", ","}, wantErr: true},
		{name: "bad resend", args: []string{"-resend", "maybe"}, wantErr: true},
		{name: "colon in key", args: []string{"-key", "a:b"}, wantErr: true},
		{name: "negative latency", args: []string{"-latency", "-1s"}, wantErr: true},
		{name: "extra argument", args: []string{"serve"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFlags(tt.args, env(tt.env), io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(options{})); diff != "" {
				t.Errorf("parseFlags(%q) mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

func TestParseFlagsGeneratesSecret(t *testing.T) {
	got, err := parseFlags(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !got.secretMade || len(got.secret) != 32 {
		t.Errorf("secret made = %v with %d characters, want a generated 32-character secret", got.secretMade, len(got.secret))
	}
}

// TestRun starts the command on a free port and talks xAPI to it.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var stdout, stderr bytes.Buffer
	ready := make(chan *Server, 1)
	done := make(chan int, 1)
	var mu sync.Mutex // guards stdout while run writes
	go func() {
		code := run(runCtx, []string{"-listen", "127.0.0.1:0", "-key", "K", "-secret", "S", "-versions", "2.0.0", "-v"},
			func(string) string { return "" }, &lockedWriter{w: &stdout, mu: &mu}, &lockedWriter{w: &stderr, mu: &mu},
			func(s *Server) { ready <- s })
		done <- code
	}()
	var s *Server
	select {
	case s = <-ready:
	case code := <-done:
		t.Fatalf("run exited with %d before listening: %s", code, stderr.String())
	case <-ctx.Done():
		t.Fatal("the server did not start")
	}

	statement := `{"id":"6f1e2d3c-4b5a-4978-8a1b-2c3d4e5f6a7b","actor":{"mbox":"mailto:tester@example.com"},` +
		`"verb":{"id":"http://adlnet.gov/expapi/verbs/experienced"},"object":{"id":"https://example.com/activity/1"}}`
	tests := []struct {
		name, key, secret, version string
		wantStatus                 int
	}{
		{name: "right credentials", key: "K", secret: "S", version: "2.0.0", wantStatus: http.StatusOK},
		{name: "wrong secret", key: "K", secret: "nope", version: "2.0.0", wantStatus: http.StatusUnauthorized},
		{name: "unsupported version", key: "K", secret: "S", version: "1.0.3", wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"statements", strings.NewReader(statement))
			if err != nil {
				t.Fatal(err)
			}
			req.SetBasicAuth(tt.key, tt.secret)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Experience-API-Version", tt.version)
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("POST statements status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
	if got := s.LRS.Len(); got != 1 {
		t.Errorf("stored statements = %d, want 1", got)
	}

	resp, err := http.Get(strings.TrimSuffix(s.Endpoint, "xapi/"))
	if err != nil {
		t.Fatal(err)
	}
	index, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(index), "statements stored: 1") {
		t.Errorf("index page does not report one stored statement:\n%s", index)
	}

	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exit code = %d, want 0", code)
		}
	case <-ctx.Done():
		t.Fatal("run did not stop after its context ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(stdout.String(), "xAPI endpoint "+s.Endpoint) {
		t.Errorf("stdout does not print the endpoint:\n%s", stdout.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "nope") {
		t.Errorf("output shows a secret sent by a client")
	}
	if !strings.Contains(stderr.String(), "POST statements statements=1 status=200") {
		t.Errorf("the request log misses the accepted POST:\n%s", stderr.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestConformance runs the LRS conformance kit against devlrs over HTTP,
// for every resource, with Basic credentials.
func TestConformance(t *testing.T) {
	lrsservertest.Run(t, func(t *testing.T) lrsservertest.Target {
		s, err := start(options{listen: "127.0.0.1:0", key: "K", secret: "S", versions: lrstest.DefaultVersions, path: "/xapi/"}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		return lrsservertest.Target{
			Endpoint:      s.Endpoint,
			Authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte("K:S")),
			Agent:         `{"objectType":"Agent","account":{"homePage":"https://lms.example.com","name":"learner-1"}}`,
		}
	})
}

// testClient sends the tests' requests over a transport of its own: test
// servers closing in parallel tests close http.DefaultTransport's idle
// connections, which fails a POST that was about to reuse one.
var testClient = &http.Client{Transport: &http.Transport{}}
