package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	nooptrace "go.opentelemetry.io/otel/trace/noop"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Counters are the totals of one integration. One Counters value is
// shared by the successive workers of an integration (a re-save replaces
// the worker, not the totals). Safe for concurrent use.
type Counters struct {
	Delivered, AlreadyStored, Retried, DeadLettered atomic.Int64
}

// Params are what a Worker is made of.
type Params struct {
	// Org, ID and Plugin name the integration (for errors, logs and
	// metrics).
	Org, ID, Plugin string
	// Secrets are redacted from every error the worker keeps or logs.
	Secrets []string
	// Queue is the integration's queue; the worker is its only consumer.
	Queue queue.Queue
	// Connector configures the sink instance.
	Connector Connector
	// DeadLetters stores what cannot be delivered.
	DeadLetters DeadLetters
	// Telemetry records the integration's metrics and spans; nil records
	// nothing.
	Telemetry *telemetry.Integration
	// Logger receives events; nil discards.
	Logger *slog.Logger
	// Settings tune batching, retries and the breaker.
	Settings Settings
	// Counters receive the totals; nil starts new ones.
	Counters *Counters
	// After, when not nil, delays the first batch until it is closed: the
	// previous worker of the same queue must have stopped.
	After <-chan struct{}
}

// Worker delivers one integration's queue. Its methods are safe for
// concurrent use.
type Worker struct {
	p        Params
	counters *Counters
	log      *slog.Logger
	breaker  *gobreaker.CircuitBreaker[sdk.DeliverResponse]

	ctx      context.Context // the worker's lifetime
	cancel   context.CancelFunc
	done     chan struct{}
	doneOnce sync.Once
	resume   chan struct{}

	// The sink instance, used only by the run goroutine.
	conn    Conn
	version xapi.Version
	gen     int

	inFlight  atomic.Int64
	openUntil atomic.Int64 // unix nanoseconds when the open breaker lets a probe through

	mu          sync.Mutex
	paused      string // "", StatePausedAuth, StatePausedConfig or StatePausedPlugin
	retrying    bool
	lastSuccess time.Time
	lastError   string
	lastErrorAt time.Time
	wake        context.CancelFunc // interrupts the wait for statements
	running     bool               // a run goroutine exists; false while parked
}

// errAllRetryable marks, for the breaker, a call that returned no error
// but delivered nothing.
var errAllRetryable = errors.New("every statement of the batch failed")

// noTelemetry is the handle of a worker started without one.
var noTelemetry = func() *telemetry.Integration {
	t, err := telemetry.New(telemetry.Options{MeterProvider: noopmetric.NewMeterProvider(), TracerProvider: nooptrace.NewTracerProvider()})
	if err != nil {
		panic(err) // the no-op providers refuse nothing
	}
	return t.Integration("", "", "")
}()

// Start starts a worker; Stop ends it.
func Start(p Params) *Worker {
	if p.Telemetry == nil {
		p.Telemetry = noTelemetry
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	p.Settings.Parallel = max(1, p.Settings.Parallel)
	if p.Counters == nil {
		p.Counters = &Counters{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{
		p:        p,
		counters: p.Counters,
		log:      p.Logger.With("org", p.Org, "sink", p.ID),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		resume:   make(chan struct{}, 1),
	}
	s := p.Settings
	w.breaker = gobreaker.NewCircuitBreaker[sdk.DeliverResponse](gobreaker.Settings{
		Name:        p.Org + "/" + p.ID,
		MaxRequests: 1,
		Timeout:     s.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(max(1, s.BreakerFailures))
		},
		IsSuccessful: func(err error) bool {
			// Permanent statement rejections and credential problems say
			// nothing about the endpoint's health; our own cancellations
			// neither.
			return err == nil || sdk.IsPermanent(err) || sdk.IsAuth(err) ||
				errors.Is(err, context.Canceled) || isConfigError(err)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) {
			// Called under the breaker's lock: never take w.mu here.
			if to == gobreaker.StateOpen {
				w.openUntil.Store(time.Now().Add(s.BreakerOpen).UnixNano())
			}
			w.log.Info("circuit breaker state changed", "from", from.String(), "to", to.String())
		},
	})
	w.mu.Lock()
	// A worker that replaces another runs until it has been idle once:
	// producers may still be appending through the integration it
	// replaces, whose Kick reaches the old worker.
	if p.After != nil || p.Queue.Stats().Pending > 0 {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
	return w
}

// Kick tells a parked worker that statements were appended to its queue:
// it starts delivering again. Producers call it after every successful
// Append; it costs a lock when the worker is running already. A worker
// parks (its goroutine ends and its sink instance is closed) once its
// queue has been empty for Settings.IdleTimeout, and a worker whose queue
// is empty starts parked, so idle integrations cost no goroutine.
func (w *Worker) Kick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running || w.ctx.Err() != nil {
		return
	}
	w.running = true
	go w.run()
}

// park ends the run goroutine when nothing is pending and the worker is
// not stopping; Kick starts it again. It reports whether it parked.
func (w *Worker) park() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() != nil || w.paused != "" || w.p.Queue.Stats().Pending > 0 {
		return false
	}
	w.running = false
	return true
}

// exit marks the run goroutine gone after a stop.
func (w *Worker) exit() {
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	w.doneOnce.Do(func() { close(w.done) })
}

// Counters returns the worker's totals.
func (w *Worker) Counters() *Counters { return w.counters }

// Done is closed once the worker has stopped.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Stop ends the worker and waits for it: batches in flight finish, the
// sink instance is closed. It is idempotent.
func (w *Worker) Stop() {
	w.cancel()
	w.mu.Lock()
	if !w.running { // parked: no goroutine to wait for
		w.doneOnce.Do(func() { close(w.done) })
	}
	w.mu.Unlock()
	<-w.done
}

// Resume lifts a pause (rejected credentials or configuration, an
// unusable plugin).
func (w *Worker) Resume() {
	w.mu.Lock()
	w.paused = ""
	w.mu.Unlock()
	select {
	case w.resume <- struct{}{}:
	default:
	}
}

func isConfigError(err error) bool {
	var ce *sdk.ConfigError
	return errors.As(err, &ce)
}

func (w *Worker) pause(state string, err error) {
	msg := w.redact(err)
	// The state and its error change together: a status read between
	// them would show the pause without saying why.
	w.mu.Lock()
	w.paused = state
	w.lastError = msg
	w.lastErrorAt = time.Now()
	w.mu.Unlock()
	level := slog.LevelWarn
	if state == StatePausedPlugin { // only an operator can fix it
		level = slog.LevelError
	}
	w.log.Log(context.Background(), level, "sink instance paused", "state", state, "error", w.redact(err))
}

func (w *Worker) redact(err error) string {
	if err == nil {
		return ""
	}
	return secret.Redact(err.Error(), w.p.Secrets)
}

func (w *Worker) noteError(err error) {
	msg := w.redact(err)
	w.mu.Lock()
	w.lastError = msg
	w.lastErrorAt = time.Now()
	w.mu.Unlock()
}

func (w *Worker) pausedState() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

func (w *Worker) setRetrying(v bool) {
	w.mu.Lock()
	w.retrying = v
	w.mu.Unlock()
}

// outcome is what one batch tells the loop.
type outcome int

const (
	// sent: the batch went through (every statement settled).
	sent outcome = iota
	// failed: a transient failure; back off before the next batch.
	failed
	// refused: the breaker refused the batch; wait for the breaker.
	refused
	// held: nothing was delivered and nothing failed (a pause, a stop, a
	// bad plugin answer); no backoff of its own.
	held
)

// result is the outcome of one batch.
type result struct {
	outcome outcome
	// delay is the least delay the sink asked for (Retry-After).
	delay time.Duration
	// drop says the plugin process is gone: configure anew.
	drop bool
	// sink is the instance the batch went to.
	sink sdk.Sink
}

// run takes batches from the queue and delivers them, up to
// Settings.Parallel at a time, until the worker stops or parks.
func (w *Worker) run() {
	if !w.loop() {
		w.exit()
	}
}

// loop is run's body; it returns true when the worker parked.
func (w *Worker) loop() (parked bool) {
	defer func() {
		if !parked {
			w.closeSink()
		}
	}()
	if w.p.After != nil {
		select {
		case <-w.p.After:
		case <-w.ctx.Done():
			return false
		}
	}
	parallel := w.p.Settings.Parallel
	results := make(chan result, parallel)
	inflight := 0
	failures := 0 // consecutive failed rounds, for the backoff
	round := result{outcome: sent}
	settle := func(r result) {
		inflight--
		if r.drop && r.sink == w.conn.Sink {
			w.dropSink()
		}
		switch {
		case r.outcome == failed:
			round.outcome = failed
			round.delay = max(round.delay, r.delay)
		case r.outcome == refused && round.outcome != failed:
			round.outcome = refused
		case r.outcome == sent && round.outcome == sent:
			failures = 0
		}
	}
	defer func() {
		for ; inflight > 0; inflight-- {
			<-results
		}
	}()
	for w.ctx.Err() == nil {
		// Collect finished batches without waiting.
		for collecting := true; collecting && inflight > 0; {
			select {
			case r := <-results:
				settle(r)
			default:
				collecting = false
			}
		}
		if round.outcome != sent {
			for inflight > 0 {
				settle(<-results)
			}
			r := round
			round = result{outcome: sent}
			if w.pausedState() != "" {
				continue
			}
			if r.outcome == failed {
				failures++
				if w.breaker.State() == gobreaker.StateOpen {
					// The breaker's wait replaces the backoff.
					w.sleep(r.delay)
				} else {
					w.sleep(backoff(w.p.Settings.BackoffInitial, w.p.Settings.BackoffMax, failures, r.delay))
				}
			}
			continue
		}
		if inflight == parallel {
			settle(<-results)
			continue
		}
		if w.pausedState() != "" {
			if inflight > 0 {
				settle(<-results)
				continue
			}
			select {
			case <-w.resume:
			case <-w.ctx.Done():
				return false
			}
			continue
		}
		switch w.breaker.State() {
		case gobreaker.StateOpen:
			if inflight > 0 {
				settle(<-results)
				continue
			}
			wait := time.Until(time.Unix(0, w.openUntil.Load()))
			w.sleep(max(wait, time.Millisecond))
			continue
		case gobreaker.StateHalfOpen:
			if inflight > 0 { // exactly one probe
				settle(<-results)
				continue
			}
		}
		// Wait for statements; a batch finishing in the meantime wakes
		// the wait so that its outcome is handled first.
		wait, wake := context.WithCancel(w.ctx)
		w.setWake(wake)
		if len(results) > 0 { // finished before the wake was set
			wake()
		}
		entries, err := w.next(wait, inflight == 0)
		w.setWake(nil)
		wake()
		if err == nil && len(results) > 0 {
			// A batch finished meanwhile (perhaps failing and releasing
			// these very statements): settle it first.
			w.p.Queue.Release(seqsOf(entries)...)
			continue
		}
		if err != nil {
			switch {
			case w.ctx.Err() != nil || errors.Is(err, queue.ErrClosed):
				return false
			case errors.Is(err, context.Canceled):
				// Woken by a finished batch.
			case errors.Is(err, context.DeadlineExceeded):
				if inflight == 0 {
					// Idle: release the sink instance (in a shared plugin
					// process too) and the goroutine.
					w.closeSink()
					if w.park() {
						return true
					}
				}
			default:
				w.noteError(err)
				w.sleep(w.p.Settings.BackoffInitial)
			}
			continue
		}
		sink, err := w.ensureSink()
		if err != nil {
			w.p.Queue.Release(seqsOf(entries)...)
			if w.ctx.Err() != nil {
				continue
			}
			if isConfigError(err) {
				w.pause(StatePausedConfig, err)
				continue
			}
			if errors.Is(err, ErrPluginUnusable) {
				w.pause(StatePausedPlugin, err)
				continue
			}
			w.setRetrying(true)
			w.noteError(err)
			round.outcome = failed
			continue
		}
		inflight++
		// The version is read here, with the sink: a later batch may
		// connect a new instance (and change w.version) while this one is
		// still being encoded.
		version := w.version
		go func() {
			r := w.deliver(sink, version, entries)
			r.sink = sink
			results <- r
			w.wakeUp()
		}()
	}
	return false
}

// setWake stores the cancel function that interrupts the worker's wait
// for statements.
func (w *Worker) setWake(f context.CancelFunc) {
	w.mu.Lock()
	w.wake = f
	w.mu.Unlock()
}

func (w *Worker) wakeUp() {
	w.mu.Lock()
	f := w.wake
	w.mu.Unlock()
	if f != nil {
		f()
	}
}

// backoff is exponential with full jitter, never below the delay a sink
// asked for.
func backoff(initial, maxDelay time.Duration, failures int, asked time.Duration) time.Duration {
	ceil := initial << min(failures-1, 30)
	if ceil <= 0 || ceil > maxDelay {
		ceil = maxDelay
	}
	d := ceil/2 + rand.N(ceil/2+1)
	return max(d, asked)
}

// sleep waits d, or until the worker stops or is resumed.
func (w *Worker) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
	case <-w.resume:
	}
}

// next waits for a batch: it blocks until statements are pending (or the
// idle timeout passes, when block is set; otherwise until ctx ends), then
// lingers to fill the batch.
func (w *Worker) next(ctx context.Context, block bool) ([]queue.Entry, error) {
	s := w.p.Settings
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if block && s.IdleTimeout > 0 {
		wctx, cancel = context.WithTimeout(ctx, s.IdleTimeout)
	}
	entries, err := w.p.Queue.Next(wctx, s.BatchSize, s.BatchBytes)
	cancel()
	if err != nil {
		return nil, err
	}
	if s.Linger <= 0 || len(entries) >= s.BatchSize {
		return entries, nil
	}
	deadline := time.Now().Add(s.Linger)
	for len(entries) < s.BatchSize {
		var size int64
		for _, e := range entries {
			size += int64(len(e.Data))
		}
		if size >= s.BatchBytes || time.Until(deadline) <= 0 {
			break
		}
		lctx, cancel := context.WithDeadline(w.ctx, deadline)
		more, err := w.p.Queue.Next(lctx, s.BatchSize-len(entries), s.BatchBytes-size)
		cancel()
		if err != nil {
			break
		}
		entries = append(entries, more...)
	}
	return entries, nil
}

// ensureSink returns the configured sink instance, configuring it when
// needed.
func (w *Worker) ensureSink() (sdk.Sink, error) {
	if w.conn.Sink != nil {
		select {
		case <-w.conn.Exited:
			w.dropSink()
		default:
			return w.conn.Sink, nil
		}
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.p.Settings.ConnectTimeout+w.p.Settings.Timeout)
	defer cancel()
	w.gen++
	c, err := w.p.Connector.Connect(ctx, w.gen)
	if err != nil {
		return nil, err
	}
	w.conn = c
	w.version = xapi.V103
	if vr, ok := c.Sink.(sdk.VersionReporter); ok {
		if v := vr.XAPIVersion(); v == xapi.V200 || v == xapi.V103 {
			w.version = v
		}
	}
	return c.Sink, nil
}

// dropSink forgets the instance without closing it (its process is gone).
func (w *Worker) dropSink() {
	if w.conn.Release != nil {
		w.conn.Release()
	}
	w.conn = Conn{}
}

// closeSink closes the instance and releases its process.
func (w *Worker) closeSink() {
	if w.conn.Sink == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.conn.Sink.Close(ctx) // the process may be gone; nothing to keep
	w.dropSink()
}

// encode returns the bytes to send for an instance of version, and the
// version they are checked for (sdk.Statement.EncodedFor; "" when not
// checked): statements are queued in their 2.0.0 encoding, which a 1.0.3
// instance gets without the properties 1.0.3 does not define. The entry's
// tag says whether that changes anything (checked once, when it was
// recorded); only untagged entries are scanned here. Queued bytes always
// decode (the host encoded them), so an error leaves them as they are,
// unmarked, and the sink's own check decides. The sink is told the
// version, so that it does not scan the bytes again.
func encode(e queue.Entry, version xapi.Version) ([]byte, xapi.Version) {
	switch {
	case version != xapi.V103:
		if e.Tag == TagUnchecked {
			return e.Data, ""
		}
		return e.Data, version
	case e.Tag == TagSameForV103:
		return e.Data, xapi.V103
	}
	out, err := xapi.ForVersion(e.Data, version)
	if err != nil {
		return e.Data, ""
	}
	return out, xapi.V103
}

// deliver sends one batch to sink (an instance of version) and settles
// every entry: acked when delivered or dead-lettered, released for retry
// otherwise. It is safe to run for several batches at once.
func (w *Worker) deliver(sink sdk.Sink, version xapi.Version, entries []queue.Entry) result {
	seqs := seqsOf(entries)
	req := sdk.DeliverRequest{Statements: make([]sdk.Statement, len(entries))}
	for i, e := range entries {
		data, encodedFor := encode(e, version)
		req.Statements[i] = sdk.Statement{ID: e.ID, JSON: data, EncodedFor: encodedFor}
	}
	bctx, b := w.p.Telemetry.StartBatch(w.ctx, len(entries), spanContexts(entries))
	t := &tally{ctx: bctx, tel: w.p.Telemetry}
	var callErr error
	defer func() { b.End(callErr, t.res) }()
	w.inFlight.Add(int64(len(entries)))
	resp, err := w.breaker.Execute(func() (sdk.DeliverResponse, error) {
		ctx, cancel := context.WithTimeout(bctx, w.p.Settings.Timeout)
		defer cancel()
		resp, err := sink.Deliver(ctx, req)
		if err == nil && allRetryable(resp) {
			return resp, errAllRetryable
		}
		return resp, err
	})
	w.inFlight.Add(-int64(len(entries)))
	if !errors.Is(err, errAllRetryable) {
		callErr = err
	}

	q := w.p.Queue
	switch {
	case errors.Is(err, errAllRetryable):
		err = nil // settle per verdict below
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		// Not a delivery failure: nothing was sent.
		q.Release(seqs...)
		return result{outcome: refused}
	case err != nil && w.ctx.Err() != nil:
		q.Release(seqs...)
		return result{outcome: held}
	case errors.Is(err, sdk.ErrPluginExited):
		q.Release(seqs...)
		w.noteError(err)
		w.counters.Retried.Add(int64(len(entries)))
		t.retried(len(entries), err)
		return result{outcome: held, drop: true}
	case sdk.IsAuth(err):
		q.Release(seqs...)
		w.pause(StatePausedAuth, err)
		return result{outcome: held}
	case isConfigError(err):
		q.Release(seqs...)
		w.pause(StatePausedConfig, err)
		return result{outcome: held}
	case sdk.IsPermanent(err):
		w.deadLetter(t, entries, deadletter.ClassRejected, w.redact(err))
		return result{outcome: sent}
	case err != nil:
		w.setRetrying(true)
		w.noteError(err)
		w.retryLater(t, entries, err)
		delay, _ := sdk.RetryDelay(err)
		return result{outcome: failed, delay: delay}
	}
	if resp.Verdicts != nil && len(resp.Verdicts) != len(entries) {
		q.Release(seqs...)
		w.noteError(fmt.Errorf("plugin %s returned %d verdicts for %d statements", w.p.Plugin, len(resp.Verdicts), len(entries)))
		return result{outcome: held}
	}
	return w.settle(t, entries, resp.Verdicts)
}

// tally counts what became of one batch's statements: in the
// integration's metrics and in the result of the batch's span.
type tally struct {
	ctx context.Context // the batch's, for exemplars
	tel *telemetry.Integration
	res telemetry.BatchResult
}

func (t *tally) delivered(n, alreadyStored int) {
	t.tel.Delivered(t.ctx, n, alreadyStored)
	t.res.Delivered += n
	t.res.AlreadyStored += alreadyStored
}

func (t *tally) retried(n int, err error) {
	t.tel.Retried(t.ctx, n, err)
	t.res.Retried += n
}

func (t *tally) deadLettered(n int, class string) {
	reason := telemetry.DeadLetterRejected
	if class == deadletter.ClassExpired {
		reason = telemetry.DeadLetterExpired
	}
	t.tel.DeadLettered(t.ctx, n, reason)
	t.res.DeadLettered += n
}

// spanContexts parses the span contexts stored with entries, one per run
// of entries that share it (the statements of one Record call are stored
// together, with one encoded context); one that does not parse is left
// out (the batch is delivered all the same).
func spanContexts(entries []queue.Entry) []trace.SpanContext {
	var out []trace.SpanContext
	var last []byte
	for _, e := range entries {
		if len(e.Trace) == 0 || bytes.Equal(e.Trace, last) {
			continue
		}
		last = e.Trace
		if sc, err := telemetry.ParseSpanContext(e.Trace); err == nil && sc.IsValid() {
			if out == nil {
				out = make([]trace.SpanContext, 0, len(entries))
			}
			out = append(out, sc)
		}
	}
	return out
}

func allRetryable(resp sdk.DeliverResponse) bool {
	if len(resp.Verdicts) == 0 {
		return false
	}
	for _, v := range resp.Verdicts {
		if v.Err == nil || v.AlreadyStored || sdk.IsPermanent(v.Err) {
			return false
		}
	}
	return true
}

func seqsOf(entries []queue.Entry) []uint64 {
	out := make([]uint64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

// settle applies per-statement verdicts.
func (w *Worker) settle(t *tally, entries []queue.Entry, verdicts []sdk.Verdict) result {
	var acked, retry []uint64
	var retryEntries, rejected []queue.Entry
	var reasons []string
	var authErr, lastErr error
	var delay time.Duration
	delivered, conflicts := 0, 0
	for i, e := range entries {
		var v sdk.Verdict
		if verdicts != nil {
			v = verdicts[i]
		}
		switch {
		case v.AlreadyStored:
			acked = append(acked, e.Seq)
			delivered++
			conflicts++
		case v.Err == nil:
			acked = append(acked, e.Seq)
			delivered++
		case sdk.IsPermanent(v.Err):
			rejected = append(rejected, e)
			reasons = append(reasons, w.redact(v.Err))
		case sdk.IsAuth(v.Err):
			authErr = v.Err
			retry = append(retry, e.Seq)
		default:
			lastErr = v.Err
			retryEntries = append(retryEntries, e)
			if d, ok := sdk.RetryDelay(v.Err); ok && d > delay {
				delay = d
			}
		}
	}
	if len(rejected) > 0 {
		w.deadLetterEach(t, rejected, deadletter.ClassRejected, reasons)
	}
	if len(acked) > 0 {
		if err := w.p.Queue.Ack(acked...); err != nil {
			w.noteError(err)
		}
		w.counters.Delivered.Add(int64(delivered))
		w.counters.AlreadyStored.Add(int64(conflicts))
		t.delivered(delivered, conflicts)
		w.mu.Lock()
		w.lastSuccess = time.Now()
		w.mu.Unlock()
	}
	if len(retry) > 0 {
		w.p.Queue.Release(retry...)
		w.counters.Retried.Add(int64(len(retry)))
		t.retried(len(retry), authErr)
	}
	if len(retryEntries) > 0 {
		w.retryLater(t, retryEntries, lastErr)
	}
	if authErr != nil {
		w.pause(StatePausedAuth, authErr)
		return result{outcome: held}
	}
	if lastErr != nil {
		w.setRetrying(true)
		w.noteError(lastErr)
		return result{outcome: failed, delay: delay}
	}
	w.setRetrying(false)
	return result{outcome: sent}
}

// retryLater hands entries that failed transiently back to the queue for
// a later batch, except those that have failed for longer than MaxAge:
// they are dead-lettered as expired instead. Expired entries are settled
// before the others are released, so that no other batch in flight can
// take them meanwhile.
func (w *Worker) retryLater(t *tally, entries []queue.Entry, cause error) {
	maxAge := w.p.Settings.MaxAge
	var old []queue.Entry
	keep := entries[:0:0]
	for _, e := range entries {
		if maxAge > 0 && time.Since(e.Appended) > maxAge {
			old = append(old, e)
		} else {
			keep = append(keep, e)
		}
	}
	if len(old) > 0 {
		w.deadLetter(t, old, deadletter.ClassExpired, "not delivered within "+maxAge.String()+"; last error: "+w.redact(cause))
	}
	if len(keep) > 0 {
		w.p.Queue.Release(seqsOf(keep)...)
		w.counters.Retried.Add(int64(len(keep)))
		t.retried(len(keep), cause)
	}
}

func (w *Worker) deadLetter(t *tally, entries []queue.Entry, class, reason string) {
	reasons := make([]string, len(entries))
	for i := range reasons {
		reasons[i] = reason
	}
	w.deadLetterEach(t, entries, class, reasons)
}

// deadLetterEach stores entries in the dead-letter store, then acks them.
// If the store cannot be written they stay in the queue.
func (w *Worker) deadLetterEach(t *tally, entries []queue.Entry, class string, reasons []string) {
	now := time.Now().UTC()
	list := make([]deadletter.Letter, len(entries))
	for i, e := range entries {
		list[i] = deadletter.FromEntry(w.p.Org, w.p.ID, e, class, reasons[i], now) // entries are ours to keep
	}
	if err := w.p.DeadLetters.Add(w.ctx, w.p.Org, list); err != nil {
		w.noteError(err)
		w.p.Queue.Release(seqsOf(entries)...)
		return
	}
	if err := w.p.Queue.Ack(seqsOf(entries)...); err != nil {
		w.noteError(err)
	}
	w.counters.DeadLettered.Add(int64(len(entries)))
	t.deadLettered(len(entries), class)
	w.noteError(errors.New(reasons[len(reasons)-1]))
}

// Status is a snapshot of a worker's state.
type Status struct {
	// State is one of the State constants.
	State string
	// InFlight is the number of statements being delivered.
	InFlight int
	// LastSuccess is when a batch was last delivered.
	LastSuccess time.Time
	// LastError is the last error, redacted, and when it happened.
	LastError     string
	LastErrorTime time.Time
}

// Status reports the worker's state.
func (w *Worker) Status() Status {
	breaker := w.breaker.State() // before w.mu: a state change calls back
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Status{
		State:         StateActive,
		InFlight:      int(w.inFlight.Load()),
		LastSuccess:   w.lastSuccess,
		LastError:     w.lastError,
		LastErrorTime: w.lastErrorAt,
	}
	switch {
	case w.ctx.Err() != nil:
		s.State = StateStopped
	case w.paused != "":
		s.State = w.paused
	case breaker == gobreaker.StateOpen:
		s.State = StateBreakerOpen
	case breaker == gobreaker.StateHalfOpen:
		s.State = StateBreakerHalfOpen
	case w.retrying:
		s.State = StateRetrying
	}
	return s
}

// BreakerState reports the state of the worker's circuit breaker, one of
// telemetry.BreakerClosed, BreakerOpen and BreakerHalfOpen, whatever the
// worker's own state (a paused worker keeps its breaker's).
func (w *Worker) BreakerState() string {
	switch w.breaker.State() {
	case gobreaker.StateOpen:
		return telemetry.BreakerOpen
	case gobreaker.StateHalfOpen:
		return telemetry.BreakerHalfOpen
	}
	return telemetry.BreakerClosed
}
