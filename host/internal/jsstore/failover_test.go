package jsstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// twoInstances opens two stores (instances) on cfg and the queue
// acme/lrs on each.
func twoInstances(t *testing.T, cfg jsstore.Config) (a, b *jsstore.Store, qa, qb queue.Queue) {
	t.Helper()
	a, b = openStore(t, cfg), openStore(t, cfg)
	var err error
	if qa, err = a.Queue("acme", "lrs"); err != nil {
		t.Fatal(err)
	}
	if qb, err = b.Queue("acme", "lrs"); err != nil {
		t.Fatal(err)
	}
	return a, b, qa, qb
}

func ids(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%03d", prefix, i))
	}
	return out
}

func appendAll(t *testing.T, q queue.Queue, ids []string) {
	t.Helper()
	for _, id := range ids {
		if err := q.Append(context.Background(), []queue.Item{{ID: id, Data: []byte(`{"id":"` + id + `"}`)}}); err != nil {
			t.Fatalf("Append(%s): %v", id, err)
		}
	}
}

// takeN hands out n entries with Next (bounded by a generous timeout that
// only ends a broken test).
func takeN(t *testing.T, q queue.Queue, n int) []queue.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []queue.Entry
	for len(out) < n {
		es, err := q.Next(ctx, n-len(out), 0)
		if err != nil {
			t.Fatalf("Next after %d of %d entries: %v", len(out), n, err)
		}
		out = append(out, es...)
	}
	return out
}

func entryIDs(es []queue.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func entrySeqs(es []queue.Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// TestFailover runs two instances (stores with their own connections) on
// one server. The one delivering stops with statements handed out and not
// acknowledged; the other takes over and delivers, in recording order,
// from the first statement not acknowledged.
func TestFailover(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	for _, tc := range []struct {
		name    string
		backlog bool // more statements wait behind the unacknowledged ones
		stop    func(*jsstore.Store)
	}{
		{"killed with a backlog", true, (*jsstore.Store).Kill},
		{"killed, nothing behind the unacknowledged", false, (*jsstore.Store).Kill},
		{"closed", true, func(s *jsstore.Store) { s.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(srv.URL())
			cfg.PinnedTTL = time.Second
			a, _, qa, qb := twoInstances(t, cfg)
			total := 10
			if tc.backlog {
				total = 40
			}
			appendAll(t, qb, ids("s", 0, total)) // recorded through B, delivered by A
			es := takeN(t, qa, 10)
			if diff := cmp.Diff(ids("s", 0, 10), entryIDs(es)); diff != "" {
				t.Fatalf("A's first batch (-want +got):\n%s", diff)
			}
			if err := qa.Ack(entrySeqs(es[:5])...); err != nil {
				t.Fatal(err)
			}
			tc.stop(a)

			got := takeN(t, qb, total-5)
			if diff := cmp.Diff(ids("s", 5, total), entryIDs(got)); diff != "" {
				t.Errorf("B delivers from the first unacknowledged statement, in order (-want +got):\n%s", diff)
			}
			if err := qb.Ack(entrySeqs(got)...); err != nil {
				t.Fatal(err)
			}
			if st := qb.Stats(); st.Pending != 0 {
				t.Errorf("Pending after B acknowledged everything = %d, want 0", st.Pending)
			}
		})
	}
}

// TestOneDeliverer runs two instances pulling the same integration at the
// same time: while the holder keeps pulling, the other gets nothing, and
// every statement is handed out once, in order.
func TestOneDeliverer(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	a, b := openStore(t, cfg), openStore(t, cfg)
	const n = 200
	var (
		mu  sync.Mutex
		got = map[string][]string{}
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var delivered sync.WaitGroup
	delivered.Add(n)
	for name, s := range map[string]*jsstore.Store{"a": a, "b": b} {
		q, err := s.Queue("acme", "lrs")
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				es, err := q.Next(ctx, 7, 0)
				if err != nil {
					return
				}
				mu.Lock()
				got[name] = append(got[name], entryIDs(es)...)
				mu.Unlock()
				if err := q.Ack(entrySeqs(es)...); err != nil {
					t.Error(err)
				}
				for range es {
					delivered.Done()
				}
			}
		}()
	}
	q, err := a.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, ids("s", 0, n))
	delivered.Wait()
	cancel()
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("statements went to %d instances, want 1: a=%d b=%d", len(got), len(got["a"]), len(got["b"]))
	}
	for _, list := range got {
		if diff := cmp.Diff(ids("s", 0, n), list); diff != "" {
			t.Errorf("handed out (-want +got):\n%s", diff)
		}
	}
}

// TestClusterFailover runs the failover on a three-node cluster with
// replicated streams: the delivering instance is killed and then one
// server is shut down; the other instance delivers everything not
// acknowledged, in order.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := jstest.RunCluster(t, 3, jstest.Options{})
	cfg := testConfig(c.URL())
	cfg.Replicas = 3
	cfg.PinnedTTL = time.Second
	a, _, qa, qb := twoInstances(t, cfg)
	appendAll(t, qa, ids("s", 0, 30))
	es := takeN(t, qa, 10)
	if err := qa.Ack(entrySeqs(es[:5])...); err != nil {
		t.Fatal(err)
	}
	a.Kill()
	c.Servers[1].Shutdown()
	c.Servers[1].WaitForShutdown()
	appendAll(t, qb, ids("s", 30, 40))

	got := takeN(t, qb, 35)
	if diff := cmp.Diff(ids("s", 5, 40), entryIDs(got)); diff != "" {
		t.Errorf("B delivers from the first unacknowledged statement, in order (-want +got):\n%s", diff)
	}
	if err := qb.Ack(entrySeqs(got)...); err != nil {
		t.Fatal(err)
	}
}

// TestPollEvery checks the interval of pulls and of the checks for an
// integration left by a dead instance: a third of pinned_ttl (a holder
// renews its pin well within it), at most 4 s, so that a takeover comes
// within pinned_ttl + 4 s even when nothing new is recorded.
func TestPollEvery(t *testing.T) {
	for _, tc := range []struct {
		ttl, want time.Duration
	}{
		{100 * time.Millisecond, 100 * time.Millisecond},
		{time.Second, time.Second / 3},
		{3 * time.Second, time.Second},
		{12 * time.Second, 4 * time.Second},
		{15 * time.Second, 4 * time.Second}, // the default pinned_ttl
		{time.Minute, 4 * time.Second},
	} {
		if got := jsstore.PollEvery(tc.ttl); got != tc.want {
			t.Errorf("PollEvery(%v) = %v, want %v", tc.ttl, got, tc.want)
		}
	}
}
