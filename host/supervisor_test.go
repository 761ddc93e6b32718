package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk"
)

func TestPluginProcessPolicies(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	for _, policy := range []ProcessPolicy{ProcessShared, ProcessPerOrg} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Plugins.Process = map[string]ProcessPolicy{"mock": policy}
			dir := t.TempDir()
			for _, org := range []string{"alpha", "beta", "gamma"} {
				addOrg(&cfg, org, mockSink("m", filepath.Join(dir, org), nil))
			}
			h := newHost(t, cfg)
			for _, org := range []string{"alpha", "beta", "gamma"} {
				if err := h.Record(context.Background(), org, statement(org, 1)); err != nil {
					t.Fatal(err)
				}
			}
			waitIdle(t, h, 30*time.Second)
			running := h.sup.Running()
			want := 1
			if policy == ProcessPerOrg {
				want = 3
			}
			if len(running) != want {
				t.Errorf("%d plugin processes running (%v), want %d", len(running), running, want)
			}
		})
	}
}

func TestIdlePluginProcessesStop(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.Plugins.IdleTimeout = 300 * time.Millisecond
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	h := newHost(t, cfg)
	if err := h.Record(context.Background(), "acme", statement("acme", 1)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	eventually(t, 20*time.Second, "the idle plugin process to stop", func() bool { return len(h.sup.Running()) == 0 })
	// It starts again when there is work.
	if err := h.Record(context.Background(), "acme", statement("acme", 2)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if ids, _ := recordedIDs(t, rec); len(ids) != 2 {
		t.Errorf("delivered %d, want 2", len(ids))
	}
}

func TestPluginChecksumVerifiedBeforeStart(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	sum := func(path string) string {
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
	good := sum(filepath.Join(plugins(t), "mock"))
	for _, tc := range []struct {
		name, sum string
		ok        bool
	}{
		{"matching checksum", good, true},
		{"other checksum", strings.Repeat("ab", 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.Plugins.SHA256 = map[string]string{"mock": tc.sum}
			rec := filepath.Join(t.TempDir(), "r.ndjson")
			addOrg(&cfg, "acme", mockSink("mock", rec, nil))
			h := newHost(t, cfg)
			if err := h.Record(context.Background(), "acme", statement("acme", 1)); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				waitIdle(t, h, 30*time.Second)
				if ids, _ := recordedIDs(t, rec); len(ids) != 1 {
					t.Errorf("delivered %d, want 1", len(ids))
				}
				return
			}
			eventually(t, 20*time.Second, "a checksum error", func() bool {
				return strings.Contains(sinkStatus(t, h, "acme", "mock").LastError, "checksum")
			})
			if len(h.sup.Running()) != 0 {
				t.Error("a plugin with a wrong checksum is running")
			}
			if st := sinkStatus(t, h, "acme", "mock"); st.Queued != 1 {
				t.Errorf("queued %d, want the statement kept", st.Queued)
			}
			_, err := h.TestIntegration(context.Background(), "acme", Integration{Label: "x", Plugin: "mock", Config: map[string]any{"record_file": rec}})
			if !errors.Is(err, sdk.ErrChecksumMismatch) {
				t.Errorf("TestIntegration = %v, want ErrChecksumMismatch", err)
			}
		})
	}
}

// countMetrics counts what the host reports.
type countMetrics struct {
	mu     sync.Mutex
	counts map[string]int64
	obs    map[string]int
}

func (m *countMetrics) Count(name string, delta int64, org, sink string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[fmt.Sprintf("%s %s/%s", name, org, sink)] += delta
}

func (m *countMetrics) Observe(name string, _ float64, _, _ string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.obs[name]++
}

func (m *countMetrics) get(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	victim := statement("acme", 4)
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"reject": []any{map[string]any{"id": victim.ID}}}))
	m := &countMetrics{counts: map[string]int64{}, obs: map[string]int{}}
	h := newHost(t, cfg, WithMetrics(m))
	if err := h.Record(context.Background(), "acme", statements("acme", 0, 10)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	for key, want := range map[string]int64{
		MetricRecorded + " acme/mock":     10,
		MetricDelivered + " acme/mock":    9,
		MetricDeadLettered + " acme/mock": 1,
	} {
		if got := m.get(key); got != want {
			t.Errorf("%s = %d, want %d", key, got, want)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.obs[MetricBatchSeconds] == 0 || m.obs[MetricBatchSize] == 0 {
		t.Errorf("no batch observations: %v", m.obs)
	}
}

// TestPluginKilledMidStreamIsRestarted kills the plugin process from
// outside (SIGKILL) while statements are being recorded and delivered:
// the supervisor starts a new one and every statement arrives.
func TestPluginKilledMidStreamIsRestarted(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	cfg := testConfig(t)
	cfg.Delivery.BatchSize = 5
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, map[string]any{"latency": "20ms"}))
	h := newHost(t, cfg)
	ctx := context.Background()
	var firstPid int
	for i := 0; i < 40; i++ {
		if err := h.Record(ctx, "acme", statements("acme", i*5, 5)...); err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			eventually(t, 20*time.Second, "the plugin to run", func() bool { return len(h.sup.Running()) == 1 })
			for _, pid := range h.sup.Running() {
				firstPid = pid
				p, err := os.FindProcess(pid)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	waitIdle(t, h, 60*time.Second)
	ids, _ := recordedIDs(t, rec)
	if len(ids) != 200 {
		t.Fatalf("delivered %d distinct statements after the kill, want 200", len(ids))
	}
	for _, pid := range h.sup.Running() {
		if pid == firstPid {
			t.Errorf("the killed process %d is still reported running", pid)
		}
	}
}
