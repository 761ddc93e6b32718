package host

import (
	"context"
	"fmt"
	"maps"
	"time"
)

// OrgInfo describes an organization.
type OrgInfo struct {
	// ID is the organization id.
	ID string `json:"id"`
	// Settings are its normalization settings.
	Settings OrgSettings `json:"settings"`
	// Source is "config" for an organization of the configuration file and
	// "saved" for one saved at run time (or a configured one whose settings
	// were saved at run time).
	Source string `json:"source"`
}

// Org returns an organization's settings.
func (h *Host) Org(id string) (OrgInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return OrgInfo{}, ErrClosed
	}
	o, ok := h.orgs[id]
	if !ok {
		return OrgInfo{}, fmt.Errorf("%w: %q", ErrOrgUnknown, id)
	}
	src := SourceConfig
	if _, saved := h.savedOrgs[id]; saved {
		src = SourceSaved
	}
	return OrgInfo{ID: id, Settings: o.settings, Source: src}, nil
}

// PutOrg creates an organization at run time, or changes the settings of an
// existing one, and persists it: LearningFlow registers a new organization
// without a restart, then saves its integrations. The settings are
// validated (base_iri is required); every problem of the id and the
// settings is returned in one *ConfigError, keyed "orgs.<id>" and
// "orgs.<id>.<setting>". Statements recorded afterwards use the
// new settings; queued ones are not changed.
func (h *Host) PutOrg(ctx context.Context, id string, s OrgSettings) error {
	if probs := orgProblems(id, s); len(probs) > 0 {
		return &ConfigError{Problems: probs}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	next := maps.Clone(h.savedOrgs)
	next[id] = savedOrg{Settings: s, Saved: time.Now().UTC().Truncate(time.Second)}
	if err := h.store.save(h.saved, next); err != nil {
		return fmt.Errorf("persist organization %s: %w", id, err)
	}
	h.savedOrgs = next
	if o, ok := h.orgs[id]; ok {
		o.settings = s
	} else {
		h.orgs[id] = newOrg(id, s)
	}
	h.log.Info("organization saved", "org", id)
	return nil
}

// RemoveOrg removes an organization: its integrations are removed (their
// queued statements move to the dead-letter store, which stays readable on
// disk) and recording for it fails with ErrOrgUnknown. Removing an
// organization of the configuration file persists the removal.
func (h *Host) RemoveOrg(ctx context.Context, id string) error {
	h.mu.RLock()
	o, ok := h.orgs[id]
	var sinks []string
	if ok {
		sinks = append(sinks, o.order...)
	}
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if !ok {
		return fmt.Errorf("%w: %q", ErrOrgUnknown, id)
	}
	for _, sink := range sinks {
		if err := h.RemoveIntegration(ctx, id, sink); err != nil {
			return err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	next := maps.Clone(h.savedOrgs)
	next[id] = savedOrg{Settings: h.orgs[id].settings, Saved: time.Now().UTC().Truncate(time.Second), Removed: true}
	if err := h.store.save(h.saved, next); err != nil {
		return fmt.Errorf("persist removal of organization %s: %w", id, err)
	}
	h.savedOrgs = next
	delete(h.orgs, id)
	h.log.Info("organization removed", "org", id)
	return nil
}
