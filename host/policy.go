package host

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// ErrNotAllowed is wrapped by the *PolicyError that TestIntegration and
// SaveIntegration return for a choice the operator keeps for the
// configuration file (plugins.allow_runtime, plugins.config_only_settings).
var ErrNotAllowed = errors.New("not allowed at run time")

// PolicyError says which field of an integration an organization admin may
// not set at run time, and why, in plain words. It wraps ErrNotAllowed.
type PolicyError struct {
	// Org is the organization.
	Org string
	// Field is the refused field: "plugin", or a setting's path in the
	// configuration ("ca_file", "tls.ca_file", "headers[0].path").
	Field string
	// Message says what is wrong and what to do.
	Message string
}

// Error names the organization and the refused field, and says what to
// do instead.
func (e *PolicyError) Error() string {
	return fmt.Sprintf("organization %s: %s: %s", e.Org, e.Field, e.Message)
}

// Is reports whether target is ErrNotAllowed.
func (e *PolicyError) Is(target error) bool { return target == ErrNotAllowed }

// checkPolicy refuses a run-time candidate that the operator's policy
// keeps for the configuration file: a plugin not in
// plugins.allow_runtime, or a config-only setting. What the integration
// it replaces (prev, nil for a new one) already had is allowed, so that an
// integration of the configuration file can be tested and saved again
// unchanged.
func (h *Host) checkPolicy(orgID string, in Integration, prev *Integration) error {
	p := h.cfg.Plugins
	samePlugin := prev != nil && prev.Plugin == in.Plugin
	if !slices.Contains(p.AllowRuntime, in.Plugin) && !samePlugin {
		if _, inProcess := h.providers[in.Plugin]; !inProcess {
			if err := h.sup.Check(in.Plugin); errors.Is(err, ErrUnknownPlugin) {
				return unusable(in.Plugin, err) // not installed at all
			}
		}
		allowed := strings.Join(p.AllowRuntime, ", ")
		if allowed == "" {
			allowed = "none"
		}
		return &PolicyError{Org: orgID, Field: "plugin", Message: fmt.Sprintf(
			"the plugin %q can only be set up by the operator in the configuration file; plugins you may choose: %s", in.Plugin, allowed)}
	}
	rules := append(slices.Clone(p.ConfigOnlySettings["*"]), p.ConfigOnlySettings[in.Plugin]...)
	if len(rules) == 0 {
		return nil
	}
	var before any
	if samePlugin {
		before = prev.Config
	}
	var refused []string
	walkSettings(in.Config, before, "", func(path string) {
		if configOnly(path, rules) {
			refused = append(refused, path)
		}
	})
	if len(refused) == 0 {
		return nil
	}
	sort.Strings(refused)
	return &PolicyError{Org: orgID, Field: refused[0], Message: "this setting names a file or directory on the server " +
		"and can only be set by the operator in the configuration file; leave it out"}
}

// walkSettings calls changed with the path of every setting of cfg, at
// any depth, whose value differs from the one at the same path in prev.
func walkSettings(cfg map[string]any, prev any, path string, changed func(path string)) {
	pm, _ := prev.(map[string]any)
	for k, v := range cfg {
		p := k
		if path != "" {
			p = path + "." + k
		}
		var pv any
		if pm != nil {
			pv = pm[k]
		}
		walkValue(v, pv, p, changed)
	}
}

func walkValue(v, prev any, path string, changed func(path string)) {
	switch x := v.(type) {
	case map[string]any:
		if !reflect.DeepEqual(v, prev) {
			changed(path)
		}
		walkSettings(x, prev, path, changed)
	case []any:
		pl, _ := prev.([]any)
		for i, e := range x {
			var pe any
			if i < len(pl) {
				pe = pl[i]
			}
			walkValue(e, pe, fmt.Sprintf("%s[%d]", path, i), changed)
		}
	default:
		if v != nil && v != "" && !reflect.DeepEqual(v, prev) {
			changed(path)
		}
	}
}

// configOnly reports whether the setting at path is config-only by rules.
func configOnly(path string, rules []string) bool {
	name := path[strings.LastIndexAny(path, ".]")+1:]
	if name == "" { // an element of a list: judged by the list's name
		name = strings.TrimRight(path, "]0123456789[")
		name = name[strings.LastIndexAny(name, ".")+1:]
	}
	name = strings.ToLower(name)
	for _, r := range rules {
		r = strings.ToLower(r)
		if suffix, ok := strings.CutPrefix(r, "*"); ok {
			if strings.HasSuffix(name, suffix) {
				return true
			}
		} else if name == r {
			return true
		}
	}
	return false
}
