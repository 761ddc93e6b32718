package host

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/host/internal/supervise"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk"
)

// New starts a host: it opens the data directory, recovers queues, and
// starts delivery for every configured integration (plugins start lazily,
// on the first batch).
func New(cfg Config, opts ...Option) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h := &Host{
		cfg:          cfg,
		log:          slog.New(slog.DiscardHandler),
		now:          time.Now,
		providers:    map[string]sdk.Provider{},
		orgs:         map[string]*org{},
		retiring:     map[queue.Key]chan struct{}{},
		removingOrgs: map[string]chan struct{}{},
		replay:       replayChunk,
		healEvery:    healEvery,
		countsEvery:  countsEvery,
	}
	for _, o := range opts {
		o(h)
	}
	for _, c := range cfg.Egress.AllowCIDRs {
		p, _ := netip.ParsePrefix(c) // validated
		h.egress.AllowCIDRs = append(h.egress.AllowCIDRs, p)
	}
	h.egress.AllowHTTP = cfg.Egress.AllowHTTP
	attrs := cfg.Telemetry.Attributes.internal()
	if h.bridged {
		// The receivers of the former Metrics interface expect the
		// organizations' ids.
		attrs.Mode = telemetry.ModeAll
	}
	tel, err := telemetry.New(telemetry.Options{MeterProvider: h.meterProvider, TracerProvider: h.tracerProvider, Attributes: attrs})
	if err != nil {
		return nil, err
	}
	h.tel = tel
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	box, err := secret.NewBox(cfg.Secrets.Key, cfg.Secrets.AllowPlaintext)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := h.openBackend(ctx, box); err != nil {
		return nil, err
	}
	if h.saved, err = h.reg.Load(ctx); err != nil {
		_ = h.queues.Close()
		return nil, err
	}
	if h.shCounts != nil {
		h.counts = h.shCounts
	} else {
		h.counts = registry.NewCountsFile(filepath.Join(cfg.DataDir, "counts.json"))
	}
	if h.savedCounts, err = h.counts.LoadCounts(ctx); err != nil {
		if h.shCounts != nil {
			// Counting from zero would overwrite this instance's saved
			// counts on the servers with lower ones.
			_ = h.queues.Close()
			return nil, fmt.Errorf("read this instance's delivery counts from the jetstream backend (queue.nats); check that the NATS servers answer and start again: %w", err)
		}
		h.log.Warn("delivery counts of the previous run cannot be read; counting from zero", "error", err)
	}
	h.norm = normalize.New(h.state, func() time.Time { return h.now() })
	h.sup = supervise.New(cfg.Plugins.supervisorOptions(h.log, h.pluginStarted, h.pluginExited))

	resolved, ignored := registry.Resolve(cfg.configured(), h.saved)
	active := map[queue.Key]bool{}
	for _, r := range resolved {
		o := &org{id: r.ID, settings: OrgSettings(r.Settings)}
		for _, e := range r.Integrations {
			o.list = append(o.list, h.startIntegration(r.ID, Integration(e.Integration), e.Source, e.Saved, nil, nil))
			active[queue.Key{Org: r.ID, Sink: e.ID}] = true
		}
		h.orgs[r.ID] = o
	}
	h.stopCounts, h.countsDone = make(chan struct{}), make(chan struct{})
	go h.saveCountsEvery(h.countsEvery, h.stopCounts, h.countsDone)
	if h.unobserve, err = h.tel.ObserveIntegrations(h.snapshots); err != nil {
		h.log.Warn("the meter provider refused the queue and state gauges; they are left out", "error", err)
	}
	h.stopHeal, h.healDone = make(chan struct{}), make(chan struct{})
	go h.healPlugins(h.healEvery, h.stopHeal, h.healDone)
	for _, id := range ignored {
		h.log.Warn("saved integrations for an organization that is not configured are ignored", "org", id)
	}
	// Queues on disk whose integration is gone keep their statements;
	// they are moved to the dead-letter store, never dropped.
	if h.shared() {
		h.retireTombstoned(ctx, active)
		h.startWatch()
		return h, nil
	}
	for _, k := range h.queues.Queues() {
		if !active[k] {
			h.retireQueue(ctx, k.Org, k.Sink, nil)
		}
	}
	// A removal of an organization interrupted by a crash is finished.
	for id, o := range h.saved.Orgs {
		if _, ok := h.orgs[id]; o.Removed && !ok {
			if _, err := h.archiveOrg(ctx, id); err != nil {
				h.log.Error("cannot archive the dead letters of a removed organization", "org", id, "error", err)
			}
		}
	}
	return h, nil
}

// startIntegration opens the integration's queue and starts its worker.
// A queue that cannot be opened (damaged on disk) does not stop the host:
// the integration reports StateQueueError, recording for its organization
// fails with that error, and every other organization carries on. Its
// files are left as they are for an operator. counters carries the totals
// of a replaced integration; after is closed once the worker that
// delivered the queue before has stopped.
func (h *Host) startIntegration(orgID string, in Integration, source string, saved time.Time, counters *delivery.Counters, after <-chan struct{}) *integration {
	it := &integration{org: orgID, in: in, source: source, saved: saved, counters: counters}
	if it.counters == nil {
		it.counters = h.counters(orgID, in.ID)
	}
	q, err := h.queues.Queue(orgID, in.ID)
	if err != nil {
		it.qerr = fmt.Errorf("open queue of %s/%s: %w", orgID, in.ID, err)
		h.log.Error("queue cannot be opened; recording for the organization is refused until it is repaired", "org", orgID, "integration", in.ID, "error", it.qerr)
		return it
	}
	it.q = q
	it.tel = h.tel.Integration(orgID, in.ID, in.Plugin)
	d := h.cfg.Delivery
	it.w = delivery.Start(delivery.Params{
		Org: orgID, ID: in.ID, Plugin: in.Plugin,
		Secrets:     secret.Values(in.Config),
		Queue:       q,
		Connector:   h.connector(orgID, in),
		DeadLetters: h.dead,
		Telemetry:   it.tel,
		Logger:      h.log,
		Counters:    it.counters,
		After:       after,
		Settings: delivery.Settings{
			BatchSize: d.BatchSize, BatchBytes: d.BatchBytes, Linger: d.Linger, Parallel: d.Parallel,
			BackoffInitial: d.BackoffInitial, BackoffMax: d.BackoffMax, MaxAge: d.MaxAge,
			BreakerFailures: d.BreakerFailures, BreakerOpen: d.BreakerOpen, Timeout: d.Timeout,
			IdleTimeout: h.cfg.Plugins.IdleTimeout, ConnectTimeout: h.cfg.Plugins.StartTimeout,
		},
	})
	return it
}

// append queues items for the integration and wakes its worker, which
// parks while the queue is empty.
func (it *integration) append(ctx context.Context, items []queue.Item) error {
	if err := it.q.Append(ctx, items); err != nil {
		return err
	}
	if it.w != nil {
		it.w.Kick()
	}
	return nil
}

// stop ends an integration's delivery and waits for it (batches in flight
// finish, the sink instance is closed).
func (it *integration) stop() {
	if it.w != nil {
		it.w.Stop()
	}
}

// retire finishes an integration that was swapped out by a removal: it
// waits for appends in progress, stops the worker, and moves what is left
// in the queue to the dead-letter store. done is closed at the end. No
// lock is held meanwhile.
func (h *Host) retire(ctx context.Context, orgID string, it *integration, done chan struct{}) {
	it.appends.Wait()
	it.stop()
	if it.q != nil {
		h.retireQueue(ctx, orgID, it.in.ID, it.q)
	}
	h.mu.Lock()
	delete(h.retiring, queue.Key{Org: orgID, Sink: it.in.ID})
	h.mu.Unlock()
	close(done)
}

// retireQueue moves every pending statement of a queue whose integration
// no longer exists to the dead-letter store, class "removed", and deletes
// the queue; q is the queue when it is open already. If the statements
// cannot be moved, the queue is kept (and retired again at the next
// start).
func (h *Host) retireQueue(ctx context.Context, orgID, sink string, q queue.Queue) {
	if d, ok := h.queues.(queueDrainer); ok {
		h.retireShared(ctx, d, orgID, sink)
		return
	}
	if q == nil {
		var err error
		if q, err = h.queues.Queue(orgID, sink); err != nil {
			h.log.Error("cannot open queue of a removed integration", "org", orgID, "sink", sink, "error", err)
			return
		}
	}
	moved, err := delivery.Drain(context.WithoutCancel(ctx), q, h.dead, orgID, sink, DeadLetterRemoved,
		"the integration was removed before the statement was delivered")
	if moved > 0 {
		h.log.Warn("statements of a removed integration moved to dead letters", "org", orgID, "sink", sink, "count", moved)
	}
	if err != nil {
		h.log.Error("cannot move statements of a removed integration to dead letters; the queue is kept", "org", orgID, "sink", sink, "error", err)
		_ = q.Close()
		return
	}
	if err := h.queues.Remove(orgID, sink); err != nil {
		h.log.Warn("remove queue", "org", orgID, "sink", sink, "error", err)
	}
}

// Shutdown stops intake, waits until every queue is drained (integrations
// that are paused or whose breaker is open are not waited for), then stops
// delivery, closes sink instances, stops the plugin processes and closes
// the queues. Like http.Server.Shutdown, it returns ctx's error when ctx
// ends first, wrapped with the number of statements still queued (they
// stay on disk and are delivered after the next start). Later calls, and
// every other method afterwards, return ErrClosed.
func (h *Host) Shutdown(ctx context.Context) error {
	first := false
	h.shutdown.Do(func() {
		first = true
		h.shutErr = h.doShutdown(ctx)
	})
	if !first {
		return ErrClosed
	}
	return h.shutErr
}

func (h *Host) doShutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	if h.stopWatch != nil {
		h.stopWatch()
	}
	h.recording.Wait()
	var drainErr error
	// A shared queue is not waited for: other instances deliver what is
	// left, and batches in flight settle when the workers stop.
	if !h.shared() {
		if err := h.waitDrained(ctx, true); err != nil {
			drainErr = fmt.Errorf("shutdown: %w: %d statements left in queues", err, h.pending())
		}
	}
	h.closeAll()
	return drainErr
}

// closeAll stops workers, saves their counts, and stops plugins and
// queues.
func (h *Host) closeAll() {
	all := h.integrations()
	var wg sync.WaitGroup
	for _, it := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it.stop()
		}()
	}
	wg.Wait()
	if h.unobserve != nil {
		_ = h.unobserve() // fails only for a callback already gone
	}
	close(h.stopCounts)
	<-h.countsDone
	close(h.stopHeal)
	<-h.healDone
	h.saveCounts(context.Background())
	h.sup.Close()
	if err := h.queues.Close(); err != nil {
		h.log.Warn("close queues", "error", err)
	}
}

// integrations returns every integration in effect.
func (h *Host) integrations() []*integration {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*integration
	for _, o := range h.orgs {
		out = append(out, o.list...)
	}
	return out
}

func (h *Host) pending() int {
	n := 0
	for _, it := range h.integrations() {
		if it.q != nil {
			n += it.q.Stats().Pending
		}
	}
	return n
}

// WaitIdle blocks until every statement recorded so far has been delivered
// or dead-lettered, or ctx ends. Integrations that are paused (rejected
// credentials or configuration) are not waited for. It does not stop
// intake: statements recorded meanwhile are waited for too.
func (h *Host) WaitIdle(ctx context.Context) error {
	return h.waitDrained(ctx, false)
}

func (h *Host) waitDrained(ctx context.Context, skipStuck bool) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		busy := false
		for _, it := range h.integrations() {
			if it.w == nil || it.q.Stats().Pending == 0 {
				continue
			}
			switch it.w.Status().State {
			case StatePausedAuth, StatePausedConfig, StatePausedPlugin:
				continue
			case StateBreakerOpen:
				if skipStuck {
					continue
				}
			}
			busy = true
			break
		}
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
