package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
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

// IntegrationInfo describes a configured integration, with secrets masked.
type IntegrationInfo struct {
	Integration
	// Org is the organization.
	Org string `json:"org"`
	// Source is "config" for integrations from the configuration file and
	// "saved" for integrations saved at run time.
	Source string `json:"source"`
	// Saved is when the integration was last saved at run time.
	Saved time.Time `json:"saved,omitzero"`
}

// Sources of integrations.
const (
	SourceConfig = "config"
	SourceSaved  = "saved"
)

// savedFile is the persisted form of integrations saved at run time.
type savedFile struct {
	Version     int                           `json:"version"`
	Orgs        map[string][]savedIntegration `json:"orgs"`
	OrgSettings map[string]savedOrg           `json:"org_settings,omitempty"`
}

// savedOrg is an organization saved at run time, or the removal of one.
type savedOrg struct {
	Settings OrgSettings `json:"settings"`
	Saved    time.Time   `json:"saved"`
	Removed  bool        `json:"removed,omitempty"`
}

type savedIntegration struct {
	Integration
	Saved   time.Time `json:"saved"`
	Removed bool      `json:"removed,omitempty"` // a tombstone for a configured one
}

// integrationStore persists integrations saved at run time, with secrets
// sealed, in one JSON file written atomically.
type integrationStore struct {
	path string
	box  *secretBox
}

func (s *integrationStore) load() (map[string][]savedIntegration, map[string]savedOrg, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]savedIntegration{}, map[string]savedOrg{}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read saved integrations: %w", err)
	}
	var f savedFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, nil, fmt.Errorf("read saved integrations %s: %w", filepath.Base(s.path), err)
	}
	if f.Orgs == nil {
		f.Orgs = map[string][]savedIntegration{}
	}
	if f.OrgSettings == nil {
		f.OrgSettings = map[string]savedOrg{}
	}
	for org, list := range f.Orgs {
		for i := range list {
			cfg, err := s.box.open(org, list[i].ID, list[i].Config)
			if err != nil {
				return nil, nil, err
			}
			list[i].Config = cfg
		}
	}
	return f.Orgs, f.OrgSettings, nil
}

// save writes all saved organizations and integrations, sealing secrets.
func (s *integrationStore) save(all map[string][]savedIntegration, orgs map[string]savedOrg) error {
	f := savedFile{Version: 1, Orgs: map[string][]savedIntegration{}, OrgSettings: orgs}
	ids := make([]string, 0, len(all))
	for org := range all {
		ids = append(ids, org)
	}
	sort.Strings(ids)
	for _, org := range ids {
		for _, in := range all[org] {
			sealed, err := s.box.seal(org, in.ID, in.Config)
			if err != nil {
				return err
			}
			in.Config = sealed
			f.Orgs[org] = append(f.Orgs[org], in)
		}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode saved integrations: %w", err)
	}
	return writeFileAtomic(s.path, data, 0o600)
}

// writeFileAtomic writes data to a temporary file, fsyncs it, renames it
// over path and fsyncs the directory.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// cloneConfig deep-copies a configuration map.
func cloneConfig(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneConfig(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = cloneValue(x[i])
		}
		return out
	default:
		return v
	}
}

// mergeSecrets fills secret keys of next that are empty or Masked with the
// values of prev, so a form that never saw the secret can save other
// changes. It does so only when next still points where prev did: a
// stored secret is never sent to a destination (an endpoint, URL, host or
// address setting) it was not entered for. ok is false when a secret was
// left out for a changed destination.
func mergeSecrets(next, prev map[string]any) (merged map[string]any, ok bool) {
	out := maps.Clone(next)
	needs := false
	for k, v := range prev {
		if !IsSecretKey(k) {
			continue
		}
		if cur, present := out[k]; !present || cur == nil || cur == "" || cur == Masked {
			out[k] = v
			needs = true
		}
	}
	if needs && !sameDestination(next, prev) {
		return next, false
	}
	return out, true
}

// sameDestination reports whether the destination settings of a and b
// (keys naming an endpoint, URL, host or address) are equal.
func sameDestination(a, b map[string]any) bool {
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !isDestinationKey(k) {
				continue
			}
			if !sameAddress(a[k], b[k]) {
				return false
			}
		}
	}
	return true
}

func isDestinationKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"endpoint", "url", "host", "address", "server"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
