package launch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// TestFileStoreReplay checks that a reopened store holds what was written,
// that a torn last line (a crash during a write) is dropped, and that
// writes after reopening land after the good lines.
func TestFileStoreReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	key := func(id string) lrsserver.DocKey {
		return lrsserver.DocKey{NS: "acme", Kind: lrsserver.KindState, ActivityID: "http://example.com/a", Agent: "mbox:a@example.com", ID: id}
	}
	put := func(s *fileStore, id, body string) {
		t.Helper()
		err := s.UpdateDocument(ctx, key(id), func(*lrsserver.Document) (*lrsserver.Document, error) {
			return &lrsserver.Document{ContentType: "text/plain", Body: []byte(body), Updated: time.Unix(1, 0)}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	get := func(s *fileStore, id string) string {
		t.Helper()
		d, ok, err := s.Document(ctx, key(id))
		if err != nil || !ok {
			return ""
		}
		return string(d.Body)
	}
	s, err := openFileStore(path, true)
	if err != nil {
		t.Fatal(err)
	}
	put(s, "bookmark", "slide-2")
	if err := s.AddStatements(ctx, "acme", []lrsserver.Record{{ID: "00000000-0000-4000-8000-000000000001", Full: []byte(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"key":{"NS":"acme","Kind":"state","ID":"torn"`)
	_ = f.Close()

	s, err = openFileStore(path, true)
	if err != nil {
		t.Fatalf("reopen after a torn line: %v", err)
	}
	if got := get(s, "bookmark"); got != "slide-2" {
		t.Errorf("bookmark after reopen = %q, want slide-2", got)
	}
	if n := s.Len("acme"); n != 1 {
		t.Errorf("statements after reopen = %d, want 1", n)
	}
	put(s, "bookmark", "slide-3")
	_ = s.Close()

	s, err = openFileStore(path, true)
	if err != nil {
		t.Fatalf("reopen after writing past a torn line: %v", err)
	}
	defer s.Close()
	if got := get(s, "bookmark"); got != "slide-3" {
		t.Errorf("bookmark = %q, want slide-3", got)
	}
	if got := get(s, "torn"); got != "" {
		t.Errorf("the torn document was kept: %q", got)
	}
}

// TestFileStoreCorrupt checks that a damaged line in the middle is an
// error naming what to do, not a silent loss.
func TestFileStoreCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lrs.jsonl")
	if err := os.WriteFile(path, []byte("not json\n{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openFileStore(path, false); err == nil {
		t.Fatal("openFileStore accepted a damaged journal")
	}
}

// TestSessionFile checks that reopening keeps the launches still valid,
// drops expired ones and a torn line, and appends after them.
func TestSessionFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "launches.jsonl")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	sf, got, err := openSessionFile(path, now, true)
	if err != nil || len(got) != 0 {
		t.Fatalf("open empty: %v, %d launches", err, len(got))
	}
	for _, s := range []savedSession{
		{ID: "live", Org: "acme", Expires: now.Add(time.Hour)},
		{ID: "old", Org: "acme", Expires: now.Add(-time.Minute)},
	} {
		if err := sf.add(s); err != nil {
			t.Fatal(err)
		}
	}
	_ = sf.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"id":"torn","org":`)
	_ = f.Close()

	sf, got, err = openSessionFile(path, now, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "live" {
		t.Fatalf("reopened launches = %+v, want only live", got)
	}
	if err := sf.add(savedSession{ID: "new", Org: "acme", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_ = sf.Close()
	sf, got, err = openSessionFile(path, now, true)
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	if len(got) != 2 || got[1].ID != "new" {
		t.Errorf("launches after an append = %+v, want live and new", got)
	}
}
