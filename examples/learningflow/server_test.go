package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/httpapi"
)

// serveDemo runs the demo server (no generator) until the test ends and
// returns what runs; extra flags are appended.
func serveDemo(t *testing.T, stdout, stderr io.Writer, timeouts *serverTimeouts, extra ...string) *running {
	t.Helper()
	rn, stop := startDemoServer(t, stdout, stderr, timeouts, extra...)
	t.Cleanup(func() {
		if code := stop(); code != 0 {
			t.Errorf("the demo exited with %d", code)
		}
	})
	return rn
}

// startDemoServer runs the demo server (no generator); stop ends it (as
// Ctrl-C does) and returns its exit code.
func startDemoServer(t *testing.T, stdout, stderr io.Writer, timeouts *serverTimeouts, extra ...string) (rn *running, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *running, 1)
	a := &app{stdout: stdout, stderr: stderr, environ: []string{}, serverTimeouts: timeouts,
		started: func(rn *running) { started <- rn }}
	done := make(chan int, 1)
	args := append([]string{"-listen", "127.0.0.1:0", "-rate", "0", "-plugins", plugins(t), "-data", t.TempDir()}, extra...)
	go func() { done <- a.run(ctx, args) }()
	var once sync.Once
	code := 0
	stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	select {
	case rn = <-started:
		return rn, stop
	case code := <-done:
		done <- code
		t.Fatalf("the demo exited with %d before serving", code)
	}
	return nil, stop
}

// TestDemoProgressAndExitMessage serves with frequent progress lines,
// posts an event, and stops: the progress line counts it, and the exit
// message says what became of the statements.
func TestDemoProgressAndExitMessage(t *testing.T) {
	var stdout, stderr syncBuffer
	rn, stop := startDemoServer(t, &stdout, &stderr, nil, "-status-every", "20ms")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var posted httpapi.EventsResponse
	if code, raw := call(t, ctx, http.MethodPost, rn.panelURL+"api/events", "application/x-ndjson", quizEvent("acme", "p1"), &posted); code != http.StatusOK || posted.Recorded != 1 {
		t.Fatalf("POST /api/events = %d %s", code, raw)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stdout.String(), "progress: 1 events in, ") {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line counts the event:\n%s", stdout.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "stopped: ") {
		t.Errorf("last line %q, want the exit message", last)
	}
}

func TestDemoServesPanelAndAPI(t *testing.T) {
	var stdout, stderr syncBuffer
	rn := serveDemo(t, &stdout, &stderr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var orgs struct{ Orgs []httpapi.OrgView }
	if code, raw := call(t, ctx, http.MethodGet, rn.panelURL+"api/orgs", "", nil, &orgs); code != http.StatusOK {
		t.Fatalf("GET /api/orgs = %d %s", code, raw)
	}
	if diff := cmp.Diff([]httpapi.OrgView{{ID: "acme", Integrations: 1}, {ID: "beacon", Integrations: 1}}, orgs.Orgs); diff != "" {
		t.Errorf("organizations (-want +got):\n%s", diff)
	}
	var posted httpapi.EventsResponse
	if code, raw := call(t, ctx, http.MethodPost, rn.panelURL+"api/events", "application/x-ndjson", quizEvent("acme", "d1"), &posted); code != http.StatusOK || posted.Recorded != 1 {
		t.Fatalf("POST /api/events = %d %s", code, raw)
	}
	if got := rn.events.Load(); got != 1 {
		t.Errorf("events counted = %d, want 1", got)
	}
	if code, page := call(t, ctx, http.MethodGet, rn.panelURL+"orgs/acme", "", nil, nil); code != http.StatusOK || !strings.Contains(page, "Test Connection") {
		t.Errorf("GET /orgs/acme = %d, want the panel", code)
	}
	if code, _ := call(t, ctx, http.MethodGet, rn.panelURL+"api/openapi.yaml", "", nil, nil); code != http.StatusOK {
		t.Errorf("GET /api/openapi.yaml = %d", code)
	}
	// The banner names the launched-content routes; the cmi5 one leads to
	// the quiz with its launch parameters.
	quiz := rn.panelURL + strings.TrimPrefix(cmi5LaunchPath, "/") + "?org=acme&user=u-1"
	for deadline := time.Now().Add(time.Minute); !strings.Contains(stdout.String(), quiz); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the banner does not name %s:\n%s", quiz, stdout.String())
		}
	}
	if code, page := call(t, ctx, http.MethodGet, quiz, "", nil, nil); code != http.StatusOK || !strings.Contains(page, "Cell quiz") {
		t.Errorf("GET %s = %d, want the cmi5 quiz after the launch's redirect", quiz, code)
	}
}

// TestSlowBodyIsCutOff sends the headers of POST /api/events and a part of
// its body, then nothing: the server must end the request by itself (its
// read timeout) instead of holding the connection open.
func TestSlowBodyIsCutOff(t *testing.T) {
	var stdout, stderr syncBuffer
	rn := serveDemo(t, &stdout, &stderr, &serverTimeouts{ReadHeader: time.Second, Read: 300 * time.Millisecond, Write: time.Minute, Idle: time.Minute})
	addr := strings.TrimSuffix(strings.TrimPrefix(rn.panelURL, "http://"), "/")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The test's own deadline only keeps a broken server from hanging
	// the suite; the server must end the request long before.
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST /api/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n%s", addr, quizEvent("acme", "slow"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("a body cut off by the server was answered %d %s, want an error or a closed connection", resp.StatusCode, body)
		}
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server held the slow request for a minute: %v", err)
	}
	// Otherwise the server closed the connection: what we want.
}

func TestExitMessage(t *testing.T) {
	t.Parallel()
	temp := &demoEnv{DataDir: "/tmp/x", tempData: true}
	kept := &demoEnv{DataDir: "data"}
	tests := []struct {
		name         string
		queued, dead int
		demo         *demoEnv
		want         string
	}{
		{"all delivered", 0, 0, temp, "stopped: every statement was delivered."},
		{"temporary directory", 3, 1, temp, "stopped: 4 statements not delivered (3 queued, 1 dead letters) are removed with the temporary data directory; run with -data DIR to keep them."},
		{"kept directory", 3, 0, kept, "stopped: 3 statements not delivered (3 queued, 0 dead letters) stay in data; queued ones are delivered at the next start with the same data directory."},
		{"configuration", 0, 2, nil, "stopped: 2 statements not delivered (0 queued, 2 dead letters) stay in the data directory; queued ones are delivered at the next start with the same data directory."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, exitMessage(tt.queued, tt.dead, tt.demo)); diff != "" {
				t.Errorf("exitMessage (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigUsesItsPluginsAsTheyAre runs -config with an empty plugin
// directory: it reports the missing plugins and builds nothing.
func TestConfigUsesItsPluginsAsTheyAre(t *testing.T) {
	dir := t.TempDir()
	pluginDir := filepath.Join(dir, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "lrsbridge.yaml")
	yaml := fmt.Sprintf(`data_dir: '%s'
plugins: {dir: '%s'}
orgs:
  acme:
    base_iri: https://acme.learningflow.example
    sinks:
      - {id: arch, plugin: archive, config: {dir: '%s'}}
`, filepath.Join(dir, "data"), pluginDir, filepath.Join(dir, "archive"))
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncBuffer
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: []string{}}
	code := a.run(context.Background(), []string{"-config", cfgFile, "-events", "-"})
	if code != 1 || !strings.Contains(stderr.String(), "plugins missing from "+pluginDir+" (plugins.dir): archive") {
		t.Errorf("exit %d, stderr %q; want 1 naming the missing archive plugin", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "building plugins") {
		t.Errorf("a -config run built plugins: %s", stderr.String())
	}
	entries, err := os.ReadDir(pluginDir)
	if err != nil || len(entries) != 0 {
		t.Errorf("plugin directory holds %d entries (%v), want it untouched", len(entries), err)
	}
}
