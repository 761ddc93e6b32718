package jsstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
)

// TestDrain retires a queue from an instance that does not hold it: every
// pending statement, including those handed out on the holder, reaches
// the callback once, in order; a failing callback leaves the rest queued.
func TestDrain(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	a, b := openStore(t, cfg), openStore(t, cfg)
	qa, err := a.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, qa, ids("s", 0, 250))
	takeN(t, qa, 3) // in flight on A

	boom := errors.New("dead-letter store down")
	var got []string
	calls := 0
	err = b.Drain(context.Background(), "acme", "lrs", func(es []queue.Entry) error {
		calls++
		if calls == 2 {
			return boom
		}
		got = append(got, entryIDs(es)...)
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Drain with a failing callback = %v, want its error", err)
	}
	err = b.Drain(context.Background(), "acme", "lrs", func(es []queue.Entry) error {
		got = append(got, entryIDs(es)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids("s", 0, 250), got); diff != "" {
		t.Errorf("drained (-want +got):\n%s", diff)
	}
	if keys := b.Queues(); len(keys) != 0 {
		t.Errorf("Queues after Drain = %v, want none", keys)
	}
}
