package host

import (
	"context"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/registry"
)

// countsEvery is how often the delivery counts of every integration are
// saved, besides at shutdown; a crash loses at most this much of them
// (never a statement).
const countsEvery = 10 * time.Second

// counters returns the counters an integration starts with: those saved
// by an earlier run of the host, if any.
func (h *Host) counters(orgID, id string) *delivery.Counters {
	c := &delivery.Counters{}
	t := h.savedCounts[orgID][id]
	c.Delivered.Store(t.Delivered)
	c.AlreadyStored.Store(t.AlreadyStored)
	c.Retried.Store(t.Retried)
	c.DeadLettered.Store(t.DeadLettered)
	return c
}

func totals(c *delivery.Counters) registry.Totals {
	return registry.Totals{
		Delivered: c.Delivered.Load(), AlreadyStored: c.AlreadyStored.Load(),
		Retried: c.Retried.Load(), DeadLettered: c.DeadLettered.Load(),
	}
}

// saveCounts persists the counts of every integration in effect.
func (h *Host) saveCounts(ctx context.Context) {
	h.countsMu.Lock()
	defer h.countsMu.Unlock()
	all := map[string]map[string]registry.Totals{}
	h.mu.RLock()
	for id, o := range h.orgs {
		m := make(map[string]registry.Totals, len(o.list))
		for _, it := range o.list {
			m[it.in.ID] = totals(it.counters)
		}
		all[id] = m
	}
	h.mu.RUnlock()
	if err := h.counts.SaveCounts(ctx, all); err != nil {
		h.log.Warn("delivery counts not saved; they are saved again shortly", "error", err)
	}
}

// saveCountsEvery saves the counts every interval until stop is closed.
func (h *Host) saveCountsEvery(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.saveCounts(context.Background())
		}
	}
}
