package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/secret"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	acme := normalize.Settings{BaseIRI: "https://acme.example"}
	saved := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lrs := Integration{ID: "lrs", Plugin: "lrs", Config: map[string]any{"endpoint": "https://lrs.acme.example"}}
	archive := Integration{ID: "archive", Plugin: "archive"}
	configured := map[string]Configured{
		"acme":   {Settings: acme, Integrations: []Integration{lrs, archive}},
		"globex": {Settings: normalize.Settings{BaseIRI: "https://globex.example"}, Integrations: []Integration{lrs}},
	}
	for _, tc := range []struct {
		name        string
		state       State
		wantOrgs    []Resolved
		wantIgnored []string
	}{
		{
			name: "configuration only",
			wantOrgs: []Resolved{
				{ID: "acme", Settings: acme, Integrations: []Entry{{archive, SourceConfig, time.Time{}}, {lrs, SourceConfig, time.Time{}}}},
				{ID: "globex", Settings: configured["globex"].Settings, Integrations: []Entry{{lrs, SourceConfig, time.Time{}}}},
			},
		},
		{
			name: "saved integrations override and remove configured ones",
			state: State{Integrations: map[string][]Saved{"acme": {
				{Integration: archive, Saved: saved, Removed: true},
				{Integration: Integration{ID: "lrs", Plugin: "lrs", Label: "new"}, Saved: saved},
			}}},
			wantOrgs: []Resolved{
				{ID: "acme", Settings: acme, Integrations: []Entry{{Integration{ID: "lrs", Plugin: "lrs", Label: "new"}, SourceSaved, saved}}},
				{ID: "globex", Settings: configured["globex"].Settings, Integrations: []Entry{{lrs, SourceConfig, time.Time{}}}},
			},
		},
		{
			name: "saved organizations override, add and remove",
			state: State{
				Orgs: map[string]Org{
					"globex":  {Removed: true},
					"initech": {Settings: normalize.Settings{BaseIRI: "https://initech.example"}},
				},
				Integrations: map[string][]Saved{"umbrella": {{Integration: lrs}}},
			},
			wantOrgs: []Resolved{
				{ID: "acme", Settings: acme, Integrations: []Entry{{archive, SourceConfig, time.Time{}}, {lrs, SourceConfig, time.Time{}}}},
				{ID: "initech", Settings: normalize.Settings{BaseIRI: "https://initech.example"}},
			},
			wantIgnored: []string{"umbrella"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			orgs, ignored := Resolve(configured, tc.state)
			if diff := cmp.Diff(tc.wantOrgs, orgs); diff != "" {
				t.Errorf("organizations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantIgnored, ignored); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStateChangesAreCopies(t *testing.T) {
	t.Parallel()
	s := State{Integrations: map[string][]Saved{"acme": {{Integration: Integration{ID: "a"}}}}, Orgs: map[string]Org{}}
	next := s.WithIntegration("acme", Saved{Integration: Integration{ID: "b"}}).WithOrg("globex", Org{})
	if len(s.Integrations["acme"]) != 1 || len(s.Orgs) != 0 {
		t.Errorf("the original changed: %+v", s)
	}
	if len(next.Integrations["acme"]) != 2 || len(next.Orgs) != 1 {
		t.Errorf("the copy lacks the changes: %+v", next)
	}
}

func TestFileSealsSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secret.NewBox("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", false)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "integrations.json")
	f := NewFile(path, box)
	in := Integration{ID: "lrs", Plugin: "lrs", Config: map[string]any{"endpoint": "https://lrs.example", "secret": "hunter2-very-secret"}}
	s := State{}.WithIntegration("acme", Saved{Integration: in})
	if err := f.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "hunter2") {
		t.Errorf("the secret is stored in clear:\n%s", raw)
	}
	back, err := f.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Integrations, back.Integrations); diff != "" {
		t.Errorf("loaded integrations (-want +got):\n%s", diff)
	}
	noKey, _ := secret.NewBox("", false)
	if err := NewFile(path, noKey).Save(ctx, s); !errors.Is(err, secret.ErrPlaintext) {
		t.Errorf("Save without a key = %v, want ErrPlaintext", err)
	}
	if _, err := NewFile(path, noKey).Load(ctx); err == nil {
		t.Error("Load of sealed secrets without a key succeeded")
	}
}

func TestFileSealsNestedSecretsAndMigratesOldFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	box, err := secret.NewBox("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", false)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "integrations.json")
	// A file of an older version: top-level secrets sealed, nested ones in
	// clear.
	top, err := box.Seal("acme", "lrs", map[string]any{"secret": "top-level-secret"})
	if err != nil {
		t.Fatal(err)
	}
	old := map[string]any{
		"version": 1,
		"orgs": map[string]any{"acme": []any{map[string]any{
			"id": "lrs", "plugin": "lrs", "saved": "2026-01-02T03:04:05Z",
			"config": map[string]any{
				"secret":  top["secret"],
				"tls":     map[string]any{"client_key": "nested-clear-key"},
				"headers": []any{map[string]any{"token": "listed-clear-token"}},
			},
		}}},
	}
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := NewFile(path, box).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"secret":  "top-level-secret",
		"tls":     map[string]any{"client_key": "nested-clear-key"},
		"headers": []any{map[string]any{"token": "listed-clear-token"}},
	}
	if diff := cmp.Diff(want, got.Integrations["acme"][0].Config); diff != "" {
		t.Errorf("loaded config (-want +got):\n%s", diff)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"nested-clear-key", "listed-clear-token", "top-level-secret"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("after Load the file still holds %q in clear:\n%s", s, raw)
		}
	}
	again, err := NewFile(path, box).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("second load (-want +got):\n%s", diff)
	}
}
