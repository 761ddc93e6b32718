package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
)

// Totals are the delivery counts of one integration since it was first
// saved or configured.
type Totals struct {
	Delivered     int64 `json:"delivered"`
	AlreadyStored int64 `json:"already_stored"`
	Retried       int64 `json:"retried"`
	DeadLettered  int64 `json:"dead_lettered"`
}

// CountStore persists Totals by organization and integration, so that
// they survive restarts. A shared backend for several hosts can implement
// it (the host's jetstream backend keeps one value per integration and
// instance).
//
// LoadCounts is called once, at start. SaveCounts is called from time to
// time and at shutdown, never concurrently, with the totals of every
// integration in effect (integrations left out are gone); a file store
// replaces what was saved before, atomically. A shared store may keep
// the counts of integrations left out, which another host may still
// deliver, if the host deletes those of removed integrations itself.
type CountStore interface {
	LoadCounts(ctx context.Context) (map[string]map[string]Totals, error)
	SaveCounts(ctx context.Context, counts map[string]map[string]Totals) error
}

// CountsFile stores Totals in one JSON file written atomically.
type CountsFile struct {
	path string
}

var _ CountStore = (*CountsFile)(nil)

// NewCountsFile returns the store of the file at path.
func NewCountsFile(path string) *CountsFile { return &CountsFile{path: path} }

// LoadCounts reads the file; a missing file means no counts yet.
func (f *CountsFile) LoadCounts(context.Context) (map[string]map[string]Totals, error) {
	out := map[string]map[string]Totals{}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read delivery counts: %w", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("read delivery counts %s: %w", filepath.Base(f.path), err)
	}
	return out, nil
}

// SaveCounts replaces the file.
func (f *CountsFile) SaveCounts(_ context.Context, counts map[string]map[string]Totals) error {
	data, err := json.Marshal(counts)
	if err != nil {
		return fmt.Errorf("encode delivery counts: %w", err)
	}
	return atomicfile.Write(f.path, data, 0o600)
}
