package statefile

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeLegacy writes state under key in the layout without organizations.
func writeLegacy(t *testing.T, dir, key, state string) {
	t.Helper()
	p := filepath.Join(dir, hashName(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(state), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestStatePerOrganization keeps state per organization, archives one
// organization's state without touching another's, and migrates the
// layout without organizations: its files stay readable (and move into
// the organization that reads them), except for an organization created
// again after a removal.
func TestStatePerOrganization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	writeLegacy(t, dir, "scorm-a", "legacy a")
	writeLegacy(t, dir, "scorm-b", "legacy b")
	s := New(dir)
	for range 2 { // a second start finds nothing left to migrate
		if err := s.Migrate(); err != nil {
			t.Fatal(err)
		}
	}
	load := func(org, key string) string {
		t.Helper()
		b, found, err := s.Load(ctx, org, key)
		if err != nil {
			t.Fatalf("Load(%q, %q): %v", org, key, err)
		}
		if !found {
			return "<none>"
		}
		return string(b)
	}
	for _, org := range []string{"acme", "Acme", "globex/../eu"} {
		if err := s.Save(ctx, org, "scorm-1", []byte("state of "+org)); err != nil {
			t.Fatal(err)
		}
	}
	if got := load("acme", "scorm-a"); got != "legacy a" {
		t.Fatalf("legacy state read by acme = %q, want legacy a", got)
	}
	archive := filepath.Join(t.TempDir(), "acme-removed")
	moved, err := s.Archive(ctx, "acme", archive)
	if err != nil || !moved {
		t.Fatalf("Archive(acme) = %v, %v; want true, nil", moved, err)
	}
	got := map[string]string{
		"acme scorm-1":         load("acme", "scorm-1"),
		"acme scorm-a":         load("acme", "scorm-a"),
		"acme scorm-b":         load("acme", "scorm-b"),
		"Acme scorm-1":         load("Acme", "scorm-1"),
		"globex/../eu scorm-1": load("globex/../eu", "scorm-1"),
		"Acme scorm-b":         load("Acme", "scorm-b"),
	}
	want := map[string]string{
		"acme scorm-1":         "<none>",
		"acme scorm-a":         "<none>",
		"acme scorm-b":         "<none>", // legacy, but acme was removed since
		"Acme scorm-1":         "state of Acme",
		"globex/../eu scorm-1": "state of globex/../eu",
		"Acme scorm-b":         "legacy b",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after archiving acme (-want +got):\n%s", diff)
	}
	files, err := filepath.Glob(filepath.Join(archive, "state", "*", "*"))
	if err != nil || len(files) != 2 {
		t.Errorf("archive holds %v (%v), want acme's two states", files, err)
	}
	// A second removal of the organization created again archives only
	// what it saved since.
	if err := s.Save(ctx, "acme", "scorm-2", []byte("new")); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "acme-removed-again")
	if moved, err := s.Archive(ctx, "acme", again); err != nil || !moved {
		t.Fatalf("second Archive(acme) = %v, %v; want true, nil", moved, err)
	}
	if got := load("acme", "scorm-2"); got != "<none>" {
		t.Errorf("state after the second removal = %q, want none", got)
	}
	if got := load("acme", "scorm-b"); got != "<none>" {
		t.Errorf("legacy state after the second removal = %q, want none", got)
	}
	if moved, err := New(t.TempDir()).Archive(ctx, "nobody", filepath.Join(t.TempDir(), "x")); err != nil || moved {
		t.Errorf("Archive of an organization without state = %v, %v; want false, nil", moved, err)
	}
}
