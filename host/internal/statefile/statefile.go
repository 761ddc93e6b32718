// Package statefile keeps the normalizer's state (SCORM attempts) on disk:
// one small file per key, written atomically, in one folder per
// organization (orgs/<escaped org id>/), so that removing an organization
// archives its state with it.
//
// Before state was kept per organization, files lay directly under the
// directory, named by their key alone. [Dir.Migrate] moves them into
// legacy/ on start; [Dir.Load] still reads them there (and moves each into
// its organization's folder on first use), except for an organization
// created again after a removal, which must start from scratch.
package statefile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/host/internal/filename"
	"github.com/learningflow/lrsbridge/internal/fsync"
)

const (
	orgsDir   = "orgs"   // one folder per organization
	legacyDir = "legacy" // files of the layout without organizations
	// freshMark, in an organization's folder, says that the organization
	// was removed since the layout changed: legacy files are not its own.
	freshMark = "fresh"
)

// Dir stores state under a directory. It implements the normalizer's
// StateStore and is safe for concurrent use (each key is its own file;
// the normalizer never uses one key concurrently).
type Dir struct {
	dir string
}

// New returns a store under dir; the directory is created on first Save.
func New(dir string) *Dir { return &Dir{dir: dir} }

func hashName(key string) string {
	sum := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(sum[:16])
	return filepath.Join(name[:2], name)
}

func (s *Dir) orgDir(org string) string {
	return filepath.Join(s.dir, orgsDir, filename.Escape(org))
}

func (s *Dir) path(org, key string) string {
	return filepath.Join(s.orgDir(org), hashName(key))
}

// Migrate moves the files of the layout without organizations (two-hex-digit
// folders directly under the directory) into legacy/, where Load finds
// them. It is called once on start, before any Load; running it again does
// nothing.
func (s *Dir) Migrate() error {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate scorm state: %w", err)
	}
	moved := false
	for _, e := range entries {
		if !e.IsDir() || !isHexPair(e.Name()) {
			continue
		}
		to := filepath.Join(s.dir, legacyDir, e.Name())
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return fmt.Errorf("migrate scorm state: %w", err)
		}
		if err := moveInto(filepath.Join(s.dir, e.Name()), to); err != nil {
			return fmt.Errorf("migrate scorm state: %w", err)
		}
		moved = true
	}
	if moved {
		if err := fsync.Dir(filepath.Join(s.dir, legacyDir)); err != nil {
			return fmt.Errorf("migrate scorm state: %w", err)
		}
		return fsync.Dir(s.dir)
	}
	return nil
}

// moveInto renames from to to, or, when to exists (a migration interrupted
// by a crash), moves the files of from into it one by one.
func moveInto(from, to string) error {
	err := os.Rename(from, to)
	if err == nil {
		return nil
	}
	if _, serr := os.Stat(to); serr != nil {
		return err
	}
	files, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Rename(filepath.Join(from, f.Name()), filepath.Join(to, f.Name())); err != nil {
			return err
		}
	}
	return os.Remove(from)
}

func isHexPair(name string) bool {
	if len(name) != 2 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

// Load returns the state saved under key for org, and false when there is
// none. A state of the legacy layout is moved into org's folder first,
// unless org was removed since the layout changed.
func (s *Dir) Load(_ context.Context, org, key string) ([]byte, bool, error) {
	p := s.path(org, key)
	data, err := os.ReadFile(p)
	if err == nil {
		return data, true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	old := filepath.Join(s.dir, legacyDir, hashName(key))
	if _, err := os.Stat(old); err != nil {
		return nil, false, nil // no legacy state (or none readable)
	}
	if _, err := os.Stat(filepath.Join(s.orgDir(org), freshMark)); err == nil {
		return nil, false, nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, false, err
	}
	if err := os.Rename(old, p); err != nil {
		return nil, false, err
	}
	if err := fsync.Dir(filepath.Dir(p)); err != nil {
		return nil, false, err
	}
	data, err = os.ReadFile(p)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// Save replaces the state under key for org durably.
func (s *Dir) Save(_ context.Context, org, key string, state []byte) error {
	p := s.path(org, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, state, 0o600)
}

// Archive moves the state of org into the directory dir (as dir/state),
// so that an organization created later with the same id starts every
// SCORM attempt from scratch; it reports whether there was anything to
// move. Legacy files, whose organization is unknown, stay where they are
// but are no longer read for org.
func (s *Dir) Archive(_ context.Context, org, dir string) (bool, error) {
	from := s.orgDir(org)
	moved := false
	if _, err := os.Stat(from); err == nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return false, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
		// A fresh mark left by an earlier removal goes with the archive.
		if err := os.Rename(from, filepath.Join(dir, "state")); err != nil {
			return false, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
		if err := fsync.Dir(dir); err != nil {
			return true, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
		moved = true
	}
	if _, err := os.Stat(filepath.Join(s.dir, legacyDir)); err == nil {
		if err := os.MkdirAll(from, 0o700); err != nil {
			return moved, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
		if err := atomicfile.Write(filepath.Join(from, freshMark), nil, 0o600); err != nil {
			return moved, fmt.Errorf("archive scorm state of %s: %w", org, err)
		}
	}
	return moved, nil
}
