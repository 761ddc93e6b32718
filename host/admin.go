package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// The rules an admin API needs, kept here so that every API over the host
// applies them the same way.

// ErrIntegrationExists is returned by SaveIntegration with
// SaveOptions.CreateOnly, and by NewIntegrationID, when the organization
// already has an integration with that id.
var ErrIntegrationExists = errors.New("integration exists already")

// IntegrationID returns the id an integration saved without one gets: its
// label in lower case letters and digits, other runs of characters as '-',
// at most 48 characters; the plugin name when nothing is left.
func IntegrationID(label, plugin string) string { return slug(label, plugin) }

// NewIntegrationID returns the id a new integration of orgID with this
// label and plugin would get, or an error wrapping ErrIntegrationExists
// when that id is taken (an integration with the same label exists), or
// ErrOrgUnknown.
func (h *Host) NewIntegrationID(orgID, label, plugin string) (string, error) {
	id := IntegrationID(label, plugin)
	if err := h.refuseExisting(orgID, id, SaveOptions{CreateOnly: true}); err != nil {
		return id, err
	}
	return id, nil
}

// refuseExisting returns an error wrapping ErrIntegrationExists when
// opts.CreateOnly and orgID has an integration id.
func (h *Host) refuseExisting(orgID, id string, opts SaveOptions) error {
	o, err := h.lookup(orgID)
	if err != nil {
		return err
	}
	return o.refuseExisting(id, opts)
}

// refuseExisting is refuseExisting for an organization already looked up.
func (o *org) refuseExisting(id string, opts SaveOptions) error {
	if opts.CreateOnly && o.find(id) != nil {
		return fmt.Errorf("%w: %s/%s", ErrIntegrationExists, o.id, id)
	}
	return nil
}

// ReplayDeadLettersInto queues the dead letters of orgID matching f for
// the integration into, whatever integration they were dead-lettered
// for: the way to deliver the letters of a removed integration. Like
// ReplayDeadLetters it works in chunks, each queued durably before its
// letters are removed from the dead-letter store (a crash in between
// leaves a harmless duplicate, never a loss). It returns how many were
// queued; an unknown into is ErrIntegrationUnknown.
func (h *Host) ReplayDeadLettersInto(ctx context.Context, orgID string, f DeadLetterFilter, into string) (int, error) {
	it, err := h.find(orgID, into)
	if err != nil {
		return 0, err
	}
	if it.q == nil {
		return 0, fmt.Errorf("replay into %s: the integration has no queue", into)
	}
	ctx, span := h.tel.StartReplay(ctx, orgID)
	tc := telemetry.AppendSpanContext(nil, span.SpanContext())
	n, err := h.dead.Replay(ctx, orgID, deadletter.Filter(f), h.replay, func(chunk []deadletter.Letter) ([]string, error) {
		items := make([]queue.Item, len(chunk))
		ids := make([]string, len(chunk))
		for i, d := range chunk {
			items[i] = queue.Item{ID: d.StatementID, Data: d.Statement, Trace: tc}
			ids[i] = d.ID
		}
		if err := it.append(ctx, items); err != nil {
			return nil, fmt.Errorf("replay into %s: %w", into, err)
		}
		return ids, nil
	})
	span.End(n, err)
	return n, err
}
