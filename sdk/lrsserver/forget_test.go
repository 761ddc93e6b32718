package lrsserver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// TestForgetStatements checks that ForgetStatements drops the statements
// stored before a time in every namespace and nothing else, that its
// journal entry replays to the same store, and that forgetting nothing
// writes no entry.
func TestForgetStatements(t *testing.T) {
	ctx := context.Background()
	var journal []lrsserver.Change
	m := lrsserver.NewMemoryStore(func(c lrsserver.Change) error {
		journal = append(journal, c)
		return nil
	})
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	id := func(ns string, day int) string { return fmt.Sprintf("00000000-0000-4000-8000-%s%09d", ns[:3], day) }
	for _, ns := range []string{"acme", "bcon"} {
		for day := range 10 {
			rec := lrsserver.Record{ID: id(ns, day), Stored: base.AddDate(0, 0, day), Full: []byte(`{}`)}
			if err := m.AddStatements(ctx, ns, []lrsserver.Record{rec}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	key := lrsserver.DocKey{NS: "acme", Kind: lrsserver.KindState, ActivityID: "https://example.com/a", Agent: "mbox:a@example.com", ID: "bookmark"}
	if err := m.UpdateDocument(ctx, key, func(*lrsserver.Document) (*lrsserver.Document, error) {
		return &lrsserver.Document{ContentType: "text/plain", Body: []byte("p4"), Updated: base}, nil
	}); err != nil {
		t.Fatal(err)
	}
	n, err := m.ForgetStatements(base.AddDate(0, 0, 7))
	if err != nil || n != 14 {
		t.Fatalf("ForgetStatements = %d, %v; want 14 (7 days of 2 namespaces)", n, err)
	}
	check := func(s *lrsserver.MemoryStore) {
		t.Helper()
		for _, ns := range []string{"acme", "bcon"} {
			if got := s.Len(ns); got != 3 {
				t.Errorf("%s holds %d statements, want the 3 stored from day 7", ns, got)
			}
			for day := range 10 {
				_, ok, _ := s.Statement(ctx, ns, id(ns, day))
				if ok != (day >= 7) {
					t.Errorf("%s day %d: found %v", ns, day, ok)
				}
			}
		}
		if d, ok, _ := s.Document(ctx, key); !ok || string(d.Body) != "p4" {
			t.Errorf("the document is gone after forgetting statements")
		}
	}
	check(m)
	// A statement sent again under a forgotten id is stored as new.
	if err := m.AddStatements(ctx, "acme", []lrsserver.Record{{ID: id("acme", 0), Stored: base.AddDate(0, 0, 11), Full: []byte(`{}`)}}, nil); err != nil {
		t.Errorf("adding a forgotten id again: %v", err)
	}
	entries := len(journal)
	if n, err := m.ForgetStatements(base); n != 0 || err != nil || len(journal) != entries {
		t.Errorf("forgetting nothing = %d, %v, %d journal entries added; want 0, nil, 0", n, err, len(journal)-entries)
	}
	replayed := lrsserver.NewMemoryStore(nil)
	for _, c := range journal[:len(journal)-1] {
		replayed.Apply(c)
	}
	check(replayed)
}
