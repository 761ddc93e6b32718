package host

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// stuckSink refuses every batch as unauthenticated (so its statements stay
// queued) and takes closeFor to close.
type stuckSink struct {
	closeFor time.Duration
	closing  *atomic.Bool
}

func (s stuckSink) Deliver(context.Context, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	return sdk.DeliverResponse{}, sdk.Unauthenticated(errors.New("401"))
}

func (s stuckSink) Close(context.Context) error {
	s.closing.Store(true)
	defer s.closing.Store(false)
	time.Sleep(s.closeFor)
	return nil
}

// TestRemovalDoesNotHoldUpOtherOrganizations removes org A's integration
// while its sink takes 5 s to close and its queue holds 100,000
// statements, and records for org B all along: B's Record calls never wait
// for A's removal, which swaps the integration under the host's lock and
// stops, closes and drains it outside.
func TestRemovalDoesNotHoldUpOtherOrganizations(t *testing.T) {
	if testing.Short() {
		t.Skip("takes seconds (a sink that closes in 5 s); not in the fast tier")
	}
	// Not parallel: the latencies measured are the host's, not those of
	// other tests competing for the machine.
	const queued = 100_000
	closing := &atomic.Bool{}
	cfg := testConfig(t)
	addOrg(&cfg, "alpha", SinkConfig{ID: "stuck", Plugin: "stuck"})
	addOrg(&cfg, "beta", SinkConfig{ID: "fine", Plugin: "fine"})
	stuck := sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return stuckSink{closeFor: 5 * time.Second, closing: closing}, nil
	})
	fine := sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return acceptAll{}, nil
	})
	h := newHost(t, cfg, WithProvider("stuck", stuck), WithProvider("fine", fine))
	ctx := context.Background()
	// Fill alpha's queue directly: recording 100,000 statements one by
	// one would only make the test slower.
	it, err := h.find("alpha", "stuck")
	if err != nil {
		t.Fatal(err)
	}
	data, err := xapi.Marshal(statement("alpha", 0), xapi.V200)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < queued; i += 1000 {
		items := make([]queue.Item, 1000)
		for j := range items {
			items[j] = queue.Item{ID: fmt.Sprintf("alpha-%d", i+j), Data: data}
		}
		if err := it.append(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 20*time.Second, "alpha paused with its statements queued", func() bool {
		s := sinkStatus(t, h, "alpha", "stuck")
		return s.State == StatePausedAuth && s.Queued == queued
	})

	removed := make(chan error, 1)
	go func() { removed <- h.RemoveIntegration(ctx, "alpha", "stuck") }()
	// Beta records steadily until the removal returns. Each call notes the
	// phase of the removal it ran in: while the sink was closing (5 s of
	// nothing but waiting), or while the queue was drained (CPU and disk
	// work that competes with beta for this machine, but for no lock).
	var worstClosing, worstOther time.Duration
	calls, duringClose := 0, 0
	for i := 0; ; i++ {
		select {
		case err := <-removed:
			if err != nil {
				t.Fatalf("RemoveIntegration: %v", err)
			}
			t.Logf("beta: %d Record calls during the removal, %d while alpha's sink was closing; slowest %v while closing, %v otherwise",
				calls, duringClose, worstClosing, worstOther)
			if duringClose == 0 {
				t.Errorf("beta recorded nothing while alpha's sink was closing (%d calls in all)", calls)
			}
			// A Record that waited for alpha's Close would take its 5 s.
			// The bound leaves room for a loaded machine's scheduling
			// spikes (tests assert correctness, not speed); the figure
			// itself is logged above (about 9 ms on a quiet machine).
			if worstClosing >= time.Second {
				t.Errorf("beta's slowest Record took %v while alpha's sink was closing, want well under the 5 s Close", worstClosing)
			}
			// Draining 100,000 statements into dead letters takes seconds;
			// a Record that waited for it would take as long.
			if worstOther >= time.Second {
				t.Errorf("beta's slowest Record took %v while alpha's queue was drained, want well under the drain's duration", worstOther)
			}
			if n := sinkStatus(t, h, "beta", "fine").Queued + int(sinkStatus(t, h, "beta", "fine").Delivered); n != calls {
				t.Errorf("beta has %d statements queued or delivered, want the %d recorded", n, calls)
			}
			st, err := h.dead.Counts(ctx, "alpha")
			if err != nil || st["stuck"] != queued {
				t.Errorf("alpha has %d dead letters (%v), want all %d statements", st["stuck"], err, queued)
			}
			return
		default:
		}
		inClose := closing.Load()
		began := time.Now()
		if err := h.Record(ctx, "beta", statement("beta", i)); err != nil {
			t.Fatalf("beta Record: %v", err)
		}
		took := time.Since(began)
		calls++
		if inClose && closing.Load() {
			duringClose++
			worstClosing = max(worstClosing, took)
		} else {
			worstOther = max(worstOther, took)
		}
		if !h.mu.TryLock() {
			// A host-wide lock may be busy for a moment, never for the
			// removal's slow work: it is free again at once.
			time.Sleep(time.Millisecond)
			if !h.mu.TryLock() {
				t.Fatalf("the host's lock stays held while alpha's integration is removed")
			}
		}
		h.mu.Unlock()
		time.Sleep(time.Millisecond) // a steady stream, not a flood of beta's own queue
	}
}

// acceptAll delivers everything.
type acceptAll struct{}

func (acceptAll) Deliver(context.Context, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	return sdk.DeliverResponse{}, nil
}

func (acceptAll) Close(context.Context) error { return nil }
