package host

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCountsSurviveResaveAndRestart is the regression test of counters
// that went back to zero when an integration was saved again (delivered
// went from 2,020 to 33), and at every restart.
func TestCountsSurviveResaveAndRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.Secrets.AllowPlaintext = true
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	victim := statement("acme", 3)
	addOrg(&cfg, "acme")
	h := newHost(t, cfg)
	in := Integration{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{
		"record_file": rec, "reject": []any{map[string]any{"id": victim.ID}},
	}}
	if _, err := h.SaveIntegration(ctx, "acme", in, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	type counts struct{ Delivered, DeadLettered int64 }
	get := func(h *Host) counts {
		s := sinkStatus(t, h, "acme", "mock")
		return counts{s.Delivered, s.DeadLettered}
	}
	if err := h.Record(ctx, "acme", statements("acme", 0, 10)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if diff := cmp.Diff(counts{9, 1}, get(h)); diff != "" {
		t.Fatalf("counts after the first statements (-want +got):\n%s", diff)
	}

	in.Label = "Mock, renamed"
	if _, err := h.SaveIntegration(ctx, "acme", in, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{9, 1}, get(h)); diff != "" {
		t.Errorf("counts after saving the integration again (-want +got):\n%s", diff)
	}
	if err := h.Record(ctx, "acme", statements("acme", 10, 5)...); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	h2 := newHost(t, cfg)
	if diff := cmp.Diff(counts{14, 1}, get(h2)); diff != "" {
		t.Errorf("counts after a restart (-want +got):\n%s", diff)
	}
	if err := h2.RemoveIntegration(ctx, "acme", "mock"); err != nil {
		t.Fatal(err)
	}
	if _, err := h2.SaveIntegration(ctx, "acme", in, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{0, 0}, get(h2)); diff != "" {
		t.Errorf("counts of a new integration with a removed one's id (-want +got):\n%s", diff)
	}
}
