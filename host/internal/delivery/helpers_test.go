package delivery

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
)

// fakeSink is an in-process sink: each Deliver call is answered by the
// test's function, and every call is recorded.
type fakeSink struct {
	mu      sync.Mutex
	answer  func(call int, req sdk.DeliverRequest) (sdk.DeliverResponse, error)
	calls   []call
	active  int // Deliver calls in progress
	closed  int
	onClose func()
}

// call is one Deliver call as the sink saw it.
type call struct {
	ids []string
	// concurrent is the number of Deliver calls in progress when this
	// one started, itself included.
	concurrent int
	at         time.Time
}

func (s *fakeSink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	ids := make([]string, len(req.Statements))
	for i, st := range req.Statements {
		ids[i] = st.ID
	}
	s.mu.Lock()
	s.active++
	n := len(s.calls)
	s.calls = append(s.calls, call{ids: ids, concurrent: s.active, at: time.Now()})
	answer := s.answer
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	if answer == nil {
		return sdk.DeliverResponse{}, nil
	}
	return answer(n, req)
}

func (s *fakeSink) Close(context.Context) error {
	s.mu.Lock()
	s.closed++
	f := s.onClose
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

func (s *fakeSink) recorded() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

// delivered returns how often each statement id reached the sink in a call
// that the answer function accepted.
func (s *fakeSink) ids() map[string]int {
	out := map[string]int{}
	for _, c := range s.recorded() {
		for _, id := range c.ids {
			out[id]++
		}
	}
	return out
}

// rig is a worker under test with a real file queue and dead-letter store.
type rig struct {
	q    queue.Queue
	dead *deadletter.Dir
	sink *fakeSink
	w    *Worker
}

// fastSettings are settings that make tests quick; tests change what they
// exercise.
func fastSettings() Settings {
	return Settings{
		BatchSize: 10, BatchBytes: 1 << 20, Linger: 0, Parallel: 1,
		BackoffInitial: time.Millisecond, BackoffMax: 5 * time.Millisecond,
		BreakerFailures: 1000, BreakerOpen: 10 * time.Millisecond,
		Timeout: 10 * time.Second, IdleTimeout: time.Minute, ConnectTimeout: time.Second,
	}
}

// newRig queues n statements ("s0".."s<n-1>") and starts a worker on them.
func newRig(t testing.TB, s Settings, sink *fakeSink, n int) *rig {
	t.Helper()
	st, err := queue.Open(queue.Options{Dir: t.TempDir(), Sync: queue.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q, err := st.Queue("acme", "lrs")
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, q, 0, n)
	r := &rig{q: q, dead: deadletter.New(t.TempDir()), sink: sink}
	r.restart(t, func(p *Params) { p.Settings = s })
	return r
}

// restart stops the rig's worker, if any, and starts a new one on the same
// queue, sink and dead letters, with the changes change makes.
func (r *rig) restart(t testing.TB, change func(*Params)) {
	t.Helper()
	p := Params{
		Org: "acme", ID: "lrs", Plugin: "fake", Queue: r.q, Settings: fastSettings(), DeadLetters: r.dead,
		Connector: ConnectorFunc(func(context.Context, int) (Conn, error) { return Conn{Sink: r.sink}, nil }),
	}
	if r.w != nil {
		r.w.Stop()
		p.Settings = r.w.p.Settings
	}
	change(&p)
	r.w = Start(p)
	t.Cleanup(r.w.Stop)
}

// add queues n more statements, from "s<from>", as a producer does: it
// appends, then kicks the worker.
func (r *rig) add(t testing.TB, from, n int) {
	t.Helper()
	appendN(t, r.q, from, n)
	r.w.Kick()
}

// parked reports whether the worker has no goroutine.
func (w *Worker) parked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.running
}

func appendN(t testing.TB, q queue.Queue, from, n int) {
	t.Helper()
	items := make([]queue.Item, n)
	for i := range items {
		id := fmt.Sprintf("s%d", from+i)
		items[i] = queue.Item{ID: id, Data: []byte(`{"id":"` + id + `"}`)}
	}
	if n > 0 {
		if err := q.Append(context.Background(), items); err != nil {
			t.Fatal(err)
		}
	}
}

// waitFor polls cond until it holds; the long limit only guards against a
// hang and is never reached by a passing test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (r *rig) drained() bool { return r.q.Stats().Pending == 0 }

func (r *rig) letters(t testing.TB) []deadletter.Letter {
	t.Helper()
	list, err := r.dead.List(context.Background(), "acme", deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}
