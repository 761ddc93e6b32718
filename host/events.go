package host

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Event is a LearningFlow event: the envelope the host turns into xAPI
// statements (see the event documentation for the JSON form and kinds).
type Event = normalize.Event

// User is the LearningFlow user an event is about.
type User = normalize.User

// Course is a LearningFlow course.
type Course = normalize.Course

// Assignment is a LearningFlow assignment.
type Assignment = normalize.Assignment

// EventError reports an event that was refused: its id, the field and the
// problem. Retrieve it with errors.As.
type EventError = normalize.EventError

// ErrUnknownKind is wrapped by the *EventError of an event of unknown kind.
var ErrUnknownKind = normalize.ErrUnknownKind

// EventKinds lists the event kinds the host understands.
var EventKinds = normalize.Kinds

// RecordEvent turns an event into statements (see the normalizer rules in
// the package documentation), validates each for both xAPI versions and
// queues them durably for every integration of the event's organization.
// It returns the statements queued, with their deterministic ids. An invalid
// event or one of unknown kind is refused with an *EventError naming the
// event id, the field and the problem; nothing is queued for it and it is
// counted as refused (a transformation error, distinct from delivery
// errors). An event that yields no statement (for example a SCORM commit
// that changed nothing) returns an empty list and no error.
//
// SCORM attempt state is saved only once the statements are queued: if
// queueing fails (a full queue), the attempt stays as it was, and the call
// re-sent later, after any other calls, yields its statements again, so
// nothing is lost.
func (h *Host) RecordEvent(ctx context.Context, ev Event) ([]*xapi.Statement, error) {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return nil, ErrClosed
	}
	o, ok := h.orgs[ev.Org]
	h.mu.RUnlock()
	if !ok {
		h.countRefused(ev.Org)
		return nil, &EventError{EventID: ev.ID, Kind: normalize.InvalidEvent, Field: "org",
			Err: fmt.Errorf("%w: %q", ErrOrgUnknown, ev.Org)}
	}
	prep, err := h.norm.Prepare(ctx, o.settings, ev)
	if err != nil {
		var ee *EventError
		if errors.As(err, &ee) {
			h.countRefused(ev.Org)
		}
		return nil, err
	}
	stmts := prep.Statements
	items := make([]queue.Item, len(stmts))
	for i, st := range stmts {
		data, err := xapi.Marshal(st, xapi.V200)
		if err != nil {
			prep.Abort()
			h.countRefused(ev.Org)
			return nil, &EventError{EventID: ev.ID, Kind: normalize.InvalidEvent, Err: err}
		}
		items[i] = queue.Item{ID: st.ID, Data: data}
	}
	if err := h.enqueue(ctx, ev.Org, items); err != nil {
		prep.Abort()
		return nil, err
	}
	// Queued: a failure to save the state now makes the caller re-send,
	// which queues the same statements (same ids) again; nothing is lost.
	if err := prep.Commit(ctx); err != nil {
		return nil, err
	}
	for _, r := range prep.Repairs {
		h.log.Debug("content statement repaired", "org", ev.Org, "event", ev.ID, "rule", r.Rule, "field", r.Field)
	}
	return stmts, nil
}

func (h *Host) countRefused(org string) {
	h.metrics.Count(MetricRefusedEvents, 1, org, "")
	v, _ := h.refusedEvents.LoadOrStore(org, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (h *Host) refused(org string) int64 {
	if v, ok := h.refusedEvents.Load(org); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}
