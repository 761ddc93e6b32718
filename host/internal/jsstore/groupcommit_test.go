package jsstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func itemsOf(ids ...string) []queue.Item {
	out := make([]queue.Item, len(ids))
	for i, id := range ids {
		out[i] = queue.Item{ID: id, Data: []byte(`{"id":"` + id + `"}`)}
	}
	return out
}

func nextOnce(t *testing.T, q queue.Queue, maxItems int) []queue.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	es, err := q.Next(ctx, maxItems, 0)
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return es
}

// TestMultiItemMessages: an Append of several statements is one message;
// Next hands out whole messages while they fit and splits only a first
// message larger than the limit; the message stays pending (counted whole)
// until its last entry is acknowledged; Seq increases throughout.
func TestMultiItemMessages(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	q, err := openStore(t, testConfig(srv.URL())).Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]string{{"a1", "a2", "a3"}, {"b1"}, {"c1", "c2", "c3"}} {
		if err := q.Append(context.Background(), itemsOf(batch...)); err != nil {
			t.Fatal(err)
		}
	}
	var all []queue.Entry
	step := func(name string, maxItems int, want []string) []queue.Entry {
		t.Helper()
		es := nextOnce(t, q, maxItems)
		if diff := cmp.Diff(want, entryIDs(es)); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", name, diff)
		}
		all = append(all, es...)
		return es
	}
	a := step("a message larger than the limit is split", 2, []string{"a1", "a2"})
	if err := q.Ack(entrySeqs(a)...); err != nil {
		t.Fatal(err)
	}
	if got := q.Stats().Pending; got != 7 {
		t.Errorf("Pending with a message partly acknowledged = %d, want 7 (counted whole)", got)
	}
	// The rest, with at most 4 per Next: c's three entries always come
	// together, never split over two calls.
	var rest []queue.Entry
	for len(rest) < 5 {
		es := nextOnce(t, q, 4)
		ids := strings.Join(entryIDs(es), ",")
		if strings.Contains(ids, "c") && !strings.Contains(ids, "c1,c2,c3") {
			t.Errorf("Next handed out %s: message c split although it fits", ids)
		}
		rest = append(rest, es...)
	}
	if diff := cmp.Diff([]string{"a3", "b1", "c1", "c2", "c3"}, entryIDs(rest)); diff != "" {
		t.Fatalf("rest (-want +got):\n%s", diff)
	}
	all = append(all, rest...)
	q.Release(entrySeqs(rest[1:])...)
	again := step("released entries again", 10, []string{"b1", "c1", "c2", "c3"})
	if err := q.Ack(append(entrySeqs(rest[:1]), entrySeqs(again)...)...); err != nil {
		t.Fatal(err)
	}
	if got := q.Stats().Pending; got != 0 {
		t.Errorf("Pending after acknowledging everything = %d, want 0", got)
	}
	seen := map[uint64]bool{}
	var last uint64
	for _, e := range all {
		if seen[e.Seq] {
			continue // handed out again after Release
		}
		seen[e.Seq] = true
		if e.Seq <= last {
			t.Errorf("entry %s has Seq %d after %d", e.ID, e.Seq, last)
		}
		last = e.Seq
	}
}

// TestConcurrentAppendsKeepItems: concurrent Appends of statements with
// tags and span contexts, grouped into shared messages, come out whole,
// each producer's in order, with unique Seq.
func TestConcurrentAppendsKeepItems(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	q, err := openStore(t, cfg).Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	const producers, each = 8, 30
	want := map[string]queue.Item{}
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		var mine [][]queue.Item
		for i := range each {
			id := fmt.Sprintf("p%d-%03d", p, i)
			it := queue.Item{ID: id, Data: []byte(`{"id":"` + id + `"}`), Tag: byte(i), Trace: []byte("trace-" + id)}
			want[id] = it
			mine = append(mine, []queue.Item{it})
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, items := range mine {
				if err := q.Append(context.Background(), items); err != nil {
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
	got := takeN(t, q, producers*each)
	seqs := map[uint64]bool{}
	nextOf := map[int]int{}
	for _, e := range got {
		if seqs[e.Seq] {
			t.Errorf("Seq %d handed out twice", e.Seq)
		}
		seqs[e.Seq] = true
		it := want[e.ID]
		if string(e.Data) != string(it.Data) || e.Tag != it.Tag || string(e.Trace) != string(it.Trace) {
			t.Errorf("entry %s = data %q tag %d trace %q, want %q %d %q", e.ID, e.Data, e.Tag, e.Trace, it.Data, it.Tag, it.Trace)
		}
		var p, i int
		if _, err := fmt.Sscanf(e.ID, "p%d-%d", &p, &i); err != nil {
			t.Fatalf("unexpected id %q", e.ID)
		}
		if i != nextOf[p] {
			t.Errorf("producer %d: got item %d, want %d", p, i, nextOf[p])
		}
		nextOf[p] = i + 1
	}
	if err := q.Ack(entrySeqs(got)...); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger used from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// publishRaw stores a message on the queue stream as another writer
// would: a host from before group commit, or a damaged one.
func publishRaw(t *testing.T, js jetstream.JetStream, subj string, hdr map[string]string, body string) {
	t.Helper()
	m := nats.NewMsg(subj)
	for k, v := range hdr {
		m.Header.Set(k, v)
	}
	m.Data = []byte(body)
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("publish to %s: %v", subj, err)
	}
}

// rawSetup opens a store (with opts) and the queue acme/lrs on a fresh
// stream of an embedded server, and a plain JetStream client to the same
// server; base is the queue's subject.
func rawSetup(t *testing.T, opts ...jsstore.Option) (cfg jsstore.Config, s *jsstore.Store, q queue.Queue, js jetstream.JetStream, base string) {
	t.Helper()
	srv := jstest.Run(t, jstest.Options{})
	cfg = testConfig(srv.URL())
	s, err := jsstore.Open(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if q, err = s.Queue("acme", "lrs"); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return cfg, s, q, js, cfg.SubjectPrefix + ".acme.lrs"
}

// TestFirstFormatAndCorruptMessages: a message in the first format (one
// statement, written before group commit) is delivered in stream order
// with framed ones; a damaged message is logged with its queue and stream
// sequence, not handed out, and kept in the stream.
func TestFirstFormatAndCorruptMessages(t *testing.T) {
	var logs syncBuffer
	cfg, _, q, js, base := rawSetup(t, jsstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	publishRaw(t, js, base, map[string]string{"Lrs-Id": "old-1"}, `{"id":"old-1"}`)
	publishRaw(t, js, base+".1", map[string]string{"Lrs-Format": "2"}, "\x01\x40garbage") // sequence 2
	if err := q.Append(context.Background(), itemsOf("new-1", "new-2")); err != nil {
		t.Fatal(err)
	}
	if got := q.Stats().Pending; got != 4 {
		t.Errorf("Pending = %d, want 4 (1 first format, 1 damaged, 2 framed)", got)
	}
	got := takeN(t, q, 3)
	if diff := cmp.Diff([]string{"old-1", "new-1", "new-2"}, entryIDs(got)); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	if string(got[0].Data) != `{"id":"old-1"}` {
		t.Errorf("first-format entry data = %q", got[0].Data)
	}
	if err := q.Ack(entrySeqs(got)...); err != nil {
		t.Fatal(err)
	}
	if got := q.Stats().Pending; got != 1 {
		t.Errorf("Pending after acknowledging the rest = %d, want 1 (the damaged message stays)", got)
	}
	out := logs.String()
	for _, want := range []string{"acme/lrs", "stream " + cfg.Stream + " sequence 2", "item 0 id"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not say %q:\n%s", want, out)
		}
	}
}

// TestDrainBothFormats: Drain hands over first-format and framed
// statements and leaves the queue empty; a damaged message stops it with
// an error naming the message, and stays.
func TestDrainBothFormats(t *testing.T) {
	cfg, s, q, js, base := rawSetup(t)
	publishRaw(t, js, base, map[string]string{"Lrs-Id": "old-1"}, `{"id":"old-1"}`)
	if err := q.Append(context.Background(), itemsOf("new-1", "new-2")); err != nil {
		t.Fatal(err)
	}
	var drained []string
	collect := func(es []queue.Entry) error {
		drained = append(drained, entryIDs(es)...)
		return nil
	}
	if err := s.Drain(context.Background(), "acme", "lrs", collect); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"old-1", "new-1", "new-2"}, drained); diff != "" {
		t.Errorf("drained (-want +got):\n%s", diff)
	}
	publishRaw(t, js, base+".2", map[string]string{"Lrs-Format": "2"}, "\x02")
	err := s.Drain(context.Background(), "acme", "lrs", collect)
	var ce *jsstore.CorruptMessageError
	if !errors.Is(err, queue.ErrCorrupt) || !errors.As(err, &ce) || ce.Queue != (queue.Key{Org: "acme", Sink: "lrs"}) {
		t.Fatalf("Drain over a damaged message = %v, want a CorruptMessageError of acme/lrs", err)
	}
	st, err := js.Stream(context.Background(), cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetMsg(context.Background(), ce.Seq); err != nil {
		t.Errorf("the damaged message %d is gone: %v", ce.Seq, err)
	}
}
