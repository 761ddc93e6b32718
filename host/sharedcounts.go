package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/registry"
)

// With the jetstream backend, every instance saves its own cumulative
// delivery counts of each integration to the bucket <stream>_counts, one
// value per organization, integration and instance (jsstore.Counts), on
// the schedule of the file backend's counts.json (every countsEvery and
// at shutdown) and before each status record it publishes (so they are
// never below those of its last record), and watches the values of every
// instance. Status adds, for every other instance, the larger of its
// saved counts and those of its live status record (an instance's counts
// only grow): the counts of an instance that died stay in the sums when
// its status record expires, and an instance that starts again under the
// same id goes on from its saved counts instead of being counted twice.
//
// The id is stable across restarts: queue.nats.instance when set, else an
// id made at the first start and kept in data_dir/instance-id. So the
// number of values stays bounded by the number of instances that ever
// ran (an instance whose data_dir is lost starts under a new id, and its
// former values stay in the sums, which is what they must do), without
// any instance having to decide that another one is gone for good.

// instanceFile is the file under data_dir that keeps the instance's id.
const instanceFile = "instance-id"

// instanceID returns queue.nats.instance, or the id kept in data_dir,
// made on the first start.
func instanceID(cfg Config) (string, error) {
	if cfg.Queue.NATS.Instance != "" {
		return cfg.Queue.NATS.Instance, nil
	}
	path := filepath.Join(cfg.DataDir, instanceFile)
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read the instance id in %s: %w", instanceFile, err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make an instance id: %w", err)
	}
	name, _ := os.Hostname()
	if name == "" {
		name = "instance"
	}
	id := name + "-" + hex.EncodeToString(b[:])
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the instance id in %s: %w", instanceFile, err)
	}
	return id, nil
}

// countRecord is the value one instance saves for one integration.
type countRecord struct {
	Org         string `json:"org"`
	Integration string `json:"integration"`
	Instance    string `json:"instance"`
	registry.Totals
}

// countRef names an integration.
type countRef struct{ org, id string }

// sharedCounts is the count store of the jetstream backend. LoadCounts
// returns this instance's counts; SaveCounts writes those that changed;
// others returns what the other instances saved, kept up to date by run.
type sharedCounts struct {
	c        *jsstore.Counts
	instance string

	// saveMu serializes writes of this instance's counts (SaveCounts
	// and save from the status exchange), so that an older value is never
	// written after a newer one.
	saveMu  sync.Mutex
	mu      sync.Mutex
	byKey   map[string]countRecord                  // every instance's values, by bucket key
	byRef   map[countRef]map[string]registry.Totals // the same, by integration and instance
	written map[countRef]registry.Totals            // what this instance saved last
}

var _ registry.CountStore = (*sharedCounts)(nil)

func newSharedCounts(c *jsstore.Counts, instance string) *sharedCounts {
	return &sharedCounts{c: c, instance: instance, byKey: map[string]countRecord{},
		byRef: map[countRef]map[string]registry.Totals{}, written: map[countRef]registry.Totals{}}
}

// loadCountsTimeout bounds reading the counts at start.
const loadCountsTimeout = 30 * time.Second

// LoadCounts reads the values of every instance and returns this
// instance's counts.
func (s *sharedCounts) LoadCounts(ctx context.Context) (map[string]map[string]registry.Totals, error) {
	ctx, cancel := context.WithTimeout(ctx, loadCountsTimeout)
	defer cancel()
	all, err := s.c.List(ctx)
	if err != nil {
		return nil, err
	}
	for key, value := range all {
		s.apply(jsstore.Change{Key: key, Value: value})
	}
	out := map[string]map[string]registry.Totals{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for ref, m := range s.byRef {
		if t, ok := m[s.instance]; ok {
			if out[ref.org] == nil {
				out[ref.org] = map[string]registry.Totals{}
			}
			out[ref.org][ref.id] = t
			s.written[ref] = t
		}
	}
	return out, nil
}

// SaveCounts writes this instance's counts of the integrations whose
// counts changed since they were last written. Integrations left out are
// not deleted: a removal deletes their counts explicitly (remove), and an
// integration merely missing from this instance's configuration may
// still be delivered by others.
func (s *sharedCounts) SaveCounts(ctx context.Context, counts map[string]map[string]registry.Totals) error {
	var errs []error
	for orgID, m := range counts {
		for id, t := range m {
			errs = append(errs, s.save(ctx, orgID, id, t))
		}
	}
	return errors.Join(errs...)
}

// save writes this instance's counts of one integration unless they are
// those it wrote last (or zero and never written).
func (s *sharedCounts) save(ctx context.Context, orgID, id string, t registry.Totals) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	ref := countRef{orgID, id}
	s.mu.Lock()
	last, ok := s.written[ref]
	s.mu.Unlock()
	if last == t && (ok || t == (registry.Totals{})) {
		return nil
	}
	b, err := json.Marshal(countRecord{Org: orgID, Integration: id, Instance: s.instance, Totals: t})
	if err != nil {
		return fmt.Errorf("encode delivery counts: %w", err)
	}
	if err := s.c.Save(ctx, orgID, id, s.instance, b); err != nil {
		return err
	}
	s.mu.Lock()
	s.written[ref] = t
	s.mu.Unlock()
	return nil
}

// remove deletes the counts of an integration (of every integration of
// the organization when id is empty): of every instance when everyone is
// set (the instance that removes it), else only this instance's (one that
// applies a removal made elsewhere, in case it saved them again
// meanwhile).
func (s *sharedCounts) remove(ctx context.Context, orgID, id string, everyone bool) error {
	s.mu.Lock()
	for ref := range s.written {
		if ref.org == orgID && (id == "" || ref.id == id) {
			delete(s.written, ref)
		}
	}
	for key, r := range s.byKey {
		if r.Org == orgID && (id == "" || r.Integration == id) && (everyone || r.Instance == s.instance) {
			s.forget(key)
		}
	}
	s.mu.Unlock()
	if !everyone {
		return s.c.RemoveInstance(ctx, orgID, id, s.instance)
	}
	_, err := s.c.Remove(ctx, orgID, id)
	return err
}

// apply keeps one value seen in the bucket.
func (s *sharedCounts) apply(c jsstore.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(c.Key)
	if c.Value == nil {
		return
	}
	var r countRecord
	if json.Unmarshal(c.Value, &r) != nil || r.Org == "" || r.Integration == "" || r.Instance == "" {
		return
	}
	ref := countRef{r.Org, r.Integration}
	if s.byRef[ref] == nil {
		s.byRef[ref] = map[string]registry.Totals{}
	}
	s.byRef[ref][r.Instance] = r.Totals
	s.byKey[c.Key] = r
}

// forget drops the value of key; s.mu is held.
func (s *sharedCounts) forget(key string) {
	r, ok := s.byKey[key]
	if !ok {
		return
	}
	delete(s.byKey, key)
	ref := countRef{r.Org, r.Integration}
	delete(s.byRef[ref], r.Instance)
	if len(s.byRef[ref]) == 0 {
		delete(s.byRef, ref)
	}
}

// others returns the counts the other instances saved for an
// integration, by instance.
func (s *sharedCounts) others(orgID, id string) map[string]registry.Totals {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byRef[countRef{orgID, id}]
	out := make(map[string]registry.Totals, len(m))
	for inst, t := range m {
		if inst != s.instance {
			out[inst] = t
		}
	}
	return out
}

// run keeps the values of every instance until ctx ends.
func (s *sharedCounts) run(ctx context.Context, h *Host) {
	h.watchAgain(ctx, "the delivery counts of other instances", func(ctx context.Context) error {
		return s.c.Watch(ctx, s.apply)
	})
}

// watchAgain runs watch until ctx ends, starting it again a second after
// it stopped early (the connection was lost); what names what it
// watches.
func (h *Host) watchAgain(ctx context.Context, what string, watch func(context.Context) error) {
	for ctx.Err() == nil {
		err := watch(ctx)
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("watching "+what+" stopped; watching again", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// larger returns the larger of a and b, count by count.
func larger(a, b registry.Totals) registry.Totals {
	return registry.Totals{
		Delivered: max(a.Delivered, b.Delivered), AlreadyStored: max(a.AlreadyStored, b.AlreadyStored),
		Retried: max(a.Retried, b.Retried), DeadLettered: max(a.DeadLettered, b.DeadLettered),
	}
}

// forgetCounts deletes the delivery counts of a removed integration (of
// every integration of the organization when id is empty) from the
// shared backend, with the live status records: of every instance when
// everyone is set, else this instance's. It waits for a save in progress,
// so none brings them back; with the file backend it does nothing (the
// next save leaves them out).
func (h *Host) forgetCounts(ctx context.Context, orgID string, ids []string, wholeOrg, everyone bool) {
	if h.shCounts == nil {
		return
	}
	h.countsMu.Lock()
	defer h.countsMu.Unlock()
	h.peers.pubMu.Lock() // the status exchange saves counts too
	defer h.peers.pubMu.Unlock()
	ctx = context.WithoutCancel(ctx)
	var errs []error
	if wholeOrg {
		errs = append(errs, h.shCounts.remove(ctx, orgID, "", everyone))
	}
	for _, id := range ids {
		if !wholeOrg {
			errs = append(errs, h.shCounts.remove(ctx, orgID, id, everyone))
		}
		errs = append(errs, h.peers.forget(ctx, orgID, id, everyone))
	}
	if err := errors.Join(errs...); err != nil {
		h.log.Warn("delivery counts of a removed integration not deleted from the servers; an integration created again with its id may start from them", "org", orgID, "error", err)
	}
}
