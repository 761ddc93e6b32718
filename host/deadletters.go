package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// DeadLetter is a statement that could not be delivered to an integration
// and was set aside with the reason.
type DeadLetter struct {
	// ID identifies the dead letter (not the statement).
	ID string `json:"id"`
	// Org is the organization.
	Org string `json:"org"`
	// Sink is the integration id the statement was for.
	Sink string `json:"sink"`
	// StatementID is the statement's id.
	StatementID string `json:"statement_id"`
	// Class is why it was set aside: DeadLetterRejected,
	// DeadLetterExpired or DeadLetterRemoved.
	Class string `json:"class"`
	// Reason is the sink's message, for example the LRS's answer.
	Reason string `json:"reason"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
	// Recorded is when the statement was recorded.
	Recorded time.Time `json:"recorded"`
	// Statement is the statement's canonical JSON.
	Statement json.RawMessage `json:"statement"`
}

// Dead-letter classes.
const (
	// DeadLetterRejected: the sink refused the statement permanently.
	DeadLetterRejected = "rejected"
	// DeadLetterExpired: it kept failing for longer than
	// delivery.max_age.
	DeadLetterExpired = "expired"
	// DeadLetterRemoved: its integration was removed before it was
	// delivered.
	DeadLetterRemoved = "removed"
)

// DeadLetterFilter selects dead letters. Zero fields match everything.
type DeadLetterFilter struct {
	// Sink selects one integration.
	Sink string
	// IDs selects dead letters by id.
	IDs []string
	// Limit caps the number returned (newest last). Zero means no cap.
	Limit int
}

// DeadLetters lists an organization's dead letters matching f, oldest
// first.
func (h *Host) DeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) ([]DeadLetter, error) {
	if _, err := h.lookup(orgID); err != nil {
		return nil, err
	}
	list, err := h.dead.List(ctx, orgID, deadletter.Filter(f))
	return publicLetters(list), err
}

func publicLetters(list []deadletter.Letter) []DeadLetter {
	if list == nil {
		return nil
	}
	out := make([]DeadLetter, len(list))
	for i, l := range list {
		out[i] = DeadLetter(l)
	}
	return out
}

// replayChunk bounds the dead letters ReplayDeadLetters queues at once:
// each chunk is one durable append to a queue, well below the queue's
// record size limit and within the 1,000 statements one JetStream append
// takes, and the only part of the dead letters held in memory.
var replayChunk = deadletter.Chunk{Letters: 1000, Bytes: 8 << 20}

// ReplayDeadLetters queues the dead letters matching f again for their
// integration (after the cause was fixed) and removes them from the
// dead-letter store. It returns how many were queued. Dead letters of
// integrations that no longer exist stay where they are.
//
// It works in chunks: each chunk is queued durably first and removed from
// the dead-letter store afterwards, so a crash in between leaves a
// harmless duplicate (the statement keeps its id, which an LRS recognizes)
// and never loses a letter. Any number of dead letters can be replayed;
// an error (for example ErrFull) stops the replay with the chunks before
// it queued and the rest still in the dead-letter store.
func (h *Host) ReplayDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if _, err := h.lookup(orgID); err != nil {
		return 0, err
	}
	ctx, span := h.tel.StartReplay(ctx, orgID)
	n, err := h.dead.Replay(ctx, orgID, deadletter.Filter(f), h.replay, func(chunk []deadletter.Letter) ([]string, error) {
		return h.requeue(ctx, orgID, chunk, span.SpanContext())
	})
	span.End(n, err)
	return n, err
}

// requeue appends a chunk of dead letters durably to their integrations'
// queues, each with the span context of the replay, and returns the ids of
// the letters queued.
func (h *Host) requeue(ctx context.Context, orgID string, chunk []deadletter.Letter, sc trace.SpanContext) ([]string, error) {
	tc := telemetry.AppendSpanContext(nil, sc)
	var sinks []string
	bySink := map[string][]deadletter.Letter{}
	for _, d := range chunk {
		if bySink[d.Sink] == nil {
			sinks = append(sinks, d.Sink)
		}
		bySink[d.Sink] = append(bySink[d.Sink], d)
	}
	var done []string
	var errs []error
	for _, sink := range sinks {
		list := bySink[sink]
		it, err := h.find(orgID, sink)
		if err != nil || it.q == nil {
			continue // stays a dead letter
		}
		items := make([]queue.Item, len(list))
		for i, d := range list {
			items[i] = queue.Item{ID: d.StatementID, Data: d.Statement, Trace: tc}
		}
		if err := it.append(ctx, items); err != nil {
			errs = append(errs, fmt.Errorf("replay to %s: %w", sink, err))
			continue
		}
		for _, d := range list {
			done = append(done, d.ID)
		}
	}
	return done, errors.Join(errs...)
}

// PurgeDeadLetters deletes the dead letters matching f for good and
// returns how many were deleted.
func (h *Host) PurgeDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if _, err := h.lookup(orgID); err != nil {
		return 0, err
	}
	return h.dead.Remove(ctx, orgID, deadletter.Filter(f))
}
