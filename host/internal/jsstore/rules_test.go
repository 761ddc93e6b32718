package jsstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// TestGapRule loses deliveries on purpose: another client pulls two
// statements with the holder's pin id, as a reply lost with a dying server
// would look. The holder sees the gap in delivery sequences, resets, and
// hands out every statement in order with none missing.
func TestGapRule(t *testing.T) {
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	s := openStore(t, cfg)
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, ids("s", 0, 5))
	first := takeN(t, q, 5)
	if err := q.Ack(entrySeqs(first)...); err != nil {
		t.Fatal(err)
	}

	stolen := stealDeliveries(t, srv.URL(), cfg, 2)
	appendAll(t, q, ids("s", 5, 10))
	stolen.wait(t, 2)
	rest := takeN(t, q, 5)
	if diff := cmp.Diff(ids("s", 5, 10), entryIDs(rest)); diff != "" {
		t.Errorf("after lost deliveries (-want +got):\n%s", diff)
	}
}

// TestKeepalivePin: the holder hands out a batch and does not call Next
// for several pinned TTLs (a worker backing off); the other instance,
// pulling all along, gets nothing meanwhile, and the holder still delivers
// the rest.
func TestKeepalivePin(t *testing.T) {
	if testing.Short() {
		t.Skip("waits several pinned TTLs")
	}
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	cfg.PinnedTTL = 2 * time.Second
	_, _, qa, qb := twoInstances(t, cfg)
	appendAll(t, qa, ids("s", 0, 10))
	es := takeN(t, qa, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*cfg.PinnedTTL/2)
	defer cancel()
	if got, err := qb.Next(ctx, 10, 0); err == nil {
		t.Fatalf("the other instance got %v while the holder kept its pin", entryIDs(got))
	}
	if err := qa.Ack(entrySeqs(es)...); err != nil {
		t.Fatal(err)
	}
	rest := takeN(t, qa, 7)
	if diff := cmp.Diff(ids("s", 3, 10), entryIDs(rest)); diff != "" {
		t.Errorf("holder after its pause (-want +got):\n%s", diff)
	}
}
