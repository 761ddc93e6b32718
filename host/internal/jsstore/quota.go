package jsstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go/jetstream"
)

// Counts of pending statements behind the quotas are read from the
// servers (the per-subject message counts weighted by the item count in
// the subject, see statementsOf) and kept up to date by this instance's
// appends and acknowledgements in between. A count is read again when it
// is older than countTTLNear while an Append would take it past half its
// quota, or older than countTTLFar otherwise.
const (
	countTTLNear = time.Second
	countTTLFar  = 30 * time.Second
)

// tally is the pending statements of an organization or of a queue.
type tally struct {
	mu       sync.Mutex
	n        int64     // as read at `at`, plus this instance's changes since
	inflight int64     // reserved by Appends under way
	at       time.Time // zero: never read
}

// fresh reports whether t may judge an Append of need statements against
// limit without reading the count again.
func (t *tally) freshLocked(limit, need int64) bool {
	if t.at.IsZero() {
		return false
	}
	ttl := countTTLFar
	if 2*(t.n+t.inflight+need) > limit {
		ttl = countTTLNear
	}
	return time.Since(t.at) < ttl
}

// tally returns the tally named key, creating it.
func (s *Store) tally(key string) *tally {
	s.orgMu.Lock()
	defer s.orgMu.Unlock()
	t := s.tallies[key]
	if t == nil {
		t = &tally{}
		s.tallies[key] = t
	}
	return t
}

// reserveOne reserves need statements of the tally key against limit
// (<= 0: unlimited), reading its count with read when it is too old or
// when the reservation would exceed the limit. It returns the tally (nil
// when unlimited) or a *queue.QuotaError for quota.
func (s *Store) reserveOne(ctx context.Context, key string, quota queue.Quota, limit, need int64, read func(context.Context) (int64, error)) (*tally, error) {
	if limit <= 0 {
		return nil, nil
	}
	t := s.tally(key)
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.freshLocked(limit, need) || t.n+t.inflight+need > limit {
		// Read without the lock; Appends meanwhile judge on the old
		// figure.
		t.mu.Unlock()
		n, err := read(ctx)
		t.mu.Lock()
		switch {
		case err == nil:
			t.n, t.at = n, time.Now()
		case t.at.IsZero():
			return nil, err
		}
		// On an error with a count read before (a server failing
		// over), the Append is judged on that count.
	}
	if used := t.n + t.inflight; used+need > limit {
		return nil, &queue.QuotaError{Quota: quota, Limit: limit, Used: used, Need: need}
	}
	t.inflight += need
	return t, nil
}

// done settles a reservation of n statements on t (nil: nothing).
func (t *tally) done(n int64, stored bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.inflight -= n
	if stored {
		t.n += n
	}
	t.mu.Unlock()
}

// remove takes n acknowledged statements off the tally key, if it exists.
func (s *Store) remove(key string, n int64) {
	s.orgMu.Lock()
	t := s.tallies[key]
	s.orgMu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	t.n = max(0, t.n-n)
	t.mu.Unlock()
}

// orgKey and queueKey name the tallies of an organization and a queue.
func orgKey(org string) string       { return "org:" + org }
func queueKey(subject string) string { return "queue:" + subject }

// reserve reserves n statements under the organization and queue quotas
// of the queue (org, subject). The returned function settles the
// reservation once the Append's outcome is known.
func (s *Store) reserve(ctx context.Context, org, subject string, n int) (func(stored bool), error) {
	need := int64(n)
	ot, err := s.reserveOne(ctx, orgKey(org), queue.QuotaOrg, s.cfg.MaxOrgMessages, need, func(ctx context.Context) (int64, error) {
		subjects, err := s.orgSubjects(ctx, org)
		if err != nil {
			return 0, fmt.Errorf("check the queue quota of %s: %w", org, err)
		}
		var c int64
		for subj, msgs := range subjects {
			c += statementsOf(subj, msgs)
		}
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	qt, err := s.reserveOne(ctx, queueKey(subject), queue.QuotaQueue, s.cfg.MaxQueueMessages, need, func(ctx context.Context) (int64, error) {
		subjects, err := s.orgSubjects(ctx, org)
		if err != nil {
			return 0, fmt.Errorf("check the queue quota of %s: %w", org, err)
		}
		return pendingStatements(subjects, subject), nil
	})
	if err != nil {
		ot.done(need, false)
		return nil, err
	}
	return func(stored bool) {
		ot.done(need, stored)
		qt.done(need, stored)
	}, nil
}

// acked takes n acknowledged statements of the queue (org, subject) off
// the quota counts.
func (s *Store) acked(org, subject string, n int) {
	s.remove(orgKey(org), int64(n))
	s.remove(queueKey(subject), int64(n))
}

// orgSubjects reads the message counts of every queue subject of org.
func (s *Store) orgSubjects(ctx context.Context, org string) (map[string]uint64, error) {
	info, err := s.orgInfo(ctx, org)
	if err != nil {
		return nil, err
	}
	return info.State.Subjects, nil
}

// orgInfo reads the queue stream's state with the subjects of org.
func (s *Store) orgInfo(ctx context.Context, org string) (*jetstream.StreamInfo, error) {
	st, err := s.js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		return nil, err
	}
	return st.Info(ctx, jetstream.WithSubjectFilter(s.cfg.SubjectPrefix+"."+escape(org)+".>"))
}
