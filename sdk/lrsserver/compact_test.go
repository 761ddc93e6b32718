package lrsserver_test

import (
	"context"
	"fmt"
	"iter"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// TestCompactRebuildsTheStore checks that the changes Compact hands out,
// applied to an empty store, give back every statement in its order with
// its voided mark and attachments, and every document, but no deleted
// document, in fewer changes than the history that built the store.
func TestCompactRebuildsTheStore(t *testing.T) {
	ctx := context.Background()
	var history []lrsserver.Change
	src := lrsserver.NewMemoryStore(func(c lrsserver.Change) error {
		history = append(history, c)
		return nil
	})
	id := func(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }
	for ns, count := range map[string]int{"acme": 2500, "beacon": 3} {
		for i := range count {
			rec := lrsserver.Record{ID: id(i), Stored: time.UnixMilli(int64(1e12 + i)).UTC(), Full: []byte(fmt.Sprintf(`{"n":%d}`, i))}
			if i == 1 {
				rec.Attachments = map[string]lrsserver.Attachment{"ab": {ContentType: "text/plain", Data: []byte("note")}}
			}
			if err := src.AddStatements(ctx, ns, []lrsserver.Record{rec}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := src.AddStatements(ctx, "acme", []lrsserver.Record{{ID: id(9000), Full: []byte(`{"void":true}`)}}, []string{id(7)}); err != nil {
		t.Fatal(err)
	}
	key := func(ns, stateID string) lrsserver.DocKey {
		return lrsserver.DocKey{NS: ns, Kind: lrsserver.KindState, ActivityID: "https://courses.learningflow.example/c1", Agent: "mbox:mailto:ada@acme.example", ID: stateID}
	}
	put := func(k lrsserver.DocKey, body string) {
		t.Helper()
		err := src.UpdateDocument(ctx, k, func(*lrsserver.Document) (*lrsserver.Document, error) {
			return &lrsserver.Document{ContentType: "application/json", Body: []byte(body), Updated: time.Unix(1700000000, 0).UTC()}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		put(key("acme", "bookmark"), fmt.Sprintf(`{"slide":%d}`, i))
	}
	put(key("beacon", "suspend_data"), `"abc"`)
	put(key("acme", "gone"), `1`)
	if err := src.UpdateDocument(ctx, key("acme", "gone"), func(*lrsserver.Document) (*lrsserver.Document, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}

	var compacted []lrsserver.Change
	err := src.Compact(func(state iter.Seq[lrsserver.Change]) error {
		for c := range state {
			compacted = append(compacted, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(compacted) >= len(history) {
		t.Errorf("Compact handed out %d changes for a history of %d", len(compacted), len(history))
	}
	dst := lrsserver.NewMemoryStore(nil)
	for _, c := range compacted {
		dst.Apply(c)
	}
	replayed := lrsserver.NewMemoryStore(nil)
	for _, c := range history {
		replayed.Apply(c)
	}
	if diff := cmp.Diff(contents(t, replayed), contents(t, dst), cmpopts.IgnoreUnexported(lrsserver.Record{})); diff != "" {
		t.Errorf("store rebuilt from Compact differs from the replayed history (-history +compacted):\n%s", diff)
	}
	if got := contents(t, dst).Docs[key("acme", "bookmark")]; got != `{"slide":49}` {
		t.Errorf("bookmark after compaction = %q, want the last one put", got)
	}
}

type storeContents struct {
	Stmts map[string][]lrsserver.Record
	Docs  map[lrsserver.DocKey]string
}

// contents reads back what the tests above put in a store.
func contents(t *testing.T, s *lrsserver.MemoryStore) storeContents {
	t.Helper()
	ctx := context.Background()
	c := storeContents{Stmts: map[string][]lrsserver.Record{}, Docs: map[lrsserver.DocKey]string{}}
	for _, ns := range []string{"acme", "beacon"} {
		_ = s.Statements(ctx, ns, func(r *lrsserver.Record) bool {
			c.Stmts[ns] = append(c.Stmts[ns], *r)
			return true
		})
		for _, stateID := range []string{"bookmark", "suspend_data", "gone"} {
			k := lrsserver.DocKey{NS: ns, Kind: lrsserver.KindState, ActivityID: "https://courses.learningflow.example/c1", Agent: "mbox:mailto:ada@acme.example", ID: stateID}
			if d, ok, err := s.Document(ctx, k); err != nil {
				t.Fatal(err)
			} else if ok {
				c.Docs[k] = string(d.Body)
			}
		}
	}
	return c
}
