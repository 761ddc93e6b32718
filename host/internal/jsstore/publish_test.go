package jsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// TestGroupTaking: a message takes whole waiting Appends from the head
// while they fit its item and byte bounds; without group commit, one.
func TestGroupTaking(t *testing.T) {
	mk := func(n, size int) *call {
		c := &call{items: make([]queue.Item, n)}
		c.size = size
		return c
	}
	tests := []struct {
		name      string
		group     bool
		maxBytes  int
		waiting   []*call
		wantTaken int
	}{
		{"all that fit", true, 1000, []*call{mk(2, 10), mk(1, 10), mk(3, 10)}, 3},
		{"item bound", true, 1000, []*call{mk(2, 10), mk(maxMsgItems-2, 10), mk(1, 10)}, 2},
		{"byte bound", true, 25 + binary.MaxVarintLen64, []*call{mk(1, 10), mk(1, 10), mk(1, 10)}, 2},
		{"first always", true, 5, []*call{mk(1, 10), mk(1, 1)}, 1},
		{"no group commit", false, 1000, []*call{mk(1, 10), mk(1, 10)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &coalescer{p: &publisher{group: tt.group, maxBytes: tt.maxBytes}, waiting: slices.Clone(tt.waiting)}
			got := c.takeLocked()
			if len(got) != tt.wantTaken || got[0] != tt.waiting[0] {
				t.Errorf("took %d, want the first %d", len(got), tt.wantTaken)
			}
			if len(c.waiting) != len(tt.waiting)-tt.wantTaken {
				t.Errorf("%d left waiting, want %d", len(c.waiting), len(tt.waiting)-tt.wantTaken)
			}
		})
	}
}

// TestMessagesSplit: items that do not fit one message are framed as
// several, with one nonce and their index as message ids, the item count
// in each subject, and every item once, in order.
func TestMessagesSplit(t *testing.T) {
	p := &publisher{maxBytes: 300}
	var items []queue.Item
	for i := range 7 {
		items = append(items, queue.Item{ID: fmt.Sprintf("st-%d", i), Data: bytes.Repeat([]byte("x"), 80), Tag: byte(i)})
	}
	msgs := p.messages("lrs.acme.lrs", items)
	if len(msgs) < 2 {
		t.Fatalf("%d messages, want several", len(msgs))
	}
	nonce, _, _ := strings.Cut(msgs[0].msgID, ".")
	var got []queue.Item
	for i, m := range msgs {
		if want := fmt.Sprintf("%s.%d", nonce, i); m.msgID != want {
			t.Errorf("message %d id %q, want %q", i, m.msgID, want)
		}
		if len(m.data) > p.maxBytes {
			t.Errorf("message %d takes %d bytes, more than %d", i, len(m.data), p.maxBytes)
		}
		part, err := decodeItems(m.data)
		if err != nil {
			t.Fatal(err)
		}
		if want := framedSubject("lrs.acme.lrs", len(part)); m.subject != want {
			t.Errorf("message %d subject %q, want %q", i, m.subject, want)
		}
		got = append(got, part...)
	}
	if diff := cmp.Diff(items, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if one := p.messages("lrs.acme.lrs", items[:1]); len(one) != 1 || strings.Contains(one[0].msgID, ".") {
		t.Errorf("one item: %d messages, id %q; want one with a bare nonce", len(one), one[0].msgID)
	}
}
