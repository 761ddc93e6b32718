package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// RecordError reports statements Record refused; nothing of the call was
// queued.
type RecordError struct {
	// Org is the organization.
	Org string
	// Index is the position of the first invalid statement in the call.
	Index int
	// Problems are that statement's problems, each with its JSON path.
	Problems xapi.Problems
}

// Error returns the message of e.
func (e *RecordError) Error() string {
	return fmt.Sprintf("org %s: statement %d is invalid: %v", e.Org, e.Index, e.Problems)
}

// Record validates statements and queues them durably for every
// integration of the organization. It returns once they are durable per
// queue.sync. Statements without an id get a random one (set on the
// statement); callers that may record the same statement again should set
// deterministic ids (xapi.UUIDv5) so that the LRS recognizes the resend.
//
// Every statement must be valid for both xAPI 1.0.3 and 2.0.0, except for
// properties 1.0.3 does not define, which are left out for 1.0.3 sinks. An
// invalid statement fails the whole call with a *RecordError and nothing is
// queued. A full queue fails with an error wrapping ErrFull; with several
// integrations, the statements may then have been queued for some of them
// (recording them again is harmless: their ids are the same).
func (h *Host) Record(ctx context.Context, orgID string, statements ...*xapi.Statement) (err error) {
	ctx, rec := h.tel.StartRecord(ctx, orgID, "")
	queued := 0
	defer func() {
		if err != nil && !h.knows(orgID) {
			rec.UnknownOrg()
		}
		rec.End(queued, err)
	}()
	for i, st := range statements {
		if st == nil {
			return &RecordError{Org: orgID, Index: i, Problems: xapi.Problems{{Rule: xapi.RuleRequired, Message: "statement is nil"}}}
		}
		if st.ID == "" {
			st.ID = xapi.NewUUID()
		}
		// Validating for 2.0.0 covers 1.0.3: the rules of 1.0.3 differ
		// only for properties that encoding for 1.0.3 leaves out
		// (contextAgents, contextGroups, a 2.0.0 version property).
		if probs := xapi.Validate(st, xapi.V200); len(probs) > 0 {
			return &RecordError{Org: orgID, Index: i, Problems: probs}
		}
	}
	buf := getBuffer()
	defer putBuffer(buf)
	items, bad, encErr := encodeTraced(buf, rec.SpanContext(), statements)
	if encErr != nil {
		return &RecordError{Org: orgID, Index: bad, Problems: xapi.Problems{{Rule: xapi.RuleJSONType, Message: encErr.Error()}}}
	}
	if err := h.enqueue(ctx, orgID, items); err != nil {
		return err
	}
	queued = len(items)
	return nil
}

// buffers recycles the buffers statements are encoded into on their way
// to the queues: Append copies the items into its own record, so a buffer
// is free again once enqueue returns.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer bounds the buffers kept for reuse, so that one large
// call does not pin its buffer.
const maxPooledBuffer = 1 << 20

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		*b = (*b)[:0]
		buffers.Put(b)
	}
}

// encodeTraced is encodeItems for the statements of one call whose span
// context is sc: sc is encoded once, at the start of *buf, and every item
// shares those bytes (none when sc is not to be stored), so that tracing
// allocates nothing per call here.
func encodeTraced(buf *[]byte, sc trace.SpanContext, statements []*xapi.Statement) ([]queue.Item, int, error) {
	*buf = telemetry.AppendSpanContext((*buf)[:0], sc)
	n := len(*buf)
	tc := (*buf)[:n:n]
	items, bad, err := appendItems(buf, statements)
	if err != nil || n == 0 {
		return items, bad, err
	}
	for i := range items {
		items[i].Trace = tc
	}
	return items, 0, nil
}

// encodeItems encodes statements in their canonical 2.0.0 form, one after
// the other into *buf, as queue items tagged with the one xAPI version
// check (delivery.StatementTag, from the fields: no scan) their delivery
// relies on. The items alias *buf. On an error it returns the index of the
// statement that failed.
func encodeItems(buf *[]byte, statements []*xapi.Statement) ([]queue.Item, int, error) {
	*buf = (*buf)[:0]
	return appendItems(buf, statements)
}

// appendItems is encodeItems after what *buf holds.
func appendItems(buf *[]byte, statements []*xapi.Statement) ([]queue.Item, int, error) {
	items := make([]queue.Item, len(statements))
	ends := make([]int, len(statements))
	b := *buf
	start := len(b)
	for i, st := range statements {
		var err error
		if b, err = xapi.Append(b, st, xapi.V200); err != nil {
			*buf = b
			return nil, i, err
		}
		ends[i] = len(b)
	}
	*buf = b
	for i, st := range statements {
		data := b[start:ends[i]:ends[i]]
		items[i] = queue.Item{ID: st.ID, Data: data, Tag: delivery.StatementTag(st)}
		start = ends[i]
	}
	return items, 0, nil
}

// enqueue appends items to every queue of the organization, in parallel
// when it has several.
func (h *Host) enqueue(ctx context.Context, orgID string, items []queue.Item) error {
	if len(items) == 0 {
		return nil
	}
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return ErrClosed
	}
	o, ok := h.orgs[orgID]
	if !ok {
		h.mu.RUnlock()
		return fmt.Errorf("%w: %q", ErrOrgUnknown, orgID)
	}
	list := o.list
	for _, it := range list {
		it.appends.Add(1)
	}
	h.recording.Add(1)
	h.mu.RUnlock()
	defer h.recording.Done()
	if len(list) == 0 {
		return fmt.Errorf("%w: %q", ErrNoSinks, orgID)
	}
	if len(list) == 1 {
		return h.appendTo(ctx, orgID, list[0], items)
	}
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, it := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = h.appendTo(ctx, orgID, it, items)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *Host) appendTo(ctx context.Context, orgID string, it *integration, items []queue.Item) error {
	defer it.appends.Done()
	if it.qerr != nil {
		return it.qerr
	}
	if err := it.append(ctx, items); err != nil {
		return fmt.Errorf("org %s, integration %s: %w", orgID, it.in.ID, err)
	}
	it.tel.Recorded(len(items))
	return nil
}

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
// re-sent later, after any other calls of the attempt, yields its statements
// again, so nothing is lost. Invalid optional properties of content
// statements (H5P, xAPI packages) are repaired or dropped rather than
// refused; the rules are in the package documentation.
func (h *Host) RecordEvent(ctx context.Context, ev Event) (stmts []*xapi.Statement, err error) {
	ctx, rec := h.tel.StartRecord(ctx, ev.Org, ev.Kind)
	defer func() { rec.End(len(stmts), err) }()
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return nil, ErrClosed
	}
	o, ok := h.orgs[ev.Org]
	if ok {
		h.events.add(ev.Org)
		defer h.events.done(ev.Org)
	}
	h.mu.RUnlock()
	if !ok {
		rec.UnknownOrg()
		h.countRefused(ctx, telemetry.Other, ev.Kind, "unknown_org")
		return nil, &EventError{EventID: ev.ID, Kind: EventInvalid, Field: "org",
			Err: fmt.Errorf("%w: %q", ErrOrgUnknown, ev.Org)}
	}
	prep, err := h.norm.Prepare(ctx, o.settings.internal(), ev.internal())
	if err != nil {
		if ee := publicEventError(err); ee != nil {
			h.countRefused(ctx, ev.Org, ev.Kind, ee.Kind.reason())
			return nil, ee
		}
		return nil, err
	}
	out := prep.Statements
	buf := getBuffer()
	defer putBuffer(buf)
	items, _, err := encodeTraced(buf, rec.SpanContext(), out)
	if err != nil {
		prep.Abort()
		h.countRefused(ctx, ev.Org, ev.Kind, EventInvalid.reason())
		return nil, &EventError{EventID: ev.ID, Kind: EventInvalid, Err: err}
	}
	if err := h.enqueue(ctx, ev.Org, items); err != nil {
		prep.Abort() // the attempt stays as it was: a re-sent call yields these statements again
		return nil, err
	}
	if h.hookEventQueued != nil {
		h.hookEventQueued(ev)
	}
	// Queued: a failure to save the state now makes the caller re-send,
	// which queues the same statements (same ids) again; nothing is lost.
	if err := prep.Commit(ctx); err != nil {
		return nil, err
	}
	for _, r := range prep.Repairs {
		h.log.Debug("content statement repaired", "org", ev.Org, "event", ev.ID, "rule", r.Rule, "field", r.Field)
	}
	return out, nil
}

// knows reports whether orgID is an organization in effect.
func (h *Host) knows(orgID string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.orgs[orgID]
	return ok
}

// countRefused counts an event RecordEvent refused; reason is the class
// of the refusal on the metric: "invalid_event", "unknown_kind" or
// "unknown_org" (org is then telemetry.Other: an id the host does not
// know never becomes an attribute value).
func (h *Host) countRefused(ctx context.Context, org, kind, reason string) {
	h.tel.EventRefused(ctx, org, kind, reason)
	v, _ := h.refusedEvents.LoadOrStore(org, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func (h *Host) refused(org string) int64 {
	if v, ok := h.refusedEvents.Load(org); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}
