// Package queuetest is the contract test suite for queue backends: the
// embedded file store (host/internal/queue) and the shared JetStream store
// (host/internal/jsstore) run the same subtests, so that the host can rely
// on the same behaviour from both.
//
// Run it from a backend's tests:
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, queuetest.Backend{New: newStore, ExactBytes: true})
//	}
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// BenchStatement is a typical recorded statement, about 600 bytes of
// canonical JSON, for benchmarks of queue backends.
var BenchStatement = []byte(`{"actor":{"account":{"homePage":"https://acme.learningflow.example","name":"u-7f3c2a91"},"objectType":"Agent"},` +
	`"context":{"contextActivities":{"parent":[{"id":"https://acme.learningflow.example/courses/safety-101","objectType":"Activity"}]},` +
	`"platform":"LearningFlow","registration":"6f1c1e52-6b0e-4a8f-9a53-1c2f0b8d9e77"},"id":"3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f",` +
	`"object":{"definition":{"name":{"en-US":"Module 3 quiz"},"type":"http://adlnet.gov/expapi/activities/assessment"},` +
	`"id":"https://acme.learningflow.example/courses/safety-101/quiz-3","objectType":"Activity"},` +
	`"result":{"completion":true,"duration":"PT4M12S","score":{"max":10,"min":0,"raw":8,"scaled":0.8},"success":true},` +
	`"timestamp":"2026-05-01T10:15:30.123Z","verb":{"display":{"en-US":"completed"},"id":"http://adlnet.gov/expapi/verbs/completed"}}`)

// Store is what the host needs of a queue backend.
type Store interface {
	Queue(org, sink string) (queue.Queue, error)
	Remove(org, sink string) error
	Queues() []queue.Key
	Close() error
}

// Limits are the quotas a subtest asks of a backend.
type Limits struct {
	// QueueItems is the per-queue quota counted in the suite's items, all
	// of which are ItemBytes long (len(ID)+len(Data)); 0 means unlimited.
	// A backend with byte quotas sets QueueItems*ItemBytes.
	QueueItems int
}

// ItemBytes is len(ID)+len(Data) of every item the suite appends.
const ItemBytes = idLen + dataLen

const (
	idLen   = 8
	dataLen = 64
)

// Backend opens stores for the suite.
type Backend struct {
	// New prepares empty backing data for one subtest (a directory, a
	// stream) with the given quotas, and returns a function that opens a
	// store on it. A subtest may open several stores one after another on
	// the same data; it closes each before opening the next, and the suite
	// closes the last one. Open errors fail the subtest.
	New func(t testing.TB, lim Limits) (open func() (Store, error))
	// ExactBytes says Stats.PendingBytes is exact; otherwise the suite only
	// checks that it is positive while items are pending.
	ExactBytes bool
}

// Run runs every contract subtest against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"NextOrderAndLimits", testNextOrderAndLimits},
		{"PipelineReleaseAck", testPipelineReleaseAck},
		{"AllOrNothingQuota", testAllOrNothingQuota},
		{"Stats", testStats},
		{"NextBlocksUntilAppend", testNextBlocksUntilAppend},
		{"NextBlocksUntilRelease", testNextBlocksUntilRelease},
		{"NextContextCanceled", testNextContextCanceled},
		{"Close", testClose},
		{"Reopen", testReopen},
		{"Remove", testRemove},
		{"ConcurrentProducers", testConcurrentProducers},
		{"Names", testNames},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, b)
		})
	}
}

// open opens a store on fresh data and closes it at the end of the test.
func open(t *testing.T, b Backend, lim Limits) (Store, func() (Store, error)) {
	t.Helper()
	reopen := b.New(t, lim)
	s, err := reopen()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, reopen
}

func openQueue(t *testing.T, s Store, org, sink string) queue.Queue {
	t.Helper()
	q, err := s.Queue(org, sink)
	if err != nil {
		t.Fatalf("Queue(%q, %q): %v", org, sink, err)
	}
	return q
}

// Item returns the suite's item with id (up to 8 bytes): its data is
// derived from the id, so the suite can check it.
func Item(id string) queue.Item {
	id = fmt.Sprintf("%-*s", idLen, id)
	data := fmt.Sprintf(`{"id":%q,"pad":"%s"}`, id, "")
	data = data[:len(data)-2] + fmt.Sprintf("%*s", dataLen-len(data), "") + `"}`
	return queue.Item{ID: id, Data: []byte(data)}
}

func items(ids ...string) []queue.Item {
	out := make([]queue.Item, len(ids))
	for i, id := range ids {
		out[i] = Item(id)
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

func appendIDs(t *testing.T, q queue.Queue, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := q.Append(context.Background(), items(id)); err != nil {
			t.Fatalf("Append(%s): %v", id, err)
		}
	}
}

// next calls Next, failing the test on error or bad data.
func next(t *testing.T, q queue.Queue, maxItems int, maxBytes int64) []queue.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	es, err := q.Next(ctx, maxItems, maxBytes)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	checkEntries(t, es)
	return es
}

func checkEntries(t *testing.T, es []queue.Entry) {
	t.Helper()
	for _, e := range es {
		if want := Item(trim(e.ID)).Data; string(e.Data) != string(want) {
			t.Fatalf("entry %d (%s): data %q, want %q", e.Seq, e.ID, e.Data, want)
		}
		if e.Appended.IsZero() {
			t.Fatalf("entry %d (%s) has no append time", e.Seq, e.ID)
		}
	}
}

func trim(id string) string {
	for len(id) > 0 && id[len(id)-1] == ' ' {
		id = id[:len(id)-1]
	}
	return id
}

// drain hands out and acknowledges everything pending, returning the ids
// in order.
func drain(t *testing.T, q queue.Queue) []string {
	t.Helper()
	var ids []string
	for q.Stats().Pending > 0 {
		es := next(t, q, 100, 0)
		ids = append(ids, idsOf(es)...)
		if err := q.Ack(seqsOf(es)...); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return ids
}

func idsOf(es []queue.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = trim(e.ID)
	}
	return out
}

func seqsOf(es []queue.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func testNextOrderAndLimits(t *testing.T, b Backend) {
	tests := []struct {
		name     string
		batches  [][]string
		maxItems int
		maxBytes int64
		want     [][]string // successive Next results, each acked before the next
	}{
		{"one at a time", [][]string{{"s1"}, {"s2"}, {"s3"}}, 1, 0, [][]string{{"s1"}, {"s2"}, {"s3"}}},
		{"count limit spans appends", [][]string{{"s1", "s2"}, {"s3"}, {"s4", "s5", "s6"}}, 4, 0,
			[][]string{{"s1", "s2", "s3", "s4"}, {"s5", "s6"}}},
		{"byte limit", [][]string{{"s1"}, {"s2"}, {"s3"}, {"s4"}, {"s5"}}, 0, 2*ItemBytes + 1,
			[][]string{{"s1", "s2"}, {"s3", "s4"}, {"s5"}}},
		{"at least one entry over the byte limit", [][]string{{"s1", "s2"}}, 0, 1, [][]string{{"s1"}, {"s2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, b, Limits{})
			q := openQueue(t, s, "org", "sink")
			for _, batch := range tt.batches {
				if err := q.Append(context.Background(), items(batch...)); err != nil {
					t.Fatal(err)
				}
			}
			var got [][]string
			var last uint64
			// A backend may hand out fewer than allowed (what it has at
			// hand), so Next is called until every entry came, a bounded
			// number of times.
			total := len(slices.Concat(tt.want...))
			for i := 0; len(slices.Concat(got...)) < total && i < 10*total; i++ {
				es := next(t, q, tt.maxItems, tt.maxBytes)
				for _, e := range es {
					if e.Seq <= last {
						t.Errorf("entry %s has seq %d after seq %d", e.ID, e.Seq, last)
					}
					last = e.Seq
				}
				got = append(got, idsOf(es))
				if err := q.Ack(seqsOf(es)...); err != nil {
					t.Fatal(err)
				}
			}
			for i, g := range got {
				if tt.maxItems > 0 && len(g) > tt.maxItems {
					t.Errorf("Next result %d has %d entries, more than the limit %d", i, len(g), tt.maxItems)
				}
				if tt.maxBytes > 0 && len(g) > 1 && int64(len(g))*ItemBytes > tt.maxBytes {
					t.Errorf("Next result %d has %d entries of %d bytes, more than the byte limit %d", i, len(g), ItemBytes, tt.maxBytes)
				}
			}
			if diff := cmp.Diff(slices.Concat(tt.want...), slices.Concat(got...)); diff != "" {
				t.Errorf("entries in order (-want +got):\n%s", diff)
			}
		})
	}
}

func testPipelineReleaseAck(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, seqIDs("s", 1, 10)...)

	a := nextN(t, q, 3)
	bb := nextN(t, q, 3)
	if diff := cmp.Diff([]string{"s4", "s5", "s6"}, idsOf(bb)); diff != "" {
		t.Fatalf("second batch while the first is handed out (-want +got):\n%s", diff)
	}
	q.Release(a[1].Seq, a[2].Seq)
	c := nextN(t, q, 4)
	if diff := cmp.Diff([]string{"s2", "s3", "s7", "s8"}, idsOf(c)); diff != "" {
		t.Fatalf("released entries come first, in order (-want +got):\n%s", diff)
	}
	if err := q.Ack(a[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(a[0].Seq); err != nil {
		t.Errorf("second Ack of the same entry: %v", err)
	}
	if err := q.Ack(c[3].Seq + 1000); !errors.Is(err, queue.ErrUnknownSeq) {
		t.Errorf("Ack of a sequence never handed out = %v, want ErrUnknownSeq", err)
	}
	if err := q.Ack(append(seqsOf(bb), seqsOf(c)...)...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s9"}, drain(t, q)); diff != "" {
		t.Errorf("rest (-want +got):\n%s", diff)
	}
}

// nextN collects exactly n entries with successive Next calls (a backend
// may hand out fewer than asked when only some are at hand).
func nextN(t *testing.T, q queue.Queue, n int) []queue.Entry {
	t.Helper()
	var out []queue.Entry
	for len(out) < n {
		out = append(out, next(t, q, n-len(out), 0)...)
	}
	return out
}

func testAllOrNothingQuota(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{QueueItems: 5})
	q := openQueue(t, s, "org", "sink")
	if err := q.Append(context.Background(), items("a1", "a2", "a3")); err != nil {
		t.Fatal(err)
	}
	err := q.Append(context.Background(), items("b1", "b2", "b3"))
	if !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Append past the queue quota = %v, want ErrFull", err)
	}
	var qe *queue.QuotaError
	if !errors.As(err, &qe) || qe.Quota != queue.QuotaQueue {
		t.Errorf("Append past the queue quota = %#v, want a *QuotaError for the queue quota", err)
	}
	if got := q.Stats().Pending; got != 3 {
		t.Errorf("Pending after a refused append = %d, want 3 (nothing of it stored)", got)
	}
	if err := q.Append(context.Background(), items("c1", "c2")); err != nil {
		t.Fatalf("Append up to the quota: %v", err)
	}
	if diff := cmp.Diff([]string{"a1", "a2", "a3", "c1", "c2"}, drain(t, q)); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	if err := q.Append(context.Background(), items("d1", "d2", "d3")); err != nil {
		t.Errorf("Append after the queue drained: %v", err)
	}
}

func testStats(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	if diff := cmp.Diff(queue.Stats{}, q.Stats()); diff != "" {
		t.Errorf("empty (-want +got):\n%s", diff)
	}
	before := time.Now().Add(-time.Second) // servers' clocks may differ a little
	appendIDs(t, q, "a", "b", "c")
	check := func(when string, pending int) {
		t.Helper()
		st := q.Stats()
		if st.Pending != pending {
			t.Errorf("%s: Pending = %d, want %d", when, st.Pending, pending)
		}
		if pending == 0 {
			if diff := cmp.Diff(queue.Stats{}, st); diff != "" {
				t.Errorf("%s (-want +got):\n%s", when, diff)
			}
			return
		}
		if st.Oldest.Before(before) || st.Oldest.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: Oldest = %v, want between %v and now", when, st.Oldest, before)
		}
		if b.ExactBytes && st.PendingBytes != int64(pending*ItemBytes) {
			t.Errorf("%s: PendingBytes = %d, want %d", when, st.PendingBytes, pending*ItemBytes)
		}
		if st.PendingBytes <= 0 {
			t.Errorf("%s: PendingBytes = %d, want > 0", when, st.PendingBytes)
		}
	}
	check("after 3 appends", 3)
	es := nextN(t, q, 3)
	if err := q.Ack(es[1].Seq); err != nil {
		t.Fatal(err)
	}
	check("after acking one out of order", 2)
	if err := q.Ack(es[0].Seq, es[2].Seq); err != nil {
		t.Fatal(err)
	}
	check("all acked", 0)
}

// nextAsync starts a Next call and returns its result channel.
func nextAsync(ctx context.Context, q queue.Queue, maxItems int) <-chan result {
	ch := make(chan result, 1)
	go func() {
		es, err := q.Next(ctx, maxItems, 0)
		ch <- result{es, err}
	}()
	return ch
}

type result struct {
	es  []queue.Entry
	err error
}

func testNextBlocksUntilAppend(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	ch := nextAsync(context.Background(), q, 10)
	appendIDs(t, q, "s1")
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff([]string{"s1"}, idsOf(r.es)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func testNextBlocksUntilRelease(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, "s1")
	es := next(t, q, 1, 0)
	ch := nextAsync(context.Background(), q, 10)
	q.Release(es[0].Seq)
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	if diff := cmp.Diff([]string{"s1"}, idsOf(r.es)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func testNextContextCanceled(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	ctx, cancel := context.WithCancel(context.Background())
	ch := nextAsync(ctx, q, 10)
	cancel()
	if r := <-ch; !errors.Is(r.err, context.Canceled) {
		t.Errorf("Next after cancel = %v, %v, want context.Canceled", r.es, r.err)
	}
}

func testClose(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, "s1")
	es := next(t, q, 1, 0)
	ch := nextAsync(context.Background(), q, 10)
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := <-ch; !errors.Is(r.err, queue.ErrClosed) {
		t.Errorf("blocked Next after Close = %v, %v, want ErrClosed", r.es, r.err)
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := q.Append(context.Background(), items("s2")); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := q.Next(context.Background(), 1, 0); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Next after Close = %v, want ErrClosed", err)
	}
	if err := q.Ack(es[0].Seq); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Ack after Close = %v, want ErrClosed", err)
	}
	q.Release(es[0].Seq) // does nothing, must not panic

	// The unacknowledged entry is still there for the next opener.
	q = openQueue(t, s, "org", "sink")
	if diff := cmp.Diff([]string{"s1"}, drain(t, q)); diff != "" {
		t.Errorf("after reopening the queue (-want +got):\n%s", diff)
	}
	if err := s.Close(); err != nil {
		t.Errorf("store Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("second store Close = %v, want ErrClosed", err)
	}
	if _, err := s.Queue("org", "sink"); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Queue after store Close = %v, want ErrClosed", err)
	}
}

func testReopen(t *testing.T, b Backend) {
	s, reopen := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, seqIDs("s", 0, 10)...)
	es := nextN(t, q, 6)
	if err := q.Ack(seqsOf(es[:4])...); err != nil { // s4, s5 handed out, not acked
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Next(context.Background(), 1, 0); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Next after store Close = %v, want ErrClosed", err)
	}
	s2, err := reopen()
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { s2.Close() })
	if diff := cmp.Diff([]queue.Key{{Org: "org", Sink: "sink"}}, s2.Queues()); diff != "" {
		t.Errorf("Queues after reopen (-want +got):\n%s", diff)
	}
	q = openQueue(t, s2, "org", "sink")
	if got := q.Stats().Pending; got != 6 {
		t.Errorf("Pending after reopen = %d, want 6", got)
	}
	appendIDs(t, q, "s10")
	if diff := cmp.Diff(seqIDs("s", 4, 11), drain(t, q)); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}

func testRemove(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, "s1", "s2")
	other := openQueue(t, s, "org", "other")
	appendIDs(t, other, "o1")
	if err := s.Remove("org", "sink"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := q.Append(context.Background(), items("s3")); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Append to a removed queue = %v, want ErrClosed", err)
	}
	if diff := cmp.Diff([]queue.Key{{Org: "org", Sink: "other"}}, s.Queues()); diff != "" {
		t.Errorf("Queues after Remove (-want +got):\n%s", diff)
	}
	if err := s.Remove("org", "missing"); err != nil {
		t.Errorf("Remove of a queue that does not exist: %v", err)
	}
	q = openQueue(t, s, "org", "sink")
	if diff := cmp.Diff(queue.Stats{}, q.Stats()); diff != "" {
		t.Errorf("recreated queue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"o1"}, drain(t, other)); diff != "" {
		t.Errorf("other queue (-want +got):\n%s", diff)
	}
}

func testConcurrentProducers(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	q := openQueue(t, s, "org", "sink")
	const producers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := q.Append(context.Background(), items(fmt.Sprintf("p%d-%d", p, i))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := drain(t, q)
	if len(got) != producers*each {
		t.Fatalf("got %d entries, want %d", len(got), producers*each)
	}
	// Each producer's appends keep their order.
	nextOf := map[string]int{}
	for _, id := range got {
		var p, i int
		if _, err := fmt.Sscanf(id, "p%d-%d", &p, &i); err != nil {
			t.Fatalf("unexpected id %q", id)
		}
		k := fmt.Sprint(p)
		if i != nextOf[k] {
			t.Errorf("producer %d: got item %d, want %d", p, i, nextOf[k])
		}
		nextOf[k] = i + 1
	}
}

func testNames(t *testing.T, b Backend) {
	s, _ := open(t, b, Limits{})
	keys := []queue.Key{
		{Org: "Acme.Corp", Sink: "lrs 1"},
		{Org: "acme", Sink: "x/../y"},
		{Org: "é*>", Sink: "_2e"},
	}
	for _, k := range keys {
		appendIDs(t, openQueue(t, s, k.Org, k.Sink), k.Sink[:1])
	}
	got := s.Queues()
	want := slices.Clone(keys)
	slices.SortFunc(want, func(a, b queue.Key) int {
		if a.Org != b.Org {
			if a.Org < b.Org {
				return -1
			}
			return 1
		}
		if a.Sink < b.Sink {
			return -1
		}
		if a.Sink > b.Sink {
			return 1
		}
		return 0
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Queues (-want +got):\n%s", diff)
	}
	for _, k := range keys {
		if diff := cmp.Diff([]string{k.Sink[:1]}, drain(t, openQueue(t, s, k.Org, k.Sink))); diff != "" {
			t.Errorf("queue %v (-want +got):\n%s", k, diff)
		}
	}
}
