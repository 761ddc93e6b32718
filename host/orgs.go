package host

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/filename"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
)

// OrgSettings are an organization's normalization settings, the keys under
// orgs.<id> of the configuration. Empty fields take their defaults.
type OrgSettings struct {
	// BaseIRI is the org's base IRI, for example
	// "https://acme.learningflow.example": an absolute http or https IRI
	// with a host and without query or fragment. LearningFlow activity ids
	// and the actor's account homePage are built from it; a trailing "/"
	// is ignored. Required.
	BaseIRI string `koanf:"base_iri"`
	// Identity is the actor's identity policy: "account" (the default),
	// "mbox" or "mbox_sha1sum". The mbox policies refuse events whose user
	// has no valid email address.
	Identity string `koanf:"identity"`
	// SendNames adds the user's name to the actor. Default false.
	SendNames bool `koanf:"send_names"`
	// ChatText is what happens to chat text in statements: "send" (the
	// default), "truncate" (to ChatTruncate characters) or "drop".
	ChatText string `koanf:"chat_text"`
	// ChatTruncate is the number of characters (Unicode code points) kept
	// by the "truncate" chat text policy; it must be positive then.
	ChatTruncate int `koanf:"chat_truncate"`
	// ScormInteractionVerb is the verb of SCORM interaction statements:
	// "responded" (the ADL SCORM profile's, the default) or "answered".
	ScormInteractionVerb string `koanf:"scorm_interaction_verb"`
	// Platform is context.platform of statements about activities.
	// Default "LearningFlow".
	Platform string `koanf:"platform"`
}

func (s OrgSettings) internal() normalize.Settings { return normalize.Settings(s) }

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

// Orgs returns the ids of the organizations, sorted.
func (h *Host) Orgs() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.orgs))
	for id := range h.orgs {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Org returns an organization's settings.
func (h *Host) Org(id string) (OrgInfo, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	o, err := h.orgLocked(id)
	if err != nil {
		return OrgInfo{}, err
	}
	src := SourceConfig
	if _, saved := h.saved.Orgs[id]; saved {
		src = SourceSaved
	}
	return OrgInfo{ID: id, Settings: o.settings, Source: src}, nil
}

// orgLocked returns the organization id; h.mu must be held.
func (h *Host) orgLocked(id string) (*org, error) {
	if h.closed {
		return nil, ErrClosed
	}
	o, ok := h.orgs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrOrgUnknown, id)
	}
	return o, nil
}

// lookup returns the organization id.
func (h *Host) lookup(id string) (*org, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.orgLocked(id)
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
	h.admin.Lock()
	defer h.admin.Unlock()
	h.mu.RLock()
	closed, saved, removing := h.closed, h.saved, h.removingOrgs[id]
	h.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	if removing != nil {
		// A removal of the same id is still archiving what the old
		// organization left; the new one starts once it is gone.
		h.admin.Unlock()
		select {
		case <-removing:
		case <-ctx.Done():
			h.admin.Lock() // for the deferred Unlock
			return ctx.Err()
		}
		h.admin.Lock()
		h.mu.RLock()
		closed, saved = h.closed, h.saved
		h.mu.RUnlock()
		if closed {
			return ErrClosed
		}
	}
	next := saved.WithOrg(id, registry.Org{Settings: s.internal(), Saved: time.Now().UTC().Truncate(time.Second)})
	if err := h.reg.Save(ctx, next); err != nil {
		return fmt.Errorf("persist organization %s: %w", id, err)
	}
	h.mu.Lock()
	h.saved = next
	if o, ok := h.orgs[id]; ok {
		h.orgs[id] = &org{id: id, settings: s, list: o.list}
	} else {
		h.orgs[id] = &org{id: id, settings: s}
	}
	h.mu.Unlock()
	h.log.Info("organization saved", "org", id)
	return nil
}

// RemoveOrg removes an organization and everything of it: its
// integrations are removed (their queued statements move to its dead
// letters), its dead letters and SCORM attempt state are archived under
// data_dir/removed-orgs/ (a directory named by the organization and the
// time, for an operator to read or delete; with the jetstream backend on
// the disk of the instance that removes it), its delivery counts are
// dropped, and recording
// for it fails with ErrOrgUnknown. An organization created later with the same id
// starts empty. Removing an organization of the configuration file
// persists the removal. RecordEvent calls for the organization already in
// progress are waited for (within ctx) before its SCORM state is archived,
// so none of them saves state the new organization would find.
func (h *Host) RemoveOrg(ctx context.Context, id string) error {
	h.admin.Lock()
	o, err := h.lookup(id)
	if err != nil {
		h.admin.Unlock()
		return err
	}
	h.mu.RLock()
	next := h.saved
	h.mu.RUnlock()
	now := time.Now().UTC()
	for _, it := range o.list {
		next = next.WithIntegration(id, tombstone(it, now))
	}
	next = next.WithOrg(id, registry.Org{Settings: o.settings.internal(), Saved: now.Truncate(time.Second), Removed: true})
	if err := h.reg.Save(ctx, next); err != nil {
		h.admin.Unlock()
		return fmt.Errorf("persist removal of organization %s: %w", id, err)
	}
	dones := make([]chan struct{}, len(o.list))
	removed := make(chan struct{})
	h.mu.Lock()
	h.saved = next
	delete(h.orgs, id)
	h.removingOrgs[id] = removed
	for i, it := range o.list {
		dones[i] = make(chan struct{})
		h.retiring[queue.Key{Org: id, Sink: it.in.ID}] = dones[i]
	}
	h.mu.Unlock()
	delete(h.savedCounts, id)
	h.refusedEvents.Delete(id)
	h.admin.Unlock()
	ids := make([]string, len(o.list))
	for i, it := range o.list {
		ids[i] = it.in.ID
	}
	h.forgetCounts(ctx, id, ids, true, true)
	for i, it := range o.list {
		h.retire(ctx, id, it, dones[i])
	}
	h.saveCounts(ctx) // without the organization's counts
	// An event call that found the organization before it was taken out
	// may still save SCORM state: archive only after the last one.
	if h.hookRemoveWaits != nil {
		h.hookRemoveWaits(id)
	}
	if err := h.events.wait(ctx, id); err != nil {
		h.log.Warn("archiving a removed organization while an event call for it is still in progress; its SCORM attempt may be saved again", "org", id, "error", err)
	}
	archived, err := h.archiveOrg(ctx, id)
	h.mu.Lock()
	delete(h.removingOrgs, id)
	h.mu.Unlock()
	close(removed)
	if err != nil {
		return err
	}
	h.log.Info("organization removed", "org", id, "archived_to", archived)
	return nil
}

// removedDir is the directory, under data_dir, where the data of removed
// organizations is archived: one directory per removal, named by the
// escaped organization id and the time of the removal.
const removedDir = "removed-orgs"

// archiveOrg moves what is left of a removed organization (its dead
// letters, which include the statements its queues still held, and its
// SCORM attempt state) out of the way, under removed-orgs/, so that an
// organization created later with the same id starts empty; it returns
// the archive's path relative to data_dir ("" when there was nothing to
// archive). An operator can read or delete the archive.
func (h *Host) archiveOrg(ctx context.Context, id string) (string, error) {
	rel := filepath.Join(removedDir, filename.Escape(id)+"-"+time.Now().UTC().Format("20060102T150405.000000000Z"))
	dir := filepath.Join(h.cfg.DataDir, rel)
	letters, err := h.dead.Archive(ctx, id, dir)
	if err != nil {
		return "", err
	}
	state, err := h.state.Archive(ctx, id, dir)
	if err != nil {
		return "", err
	}
	if !letters && !state {
		return "", nil
	}
	return rel, nil
}
