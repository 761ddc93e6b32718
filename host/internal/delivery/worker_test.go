package delivery

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/sdk"
)

var errDown = errors.New("lrs unreachable")

func TestBatching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		n         int
		size      int
		bytes     int64
		wantSizes []int
	}{
		{name: "by count", n: 25, size: 10, bytes: 1 << 20, wantSizes: []int{10, 10, 5}},
		{name: "one partial batch", n: 3, size: 10, bytes: 1 << 20, wantSizes: []int{3}},
		// Each item is 2+len(id) bytes of id plus its data; 40 bytes fit
		// two items ("s0" + `{"id":"s0"}` is 15 bytes).
		{name: "by bytes", n: 5, size: 10, bytes: 30, wantSizes: []int{2, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := fastSettings()
			s.BatchSize, s.BatchBytes = tc.size, tc.bytes
			sink := &fakeSink{}
			r := newRig(t, s, sink, tc.n)
			waitFor(t, "the queue to drain", r.drained)
			var sizes []int
			for _, c := range sink.recorded() {
				sizes = append(sizes, len(c.ids))
			}
			if diff := cmp.Diff(tc.wantSizes, sizes); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			if got := r.w.Counters().Delivered.Load(); got != int64(tc.n) {
				t.Errorf("Delivered = %d, want %d", got, tc.n)
			}
		})
	}
}

func TestLingerFillsABatch(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.Linger = time.Minute // only a full batch ends the wait
	sink := &fakeSink{}
	r := newRig(t, s, sink, 4)
	r.add(t, 4, 6)
	waitFor(t, "the queue to drain", r.drained)
	if calls := sink.recorded(); len(calls) != 1 || len(calls[0].ids) != 10 {
		t.Errorf("calls = %+v, want one full batch of 10", calls)
	}
}

func TestParallelBatchesInFlight(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.Parallel = 3
	s.BatchSize = 1
	// The first three batches wait for each other: the test passes only
	// if three are in flight at once.
	var barrier sync.WaitGroup
	barrier.Add(3)
	sink := &fakeSink{answer: func(n int, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n < 3 {
			barrier.Done()
			barrier.Wait()
		}
		return sdk.DeliverResponse{}, nil
	}}
	r := newRig(t, s, sink, 9)
	waitFor(t, "the queue to drain", r.drained)
	most := 0
	for _, c := range sink.recorded() {
		most = max(most, c.concurrent)
	}
	if most != 3 {
		t.Errorf("at most %d batches in flight, want 3", most)
	}
	if ids := sink.ids(); len(ids) != 9 {
		t.Errorf("%d distinct statements delivered, want 9", len(ids))
	}
}

func TestVerdictMix(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{answer: func(n int, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n > 0 {
			return sdk.DeliverResponse{}, nil // the retry goes through
		}
		return sdk.DeliverResponse{Verdicts: []sdk.Verdict{
			{},
			{AlreadyStored: true},
			{Err: sdk.Permanent(errors.New("statement refused: bad verb"))},
			{Err: errDown},
		}}, nil
	}}
	r := newRig(t, fastSettings(), sink, 4)
	waitFor(t, "the queue to drain", r.drained)
	c := r.w.Counters()
	got := []int64{c.Delivered.Load(), c.AlreadyStored.Load(), c.Retried.Load(), c.DeadLettered.Load()}
	if diff := cmp.Diff([]int64{3, 1, 1, 1}, got); diff != "" {
		t.Errorf("delivered, already stored, retried, dead-lettered (-want +got):\n%s", diff)
	}
	letters := r.letters(t)
	if len(letters) != 1 || letters[0].StatementID != "s2" || letters[0].Class != deadletter.ClassRejected || letters[0].Reason != "statement refused: bad verb" {
		t.Errorf("dead letters = %+v, want s2 rejected with the sink's reason", letters)
	} else if want := deadletter.EntryID("acme", "lrs", 3, "s2", letters[0].Recorded); letters[0].ID != want {
		// The id comes from the entry, so that another instance
		// dead-lettering it again (after a takeover) makes the same one.
		t.Errorf("dead letter id = %s, want %s, the id of entry 3 of acme/lrs", letters[0].ID, want)
	}
	if calls := sink.recorded(); len(calls) != 2 || !cmp.Equal(calls[1].ids, []string{"s3"}) {
		t.Errorf("calls = %+v, want the transient failure s3 retried alone", calls)
	}
}

func TestWholeBatchPermanentRejectionIsDeadLettered(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{answer: func(int, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		return sdk.DeliverResponse{}, sdk.Permanent(errors.New("payload too large"))
	}}
	r := newRig(t, fastSettings(), sink, 3)
	waitFor(t, "the queue to drain", r.drained)
	if n := len(r.letters(t)); n != 3 {
		t.Errorf("%d dead letters, want 3", n)
	}
	if st := r.w.Status(); st.State != StateActive {
		t.Errorf("state = %s, want %s: a permanent rejection says nothing about the endpoint", st.State, StateActive)
	}
}

func TestWrongNumberOfVerdictsKeepsTheStatements(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{answer: func(n int, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n == 0 {
			return sdk.DeliverResponse{Verdicts: []sdk.Verdict{{}}}, nil
		}
		return sdk.DeliverResponse{}, nil
	}}
	r := newRig(t, fastSettings(), sink, 2)
	waitFor(t, "the queue to drain", r.drained)
	if got := r.w.Counters().Delivered.Load(); got != 2 {
		t.Errorf("Delivered = %d, want 2 (the batch is sent again)", got)
	}
	if calls := sink.recorded(); len(calls) != 2 {
		t.Errorf("%d calls, want 2", len(calls))
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	const asked = 150 * time.Millisecond
	sink := &fakeSink{answer: func(n int, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n == 0 {
			return sdk.DeliverResponse{}, sdk.RetryAfter(errors.New("429 too many requests"), asked)
		}
		return sdk.DeliverResponse{}, nil
	}}
	r := newRig(t, fastSettings(), sink, 1)
	waitFor(t, "the queue to drain", r.drained)
	calls := sink.recorded()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	if gap := calls[1].at.Sub(calls[0].at); gap < asked {
		t.Errorf("retried after %v, want at least the %v the sink asked for", gap, asked)
	}
}

func TestStatementsFailingTooLongExpire(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.MaxAge = time.Nanosecond
	sink := &fakeSink{answer: func(int, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		return sdk.DeliverResponse{}, errDown
	}}
	r := newRig(t, s, sink, 3)
	waitFor(t, "the queue to drain", r.drained)
	letters := r.letters(t)
	if len(letters) != 3 {
		t.Fatalf("%d dead letters, want 3", len(letters))
	}
	for _, l := range letters {
		if l.Class != deadletter.ClassExpired {
			t.Errorf("dead letter %s has class %q, want %q", l.StatementID, l.Class, deadletter.ClassExpired)
		}
	}
	if got := r.w.Counters().DeadLettered.Load(); got != 3 {
		t.Errorf("DeadLettered = %d, want 3", got)
	}
}

func TestRejectedCredentialsPauseUntilResume(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	fixed := false
	sink := &fakeSink{answer: func(int, sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			return sdk.DeliverResponse{}, sdk.Unauthenticated(errors.New("401: key secret-key-value rejected"))
		}
		return sdk.DeliverResponse{}, nil
	}}
	s := fastSettings()
	st, r := pausedRig(t, s, sink)
	if st.State != StatePausedAuth {
		t.Fatalf("state = %s, want %s", st.State, StatePausedAuth)
	}
	if st.LastError != "401: key ******** rejected" {
		t.Errorf("last error = %q, want the secret redacted", st.LastError)
	}
	if n := r.q.Stats().Pending; n != 5 {
		t.Errorf("%d statements queued while paused, want all 5 kept", n)
	}
	if n := len(sink.recorded()); n != 1 {
		t.Errorf("%d calls while paused, want 1", n)
	}
	mu.Lock()
	fixed = true
	mu.Unlock()
	r.w.Resume()
	waitFor(t, "the queue to drain", r.drained)
	if got := r.w.Status().State; got != StateActive {
		t.Errorf("state after resume = %s, want %s", got, StateActive)
	}
}

// pausedRig starts a worker with a secret and waits for it to pause.
func pausedRig(t *testing.T, s Settings, sink *fakeSink) (Status, *rig) {
	t.Helper()
	r := newRig(t, s, sink, 0)
	r.restart(t, func(p *Params) { p.Secrets = []string{"secret-key-value"} })
	r.add(t, 0, 5)
	waitFor(t, "the pause", func() bool { return r.w.Status().State == StatePausedAuth })
	return r.w.Status(), r
}

func TestRefusedConfigurationPauses(t *testing.T) {
	t.Parallel()
	r := newRig(t, fastSettings(), &fakeSink{}, 0)
	calls := 0
	r.restart(t, func(p *Params) {
		p.Connector = ConnectorFunc(func(context.Context, int) (Conn, error) {
			calls++
			return Conn{}, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "endpoint", Message: "required"}}}
		})
	})
	r.add(t, 0, 2)
	waitFor(t, "the pause", func() bool { return r.w.Status().State == StatePausedConfig })
	r.w.Stop() // Connect is called from the worker's goroutine only
	if calls != 1 || r.q.Stats().Pending != 2 {
		t.Errorf("Connect called %d times, %d queued; want 1 call and both statements kept", calls, r.q.Stats().Pending)
	}
}

// TestHalfOpenBreakerSendsOneProbeThenDrains is the regression test of a
// stall after an outage: breaker refusals counted as failures, the
// backoff grew while the breaker was open, and with parallel > 1 the
// half-open breaker's second batch was refused and the round slept a full
// backoff although the probe had succeeded. The backoff here is an hour:
// the test passes only if the worker never sleeps it.
func TestHalfOpenBreakerSendsOneProbeThenDrains(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.Parallel = 4
	s.BatchSize = 5
	s.BreakerFailures = 2
	s.BreakerOpen = 20 * time.Millisecond
	s.BackoffInitial, s.BackoffMax = time.Hour, time.Hour
	const outage = 4 // the first round, four calls in flight together, fails
	sink := &fakeSink{answer: func(n int, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n < outage {
			return sdk.DeliverResponse{}, errDown
		}
		return sdk.DeliverResponse{}, nil
	}}
	// The four calls of the first round are in flight together; after
	// the probe (call 4), calls 5 and 6 must be in flight together too.
	var outageRound, afterProbe sync.WaitGroup
	outageRound.Add(outage)
	afterProbe.Add(2)
	failing := sink.answer
	sink.answer = func(n int, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		switch {
		case n < outage:
			outageRound.Done()
			outageRound.Wait()
		case n == outage+1 || n == outage+2:
			afterProbe.Done()
			afterProbe.Wait()
		}
		return failing(n, req)
	}
	r := newRig(t, s, sink, 100)
	waitFor(t, "the backlog to drain after the outage", r.drained)
	calls := sink.recorded()
	probe := calls[outage]
	if probe.concurrent != 1 {
		t.Errorf("the half-open probe ran with %d calls in flight, want 1", probe.concurrent)
	}
	most := 0
	for _, c := range calls[outage+1:] {
		most = max(most, c.concurrent)
	}
	if most < 2 {
		t.Errorf("after the probe at most %d calls ran at once, want the backlog at full speed (parallel 4)", most)
	}
	if ids := sink.ids(); len(ids) != 100 {
		t.Errorf("%d distinct statements delivered, want 100", len(ids))
	}
	// Retried counts the statements of the calls that failed, nothing
	// for a batch the breaker turned away (issue 14).
	if got, want := r.w.Counters().Retried.Load(), int64(outage*s.BatchSize); got != want {
		t.Errorf("Retried = %d, want %d (the statements of the %d failed calls)", got, want, outage)
	}
}

// TestOpenBreakerDoesNotGrowTheBackoff: while the breaker is open the
// worker waits for it (breaker_open), not for a backoff that grows with
// every refusal.
func TestOpenBreakerDoesNotGrowTheBackoff(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.BreakerFailures = 1
	s.BreakerOpen = 10 * time.Millisecond
	s.BackoffInitial, s.BackoffMax = time.Hour, time.Hour
	sink := &fakeSink{answer: func(n int, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
		if n < 5 {
			return sdk.DeliverResponse{}, errDown
		}
		return sdk.DeliverResponse{}, nil
	}}
	r := newRig(t, s, sink, 1)
	waitFor(t, "delivery after five failed probes", r.drained)
	for i, c := range sink.recorded() {
		if c.concurrent != 1 {
			t.Errorf("call %d ran with %d in flight, want 1", i, c.concurrent)
		}
	}
	if got := r.w.Counters().Delivered.Load(); got != 1 {
		t.Errorf("Delivered = %d, want 1", got)
	}
}

func TestCountersSurviveANewWorker(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	r := newRig(t, fastSettings(), sink, 5)
	waitFor(t, "the queue to drain", r.drained)
	old := r.w
	r.restart(t, func(p *Params) { p.Counters, p.After = old.Counters(), old.Done() })
	r.add(t, 5, 5)
	waitFor(t, "the queue to drain", r.drained)
	if got := r.w.Counters().Delivered.Load(); got != 10 {
		t.Errorf("Delivered = %d, want 10 over both workers", got)
	}
}

func TestStopClosesTheSinkOnce(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	r := newRig(t, fastSettings(), sink, 3)
	waitFor(t, "the queue to drain", r.drained)
	r.w.Stop()
	r.w.Stop()
	if sink.closed != 1 {
		t.Errorf("sink closed %d times, want 1", sink.closed)
	}
	if got := r.w.Status().State; got != StateStopped {
		t.Errorf("state = %s, want %s", got, StateStopped)
	}
}

func TestDrainMovesEverythingToDeadLetters(t *testing.T) {
	t.Parallel()
	r := newRig(t, fastSettings(), &fakeSink{}, 0)
	r.w.Stop()
	r.add(t, 0, 2500)
	n, err := Drain(context.Background(), r.q, r.dead, "acme", "lrs", deadletter.ClassRemoved, "removed")
	if err != nil || n != 2500 {
		t.Fatalf("Drain = %d, %v; want 2500, nil", n, err)
	}
	if got := len(r.letters(t)); got != 2500 || r.q.Stats().Pending != 0 {
		t.Errorf("%d dead letters, %d pending; want 2500 and 0", got, r.q.Stats().Pending)
	}
}

func TestBackoffHonoursAskedDelay(t *testing.T) {
	t.Parallel()
	for failures := 1; failures < 40; failures++ {
		d := backoff(100*time.Millisecond, 5*time.Second, failures, 0)
		ceil := min(100*time.Millisecond<<min(failures-1, 30), 5*time.Second)
		if d < ceil/2 || d > ceil {
			t.Errorf("backoff(failures=%d) = %v, want within [%v, %v]", failures, d, ceil/2, ceil)
		}
	}
	if d := backoff(time.Millisecond, time.Second, 1, 3*time.Second); d != 3*time.Second {
		t.Errorf("backoff with Retry-After 3s = %v, want 3s", d)
	}
}

func TestIdleWorkerParksAndWakesOnKick(t *testing.T) {
	t.Parallel()
	s := fastSettings()
	s.IdleTimeout = 20 * time.Millisecond
	sink := &fakeSink{}
	connects := 0
	r := newRig(t, s, sink, 0)
	r.restart(t, func(p *Params) {
		p.Connector = ConnectorFunc(func(context.Context, int) (Conn, error) {
			connects++ // from the worker's goroutine only, one at a time
			return Conn{Sink: sink}, nil
		})
	})
	if !r.w.parked() {
		t.Fatal("a worker with an empty queue started a goroutine")
	}
	for round := 1; round <= 2; round++ {
		r.add(t, round*10, 3)
		waitFor(t, "the queue to drain", r.drained)
		waitFor(t, "the worker to park", r.w.parked)
		sink.mu.Lock()
		closed := sink.closed
		sink.mu.Unlock()
		if connects != round || closed != round {
			t.Errorf("round %d: %d connects and %d closes, want %d of each (the instance is released while parked)", round, connects, closed, round)
		}
	}
	if got := r.w.Counters().Delivered.Load(); got != 6 {
		t.Errorf("Delivered = %d, want 6", got)
	}
	if got := r.w.Status().State; got != StateActive {
		t.Errorf("state of a parked worker = %s, want %s", got, StateActive)
	}
}

func TestStopParkedWorker(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	r := newRig(t, fastSettings(), sink, 0)
	if !r.w.parked() {
		t.Fatal("a worker with an empty queue started a goroutine")
	}
	r.w.Stop()
	select {
	case <-r.w.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	r.w.Kick() // a kick after Stop starts nothing
	if !r.w.parked() || sink.closed != 0 {
		t.Errorf("after Stop and Kick: parked %v, sink closed %d times; want parked and never opened", r.w.parked(), sink.closed)
	}
	if got := r.w.Status().State; got != StateStopped {
		t.Errorf("state = %s, want %s", got, StateStopped)
	}
}

func TestWorkerWithPendingStatementsStartsRunning(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	r := newRig(t, fastSettings(), sink, 4) // queued before Start, no Kick
	waitFor(t, "the queue to drain", r.drained)
	if got := len(sink.ids()); got != 4 {
		t.Errorf("%d statements delivered, want 4", got)
	}
}
