package host

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOrganizationsManagedAtRunTime(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Secrets.Key = testSecretsKey
	addOrg(&cfg, "acme")
	lrs, endpoint := newLRS(t)
	h := newHost(t, cfg)
	ctx := context.Background()

	settings := OrgSettings{BaseIRI: "https://newco.learningflow.example", Identity: "account"}
	if err := h.Record(ctx, "newco", statement("newco", 1)); !errors.Is(err, ErrOrgUnknown) {
		t.Fatalf("Record before PutOrg = %v, want ErrOrgUnknown", err)
	}
	var ce *ConfigError
	if err := h.PutOrg(ctx, "newco", OrgSettings{}); !errors.As(err, &ce) {
		t.Fatalf("PutOrg without base_iri = %v, want a *ConfigError", err)
	}
	if err := h.PutOrg(ctx, "../etc", OrgSettings{Identity: "email"}); !errors.As(err, &ce) {
		t.Fatalf("PutOrg with a bad id = %v, want a *ConfigError", err)
	}
	var keys []string
	for _, p := range ce.Problems {
		keys = append(keys, p.Key)
	}
	if want := []string{"orgs.../etc", "orgs.../etc.base_iri", "orgs.../etc.identity"}; strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("PutOrg problems %v, want keys %v", ce.Problems, want)
	}
	if err := h.PutOrg(ctx, "newco", settings); err != nil {
		t.Fatalf("PutOrg: %v", err)
	}
	if _, err := h.SaveIntegration(ctx, "newco", Integration{Label: "NewCo LRS", Plugin: "lrs",
		Config: map[string]any{"xapi_version": "1.0.3", "endpoint": endpoint, "key": "k", "secret": "s"}}, SaveOptions{}); err != nil {
		t.Fatalf("SaveIntegration: %v", err)
	}
	if err := h.Record(ctx, "newco", statement("newco", 1)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	if lrs.Len() != 1 {
		t.Fatalf("LRS has %d statements, want 1", lrs.Len())
	}
	if err := h.RemoveOrg(ctx, "acme"); err != nil {
		t.Fatalf("RemoveOrg of a configured organization: %v", err)
	}
	if err := h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// After a restart: newco and its integration are back, acme stays
	// removed although the configuration file still has it.
	h2 := newHost(t, cfg)
	if got := h2.Orgs(); len(got) != 1 || got[0] != "newco" {
		t.Fatalf("Orgs after restart = %v, want [newco]", got)
	}
	info, err := h2.Org("newco")
	if err != nil || info.Settings.BaseIRI != settings.BaseIRI || info.Source != SourceSaved {
		t.Errorf("Org(newco) = %+v, %v", info, err)
	}
	if err := h2.Record(ctx, "newco", statement("newco", 2)); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h2, 30*time.Second)
	if lrs.Len() != 2 {
		t.Errorf("LRS has %d statements after restart, want 2", lrs.Len())
	}
	if err := h2.RemoveOrg(ctx, "newco"); err != nil {
		t.Fatal(err)
	}
	if err := h2.Record(ctx, "newco", statement("newco", 3)); !errors.Is(err, ErrOrgUnknown) {
		t.Errorf("Record after RemoveOrg = %v, want ErrOrgUnknown", err)
	}
}
