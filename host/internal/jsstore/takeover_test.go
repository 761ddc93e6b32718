package jsstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestOrphaned checks when a waiting instance resets a consumer: only when
// nobody holds it, statements are handed out, and no pull could get
// anything (so no instance would become its holder before AckWait). With
// statements pending, the next pull's instance becomes the holder and
// resets it itself: a waiting instance's reset could then land after that
// and send the new holder's batch again.
func TestOrphaned(t *testing.T) {
	pinned := []jetstream.PriorityGroupState{{Group: "lrsbridge", PinnedClientID: "p1"}}
	unpinned := []jetstream.PriorityGroupState{{Group: "lrsbridge"}}
	for _, tc := range []struct {
		name  string
		info  jetstream.ConsumerInfo
		reset bool
	}{
		{"nothing handed out", jetstream.ConsumerInfo{PriorityGroups: unpinned, NumPending: 5}, false},
		{"held by an instance", jetstream.ConsumerInfo{PriorityGroups: pinned, NumAckPending: 10}, false},
		{"left, statements pending: the next pull takes over",
			jetstream.ConsumerInfo{PriorityGroups: unpinned, NumAckPending: 10, NumPending: 3}, false},
		{"left, nothing pending", jetstream.ConsumerInfo{PriorityGroups: unpinned, NumAckPending: 10}, true},
		{"left, no priority group state yet", jetstream.ConsumerInfo{NumAckPending: 10}, true},
		{"left with max_ack_pending handed out",
			jetstream.ConsumerInfo{Config: jetstream.ConsumerConfig{MaxAckPending: 10}, PriorityGroups: unpinned, NumAckPending: 10, NumPending: 3}, true},
	} {
		if got := jsstore.Orphaned(&tc.info); got != tc.reset {
			t.Errorf("%s: Orphaned = %v, want %v", tc.name, got, tc.reset)
		}
	}
}

// oneQueue starts a server and opens the queue acme/lrs on one instance.
func oneQueue(t *testing.T) (*jstest.Cluster, jsstore.Config, queue.Queue) {
	t.Helper()
	srv := jstest.Run(t, jstest.Options{})
	cfg := testConfig(srv.URL())
	q, err := openStore(t, cfg).Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg, q
}

// testJetStream connects the test itself to the servers, as another
// instance would.
func testJetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestLateResetKeepsHolderBatch resets the consumer behind the holder's
// back while it delivers a batch, as a waiting instance that read the
// consumer's state just before the holder took over would. The holder's
// acknowledgement of that batch then does not take (the servers ignore it
// after the reset) and the batch is delivered to it again: it acknowledges
// it again instead of handing it out twice, and goes on in order.
func TestLateResetKeepsHolderBatch(t *testing.T) {
	srv, cfg, q := oneQueue(t)
	appendAll(t, q, ids("s", 0, 30))
	first := takeN(t, q, 10)
	if diff := cmp.Diff(ids("s", 0, 10), entryIDs(first)); diff != "" {
		t.Fatalf("first batch (-want +got):\n%s", diff)
	}

	js := testJetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.ResetConsumer(ctx, cfg.Stream, jsstore.ConsumerName("acme", "lrs")); err != nil {
		t.Fatalf("reset the consumer as a late waiting instance would: %v", err)
	}
	_ = q.Ack(entrySeqs(first)...) // may report that the servers did not confirm it

	rest := takeN(t, q, 20)
	if diff := cmp.Diff(ids("s", 10, 30), entryIDs(rest)); diff != "" {
		t.Errorf("after the late reset (-want +got):\n%s", diff)
	}
	if err := q.Ack(entrySeqs(rest)...); err != nil {
		t.Fatal(err)
	}
	if st := q.Stats(); st.Pending != 0 {
		t.Errorf("Pending after every statement was acknowledged = %d, want 0", st.Pending)
	}
}

// TestAckWithoutLeader acknowledges statements whose consumer no server
// leads (here: it was deleted under the holder): the acknowledgement
// reports that it was not applied, rather than taking the servers'
// "no responders" answer for a confirmation.
func TestAckWithoutLeader(t *testing.T) {
	srv, cfg, q := oneQueue(t)
	appendAll(t, q, ids("s", 0, 3))
	es := takeN(t, q, 3)
	js := testJetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := js.DeleteConsumer(ctx, cfg.Stream, jsstore.ConsumerName("acme", "lrs")); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(entrySeqs(es)...); !errors.Is(err, jsstore.ErrNoLeader) {
		t.Errorf("Ack with no consumer leader = %v, want an error wrapping %v", err, jsstore.ErrNoLeader)
	}
}
