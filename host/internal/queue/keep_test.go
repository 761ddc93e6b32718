package queue

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNextKeepsARecordOfManyItems appends records larger than a batch and
// checks that Next reads each from disk once, hands out the right entries
// from the record it kept, and keeps nothing once a record's last item is
// out or its statements are released.
func TestNextKeepsARecordOfManyItems(t *testing.T) {
	t.Parallel()
	s, err := Open(Options{Dir: t.TempDir(), Sync: SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	qq, err := s.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	q := qq.(*fileQueue)
	reads := 0
	q.beforeRead = func() { reads++ }
	ctx := context.Background()
	item := func(i int) Item {
		return Item{ID: fmt.Sprintf("id-%04d", i), Data: []byte(fmt.Sprintf(`{"n":%d}`, i))}
	}
	// Two records of 150 items: sequence numbers 1-150 and 151-300.
	for r := range 2 {
		rec := make([]Item, 150)
		for i := range rec {
			rec[i] = item(r*150 + i)
		}
		if err := q.Append(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	type got struct {
		Seq  uint64
		ID   string
		Data string
	}
	next := func(n int) []got {
		t.Helper()
		es, err := q.Next(ctx, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]got, len(es))
		for i, e := range es {
			out[i] = got{e.Seq, e.ID, string(e.Data)}
		}
		return out
	}
	want := func(from, n int) []got {
		out := make([]got, n)
		for i := range out {
			it := item(from + i)
			out[i] = got{uint64(from + i + 1), it.ID, string(it.Data)}
		}
		return out
	}
	steps := []struct {
		name      string
		batch     int
		from, n   int
		reads     int
		keptFirst uint64 // the first sequence number of the kept record; 0: none
	}{
		{"first batch reads the first record and keeps it", 100, 0, 100, 1, 1},
		{"the rest of it, and the second record read and kept", 100, 100, 100, 2, 151},
		{"the second record from what was kept, to its last item", 100, 200, 100, 2, 0},
	}
	for _, st := range steps {
		if diff := cmp.Diff(want(st.from, st.n), next(st.batch)); diff != "" {
			t.Fatalf("%s: entries (-want +got):\n%s", st.name, diff)
		}
		if reads != st.reads {
			t.Errorf("%s: %d reads from disk so far, want %d", st.name, reads, st.reads)
		}
		var kept uint64
		if r := q.lastRead.Load(); r != nil {
			kept = r.rec.first
		}
		if kept != st.keptFirst {
			t.Errorf("%s: kept the record starting at %d, want %d (0: none)", st.name, kept, st.keptFirst)
		}
	}

	// Released statements drop the kept record: a batch that failed is
	// not followed by the next at once, and the queue holds no memory
	// for it meanwhile; what is handed out again is read again.
	rec := make([]Item, 150)
	for i := range rec {
		rec[i] = item(300 + i)
	}
	if err := q.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	first := next(100)
	if q.lastRead.Load() == nil {
		t.Fatal("no record kept after the first batch of a 150-item record")
	}
	seqs := make([]uint64, len(first))
	for i, e := range first {
		seqs[i] = e.Seq
	}
	q.Release(seqs...)
	if q.lastRead.Load() != nil {
		t.Error("a record is still kept after its statements were released")
	}
	if diff := cmp.Diff(want(300, 100), next(100)); diff != "" {
		t.Fatalf("released batch handed out again (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want(400, 50), next(100)); diff != "" {
		t.Fatalf("the rest of the record (-want +got):\n%s", diff)
	}
	if q.lastRead.Load() != nil {
		t.Error("a record is still kept after its last item was handed out")
	}
}
