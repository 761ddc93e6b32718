package host

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/sdk"
)

// TestRemovedOrganizationLeavesNothingBehind checks issue 11, item 8: an
// organization created again with the id of a removed one starts empty
// (no dead letters to list or replay, no integrations, no queued
// statements, no counts), also after a restart, and what the removed one
// left is archived under removed-orgs/.
func TestRemovedOrganizationLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	held := sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return stuckSink{closing: &atomic.Bool{}}, nil
	})
	cfg.Plugins.AllowRuntime = append(cfg.Plugins.AllowRuntime, "held")
	settings := OrgSettings{BaseIRI: "https://newco.learningflow.example"}
	ctx := context.Background()
	start := func() *Host { return newHost(t, cfg, WithProvider("held", held)) }
	h := start()
	if err := h.PutOrg(ctx, "newco", settings); err != nil {
		t.Fatal(err)
	}
	if _, err := h.SaveIntegration(ctx, "newco", Integration{ID: "held", Plugin: "held", Config: map[string]any{}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// Statements queued (the sink never takes them) and dead letters.
	if err := h.Record(ctx, "newco", statements("newco", 0, 5)...); err != nil {
		t.Fatal(err)
	}
	if err := h.dead.Add(ctx, "newco", []deadletter.Letter{{Org: "newco", Sink: "held", StatementID: statement("newco", 9).ID,
		Class: DeadLetterRejected, Statement: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveOrg(ctx, "newco"); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, h *Host) {
		t.Helper()
		if dls, err := h.DeadLetters(ctx, "newco", DeadLetterFilter{}); err != nil || len(dls) != 0 {
			t.Errorf("the new organization lists %d dead letters of the removed one (%v)", len(dls), err)
		}
		if n, err := h.ReplayDeadLetters(ctx, "newco", DeadLetterFilter{}); err != nil || n != 0 {
			t.Errorf("ReplayDeadLetters = %d, %v; want nothing to replay", n, err)
		}
		if list, err := h.Integrations("newco"); err != nil || len(list) != 0 {
			t.Errorf("the new organization has integrations %+v (%v)", list, err)
		}
		if st, err := h.Status("newco"); err != nil || len(st.Sinks) != 0 || st.RefusedEvents != 0 {
			t.Errorf("status of the new organization = %+v, %v; want empty", st, err)
		}
	}
	if err := h.PutOrg(ctx, "newco", settings); err != nil {
		t.Fatal(err)
	}
	check(t, h)
	// The new organization's integration with the same id starts from zero.
	if _, err := h.SaveIntegration(ctx, "newco", Integration{ID: "held", Plugin: "held", Config: map[string]any{}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := sinkStatus(t, h, "newco", "held"); s.Queued != 0 || s.DeadLetters != 0 || s.Delivered != 0 || s.Retried != 0 {
		t.Errorf("status of the new integration = %+v, want it empty", s)
	}
	if err := h.RemoveIntegration(ctx, "newco", "held"); err != nil {
		t.Fatal(err)
	}
	// What the removed organization left is archived, all of it: the 5
	// queued statements and the dead letter.
	archives, err := filepath.Glob(filepath.Join(cfg.DataDir, removedDir, "newco-*", "deadletter.ndjson"))
	if err != nil || len(archives) != 1 {
		t.Fatalf("archives = %v, %v; want one", archives, err)
	}
	arch := deadletter.New(filepath.Dir(archives[0]))
	if err := os.Rename(archives[0], filepath.Join(filepath.Dir(archives[0]), "newco.ndjson")); err != nil {
		t.Fatal(err)
	}
	if old, err := arch.List(ctx, "newco", deadletter.Filter{}); err != nil || len(old) != 6 {
		t.Errorf("archive holds %d dead letters (%v), want 6", len(old), err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, start())
}
