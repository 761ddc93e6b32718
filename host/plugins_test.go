package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/internal/procnice"
	"github.com/learningflow/lrsbridge/sdk"
)

// logRecords keeps the records logged at ERROR.
type logRecords struct {
	mu     sync.Mutex
	errors []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		l.mu.Lock()
		l.errors = append(l.errors, r.Message)
		l.mu.Unlock()
	}
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.errors {
		if m == msg {
			n++
		}
	}
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".new"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestUnusablePluginPausesAndHeals checks issue 11, item 6: a missing
// plugin file or one that does not match its checksum pauses the
// integration in a plain-words state, logged once at ERROR, instead of
// retrying forever; once the file is fixed the integration resumes by
// itself and delivers what was kept.
func TestUnusablePluginPausesAndHeals(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	built := plugins(t)
	for _, tc := range []struct {
		name   string
		before string // the file at plugins/mock before the fix; "" for none
		want   string // in LastError
		is     []error
	}{
		{"missing file", "", "is not installed", []error{ErrPluginUnusable, ErrUnknownPlugin}},
		{"changed file", "archive", "does not match the configured checksum", []error{ErrPluginUnusable, sdk.ErrChecksumMismatch}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Plugins.Dir = t.TempDir()
			cfg.Plugins.SHA256 = map[string]string{"mock": fileSum(t, filepath.Join(built, "mock"))}
			if tc.before != "" {
				copyFile(t, filepath.Join(built, tc.before), filepath.Join(cfg.Plugins.Dir, "mock"))
			}
			rec := filepath.Join(t.TempDir(), "r.ndjson")
			addOrg(&cfg, "acme", mockSink("mock", rec, nil))
			logs := &logRecords{}
			h := newHost(t, cfg, WithLogger(slog.New(logs)), withHealEvery(50*time.Millisecond))
			ctx := context.Background()
			if err := h.Record(ctx, "acme", statement("acme", 1)); err != nil {
				t.Fatal(err)
			}
			eventually(t, 20*time.Second, "the integration paused", func() bool {
				return sinkStatus(t, h, "acme", "mock").State == StatePausedPlugin
			})
			st := sinkStatus(t, h, "acme", "mock")
			if !strings.Contains(st.LastError, tc.want) || !strings.Contains(st.LastError, "ask the operator") {
				t.Errorf("LastError = %q, want plain words with %q and what to do", st.LastError, tc.want)
			}
			if st.Queued != 1 {
				t.Errorf("queued %d, want the statement kept", st.Queued)
			}
			eventually(t, 10*time.Second, "the pause logged at ERROR", func() bool { return logs.count("sink instance paused") > 0 })
			// Test Connection and Save answer with the typed error.
			_, err := h.TestIntegration(ctx, "acme", Integration{Label: "x", Plugin: "mock", Config: map[string]any{"record_file": rec}})
			for _, want := range tc.is {
				if !errors.Is(err, want) {
					t.Errorf("TestIntegration = %v, want it to wrap %v", err, want)
				}
			}
			// The operator reinstalls the plugin: delivery resumes.
			copyFile(t, filepath.Join(built, "mock"), filepath.Join(cfg.Plugins.Dir, "mock"))
			waitIdle(t, h, 30*time.Second)
			eventually(t, 30*time.Second, "the statement delivered", func() bool {
				ids, _ := recordedIDs(t, rec)
				return len(ids) == 1
			})
			if st := sinkStatus(t, h, "acme", "mock"); st.State != StateActive {
				t.Errorf("state after the fix = %s, want %s", st.State, StateActive)
			}
			// Paused, it did not retry (and log) again and again.
			if n := logs.count("sink instance paused"); n != 1 {
				t.Errorf("the pause was logged %d times at ERROR, want once", n)
			}
		})
	}
}

// TestPluginsRunAtLowerPriority checks that the host starts its plugin
// processes plugins.nice below its own priority, every thread of them, so
// that a plugin delivering a backlog gives way to the host's Record calls.
func TestPluginsRunAtLowerPriority(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a plugin process")
	}
	if runtime.GOOS != "linux" {
		t.Skip("every thread is lowered from its start on Linux only")
	}
	for _, nice := range []int{10, DefaultConfig().Plugins.Nice} {
		t.Run(strconv.Itoa(nice), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Plugins.Nice = nice
			addOrg(&cfg, "acme", mockSink("mock", filepath.Join(t.TempDir(), "r.ndjson"), nil))
			h := newHost(t, cfg)
			if err := h.Record(context.Background(), "acme", statement("acme", 0)); err != nil {
				t.Fatal(err)
			}
			waitIdle(t, h, time.Minute)
			running := h.sup.Running()
			if len(running) != 1 {
				t.Fatalf("plugin processes %v run, want 1", running)
			}
			var pid int
			for _, pid = range running {
			}
			own, err := procnice.Threads(os.Getpid())
			if err != nil {
				t.Fatal(err)
			}
			want := min(own[0]+nice, procnice.Max)
			nices, err := procnice.Threads(pid)
			if err != nil {
				t.Fatal(err)
			}
			for i, got := range nices {
				if got != want {
					t.Errorf("plugin thread %d runs at nice %d, want %d (the host's %d + plugins.nice %d)", i, got, want, own[0], nice)
				}
			}
		})
	}
}
