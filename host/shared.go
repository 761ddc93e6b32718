package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
)

// With the jetstream backend, organizations and integrations saved at run
// time live in the key-value bucket <stream>_config, one key each:
// "org/<org>" holds a registry.Org and "int/<org>/<id>" a registry.Saved
// with its secrets sealed; removals are kept as tombstones (Removed). Every
// instance watches the bucket and applies what the others save.

// sharedRegistry is the registry store on a shared bucket. Save writes
// only the keys whose value changed; seen remembers the unsealed encoding
// of every key written or received, so that an instance's own writes
// coming back through the watch are recognised and ignored.
type sharedRegistry struct {
	b   *jsstore.Bucket
	box *secret.Box

	mu   sync.Mutex
	seen map[string][]byte // key -> unsealed JSON
	// written keeps, per key, the last values this instance wrote, so
	// that an older one coming back through the watch after a newer one
	// was written is recognised as its own and not applied again.
	written map[string][][]byte
}

// writtenKept is how many of its own values per key an instance
// recognises.
const writtenKept = 8

var _ registryStore = (*sharedRegistry)(nil)

func orgKey(org string) string     { return "org/" + org }
func intKey(org, id string) string { return "int/" + org + "/" + id }

// parseKey splits a bucket key into its organization and, for an
// integration, its id.
func parseKey(key string) (org, id string, isInt, ok bool) {
	if rest, found := strings.CutPrefix(key, "org/"); found && rest != "" {
		return rest, "", false, true
	}
	if rest, found := strings.CutPrefix(key, "int/"); found {
		i := strings.LastIndexByte(rest, '/')
		if i > 0 && i < len(rest)-1 {
			return rest[:i], rest[i+1:], true, true
		}
	}
	return "", "", false, false
}

// Load reads every saved organization and integration.
func (r *sharedRegistry) Load(ctx context.Context) (registry.State, error) {
	all, err := r.b.Snapshot(ctx)
	if err != nil {
		return registry.State{}, fmt.Errorf("read saved integrations from the shared bucket: %w", err)
	}
	s := registry.State{Integrations: map[string][]registry.Saved{}, Orgs: map[string]registry.Org{}}
	for key, value := range all {
		if _, err := r.decode(key, value, &s); err != nil {
			return registry.State{}, err
		}
	}
	return s, nil
}

// decode adds the value of key to s and reports whether it is new (not
// seen before with the same content).
func (r *sharedRegistry) decode(key string, value []byte, s *registry.State) (bool, error) {
	org, id, isInt, ok := parseKey(key)
	if !ok {
		return false, nil // not a key of the registry
	}
	var plain []byte
	if isInt {
		var sv registry.Saved
		if err := json.Unmarshal(value, &sv); err != nil || sv.ID != id {
			return false, fmt.Errorf("saved integration %s/%s in the shared bucket cannot be read", org, id)
		}
		cfg, err := r.box.Open(org, id, sv.Config)
		if err != nil {
			return false, err
		}
		sv.Config = cfg
		*s = s.WithIntegration(org, sv)
		plain, _ = json.Marshal(sv)
	} else {
		var o registry.Org
		if err := json.Unmarshal(value, &o); err != nil {
			return false, fmt.Errorf("saved organization %s in the shared bucket cannot be read", org)
		}
		*s = s.WithOrg(org, o)
		plain = value
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string][]byte{}
	}
	if bytes.Equal(r.seen[key], plain) {
		return false, nil
	}
	for _, w := range r.written[key] {
		if bytes.Equal(w, plain) {
			return false, nil // an echo of an older write of this instance
		}
	}
	r.seen[key] = plain
	return true, nil
}

// Save writes the organizations, then the integrations, that differ from
// what was written or received last. The host serializes calls.
func (r *sharedRegistry) Save(ctx context.Context, s registry.State) error {
	type write struct {
		key          string
		plain, value []byte
	}
	var writes []write
	r.mu.Lock()
	for org, o := range s.Orgs {
		b, err := json.Marshal(o)
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("encode organization %s: %w", org, err)
		}
		if !bytes.Equal(r.seen[orgKey(org)], b) {
			writes = append(writes, write{orgKey(org), b, b})
		}
	}
	for org, list := range s.Integrations {
		for _, sv := range list {
			plain, err := json.Marshal(sv)
			if err != nil {
				r.mu.Unlock()
				return fmt.Errorf("encode integration %s/%s: %w", org, sv.ID, err)
			}
			if bytes.Equal(r.seen[intKey(org, sv.ID)], plain) {
				continue
			}
			sealed := sv
			if sealed.Config, err = r.box.Seal(org, sv.ID, sv.Config); err != nil {
				r.mu.Unlock()
				return err
			}
			value, err := json.Marshal(sealed)
			if err != nil {
				r.mu.Unlock()
				return fmt.Errorf("encode integration %s/%s: %w", org, sv.ID, err)
			}
			writes = append(writes, write{intKey(org, sv.ID), plain, value})
		}
	}
	r.mu.Unlock()
	for _, w := range writes {
		if err := r.b.Save(ctx, w.key, w.value); err != nil {
			return fmt.Errorf("save %s to the shared bucket: %w", w.key, err)
		}
		r.mu.Lock()
		if r.seen == nil {
			r.seen = map[string][]byte{}
		}
		if r.written == nil {
			r.written = map[string][][]byte{}
		}
		r.seen[w.key] = w.plain
		r.written[w.key] = append(r.written[w.key], w.plain)
		if n := len(r.written[w.key]); n > writtenKept {
			r.written[w.key] = r.written[w.key][n-writtenKept:]
		}
		r.mu.Unlock()
	}
	return nil
}

// watchShared applies what other instances save until ctx ends; done is
// closed at the end. A watch that ends (the connection was lost) is
// started again.
func (h *Host) watchShared(ctx context.Context, r *sharedRegistry, done chan struct{}) {
	defer close(done)
	for ctx.Err() == nil {
		err := r.b.Watch(ctx, func(c jsstore.Change) {
			if c.Value == nil {
				return // keys are never deleted: removals are tombstones
			}
			h.applyShared(ctx, r, c)
		})
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("watching saved integrations stopped; watching again", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// applyShared applies one change of the shared registry made by another
// instance: the organization's integrations are brought in line with it.
func (h *Host) applyShared(ctx context.Context, r *sharedRegistry, c jsstore.Change) {
	h.admin.Lock()
	defer h.admin.Unlock()
	h.mu.RLock()
	next, closed := h.saved, h.closed
	h.mu.RUnlock()
	if closed {
		return
	}
	fresh, err := r.decode(c.Key, c.Value, &next)
	if err != nil {
		h.log.Error("a saved organization or integration from another instance cannot be applied", "key", c.Key, "error", err)
		return
	}
	if !fresh {
		return
	}
	org, _, _, _ := parseKey(c.Key)
	h.reconcileOrg(ctx, org, next)
	h.log.Info("applied a change saved by another instance", "org", org, "key", c.Key)
}

// reconcileOrg makes the organization's integrations in effect those of
// the configuration merged with next, and sets next as the saved state.
// Integrations that left are stopped, not retired: the instance where
// they were removed moves their statements to dead letters. h.admin is
// held.
func (h *Host) reconcileOrg(ctx context.Context, orgID string, next registry.State) {
	resolved, _ := registry.Resolve(h.cfg.configured(), next)
	var want *registry.Resolved
	for i := range resolved {
		if resolved[i].ID == orgID {
			want = &resolved[i]
		}
	}
	h.mu.RLock()
	cur := h.orgs[orgID]
	h.mu.RUnlock()
	var keep, stop []*integration
	var list []*integration
	if want != nil {
		for _, e := range want.Integrations {
			in := Integration(e.Integration)
			var old *integration
			if cur != nil {
				old = cur.find(e.ID)
			}
			if old != nil && old.source == e.Source && old.saved.Equal(e.Saved) && reflect.DeepEqual(old.in, in) {
				keep = append(keep, old)
				list = append(list, old)
				continue
			}
			var counters *delivery.Counters
			var after <-chan struct{}
			if old != nil {
				counters, stop = old.counters, append(stop, old)
				if old.w != nil {
					after = old.w.Done()
				}
			}
			list = append(list, h.startIntegration(orgID, in, e.Source, e.Saved, counters, after))
		}
	}
	if cur != nil {
		for _, it := range cur.list {
			if !containsIntegration(keep, it) && !containsIntegration(stop, it) {
				stop = append(stop, it)
			}
		}
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		for _, it := range list {
			if !containsIntegration(keep, it) {
				it.stop()
			}
		}
		return
	}
	h.saved = next
	if want == nil {
		delete(h.orgs, orgID)
	} else {
		h.orgs[orgID] = &org{id: orgID, settings: OrgSettings(want.Settings), list: list}
	}
	h.mu.Unlock()
	var gone []string
	for _, it := range stop {
		it.appends.Wait()
		it.stop()
		if want != nil && (&org{list: list}).find(it.in.ID) != nil {
			continue
		}
		if it.q != nil {
			_ = it.q.Close() // let go of a queue this instance no longer delivers
		}
		// Removed: an integration created again with its id counts from
		// zero, here too.
		delete(h.savedCounts[orgID], it.in.ID)
		gone = append(gone, it.in.ID)
	}
	h.forgetCounts(ctx, orgID, gone, false, false)
}

func containsIntegration(list []*integration, it *integration) bool {
	for _, x := range list {
		if x == it {
			return true
		}
	}
	return false
}

// retireTombstoned retires, at start, the shared queues whose integration
// has a tombstone in the saved state: their removal was not finished. A
// shared queue without an integration here but without a tombstone may
// belong to another instance's configuration and is left alone.
func (h *Host) retireTombstoned(ctx context.Context, active map[queue.Key]bool) {
	for _, k := range h.queues.Queues() {
		if active[k] {
			continue
		}
		for _, sv := range h.saved.Integrations[k.Org] {
			if sv.ID == k.Sink && sv.Removed {
				h.retireQueue(ctx, k.Org, k.Sink, nil)
			}
		}
	}
}
