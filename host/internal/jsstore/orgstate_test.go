package jsstore_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// TestOrgState keeps state per organization: removing one deletes its
// state and no other's, and legacy state (saved under the key alone) is
// read and moved for an organization, but not for one removed since.
func TestOrgState(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	ctx := context.Background()
	b, err := openStore(t, cfg).Bucket(ctx, jsstore.BucketState, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := b.OrgState()
	load := func(org, key string) string {
		t.Helper()
		v, found, err := s.Load(ctx, org, key)
		if err != nil {
			t.Fatalf("Load(%q, %q): %v", org, key, err)
		}
		if !found {
			return "<none>"
		}
		return string(v)
	}
	for _, org := range []string{"acme", "acme.corp", "Globex/EU"} {
		if err := s.Save(ctx, org, "scorm-1", []byte("state of "+org)); err != nil {
			t.Fatal(err)
		}
	}
	// Legacy state, saved under the key alone.
	for _, k := range []string{"scorm-old-a", "scorm-old-b"} {
		if err := b.Save(ctx, k, []byte("legacy "+k)); err != nil {
			t.Fatal(err)
		}
	}
	if got := load("acme", "scorm-old-a"); got != "legacy scorm-old-a" {
		t.Errorf("legacy state before removal = %q", got)
	}
	n, err := s.RemoveOrg(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("RemoveOrg deleted %d states, want 2 (one saved, one migrated)", n)
	}
	got := map[string]string{
		"acme scorm-1":      load("acme", "scorm-1"),
		"acme scorm-old-a":  load("acme", "scorm-old-a"),
		"acme scorm-old-b":  load("acme", "scorm-old-b"),
		"acme.corp scorm-1": load("acme.corp", "scorm-1"),
		"Globex/EU scorm-1": load("Globex/EU", "scorm-1"),
	}
	want := map[string]string{
		"acme scorm-1":      "<none>",
		"acme scorm-old-a":  "<none>",
		"acme scorm-old-b":  "<none>",
		"acme.corp scorm-1": "state of acme.corp",
		"Globex/EU scorm-1": "state of Globex/EU",
	}
	// scorm-old-b is still legacy: an organization not removed reads it.
	if got := load("Globex/EU", "scorm-old-b"); got != "legacy scorm-old-b" {
		t.Errorf("legacy state for an organization not removed = %q", got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after removing acme (-want +got):\n%s", diff)
	}
}
