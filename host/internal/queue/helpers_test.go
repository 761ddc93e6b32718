package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// openStore opens a store in a fresh temporary directory (or opts.Dir) and
// closes it at the end of the test.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openQueue(t testing.TB, s *Store, org, sink string) Queue {
	t.Helper()
	q, err := s.Queue(org, sink)
	if err != nil {
		t.Fatalf("Queue(%q, %q): %v", org, sink, err)
	}
	return q
}

// item returns the item with id, whose data is derived from the id so that
// tests can check it.
func item(id string) Item {
	return Item{ID: id, Data: []byte(`{"id":"` + id + `","verb":{"id":"http://adlnet.gov/expapi/verbs/completed"}}`)}
}

func items(ids ...string) []Item {
	out := make([]Item, len(ids))
	for i, id := range ids {
		out[i] = item(id)
	}
	return out
}

func seqIDs(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

func appendIDs(t testing.TB, q Queue, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := q.Append(context.Background(), items(id)); err != nil {
			t.Fatalf("Append(%s): %v", id, err)
		}
	}
}

// next calls Next with a timeout, failing the test on error.
func next(t testing.TB, q Queue, maxItems int, maxBytes int64) []Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := q.Next(ctx, maxItems, maxBytes)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	for _, e := range es {
		if want := item(e.ID).Data; string(e.Data) != string(want) {
			t.Fatalf("entry %d (%s): data %q, want %q", e.Seq, e.ID, e.Data, want)
		}
	}
	return es
}

// drain hands out and acknowledges everything available now, returning the
// ids in order.
func drain(t testing.TB, q Queue) []string {
	t.Helper()
	var ids []string
	for q.Stats().Pending > 0 {
		es := next(t, q, 100, 0)
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		if err := q.Ack(seqsOf(es)...); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return ids
}

func idsOf(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func seqsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// queueDir returns the directory of the only queue of s.
func queueDir(t testing.TB, s *Store, org, sink string) string {
	t.Helper()
	return filepath.Join(s.opts.Dir, dirName(org, sink))
}

// segments lists the segment files of a queue directory in order.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

func sortKeys(ks []Key) {
	slices.SortFunc(ks, func(a, b Key) int {
		if a.Org != b.Org {
			return strings.Compare(a.Org, b.Org)
		}
		return strings.Compare(a.Sink, b.Sink)
	})
}
