package sdk_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// pluginPath is the test plugin binary, built once per test binary.
var pluginPath string

func TestMain(m *testing.M) {
	if os.Getenv(hostChildEnv) != "" {
		os.Exit(hostChild(os.Getenv(hostChildEnv)))
	}
	dir, err := os.MkdirTemp("", "sdk-testplugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginPath = filepath.Join(dir, "testplugin")
	build := exec.Command("go", "build", "-o", pluginPath, "github.com/learningflow/lrsbridge/sdk/internal/testplugin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build test plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// recorder is an slog handler that keeps records for inspection.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// find returns the first record whose message or attribute values contain
// s, and whether there is one.
func (r *recorder) find(s string) (slog.Record, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if strings.Contains(rec.Message, s) {
			return rec, true
		}
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			found = strings.Contains(a.Value.String(), s)
			return !found
		})
		if found {
			return rec, true
		}
	}
	return slog.Record{}, false
}

func launch(t testing.TB, logger *slog.Logger) *sdk.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: pluginPath, Logger: logger})
	if err != nil {
		t.Fatalf("Launch = %v", err)
	}
	t.Cleanup(proc.Kill)
	return proc
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func configure(t testing.TB, p sdk.Provider, handle string, cfg map[string]any) sdk.Sink {
	t.Helper()
	sink, err := p.Configure(testCtx(t), sdk.ConfigureRequest{Instance: handle, Org: "test", Config: cfg})
	if err != nil {
		t.Fatalf("Configure(%q) = %v", handle, err)
	}
	return sink
}

func TestProcess_printsToStdoutStillWorks(t *testing.T) {
	rec := &recorder{}
	proc := launch(t, slog.New(rec))
	sink := configure(t, proc.Provider(), "print", map[string]any{"mode": scripted.ModeDeliver, "print": true})
	resp, err := sink.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(3)})
	if err != nil || resp.Verdicts != nil {
		t.Fatalf("Deliver = %+v, %v; want all delivered", resp, err)
	}
	// The print in the plugin's init function went to stderr, which the
	// host logs.
	if _, ok := rec.find("a stray print before the handshake"); !ok {
		t.Error("the plugin's print before the handshake is not in the host log")
	}
	// The sink's prints during Deliver went through go-plugin's stdout pipe.
	// The pipe is drained concurrently; Kill waits for it.
	proc.Kill()
	if _, ok := rec.find("scripted: delivering 3 statements"); !ok {
		t.Error("the sink's print during Deliver is not in the host log")
	}
}

func TestProcess_panicInDeliverIsAnError(t *testing.T) {
	proc := launch(t, nil)
	p := proc.Provider()
	panicky := configure(t, p, "panicky", map[string]any{"mode": scripted.ModePanic})
	_, err := panicky.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
	if !errors.Is(err, sdk.ErrSinkPanicked) {
		t.Fatalf("Deliver to a panicking sink = %v; want an error wrapping ErrSinkPanicked", err)
	}
	// The process recovered and serves other instances.
	healthy := configure(t, p, "healthy", map[string]any{"mode": scripted.ModeDeliver})
	if _, err := healthy.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)}); err != nil {
		t.Errorf("Deliver after a panic in another instance = %v; want nil", err)
	}
}

func waitExited(t *testing.T, proc *sdk.Process) {
	t.Helper()
	select {
	case <-proc.Exited():
	case <-testCtx(t).Done():
		t.Fatal("Exited was not closed after the plugin process died")
	}
}

func TestProcess_exitInDeliverIsErrPluginExited(t *testing.T) {
	proc := launch(t, nil)
	sink := configure(t, proc.Provider(), "exit", map[string]any{"mode": scripted.ModeExit})
	_, err := sink.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
	if !errors.Is(err, sdk.ErrPluginExited) {
		t.Fatalf("Deliver to a sink that exits the process = %v; want ErrPluginExited", err)
	}
	waitExited(t, proc)
}

func TestProcess_killedIsErrPluginExited(t *testing.T) {
	proc := launch(t, nil)
	p := proc.Provider()
	stalled := configure(t, p, "stalled", map[string]any{"mode": scripted.ModeStall})
	idle := configure(t, p, "idle", map[string]any{"mode": scripted.ModeDeliver})

	inFlight := make(chan error, 1)
	go func() {
		_, err := stalled.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
		inFlight <- err
	}()
	victim, err := os.FindProcess(proc.Pid())
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.Kill(); err != nil {
		t.Fatalf("kill plugin process: %v", err)
	}
	select {
	case err := <-inFlight:
		if !errors.Is(err, sdk.ErrPluginExited) {
			t.Errorf("in-flight Deliver when the plugin was killed = %v; want ErrPluginExited", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("in-flight Deliver did not return after the plugin was killed")
	}
	waitExited(t, proc)
	_, err = idle.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)})
	if !errors.Is(err, sdk.ErrPluginExited) {
		t.Errorf("Deliver after the plugin was killed = %v; want ErrPluginExited", err)
	}
	if _, err := p.Configure(testCtx(t), sdk.ConfigureRequest{Instance: "late", Config: map[string]any{"mode": scripted.ModeDeliver}}); !errors.Is(err, sdk.ErrPluginExited) {
		t.Errorf("Configure after the plugin was killed = %v; want ErrPluginExited", err)
	}
	if err := idle.Close(testCtx(t)); err != nil {
		t.Errorf("Close after the plugin was killed = %v; want nil", err)
	}
}

func TestProcess_errorsAcrossTheWire(t *testing.T) {
	proc := launch(t, nil)
	p := proc.Provider()
	sts := sinktest.Statements(2)
	type outcome struct {
		Class    string
		Delay    time.Duration
		HasDelay bool
		Panicked bool
		Unknown  bool
	}
	classify := func(err error) outcome {
		d, ok := sdk.RetryDelay(err)
		return outcome{
			Class: sdk.ClassOf(err).String(), Delay: d, HasDelay: ok,
			Panicked: errors.Is(err, sdk.ErrSinkPanicked), Unknown: errors.Is(err, sdk.ErrUnknownInstance),
		}
	}
	tests := []struct {
		name string
		cfg  map[string]any
		want outcome
	}{
		{"retryable", map[string]any{"mode": scripted.ModeRetryable}, outcome{Class: "retryable"}},
		{"retry after", map[string]any{"mode": scripted.ModeRetryAfter, "retry_after_ms": 1500.0}, outcome{Class: "retryable", Delay: 1500 * time.Millisecond, HasDelay: true}},
		{"unauthenticated", map[string]any{"mode": scripted.ModeUnauthenticated}, outcome{Class: "unauthenticated"}},
		{"forbidden", map[string]any{"mode": scripted.ModeForbidden}, outcome{Class: "forbidden"}},
		{"panic", map[string]any{"mode": scripted.ModePanic}, outcome{Class: "retryable", Panicked: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := configure(t, p, "classes/"+tt.name, tt.cfg)
			_, err := sink.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sts})
			if err == nil {
				t.Fatal("Deliver = nil error; want one")
			}
			if diff := cmp.Diff(tt.want, classify(err)); diff != "" {
				t.Errorf("Deliver error %v: class mismatch (-want +got):\n%s", err, diff)
			}
		})
	}

	t.Run("config error", func(t *testing.T) {
		_, err := p.Configure(testCtx(t), sdk.ConfigureRequest{Instance: "bad", Config: map[string]any{"mode": "nope"}})
		var cerr *sdk.ConfigError
		if !errors.As(err, &cerr) {
			t.Fatalf("Configure(bad mode) = %v; want a *ConfigError", err)
		}
		want := []sdk.FieldError{{Field: "mode", Message: "must be one of the scripted modes"}}
		if diff := cmp.Diff(want, cerr.Fields); diff != "" {
			t.Errorf("field errors mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("unknown instance after close", func(t *testing.T) {
		a := configure(t, p, "closing", map[string]any{"mode": scripted.ModeDeliver})
		if err := a.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		_, err := a.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sts})
		if !errors.Is(err, sdk.ErrUnknownInstance) {
			t.Errorf("Deliver after Close = %v; want ErrUnknownInstance", err)
		}
	})

	t.Run("optional interfaces", func(t *testing.T) {
		plain := configure(t, p, "plain", map[string]any{"mode": scripted.ModeDeliver})
		rich := configure(t, p, "rich", map[string]any{"mode": scripted.ModeDeliver, "tester": true, "xapi_version": "2.0.0"})
		if _, ok := plain.(sdk.ConnectionTester); ok {
			t.Error("plain remote sink implements ConnectionTester; its plugin sink does not")
		}
		if _, ok := plain.(sdk.VersionReporter); ok {
			t.Error("plain remote sink implements VersionReporter; its plugin sink does not")
		}
		vr, ok := rich.(sdk.VersionReporter)
		if !ok || vr.XAPIVersion() != xapi.V200 {
			t.Errorf("rich remote sink: VersionReporter %v; want one reporting %q", ok, xapi.V200)
		}
		ct, ok := rich.(sdk.ConnectionTester)
		if !ok {
			t.Fatal("rich remote sink does not implement ConnectionTester")
		}
		r, err := ct.TestConnection(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"url passed", "auth warning"}
		var got []string
		for _, s := range r.Steps {
			got = append(got, s.Name+" "+s.Status.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("connection test steps mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestLaunch_checksum(t *testing.T) {
	f, err := os.Open(pluginPath)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	good := h.Sum(nil)
	bad := append([]byte(nil), good...)
	bad[0] ^= 0xff

	tests := []struct {
		name string
		sum  []byte
		want error
	}{
		{"matching checksum", good, nil},
		{"wrong checksum", bad, sdk.ErrChecksumMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc, err := sdk.Launch(testCtx(t), sdk.LaunchConfig{Path: pluginPath, SHA256: tt.sum})
			if proc != nil {
				t.Cleanup(proc.Kill)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Launch = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestLaunch_relevelsPluginLogs(t *testing.T) {
	rec := &recorder{}
	proc := launch(t, slog.New(rec))
	// The scripted sink does not log; an invalid configuration makes the
	// SDK log nothing either, so use go-plugin's own debug lines from the
	// plugin, logged through sdk.Logger in JSON.
	proc.Kill()
	r, ok := rec.find("plugin address")
	if !ok {
		t.Fatal("the plugin's log line \"plugin address\" is not in the host log")
	}
	if r.Level != slog.LevelDebug {
		t.Errorf("plugin log line re-levelled at %v; want %v", r.Level, slog.LevelDebug)
	}
	// The plugin used the certificate the host sent, not go-plugin's own.
	for _, s := range []string{"reading the host's TLS line failed", "configuring server automatic mTLS"} {
		if _, ok := rec.find(s); ok {
			t.Errorf("the plugin logged %q; want it to use the host's TLS line", s)
		}
	}
}
