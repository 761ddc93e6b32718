package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// With the jetstream backend, every instance publishes the status of the
// integrations it has worked on to the bucket <stream>_status, one key per
// integration and instance ("<org>/<id>/<instance>"), and watches what the
// others publish, so that Status shows the same whichever instance
// answers: counters summed over the instances, and the state, in-flight
// count and last error of the instance that worked on the integration
// last. The counts an instance saved (sharedcounts.go) keep it in the sums
// once its record expired.

const (
	// statusEvery is how often an instance publishes what changed.
	statusEvery = 2 * time.Second
	// statusRefresh is how often an unchanged record is written again, so
	// that it does not expire while its instance lives.
	statusRefresh = 10 * time.Second
	// statusTTL is how long a record lives without being written: a dead
	// instance's record disappears after it.
	statusTTL = 30 * time.Second
)

// statusRecord is what one instance knows of one integration.
type statusRecord struct {
	Instance      string    `json:"instance"`
	At            time.Time `json:"at"`
	State         string    `json:"state"`
	InFlight      int       `json:"in_flight"`
	Delivered     int64     `json:"delivered"`
	AlreadyStored int64     `json:"already_stored"`
	Retried       int64     `json:"retried"`
	DeadLettered  int64     `json:"dead_lettered"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
}

// activity is when the record's instance last delivered or failed.
func (r statusRecord) activity() time.Time {
	if r.LastErrorTime.After(r.LastSuccess) {
		return r.LastErrorTime
	}
	return r.LastSuccess
}

// worked reports whether the instance did anything for the integration.
func (r statusRecord) worked() bool {
	return r.Delivered+r.AlreadyStored+r.Retried+r.DeadLettered > 0 || r.State != StateActive || r.InFlight > 0
}

// same reports whether r and o differ only in At.
func (r statusRecord) same(o statusRecord) bool {
	o.At = r.At
	return r == o
}

// sharedStatus publishes this instance's records and keeps the others'.
type sharedStatus struct {
	b        *jsstore.Bucket
	instance string

	// pubMu is held by publish and forget, so that a record being
	// published is not written again after forget deleted it.
	pubMu  sync.Mutex
	mu     sync.Mutex
	others map[string]map[string]statusRecord // "<org>/<id>" -> instance -> record
	mine   map[string]statusRecord            // last published, by "<org>/<id>"
}

func newSharedStatus(b *jsstore.Bucket, instance string) *sharedStatus {
	if instance == "" {
		// Unique per host, even for several hosts in one process.
		name, _ := os.Hostname()
		instance = fmt.Sprintf("%s-%d-%s", name, os.Getpid(), xapi.NewUUID()[:8])
	}
	return &sharedStatus{b: b, instance: instance, others: map[string]map[string]statusRecord{}, mine: map[string]statusRecord{}}
}

// record returns this instance's record of an integration.
// It reads only what the instance holds in memory (the queue figures
// come from the servers on every Status anyway); it.w is not nil.
func (it *integration) record(instance string, now time.Time) statusRecord {
	c, ws := it.counters, it.w.Status()
	return statusRecord{
		Instance: instance, At: now, State: ws.State, InFlight: ws.InFlight,
		Delivered: c.Delivered.Load(), AlreadyStored: c.AlreadyStored.Load(), Retried: c.Retried.Load(),
		DeadLettered: c.DeadLettered.Load(), LastSuccess: ws.LastSuccess, LastErrorTime: ws.LastErrorTime,
		LastError: secret.Redact(ws.LastError, secret.Values(it.in.Config)),
	}
}

// publish writes the records of the integrations this instance worked on
// that changed, or that were not written for statusRefresh.
func (s *sharedStatus) publish(ctx context.Context, h *Host) {
	type pending struct {
		key string
		it  *integration
		rec statusRecord
	}
	var todo []pending
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	h.mu.RLock()
	for orgID, o := range h.orgs {
		for _, it := range o.list {
			if it.w != nil {
				todo = append(todo, pending{key: orgID + "/" + it.in.ID, it: it})
			}
		}
	}
	h.mu.RUnlock()
	now := time.Now().UTC()
	for _, p := range todo {
		p.rec = p.it.record(s.instance, now)
		// The counts are saved first, and the record only once they are,
		// so that the saved counts are never below those of a record that
		// expires. Both are tried again at the next tick; counts that did
		// not change are not written again.
		if err := h.shCounts.save(ctx, p.it.org, p.it.in.ID, totals(p.it.counters)); err != nil {
			h.log.Debug("save delivery counts", "key", p.key, "error", err)
			continue
		}
		s.mu.Lock()
		last, ok := s.mine[p.key]
		s.mu.Unlock()
		if !p.rec.worked() || ok && last.same(p.rec) && now.Sub(last.At) < statusRefresh {
			continue
		}
		b, err := json.Marshal(p.rec)
		if err != nil {
			continue
		}
		if err := s.b.Save(ctx, p.key+"/"+s.instance, b); err != nil {
			h.log.Debug("publish integration status", "key", p.key, "error", err)
			continue
		}
		s.mu.Lock()
		s.mine[p.key] = p.rec
		s.mu.Unlock()
	}
}

// receive keeps a record published by another instance.
func (s *sharedStatus) receive(c jsstore.Change) {
	i := strings.LastIndexByte(c.Key, '/')
	if i < 0 {
		return
	}
	if c.Value == nil { // a removed integration's record
		s.mu.Lock()
		defer s.mu.Unlock()
		if m := s.others[c.Key[:i]]; m != nil {
			delete(m, c.Key[i+1:])
			if len(m) == 0 {
				delete(s.others, c.Key[:i])
			}
		}
		return
	}
	var r statusRecord
	if json.Unmarshal(c.Value, &r) != nil || r.Instance == s.instance || r.Instance != c.Key[i+1:] {
		return
	}
	key := c.Key[:i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.others[key] == nil {
		s.others[key] = map[string]statusRecord{}
	}
	s.others[key][r.Instance] = r
}

// merge adds to this instance's status of an integration the counts of
// every other instance, the larger of those saved (by instance; nil
// without them) and those of its fresh record, and the state of the
// instance that worked on the integration last.
func (s *sharedStatus) merge(orgID string, st SinkStatus, saved map[string]registry.Totals) SinkStatus {
	if st.State == StateQueueError {
		return st
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	latest := statusRecord{State: st.State, InFlight: st.InFlight, LastSuccess: st.LastSuccess,
		LastError: st.LastError, LastErrorTime: st.LastErrorTime}
	latestWorked := st.Delivered+st.AlreadyStored+st.Retried+st.DeadLettered > 0 || st.State != StateActive
	counts := make(map[string]registry.Totals, len(saved))
	for inst, t := range saved {
		if inst != s.instance {
			counts[inst] = t
		}
	}
	for inst, r := range s.others[orgID+"/"+st.ID] {
		if now.Sub(r.At) > statusTTL {
			delete(s.others[orgID+"/"+st.ID], inst)
			continue
		}
		counts[inst] = larger(counts[inst], registry.Totals{Delivered: r.Delivered,
			AlreadyStored: r.AlreadyStored, Retried: r.Retried, DeadLettered: r.DeadLettered})
		if !latestWorked || r.activity().After(latest.activity()) {
			latest, latestWorked = r, true
		}
	}
	for _, t := range counts {
		st.Delivered += t.Delivered
		st.AlreadyStored += t.AlreadyStored
		st.Retried += t.Retried
		st.DeadLettered += t.DeadLettered
	}
	st.State, st.InFlight = latest.State, latest.InFlight
	st.LastSuccess, st.LastError, st.LastErrorTime = latest.LastSuccess, latest.LastError, latest.LastErrorTime
	return st
}

// forget drops the records of a removed integration: this instance's, and
// the others' known here when everyone is set (the instance that removes
// it), from the bucket too, so that an integration created again with the
// same id starts from zero everywhere. s.pubMu is held.
func (s *sharedStatus) forget(ctx context.Context, orgID, id string, everyone bool) error {
	key := orgID + "/" + id
	s.mu.Lock()
	delete(s.mine, key)
	insts := []string{s.instance}
	if everyone {
		for inst := range s.others[key] {
			insts = append(insts, inst)
		}
		delete(s.others, key)
	}
	s.mu.Unlock()
	var errs []error
	for _, inst := range insts {
		errs = append(errs, s.b.Delete(ctx, key+"/"+inst))
	}
	return errors.Join(errs...)
}

// run publishes every statusEvery and watches the others' records until
// ctx ends.
func (s *sharedStatus) run(ctx context.Context, h *Host) {
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(statusEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.publish(ctx, h)
			}
		}
	})
	wg.Go(func() {
		h.watchAgain(ctx, "the status of other instances", func(ctx context.Context) error {
			return s.b.Watch(ctx, s.receive)
		})
	})
	wg.Wait()
}
