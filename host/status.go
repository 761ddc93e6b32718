package host

import (
	"context"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/secret"
)

// States of an integration, as Status reports them.
const (
	// StateActive: delivering, or waiting for statements.
	StateActive = "active"
	// StateRetrying: the last batch failed transiently; retrying with
	// backoff.
	StateRetrying = "retrying"
	// StatePausedAuth: the sink's credentials were rejected; delivery is
	// paused (statements are kept) until the integration is saved again
	// or resumed.
	StatePausedAuth = "paused_auth"
	// StatePausedConfig: the plugin rejected the configuration; paused
	// until the integration is saved again or resumed.
	StatePausedConfig = "paused_config"
	// StatePausedPlugin: the plugin cannot run (its file is missing or
	// was changed); paused until an operator reinstalls it (the
	// integration then resumes by itself within seconds) or it is
	// resumed or saved again. LastError says what to do.
	StatePausedPlugin = "paused_plugin"
	// StateBreakerOpen: too many consecutive failures; the circuit breaker
	// stops deliveries for delivery.breaker_open.
	StateBreakerOpen = "breaker_open"
	// StateBreakerHalfOpen: the breaker lets one probe batch through.
	StateBreakerHalfOpen = "breaker_half_open"
	// StateStopped: the host is shut down or the integration removed.
	StateStopped = "stopped"
	// StateQueueError: the integration's queue could not be opened (it is
	// damaged on disk); recording for the organization fails until an
	// operator repairs or removes it.
	StateQueueError = "queue_error"
)

// States lists every state of an integration, for callers that describe
// each (a settings page, documentation).
var States = []string{
	StateActive, StateRetrying, StatePausedAuth, StatePausedConfig, StatePausedPlugin,
	StateBreakerOpen, StateBreakerHalfOpen, StateStopped, StateQueueError,
}

// SinkStatus is the delivery status of one integration, for the settings
// panel; its JSON form (the field tags) is what an admin API serves. It
// never holds secrets: LastError is redacted.
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
	// InFlight is the number of statements being delivered.
	InFlight int `json:"in_flight"`
	// Delivered counts statements delivered, including AlreadyStored
	// ones. This and the other counts run from the integration's first
	// save (or configuration) across re-saves and restarts.
	Delivered int64 `json:"delivered"`
	// AlreadyStored counts statements the sink already had (an LRS 409).
	AlreadyStored int64 `json:"already_stored"`
	// Retried counts statements handed back for a retry.
	Retried int64 `json:"retried"`
	// DeadLettered counts statements dead-lettered.
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
	o, err := h.lookup(orgID)
	if err != nil {
		return OrgStatus{}, err
	}
	counts, _ := h.dead.Counts(context.Background(), orgID) // a count that cannot be read shows as 0
	out := OrgStatus{Org: orgID, Sinks: make([]SinkStatus, 0, len(o.list)), RefusedEvents: h.refused(orgID)}
	for _, it := range o.list {
		s := it.status()
		if h.peers != nil {
			s = h.peers.merge(orgID, s, h.shCounts.others(orgID, it.in.ID))
		}
		s.DeadLetters = counts[it.in.ID]
		out.Sinks = append(out.Sinks, s)
	}
	return out, nil
}

func (it *integration) status() SinkStatus {
	c := it.counters
	s := SinkStatus{
		ID: it.in.ID, Label: it.in.Label, Plugin: it.in.Plugin,
		Delivered:     c.Delivered.Load(),
		AlreadyStored: c.AlreadyStored.Load(),
		Retried:       c.Retried.Load(),
		DeadLettered:  c.DeadLettered.Load(),
	}
	if it.w == nil {
		s.State = StateQueueError
		s.LastError = secret.Shown(it.qerr.Error(), secret.Values(it.in.Config))
		return s
	}
	st := it.q.Stats()
	s.Queued, s.QueuedBytes = st.Pending, st.PendingBytes
	if !st.Oldest.IsZero() {
		s.OldestAge = time.Since(st.Oldest)
	}
	ws := it.w.Status()
	s.State, s.InFlight = ws.State, ws.InFlight
	s.LastSuccess, s.LastError, s.LastErrorTime = ws.LastSuccess, secret.Shown(ws.LastError, secret.Values(it.in.Config)), ws.LastErrorTime
	return s
}
