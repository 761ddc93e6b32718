package host

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/delivery"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/registry"
	"github.com/learningflow/lrsbridge/host/internal/secret"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Integration is one organization's integration as the embedder manages
// it: a sink plugin with its configuration and label.
type Integration struct {
	// ID identifies the integration within its organization. Empty means
	// "make one from Label" when saving.
	ID string `json:"id"`
	// Label is the Integration Label of the settings form.
	Label string `json:"label"`
	// Plugin is the sink plugin's name, for example "lrs".
	Plugin string `json:"plugin"`
	// Config is the plugin's opaque configuration, for example the LRS
	// form's xapi_version, endpoint, key and secret. In listings, secret
	// values are Masked.
	Config map[string]any `json:"config"`
}

// IntegrationInfo describes an integration in effect, with secrets masked.
type IntegrationInfo struct {
	Integration
	// Org is the organization.
	Org string `json:"org"`
	// Source is SourceConfig for integrations from the configuration file
	// and SourceSaved for integrations saved at run time.
	Source string `json:"source"`
	// Saved is when the integration was last saved at run time.
	Saved time.Time `json:"saved,omitzero"`
}

// Sources of integrations and organizations.
const (
	// SourceConfig marks what comes from the configuration file.
	SourceConfig = "config"
	// SourceSaved marks what was saved at run time (through the admin
	// API, the panel or the Host methods) and persisted under data_dir.
	SourceSaved = "saved"
)

// SaveOptions control SaveIntegration.
type SaveOptions struct {
	// Force saves even when the connection test fails.
	Force bool
	// CreateOnly refuses, with ErrIntegrationExists, to replace an
	// integration with the same id.
	CreateOnly bool
}

// Integrations lists an organization's integrations, secrets masked.
func (h *Host) Integrations(orgID string) ([]IntegrationInfo, error) {
	o, err := h.lookup(orgID)
	if err != nil {
		return nil, err
	}
	out := make([]IntegrationInfo, 0, len(o.list))
	for _, it := range o.list {
		in := it.in
		in.Config = secret.Mask(in.Config)
		out = append(out, IntegrationInfo{Integration: in, Org: orgID, Source: it.source, Saved: it.saved})
	}
	return out, nil
}

// TestIntegration configures a candidate integration in its plugin, runs
// the plugin's connection test and closes it again. Nothing is saved and
// nothing is delivered. A configuration the plugin rejects is returned as
// a *sdk.ConfigError with field-level messages. When the candidate has the
// id of an existing integration, empty or Masked secrets are taken from it,
// so a form that never saw the secret can be tested; not when the
// candidate changes the destination (endpoint, URL, host): then the secret
// must be entered again, or a *sdk.ConfigError says so.
//
// The operator's policy applies: a plugin not in plugins.allow_runtime, or
// a setting of plugins.config_only_settings (local file paths, by
// default), is refused with a *PolicyError (wrapping ErrNotAllowed) naming
// the field, unless the integration being replaced already had it. A
// plugin that is not installed is refused with an error wrapping
// ErrUnknownPlugin, one that cannot run (a checksum mismatch) with one
// wrapping ErrPluginUnusable. These are the admin's input errors, for a
// 4xx answer; SaveIntegration returns the same.
func (h *Host) TestIntegration(ctx context.Context, orgID string, in Integration) (sdk.Report, error) {
	in, err := h.candidate(orgID, in)
	if err != nil {
		return sdk.Report{}, err
	}
	return h.testCandidate(ctx, orgID, in)
}

// candidate checks in and completes its id and its secrets.
func (h *Host) candidate(orgID string, in Integration) (Integration, error) {
	o, err := h.lookup(orgID)
	if err != nil {
		return in, err
	}
	if in.ID == "" {
		in.ID = slug(in.Label, in.Plugin)
	}
	if !pluginPattern.MatchString(in.Plugin) {
		return in, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "plugin", Message: fmt.Sprintf("%q is not a plugin name", in.Plugin)}}}
	}
	if !sinkIDPattern.MatchString(in.ID) {
		return in, &sdk.ConfigError{Fields: []sdk.FieldError{{Field: "id", Message: fmt.Sprintf("%q is not a valid integration id", in.ID)}}}
	}
	in.Config = registry.CloneConfig(in.Config)
	var before *Integration
	if prev := o.find(in.ID); prev != nil {
		before = &prev.in
	}
	if err := h.checkPolicy(orgID, in, before); err != nil {
		return in, err
	}
	if prev := o.find(in.ID); prev != nil && prev.in.Plugin == in.Plugin {
		merged, missing, ok := secret.Merge(in.Config, keptSecrets(in.Config, prev.in.Config))
		if !ok {
			ce := &sdk.ConfigError{}
			for _, k := range missing {
				ce.Add(k, "enter it again: the destination changed, and a saved secret is only sent where it was entered for")
			}
			return in, ce
		}
		in.Config = merged
	}
	return in, nil
}

func (h *Host) testCandidate(ctx context.Context, orgID string, in Integration) (sdk.Report, error) {
	secrets := secret.Values(in.Config)
	c, err := h.configure(ctx, orgID, in, "test-"+xapi.NewUUID())
	if err != nil {
		return sdk.Report{}, redactErr(err, secrets)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.Sink.Close(cctx) // a test instance; nothing to keep
		c.Release()
	}()
	tester, ok := c.Sink.(sdk.ConnectionTester)
	if !ok {
		return sdk.Report{Steps: []sdk.Step{{
			Name: "config", Title: "Check the configuration", Status: sdk.StepPassed,
			Message: "the configuration is valid; this plugin has no connection test",
		}}}, nil
	}
	rep, err := tester.TestConnection(ctx)
	if err != nil {
		return sdk.Report{}, redactErr(err, secrets)
	}
	for i := range rep.Steps {
		rep.Steps[i].Message = secret.Shown(rep.Steps[i].Message, secrets)
	}
	return rep, nil
}

// configure makes a sink instance of in: in its plugin's process (started
// if needed), or in the host's process for a plugin given WithProvider.
// handle tells the instance apart from others of the integration. The
// returned Release is never nil.
func (h *Host) configure(ctx context.Context, orgID string, in Integration, handle string) (delivery.Conn, error) {
	req := sdk.ConfigureRequest{
		Instance: orgID + "/" + in.ID + "#" + handle,
		Org:      orgID,
		Label:    in.Label,
		Config:   registry.CloneConfig(in.Config),
		Egress:   h.egress,
	}
	if p, ok := h.providers[in.Plugin]; ok {
		sink, err := p.Configure(ctx, req)
		return delivery.Conn{Sink: sink, Release: func() {}}, err
	}
	l, err := h.sup.Acquire(ctx, in.Plugin, orgID)
	if err != nil {
		return delivery.Conn{}, unusable(in.Plugin, err)
	}
	sink, err := l.Provider().Configure(ctx, req)
	if err != nil {
		l.Release()
		return delivery.Conn{}, err
	}
	return delivery.Conn{Sink: sink, Exited: l.Exited(), Release: l.Release}, nil
}

// connector configures the instances a worker delivers to.
func (h *Host) connector(orgID string, in Integration) delivery.Connector {
	return delivery.ConnectorFunc(func(ctx context.Context, gen int) (delivery.Conn, error) {
		return h.configure(ctx, orgID, in, strconv.Itoa(gen))
	})
}

// redactErr hides secrets in err's message, keeping config errors typed.
func redactErr(err error, secrets []string) error {
	var ce *sdk.ConfigError
	if errors.As(err, &ce) {
		out := &sdk.ConfigError{}
		for _, f := range ce.Fields {
			out.Fields = append(out.Fields, sdk.FieldError{Field: f.Field, Message: secret.Shown(f.Message, secrets)})
		}
		return out
	}
	msg := secret.Shown(err.Error(), secrets)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps the class of the error (errors.Is and sdk.ClassOf keep
// working); its message is not shown.
func (e *redactedError) Unwrap() error { return e.err }

// SaveIntegration tests a candidate integration and, if the test passes
// (or opts.Force), persists it and makes it active atomically: an
// integration with the same id is replaced, keeping its queue and its
// counts, and its pause (for example after rejected credentials) is
// lifted. The report of the test is returned in both cases; a failed test
// without Force returns ErrTestFailed and changes nothing.
func (h *Host) SaveIntegration(ctx context.Context, orgID string, in Integration, opts SaveOptions) (sdk.Report, error) {
	in, err := h.candidate(orgID, in)
	if err != nil {
		return sdk.Report{}, err
	}
	if err := h.refuseExisting(orgID, in.ID, opts); err != nil {
		return sdk.Report{}, err
	}
	rep, err := h.testCandidate(ctx, orgID, in)
	if err != nil && !opts.Force {
		return rep, err
	}
	if err == nil && !rep.OK() && !opts.Force {
		return rep, ErrTestFailed
	}
	key := queue.Key{Org: orgID, Sink: in.ID}
	h.admin.Lock()
	defer h.admin.Unlock()
	// A removal of the same integration may still be draining its queue.
	h.mu.RLock()
	draining := h.retiring[key]
	h.mu.RUnlock()
	if draining != nil {
		<-draining
	}
	o, err := h.lookup(orgID)
	if err != nil {
		return rep, err
	}
	if err := o.refuseExisting(in.ID, opts); err != nil {
		return rep, err
	}
	h.mu.RLock()
	next := h.saved
	h.mu.RUnlock()
	now := time.Now().UTC().Truncate(time.Second)
	next = next.WithIntegration(orgID, registry.Saved{Integration: registry.Integration(in), Saved: now})
	if err := h.reg.Save(ctx, next); err != nil {
		return rep, fmt.Errorf("persist integration %s/%s: %w", orgID, in.ID, err)
	}
	old := o.find(in.ID)
	var counters *delivery.Counters
	var after <-chan struct{}
	if old != nil {
		counters = old.counters
		if old.w != nil {
			after = old.w.Done()
		}
	}
	it := h.startIntegration(orgID, in, SourceSaved, now, counters, after)
	h.mu.Lock()
	cur, ok := h.orgs[orgID]
	if h.closed || !ok { // shut down meanwhile
		h.mu.Unlock()
		it.stop()
		return rep, ErrClosed
	}
	h.saved = next
	h.orgs[orgID] = cur.with(in.ID, it)
	h.mu.Unlock()
	if old != nil {
		old.stop() // the new worker starts once the old one has stopped
	}
	h.log.Info("integration saved", "org", orgID, "integration", in.ID, "plugin", in.Plugin)
	return rep, nil
}

// tombstone is the saved removal of an integration.
func tombstone(it *integration, now time.Time) registry.Saved {
	return registry.Saved{
		Integration: registry.Integration{ID: it.in.ID, Plugin: it.in.Plugin, Config: map[string]any{}},
		Saved:       now, Removed: true,
	}
}

// RemoveIntegration removes an integration: delivery stops and statements
// still queued for it move to the dead-letter store (class "removed"), from
// which they can be listed or purged. Removing an integration of the
// configuration file persists the removal. Recording for the
// organization's other integrations, and for other organizations, goes on
// meanwhile.
func (h *Host) RemoveIntegration(ctx context.Context, orgID, id string) error {
	h.admin.Lock()
	o, err := h.lookup(orgID)
	if err != nil {
		h.admin.Unlock()
		return err
	}
	it := o.find(id)
	if it == nil {
		h.admin.Unlock()
		return fmt.Errorf("%w: %s/%s", ErrIntegrationUnknown, orgID, id)
	}
	h.mu.RLock()
	next := h.saved.WithIntegration(orgID, tombstone(it, time.Now().UTC()))
	h.mu.RUnlock()
	if err := h.reg.Save(ctx, next); err != nil {
		h.admin.Unlock()
		return fmt.Errorf("persist removal of integration %s/%s: %w", orgID, id, err)
	}
	done := make(chan struct{})
	h.mu.Lock()
	h.saved = next
	if cur, ok := h.orgs[orgID]; ok {
		h.orgs[orgID] = cur.with(id, nil)
	}
	h.retiring[queue.Key{Org: orgID, Sink: id}] = done
	h.mu.Unlock()
	delete(h.savedCounts[orgID], id) // a new integration with this id counts from zero
	h.admin.Unlock()
	h.forgetCounts(ctx, orgID, []string{id}, false, true)
	// The slow part (waiting for appends in progress, stopping the worker,
	// closing the sink, draining the queue) runs without a lock.
	h.retire(ctx, orgID, it, done)
	h.log.Info("integration removed", "org", orgID, "integration", id)
	return nil
}

// Resume lifts the pause of an integration (after rejected credentials or
// configuration, or an unusable plugin) without changing it, for example
// after the LRS side was fixed.
func (h *Host) Resume(ctx context.Context, orgID, id string) error {
	it, err := h.find(orgID, id)
	if err != nil {
		return err
	}
	if it.w != nil {
		it.w.Resume()
	}
	return nil
}

// find returns an organization's integration.
func (h *Host) find(orgID, id string) (*integration, error) {
	o, err := h.lookup(orgID)
	if err != nil {
		return nil, err
	}
	it := o.find(id)
	if it == nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrIntegrationUnknown, orgID, id)
	}
	return it, nil
}
