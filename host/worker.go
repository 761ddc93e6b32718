package host

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// States of a sink instance, as Status reports them.
const (
	// StateActive: delivering, or waiting for statements.
	StateActive = "active"
	// StateRetrying: the last batch failed transiently; retrying with
	// backoff.
	StateRetrying = "retrying"
	// StatePausedAuth: the sink's credentials were rejected; delivery is
	// paused (statements are kept) until the integration is saved again
	// or resumed.
	StatePausedAuth = "paused_auth"
	// StatePausedConfig: the plugin rejected the configuration; paused
	// until the integration is saved again or resumed.
	StatePausedConfig = "paused_config"
	// StateBreakerOpen: too many consecutive failures; the circuit breaker
	// stops deliveries for a while.
	StateBreakerOpen = "breaker_open"
	// StateBreakerHalfOpen: the breaker lets one probe batch through.
	StateBreakerHalfOpen = "breaker_half_open"
	// StateStopped: the host is shut down or the integration removed.
	StateStopped = "stopped"
	// StateQueueError: the integration's queue could not be opened (it is
	// damaged on disk); recording for the organization fails until an
	// operator repairs or removes it.
	StateQueueError = "queue_error"
)

// errAllRetryable marks, for the circuit breaker, a call that returned no
// error but delivered nothing.
var errAllRetryable = errors.New("every statement of the batch failed")

// worker delivers one sink instance's queue: batches from the queue through
// the instance's circuit breaker to the plugin, and every outcome back to
// the queue or the dead-letter store.
type worker struct {
	h       *Host
	org     string
	inst    Integration // with secrets; never logged
	secrets []string    // for redaction
	q       queue.Queue
	breaker *gobreaker.CircuitBreaker[sdk.DeliverResponse]

	ctx    context.Context // the worker's lifetime, owned by run
	cancel context.CancelFunc
	done   chan struct{}
	resume chan struct{}

	// Sink instance, used only by the run goroutine.
	sink    sdk.Sink
	lease   *lease
	version xapi.Version
	gen     int

	delivered, conflicts, retried, deadLettered atomic.Int64

	mu          sync.Mutex
	paused      string // "", StatePausedAuth or StatePausedConfig
	retrying    bool
	lastSuccess time.Time
	lastError   string
	lastErrorAt time.Time
	wake        context.CancelFunc // interrupts the wait for statements

	inFlight atomic.Int64
}

func newWorker(h *Host, org string, inst Integration, q queue.Queue) *worker {
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{
		h:       h,
		org:     org,
		inst:    inst,
		secrets: secretValues(inst.Config),
		q:       q,
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		resume:  make(chan struct{}, 1),
	}
	d := h.cfg.Delivery
	w.breaker = gobreaker.NewCircuitBreaker[sdk.DeliverResponse](gobreaker.Settings{
		Name:        org + "/" + inst.ID,
		MaxRequests: 1,
		Timeout:     d.BreakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(d.BreakerFailures)
		},
		IsSuccessful: func(err error) bool {
			// Permanent statement rejections and credential problems say
			// nothing about the endpoint's health; our own cancellations
			// neither.
			return err == nil || sdk.IsPermanent(err) || sdk.IsAuth(err) ||
				errors.Is(err, context.Canceled) || isConfigError(err)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			h.log.Info("circuit breaker state changed", "org", org, "sink", inst.ID, "from", from.String(), "to", to.String())
		},
	})
	return w
}

func isConfigError(err error) bool {
	var ce *sdk.ConfigError
	return errors.As(err, &ce)
}

// stop ends the worker and waits for it.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

// unpause resumes a paused worker.
func (w *worker) unpause() {
	w.mu.Lock()
	w.paused = ""
	w.mu.Unlock()
	select {
	case w.resume <- struct{}{}:
	default:
	}
}

func (w *worker) pause(state string, err error) {
	w.mu.Lock()
	w.paused = state
	w.mu.Unlock()
	w.noteError(err)
	w.h.log.Warn("sink instance paused", "org", w.org, "sink", w.inst.ID, "state", state, "error", w.redact(err))
}

func (w *worker) redact(err error) string {
	if err == nil {
		return ""
	}
	return redact(err.Error(), w.secrets)
}

func (w *worker) noteError(err error) {
	msg := w.redact(err)
	w.mu.Lock()
	w.lastError = msg
	w.lastErrorAt = time.Now()
	w.mu.Unlock()
}

func (w *worker) pausedState() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused
}

// result is the outcome of one delivered batch.
type result struct {
	// delay is -1 when the batch went through, else the least delay a
	// retry should wait (0 when the sink asked for none).
	delay time.Duration
	// drop says the plugin process is gone: configure anew.
	drop bool
	// sink is the instance the batch went to.
	sink sdk.Sink
}

// run takes batches from the queue and delivers them, up to
// delivery.parallel batches at a time. After a failed batch it waits for
// the batches in flight, then backs off before taking more.
func (w *worker) run() {
	defer close(w.done)
	defer w.closeSink()
	d := w.h.cfg.Delivery
	idle := w.h.cfg.Plugins.IdleTimeout
	parallel := max(1, d.Parallel)
	results := make(chan result, parallel)
	inflight := 0
	failures := 0
	var worst result
	failed := false
	settle := func(r result) {
		inflight--
		if r.drop && r.sink == w.sink {
			w.dropSink()
		}
		if r.delay >= 0 {
			failed = true
			worst.delay = max(worst.delay, r.delay)
		} else if !failed {
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
		if failed {
			for inflight > 0 {
				settle(<-results)
			}
			failures++
			delay := worst.delay
			failed, worst = false, result{}
			if w.pausedState() == "" {
				w.sleep(backoff(d.BackoffInitial, d.BackoffMax, failures, delay))
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
				return
			}
			continue
		}
		// Wait for statements; a batch finishing in the meantime wakes
		// the wait so that its outcome is handled first.
		wait, wake := context.WithCancel(w.ctx)
		w.setWake(wake)
		if len(results) > 0 { // finished before the wake was set
			wake()
		}
		entries, err := w.next(wait, idle, inflight == 0)
		w.setWake(nil)
		wake()
		if err == nil && len(results) > 0 {
			// A batch finished meanwhile (perhaps failing and releasing
			// these very statements): settle it first.
			w.q.Release(seqsOf(entries)...)
			continue
		}
		if err != nil {
			switch {
			case w.ctx.Err() != nil || errors.Is(err, queue.ErrClosed):
				return
			case errors.Is(err, context.Canceled):
				// Woken by a finished batch.
			case errors.Is(err, context.DeadlineExceeded):
				if inflight == 0 {
					w.closeSink() // idle: let the plugin process go
				}
			default:
				w.noteError(err)
				w.sleep(d.BackoffInitial)
			}
			continue
		}
		sink, err := w.ensureSink()
		if err != nil {
			if w.ctx.Err() != nil || isConfigError(err) {
				w.q.Release(seqsOf(entries)...)
				if isConfigError(err) && w.ctx.Err() == nil {
					w.pause(StatePausedConfig, err)
				}
				continue
			}
			w.setRetrying(true)
			w.noteError(err)
			w.retryLater(entries, err)
			failed = true
			continue
		}
		inflight++
		go func() {
			r := w.deliver(sink, entries)
			r.sink = sink
			results <- r
			w.wakeUp()
		}()
	}
}

// setWake stores the cancel function that interrupts the worker's wait
// for statements.
func (w *worker) setWake(f context.CancelFunc) {
	w.mu.Lock()
	w.wake = f
	w.mu.Unlock()
}

func (w *worker) wakeUp() {
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

func (w *worker) sleep(d time.Duration) {
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
func (w *worker) next(ctx context.Context, idle time.Duration, block bool) ([]queue.Entry, error) {
	d := w.h.cfg.Delivery
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if block {
		wctx, cancel = context.WithTimeout(ctx, idle)
	}
	entries, err := w.q.Next(wctx, d.BatchSize, d.BatchBytes)
	cancel()
	if err != nil {
		return nil, err
	}
	if d.Linger <= 0 || len(entries) >= d.BatchSize {
		return entries, nil
	}
	deadline := time.Now().Add(d.Linger)
	for len(entries) < d.BatchSize {
		var size int64
		for _, e := range entries {
			size += int64(len(e.Data))
		}
		if size >= d.BatchBytes || time.Until(deadline) <= 0 {
			break
		}
		lctx, cancel := context.WithDeadline(w.ctx, deadline)
		more, err := w.q.Next(lctx, d.BatchSize-len(entries), d.BatchBytes-size)
		cancel()
		if err != nil {
			break
		}
		entries = append(entries, more...)
	}
	return entries, nil
}

// ensureSink returns the configured sink instance, configuring it (and
// starting its plugin) when needed.
func (w *worker) ensureSink() (sdk.Sink, error) {
	if w.sink != nil {
		select {
		case <-w.lease.proc.Exited():
			w.dropSink()
		default:
			return w.sink, nil
		}
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.h.cfg.Plugins.StartTimeout+w.h.cfg.Delivery.Timeout)
	defer cancel()
	l, err := w.h.sup.acquire(ctx, w.inst.Plugin, w.org)
	if err != nil {
		return nil, err
	}
	w.gen++
	sink, err := l.proc.Provider().Configure(ctx, sdk.ConfigureRequest{
		Instance: w.org + "/" + w.inst.ID + "#" + strconv.Itoa(w.gen),
		Org:      w.org,
		Label:    w.inst.Label,
		Config:   cloneConfig(w.inst.Config),
		Egress:   w.h.egress,
	})
	if err != nil {
		l.release()
		return nil, err
	}
	w.sink, w.lease = sink, l
	w.version = xapi.V103
	if vr, ok := sink.(sdk.VersionReporter); ok {
		if v := vr.XAPIVersion(); v == xapi.V200 || v == xapi.V103 {
			w.version = v
		}
	}
	return sink, nil
}

// dropSink forgets the instance without closing it (its process is gone).
func (w *worker) dropSink() {
	if w.lease != nil {
		w.lease.release()
	}
	w.sink, w.lease = nil, nil
}

// closeSink closes the instance and releases its process.
func (w *worker) closeSink() {
	if w.sink == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.sink.Close(ctx) // the process may be gone; nothing to keep
	w.dropSink()
}

// encode returns the bytes to send for the instance's version: statements
// are queued in their 2.0.0 encoding, which a 1.0.3 instance gets without
// the properties 1.0.3 does not define. Queued bytes always decode (they
// were encoded by the host), so an error leaves them as they are and the
// sink's own check decides.
func (w *worker) encode(e queue.Entry) []byte {
	out, err := xapi.ForVersion(e.Data, w.version)
	if err != nil {
		return e.Data
	}
	return out
}

// deliver sends one batch to sink and settles every entry: acked when
// delivered or dead-lettered, released for retry otherwise. It is safe to
// run for several batches at once.
func (w *worker) deliver(sink sdk.Sink, entries []queue.Entry) result {
	seqs := seqsOf(entries)
	req := sdk.DeliverRequest{Statements: make([]sdk.Statement, len(entries))}
	for i, e := range entries {
		req.Statements[i] = sdk.Statement{ID: e.ID, JSON: w.encode(e)}
	}
	m := w.h.metrics
	m.Observe(MetricBatchSize, float64(len(entries)), w.org, w.inst.ID)
	w.inFlight.Add(int64(len(entries)))
	began := time.Now()
	resp, err := w.breaker.Execute(func() (sdk.DeliverResponse, error) {
		ctx, cancel := context.WithTimeout(w.ctx, w.h.cfg.Delivery.Timeout)
		defer cancel()
		resp, err := sink.Deliver(ctx, req)
		if err == nil && allRetryable(resp) {
			return resp, errAllRetryable
		}
		return resp, err
	})
	m.Observe(MetricBatchSeconds, time.Since(began).Seconds(), w.org, w.inst.ID)
	w.inFlight.Add(-int64(len(entries)))

	switch {
	case errors.Is(err, errAllRetryable):
		err = nil // settle per verdict below
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		w.q.Release(seqs...)
		return result{delay: min(w.h.cfg.Delivery.BreakerOpen, time.Second)}
	case err != nil && w.ctx.Err() != nil:
		w.q.Release(seqs...)
		return result{delay: 0}
	case errors.Is(err, sdk.ErrPluginExited):
		w.q.Release(seqs...)
		w.noteError(err)
		w.retried.Add(int64(len(entries)))
		w.m(MetricRetried, len(entries))
		return result{delay: 0, drop: true}
	case sdk.IsAuth(err):
		w.q.Release(seqs...)
		w.pause(StatePausedAuth, err)
		return result{delay: 0}
	case isConfigError(err):
		w.q.Release(seqs...)
		w.pause(StatePausedConfig, err)
		return result{delay: 0}
	case sdk.IsPermanent(err):
		w.deadLetter(entries, DeadLetterRejected, w.redact(err))
		return result{delay: -1}
	case err != nil:
		w.setRetrying(true)
		w.noteError(err)
		w.retryLater(entries, err)
		delay, _ := sdk.RetryDelay(err)
		return result{delay: delay}
	}
	if resp.Verdicts != nil && len(resp.Verdicts) != len(entries) {
		w.q.Release(seqs...)
		w.noteError(fmt.Errorf("plugin %s returned %d verdicts for %d statements", w.inst.Plugin, len(resp.Verdicts), len(entries)))
		return result{delay: 0}
	}
	return result{delay: w.settle(entries, resp.Verdicts)}
}

func (w *worker) m(name string, n int) {
	w.h.metrics.Count(name, int64(n), w.org, w.inst.ID)
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

func (w *worker) setRetrying(v bool) {
	w.mu.Lock()
	w.retrying = v
	w.mu.Unlock()
}

// settle applies per-statement verdicts.
func (w *worker) settle(entries []queue.Entry, verdicts []sdk.Verdict) time.Duration {
	var acked, retry []uint64
	var retryEntries []queue.Entry
	var rejected []queue.Entry
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
		w.deadLetterClass(rejected, DeadLetterRejected, reasons)
	}
	if len(acked) > 0 {
		if err := w.q.Ack(acked...); err != nil {
			w.noteError(err)
		}
		w.delivered.Add(int64(delivered))
		w.conflicts.Add(int64(conflicts))
		w.m(MetricDelivered, delivered)
		if conflicts > 0 {
			w.m(MetricConflicts, conflicts)
		}
		w.mu.Lock()
		w.lastSuccess = time.Now()
		w.mu.Unlock()
	}
	if len(retry) > 0 {
		w.q.Release(retry...)
		w.retried.Add(int64(len(retry)))
		w.m(MetricRetried, len(retry))
	}
	if len(retryEntries) > 0 {
		w.retryLater(retryEntries, lastErr)
	}
	if authErr != nil {
		w.pause(StatePausedAuth, authErr)
		return 0
	}
	if lastErr != nil {
		w.setRetrying(true)
		w.noteError(lastErr)
		return delay
	}
	w.setRetrying(false)
	return -1
}

// retryLater hands entries that failed transiently back to the queue for
// a later batch, except those that have failed for longer than
// delivery.max_age: they are dead-lettered as expired instead. Expired
// entries are settled before the others are released, so that no other
// batch in flight can take them meanwhile.
func (w *worker) retryLater(entries []queue.Entry, cause error) {
	maxAge := w.h.cfg.Delivery.MaxAge
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
		w.deadLetter(old, DeadLetterExpired, "not delivered within "+maxAge.String()+"; last error: "+w.redact(cause))
	}
	if len(keep) > 0 {
		w.q.Release(seqsOf(keep)...)
		w.retried.Add(int64(len(keep)))
		w.m(MetricRetried, len(keep))
	}
}

func (w *worker) deadLetter(entries []queue.Entry, class, reason string) {
	reasons := make([]string, len(entries))
	for i := range reasons {
		reasons[i] = reason
	}
	w.deadLetterClass(entries, class, reasons)
}

// deadLetterClass stores entries in the dead-letter store, then acks them.
// If the store cannot be written they stay in the queue.
func (w *worker) deadLetterClass(entries []queue.Entry, class string, reasons []string) {
	now := time.Now().UTC()
	list := make([]DeadLetter, len(entries))
	for i, e := range entries {
		list[i] = DeadLetter{
			Org: w.org, Sink: w.inst.ID, StatementID: e.ID, Class: class, Reason: reasons[i],
			Time: now, Recorded: e.Appended.UTC(), Statement: append([]byte(nil), e.Data...),
		}
	}
	if err := w.h.dead.add(w.org, list); err != nil {
		w.noteError(err)
		w.q.Release(seqsOf(entries)...)
		return
	}
	if err := w.q.Ack(seqsOf(entries)...); err != nil {
		w.noteError(err)
	}
	w.deadLettered.Add(int64(len(entries)))
	w.m(MetricDeadLettered, len(entries))
	w.noteError(errors.New(reasons[len(reasons)-1]))
}

// status reports the instance's state.
func (w *worker) status() SinkStatus {
	st := w.q.Stats()
	w.mu.Lock()
	defer w.mu.Unlock()
	s := SinkStatus{
		ID:            w.inst.ID,
		Label:         w.inst.Label,
		Plugin:        w.inst.Plugin,
		State:         StateActive,
		Queued:        st.Pending,
		QueuedBytes:   st.PendingBytes,
		InFlight:      int(w.inFlight.Load()),
		Delivered:     w.delivered.Load(),
		AlreadyStored: w.conflicts.Load(),
		Retried:       w.retried.Load(),
		DeadLettered:  w.deadLettered.Load(),
		LastSuccess:   w.lastSuccess,
		LastError:     w.lastError,
		LastErrorTime: w.lastErrorAt,
	}
	if !st.Oldest.IsZero() {
		s.OldestAge = time.Since(st.Oldest)
	}
	if b, ok := w.q.(brokenQueue); ok {
		s.State = StateQueueError
		s.LastError = redact(b.err.Error(), w.secrets)
		return s
	}
	switch {
	case w.ctx.Err() != nil:
		s.State = StateStopped
	case w.paused != "":
		s.State = w.paused
	case w.breaker.State() == gobreaker.StateOpen:
		s.State = StateBreakerOpen
	case w.breaker.State() == gobreaker.StateHalfOpen:
		s.State = StateBreakerHalfOpen
	case w.retrying:
		s.State = StateRetrying
	}
	return s
}
