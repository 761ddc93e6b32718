package host

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
)

// gateQueue holds every Append until release is closed, and closes
// entered when the first one starts.
type gateQueue struct {
	queue.Queue
	entered, release chan struct{}
	once             atomic.Bool
}

func (q *gateQueue) Append(ctx context.Context, items []queue.Item) error {
	if q.once.CompareAndSwap(false, true) {
		close(q.entered)
	}
	<-q.release
	return q.Queue.Append(ctx, items)
}

// heldHost starts a host whose org acme has one integration, "held", that
// never delivers (its sink refuses the credentials, which pauses it), so
// that what is queued for it stays queued.
func heldHost(t *testing.T) *Host {
	t.Helper()
	cfg := testConfig(t)
	addOrg(&cfg, "acme", SinkConfig{ID: "held", Plugin: "held"})
	held := sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return stuckSink{closing: &atomic.Bool{}}, nil
	})
	return newHost(t, cfg, WithProvider("held", held))
}

// deadLetters stores n dead letters for acme/held whose statements are
// pad bytes long, in batches.
func deadLetters(t *testing.T, h *Host, n, pad int) {
	t.Helper()
	const batch = 5000
	for from := 0; from < n; from += batch {
		list := make([]deadletter.Letter, min(batch, n-from))
		for i := range list {
			id := statement("acme", from+i).ID
			list[i] = deadletter.Letter{Org: "acme", Sink: "held", StatementID: id, Class: DeadLetterRejected, Reason: "test",
				Statement: json.RawMessage(fmt.Sprintf(`{"id":%q,"pad":%q}`, id, strings.Repeat("x", pad)))}
		}
		if err := h.dead.Add(context.Background(), "acme", list); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayQueuesBeforeRemoving checks the order of a replay (issue 11,
// item 4): while the statements are being queued they are still dead
// letters, so a crash at that moment loses none of them.
func TestReplayQueuesBeforeRemoving(t *testing.T) {
	t.Parallel()
	h := heldHost(t)
	ctx := context.Background()
	deadLetters(t, h, 20, 10)
	it, err := h.find("acme", "held")
	if err != nil {
		t.Fatal(err)
	}
	inner := it.q
	gate := &gateQueue{Queue: inner, entered: make(chan struct{}), release: make(chan struct{})}
	it.q = gate
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{})
		done <- result{n, err}
	}()
	<-gate.entered
	during, err := h.DeadLetters(ctx, "acme", DeadLetterFilter{})
	close(gate.release)
	r := <-done
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 20 {
		t.Errorf("while the statements were being queued, %d of 20 were still dead letters: a crash then loses the rest", len(during))
	}
	if r.err != nil || r.n != 20 {
		t.Fatalf("ReplayDeadLetters = %d, %v; want 20", r.n, r.err)
	}
	if left, _ := h.DeadLetters(ctx, "acme", DeadLetterFilter{}); len(left) != 0 {
		t.Errorf("%d dead letters left after the replay, want 0", len(left))
	}
	if p := inner.Stats().Pending; p != 20 {
		t.Errorf("queue holds %d statements after the replay, want 20", p)
	}
}

// TestReplayMoreThanOneQueueRecord replays 70,000 dead letters (93 MB),
// more than one queue record holds (issue 11, item 4): they are queued in
// chunks, all of them, and none is left behind or doubled.
func TestReplayMoreThanOneQueueRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 93 MB twice; not in the fast tier")
	}
	t.Parallel()
	const n, pad = 70_000, 1300
	h := heldHost(t)
	ctx := context.Background()
	deadLetters(t, h, n, pad)
	got, err := h.ReplayDeadLetters(ctx, "acme", DeadLetterFilter{Sink: "held"})
	if err != nil || got != n {
		t.Fatalf("ReplayDeadLetters = %d, %v; want %d", got, err, n)
	}
	it, err := h.find("acme", "held")
	if err != nil {
		t.Fatal(err)
	}
	st := it.q.Stats()
	if st.Pending != n || st.PendingBytes < n*pad {
		t.Errorf("queue holds %d statements, %d bytes; want %d, at least %d bytes", st.Pending, st.PendingBytes, n, n*pad)
	}
	if s := sinkStatus(t, h, "acme", "held"); s.DeadLetters != 0 {
		t.Errorf("status shows %d dead letters after the replay, want 0", s.DeadLetters)
	}
	if left, _ := h.DeadLetters(ctx, "acme", DeadLetterFilter{}); len(left) != 0 {
		t.Errorf("%d dead letters left after the replay, want 0", len(left))
	}
}
