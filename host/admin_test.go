package host

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCreateOnlyRefusesAnExistingIntegration(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", SinkConfig{Label: "Mock one", Plugin: "mock", Config: map[string]any{"record_file": rec}})
	h := newHost(t, cfg)
	ctx := context.Background()

	id, err := h.NewIntegrationID("acme", "Mock One", "mock")
	if !errors.Is(err, ErrIntegrationExists) || id != "mock-one" {
		t.Errorf("NewIntegrationID(taken label) = %q, %v; want mock-one, ErrIntegrationExists", id, err)
	}
	if id, err := h.NewIntegrationID("acme", "Mock two!", "mock"); err != nil || id != "mock-two" {
		t.Errorf("NewIntegrationID(free label) = %q, %v; want mock-two, nil", id, err)
	}
	if _, err := h.NewIntegrationID("nobody", "x", "mock"); !errors.Is(err, ErrOrgUnknown) {
		t.Errorf("NewIntegrationID(unknown org) = %v, want ErrOrgUnknown", err)
	}

	other := filepath.Join(t.TempDir(), "other.ndjson")
	_, err = h.SaveIntegration(ctx, "acme", Integration{ID: "mock-one", Label: "Replacement", Plugin: "mock", Config: map[string]any{"record_file": other}}, SaveOptions{CreateOnly: true})
	if !errors.Is(err, ErrIntegrationExists) {
		t.Fatalf("SaveIntegration(CreateOnly, existing id) = %v, want ErrIntegrationExists", err)
	}
	list, err := h.Integrations("acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Mock one"}, labels(list)); diff != "" {
		t.Errorf("integrations changed by a refused create (-want +got):\n%s", diff)
	}
	if _, err := h.SaveIntegration(ctx, "acme", Integration{Label: "Mock two", Plugin: "mock", Config: map[string]any{"record_file": other}}, SaveOptions{CreateOnly: true}); err != nil {
		t.Fatalf("SaveIntegration(CreateOnly, new) = %v", err)
	}
	if list, err = h.Integrations("acme"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Mock one", "Mock two"}, labels(list)); diff != "" {
		t.Errorf("integrations after a create (-want +got):\n%s", diff)
	}
}

func labels(list []IntegrationInfo) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.Label
	}
	return out
}

func TestReplayDeadLettersIntoAnotherIntegration(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	gone := filepath.Join(t.TempDir(), "gone.ndjson")
	addOrg(&cfg, "acme", mockSink("old", gone, map[string]any{"auth_fail": "unauthenticated"}))
	addOrg(&cfg, "beacon", mockSink("b", filepath.Join(t.TempDir(), "b.ndjson"), nil))
	h := newHost(t, cfg)
	ctx := context.Background()
	sent := statements("acme", 0, 5)
	if err := h.Record(ctx, "acme", sent...); err != nil {
		t.Fatal(err)
	}
	if err := h.RemoveIntegration(ctx, "acme", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReplayDeadLettersInto(ctx, "acme", DeadLetterFilter{}, "missing"); !errors.Is(err, ErrIntegrationUnknown) {
		t.Errorf("replay into a missing integration = %v, want ErrIntegrationUnknown", err)
	}
	if _, err := h.ReplayDeadLettersInto(ctx, "acme", DeadLetterFilter{}, "b"); !errors.Is(err, ErrIntegrationUnknown) {
		t.Errorf("replay into another organization's integration = %v, want ErrIntegrationUnknown", err)
	}
	rec := filepath.Join(t.TempDir(), "new.ndjson")
	if _, err := h.SaveIntegration(ctx, "acme", Integration{ID: "new", Label: "New", Plugin: "mock", Config: map[string]any{"record_file": rec}}, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := h.ReplayDeadLettersInto(ctx, "acme", DeadLetterFilter{Sink: "old"}, "new")
	if err != nil || n != len(sent) {
		t.Fatalf("ReplayDeadLettersInto = %d, %v; want %d", n, err, len(sent))
	}
	waitIdle(t, h, 10*time.Second)
	ids, _ := recordedIDs(t, rec)
	want := map[string]int{}
	for _, st := range sent {
		want[st.ID] = 1
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("statements delivered by the new integration (-want +got):\n%s", diff)
	}
	if dls, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{}); err != nil || len(dls) != 0 {
		t.Errorf("dead letters after the replay = %d, %v; want none", len(dls), err)
	}
}
