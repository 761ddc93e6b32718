package jsstore

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	srv := jstest.Run(t, jstest.Options{})
	cfg := DefaultConfig()
	cfg.URL = srv.URL()
	cfg.Replicas = 1
	cfg.MaxTotalBytes = 64 << 20
	cfg.PinnedTTL = 2 * time.Second
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRetriedPublishStoredOnce commits the same messages twice, as a retry
// after a lost answer does: the second commit succeeds and stores nothing.
func TestRetriedPublishStoredOnce(t *testing.T) {
	s := openTestStore(t)
	subj, err := s.names.queueSubject("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	p := s.pub
	p.maxBytes = 200                // so that three items take three messages: an atomic batch
	for _, n := range []int{1, 3} { // a plain publish and an atomic batch
		var items []queue.Item
		for i := range n {
			items = append(items, queue.Item{ID: fmt.Sprintf("st-%d", i), Data: bytes.Repeat([]byte("x"), 100)})
		}
		msgs := p.messages(subj, items)
		if len(msgs) != n {
			t.Fatalf("%d items framed as %d messages, want %d", n, len(msgs), n)
		}
		for try := range 2 {
			if err := p.commit(msgs); err != nil {
				t.Fatalf("%d messages, try %d: %v", n, try, err)
			}
		}
	}
	st, err := s.subjectStats("acme", subj)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pending != 4 {
		t.Errorf("Pending = %d, want 4 (each commit stored once)", st.Pending)
	}
}

// TestReplayNotDeduplicated appends statements, delivers them, and appends
// the same statements again (a dead-letter replay within the duplicate
// window): they are queued again, not dropped as duplicates.
func TestReplayNotDeduplicated(t *testing.T) {
	s := openTestStore(t)
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	items := []queue.Item{{ID: "st-1", Data: []byte(`{"id":"st-1"}`)}, {ID: "st-2", Data: []byte(`{"id":"st-2"}`)}}
	for round := range 2 {
		if err := q.Append(context.Background(), items); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var got []queue.Entry
		for len(got) < 2 {
			es, err := q.Next(ctx, 10, 0)
			if err != nil {
				cancel()
				t.Fatalf("round %d: %v", round, err)
			}
			got = append(got, es...)
		}
		cancel()
		for _, e := range got {
			if err := q.Ack(e.Seq); err != nil {
				t.Fatal(err)
			}
		}
		if got[0].ID != "st-1" || got[1].ID != "st-2" {
			t.Errorf("round %d delivered %s, %s", round, got[0].ID, got[1].ID)
		}
	}
}
