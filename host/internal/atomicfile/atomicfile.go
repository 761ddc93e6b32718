// Package atomicfile writes small files so that a crash leaves either the
// old content or the new one, never a mix. The host's registry, dead-letter
// store and normalizer state use it.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

// Write writes data to a temporary file next to path, fsyncs it, renames
// it over path and fsyncs the directory. It is safe for concurrent use on
// different paths; concurrent writers of one path must be serialized by the
// caller (the last rename wins).
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFrom(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom is Write for content too large to hold in memory: write
// streams it to the temporary file. When write fails, path is left as it
// was.
func WriteFrom(path string, perm os.FileMode, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
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
	return fsync.Dir(dir)
}
