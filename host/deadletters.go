package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
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

// ReplayDeadLetters queues the dead letters matching f again for their
// integration (after the cause was fixed) and removes them from the
// dead-letter store. It returns how many were queued. Dead letters of
// integrations that no longer exist stay where they are.
func (h *Host) ReplayDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if _, err := h.lookup(orgID); err != nil {
		return 0, err
	}
	removed, err := h.dead.Remove(ctx, orgID, deadletter.Filter(f))
	if err != nil {
		return 0, err
	}
	bySink := map[string][]deadletter.Letter{}
	for _, d := range removed {
		bySink[d.Sink] = append(bySink[d.Sink], d)
	}
	var errs []error
	var back []deadletter.Letter
	n := 0
	for sink, list := range bySink {
		it, err := h.find(orgID, sink)
		if err != nil || it.q == nil {
			back = append(back, list...)
			continue
		}
		items := make([]queue.Item, len(list))
		for i, d := range list {
			items[i] = queue.Item{ID: d.StatementID, Data: d.Statement}
		}
		if k, err := appendChunks(ctx, it.q, items); err != nil {
			back = append(back, list[k:]...)
			n += k
			errs = append(errs, fmt.Errorf("replay to %s: %w", sink, err))
			continue
		}
		n += len(list)
	}
	if len(back) > 0 {
		if err := h.dead.Add(context.WithoutCancel(ctx), orgID, back); err != nil { // put back what could not be queued
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// PurgeDeadLetters deletes the dead letters matching f for good and
// returns how many were deleted.
func (h *Host) PurgeDeadLetters(ctx context.Context, orgID string, f DeadLetterFilter) (int, error) {
	if _, err := h.lookup(orgID); err != nil {
		return 0, err
	}
	removed, err := h.dead.Remove(ctx, orgID, deadletter.Filter(f))
	return len(removed), err
}
