package host

import (
	"fmt"
	"time"
)

// SinkStatus is the delivery status of one integration, for the settings
// panel. It never holds secrets: LastError is redacted.
type SinkStatus struct {
	// ID, Label and Plugin identify the integration.
	ID     string `json:"id"`
	Label  string `json:"label"`
	Plugin string `json:"plugin"`
	// State is one of the State constants.
	State string `json:"state"`
	// Queued and QueuedBytes are the statements waiting for delivery.
	Queued      int   `json:"queued"`
	QueuedBytes int64 `json:"queued_bytes"`
	// OldestAge is how long the oldest queued statement has waited.
	OldestAge time.Duration `json:"oldest_age"`
	// InFlight is the size of the batch being delivered.
	InFlight int `json:"in_flight"`
	// Delivered counts statements delivered since the host started,
	// including AlreadyStored ones.
	Delivered int64 `json:"delivered"`
	// AlreadyStored counts statements the sink already had (an LRS 409).
	AlreadyStored int64 `json:"already_stored"`
	// Retried counts statements handed back for a retry.
	Retried int64 `json:"retried"`
	// DeadLettered counts statements dead-lettered since the host started.
	DeadLettered int64 `json:"dead_lettered"`
	// DeadLetters is the number of dead letters stored for the
	// integration now.
	DeadLetters int `json:"dead_letters"`
	// LastSuccess is when a batch was last delivered.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError is the last error, with secrets masked.
	LastError string `json:"last_error,omitempty"`
	// LastErrorTime is when LastError happened.
	LastErrorTime time.Time `json:"last_error_time,omitzero"`
}

// OrgStatus is the delivery status of an organization's integrations.
type OrgStatus struct {
	// Org is the organization.
	Org string `json:"org"`
	// Sinks has one entry per integration, by id.
	Sinks []SinkStatus `json:"sinks"`
	// RefusedEvents counts events refused since the host started
	// (transformation errors).
	RefusedEvents int64 `json:"refused_events"`
}

// Status returns the delivery status of an organization's integrations.
func (h *Host) Status(orgID string) (OrgStatus, error) {
	h.mu.RLock()
	if h.closed {
		h.mu.RUnlock()
		return OrgStatus{}, ErrClosed
	}
	o, ok := h.orgs[orgID]
	if !ok {
		h.mu.RUnlock()
		return OrgStatus{}, fmt.Errorf("%w: %q", ErrOrgUnknown, orgID)
	}
	ws := make([]*worker, 0, len(o.order))
	for _, id := range o.order {
		ws = append(ws, o.workers[id])
	}
	h.mu.RUnlock()
	counts := h.dead.counts(orgID)
	out := OrgStatus{Org: orgID, Sinks: make([]SinkStatus, 0, len(ws)), RefusedEvents: h.refused(orgID)}
	for _, w := range ws {
		s := w.status()
		s.DeadLetters = counts[w.inst.ID]
		out.Sinks = append(out.Sinks, s)
	}
	return out, nil
}
