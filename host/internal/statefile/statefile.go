// Package statefile keeps the normalizer's state (SCORM attempts) on disk:
// one small file per key, written atomically.
package statefile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
)

// Dir stores state under a directory. It implements the normalizer's
// StateStore and is safe for concurrent use (each key is its own file).
type Dir struct {
	dir string
}

// New returns a store under dir; the directory is created on first Save.
func New(dir string) *Dir { return &Dir{dir: dir} }

func (s *Dir) path(key string) string {
	sum := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(sum[:16])
	return filepath.Join(s.dir, name[:2], name)
}

// Load returns the state saved under key, and false when there is none.
func (s *Dir) Load(_ context.Context, key string) ([]byte, bool, error) {
	data, err := os.ReadFile(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// Save replaces the state under key durably.
func (s *Dir) Save(_ context.Context, key string, state []byte) error {
	p := s.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(p, state, 0o600)
}
