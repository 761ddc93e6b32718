package host

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/supervise"
	"github.com/learningflow/lrsbridge/sdk"
)

// pluginError is why a plugin cannot run until an operator fixes it: its
// file is missing, or it does not match its configured checksum. Its
// message says so in plain words; it wraps ErrPluginUnusable (and
// ErrUnknownPlugin for a missing file) and the cause.
type pluginError struct {
	plugin  string
	missing bool
	cause   error
}

func (e *pluginError) Error() string {
	if e.missing {
		return fmt.Sprintf("the plugin %q is not installed (its file is missing): ask the operator to install it, then resume the integration", e.plugin)
	}
	return fmt.Sprintf("the plugin %q was changed: its file does not match the configured checksum; ask the operator to reinstall it, then resume the integration", e.plugin)
}

func (e *pluginError) Unwrap() []error {
	if e.missing {
		return []error{ErrPluginUnusable, ErrUnknownPlugin, e.cause}
	}
	return []error{ErrPluginUnusable, e.cause}
}

// unusable returns err as a *pluginError when it says that plugin cannot
// run until an operator fixes it, and err otherwise.
func unusable(plugin string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sdk.ErrChecksumMismatch):
		return &pluginError{plugin: plugin, cause: err}
	case errors.Is(err, supervise.ErrNotFound), errors.Is(err, sdk.ErrPluginNotFound), errors.Is(err, fs.ErrNotExist):
		return &pluginError{plugin: plugin, missing: true, cause: err}
	}
	return err
}

// healEvery is how often integrations paused for an unusable plugin are
// checked: once the plugin's file is back (and matches its checksum) they
// resume by themselves.
const healEvery = 5 * time.Second

// withHealEvery sets how often paused plugins are checked; for tests.
func withHealEvery(d time.Duration) Option {
	return func(h *Host) { h.healEvery = d }
}

// healPlugins resumes, every interval until stop is closed, the
// integrations paused for an unusable plugin whose file is usable again.
// The check costs a stat per plugin, and a checksum only when the file
// changed.
func (h *Host) healPlugins(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		h.healOnce()
	}
}

// healOnce resumes the integrations paused for a plugin that is usable
// again.
func (h *Host) healOnce() {
	h.mu.RLock()
	orgs := make([]*org, 0, len(h.orgs))
	for _, o := range h.orgs {
		orgs = append(orgs, o)
	}
	h.mu.RUnlock()
	usable := map[string]bool{}
	for _, o := range orgs {
		for _, it := range o.list {
			if it.w == nil || it.w.Status().State != StatePausedPlugin {
				continue
			}
			ok, seen := usable[it.in.Plugin]
			if !seen {
				ok = h.sup.Check(it.in.Plugin) == nil
				usable[it.in.Plugin] = ok
			}
			if ok {
				h.log.Info("plugin usable again; resuming the integration", "org", o.id, "integration", it.in.ID, "plugin", it.in.Plugin)
				it.w.Resume()
			}
		}
	}
}
