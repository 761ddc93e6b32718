// Package registry holds the organizations and integrations the host
// serves: those of the configuration file merged with those saved at run
// time, and the persistence of the latter with their secrets sealed.
//
// A State is a value: changes make a new State (WithIntegration, WithOrg),
// which the caller persists with a Store and then swaps in, so that a
// failed write changes nothing.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/host/internal/normalize"
	"github.com/learningflow/lrsbridge/host/internal/secret"
)

// Integration is one organization's integration: a sink plugin with its
// configuration. Its fields are those of the host's public Integration.
type Integration struct {
	ID     string         `json:"id"`
	Label  string         `json:"label"`
	Plugin string         `json:"plugin"`
	Config map[string]any `json:"config"`
}

// Saved is an integration saved at run time, or the removal (a tombstone)
// of one, for example of a configured one.
type Saved struct {
	Integration
	Saved   time.Time `json:"saved"`
	Removed bool      `json:"removed,omitempty"`
}

// Org is an organization saved at run time, or the removal of one.
type Org struct {
	Settings normalize.Settings `json:"settings"`
	Saved    time.Time          `json:"saved"`
	Removed  bool               `json:"removed,omitempty"`
}

// State is everything saved at run time: integrations by organization and
// organizations by id.
type State struct {
	Integrations map[string][]Saved
	Orgs         map[string]Org
}

// WithIntegration returns a copy of s in which s.ID of org is replaced by
// in (added when absent). s is not changed.
func (s State) WithIntegration(org string, in Saved) State {
	next := State{Integrations: make(map[string][]Saved, len(s.Integrations)+1), Orgs: s.Orgs}
	for k, v := range s.Integrations {
		next.Integrations[k] = v
	}
	list := make([]Saved, 0, len(s.Integrations[org])+1)
	for _, x := range s.Integrations[org] {
		if x.ID != in.ID {
			list = append(list, x)
		}
	}
	list = append(list, in)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	next.Integrations[org] = list
	return next
}

// WithOrg returns a copy of s in which organization id is o. s is not
// changed.
func (s State) WithOrg(id string, o Org) State {
	next := State{Integrations: s.Integrations, Orgs: make(map[string]Org, len(s.Orgs)+1)}
	for k, v := range s.Orgs {
		next.Orgs[k] = v
	}
	next.Orgs[id] = o
	return next
}

// Store persists the State. A shared backend for several hosts can
// implement it.
//
// Load is called once, at start, before any Save. Save is never called
// concurrently (the host serializes changes); it must be durable when it
// returns nil, and leave the previous state in place when it fails. Both
// return errors that name what could not be read or written, never a
// secret.
type Store interface {
	Load(ctx context.Context) (State, error)
	Save(ctx context.Context, s State) error
}

// File stores the State in one JSON file written atomically, with secret
// values sealed by a secret.Box.
type File struct {
	path string
	box  *secret.Box
}

var _ Store = (*File)(nil)

// NewFile returns the store of the file at path.
func NewFile(path string, box *secret.Box) *File { return &File{path: path, box: box} }

// fileFormat is the persisted form.
type fileFormat struct {
	Version     int                `json:"version"`
	Orgs        map[string][]Saved `json:"orgs"`
	OrgSettings map[string]Org     `json:"org_settings,omitempty"`
}

// Load reads the file; a missing file is an empty State. A file that holds
// secrets in clear although a key is set (written by an older version) is
// written again with them sealed.
func (f *File) Load(ctx context.Context) (State, error) {
	empty := State{Integrations: map[string][]Saved{}, Orgs: map[string]Org{}}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return State{}, fmt.Errorf("read saved integrations: %w", err)
	}
	var ff fileFormat
	if err := json.Unmarshal(data, &ff); err != nil {
		return State{}, fmt.Errorf("read saved integrations %s: %w", filepath.Base(f.path), err)
	}
	s := empty
	if ff.Orgs != nil {
		s.Integrations = ff.Orgs
	}
	if ff.OrgSettings != nil {
		s.Orgs = ff.OrgSettings
	}
	clear := false
	for org, list := range s.Integrations {
		for i := range list {
			clear = clear || f.box.InClear(list[i].Config)
			cfg, err := f.box.Open(org, list[i].ID, list[i].Config)
			if err != nil {
				return State{}, err
			}
			list[i].Config = cfg
		}
	}
	if clear {
		// Written before every secret was sealed (nested ones were kept
		// in clear): write it again, sealed.
		if err := f.Save(ctx, s); err != nil {
			return State{}, fmt.Errorf("seal the secrets of saved integrations: %w", err)
		}
	}
	return s, nil
}

// Save writes s atomically, sealing secrets.
func (f *File) Save(_ context.Context, s State) error {
	ff := fileFormat{Version: 1, Orgs: map[string][]Saved{}, OrgSettings: s.Orgs}
	for org, list := range s.Integrations {
		for _, in := range list {
			sealed, err := f.box.Seal(org, in.ID, in.Config)
			if err != nil {
				return err
			}
			in.Config = sealed
			ff.Orgs[org] = append(ff.Orgs[org], in)
		}
	}
	data, err := json.MarshalIndent(ff, "", "  ")
	if err != nil {
		return fmt.Errorf("encode saved integrations: %w", err)
	}
	return atomicfile.Write(f.path, data, 0o600)
}

// Sources of integrations and organizations.
const (
	SourceConfig = "config"
	SourceSaved  = "saved"
)

// Configured is an organization of the configuration file.
type Configured struct {
	Settings     normalize.Settings
	Integrations []Integration
}

// Entry is an integration in effect, with where it comes from.
type Entry struct {
	Integration
	// Source is SourceConfig or SourceSaved.
	Source string
	// Saved is when it was saved at run time (zero for configured ones).
	Saved time.Time
}

// Resolved is an organization in effect.
type Resolved struct {
	ID       string
	Settings normalize.Settings
	// Integrations are sorted by id.
	Integrations []Entry
}

// Resolve merges the configured organizations with the saved state:
// organizations saved at run time override (or remove) configured ones,
// and saved integrations override (or remove) configured ones with the
// same id. It returns the organizations sorted by id, and the ids of
// organizations with saved integrations that are not known (ignored).
func Resolve(configured map[string]Configured, s State) (orgs []Resolved, ignored []string) {
	settings := map[string]normalize.Settings{}
	for id, c := range configured {
		settings[id] = c.Settings
	}
	for id, o := range s.Orgs {
		if o.Removed {
			delete(settings, id)
		} else {
			settings[id] = o.Settings
		}
	}
	for id, set := range settings {
		effective := map[string]Entry{}
		for _, in := range configured[id].Integrations {
			effective[in.ID] = Entry{Integration: in, Source: SourceConfig}
		}
		for _, sv := range s.Integrations[id] {
			if sv.Removed {
				delete(effective, sv.ID)
				continue
			}
			effective[sv.ID] = Entry{Integration: sv.Integration, Source: SourceSaved, Saved: sv.Saved}
		}
		r := Resolved{ID: id, Settings: set}
		for _, e := range effective {
			r.Integrations = append(r.Integrations, e)
		}
		sort.Slice(r.Integrations, func(i, j int) bool { return r.Integrations[i].ID < r.Integrations[j].ID })
		orgs = append(orgs, r)
	}
	sort.Slice(orgs, func(i, j int) bool { return orgs[i].ID < orgs[j].ID })
	for id := range s.Integrations {
		if _, ok := settings[id]; !ok {
			ignored = append(ignored, id)
		}
	}
	sort.Strings(ignored)
	return orgs, ignored
}

// CloneConfig deep-copies a configuration map; nil becomes an empty map.
func CloneConfig(m map[string]any) map[string]any {
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
		return CloneConfig(x)
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
