//go:build unix

package fsync

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

// TestDir syncs an existing directory and reports a missing one.
func TestDir(t *testing.T) {
	dir := t.TempDir()
	if err := Dir(dir); err != nil {
		t.Errorf("Dir of an existing directory = %v; want nil", err)
	}
	if err := Dir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dir of a missing directory = %v; want fs.ErrNotExist", err)
	}
}
