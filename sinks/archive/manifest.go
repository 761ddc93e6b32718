package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

const (
	manifestName    = "manifest.json"
	manifestVersion = 1
	tmpSuffix       = ".tmp"
	lockName        = ".lock"
	dayLayout       = "2006-01-02"
)

// Manifest describes the closed files of one organization's archive. It is
// stored as manifest.json in the organization's directory and replaced
// atomically (temporary file, fsync, rename, directory fsync) whenever a file
// is closed.
type Manifest struct {
	// Version is the manifest format version, currently 1.
	Version int `json:"version"`
	// Org is the organization id the directory belongs to.
	Org string `json:"org"`
	// Files lists the closed files in the order they were closed.
	Files []FileEntry `json:"files"`
}

// FileEntry describes one closed data file of an archive.
type FileEntry struct {
	// File is the file name inside the organization's directory.
	File string `json:"file"`
	// Day is the UTC day of the statements in the file, as YYYY-MM-DD.
	Day string `json:"day"`
	// Part numbers the files of one day, from 1.
	Part int `json:"part"`
	// Gzip reports whether the file is gzip-compressed.
	Gzip bool `json:"gzip"`
	// Size is the size of the file in bytes, as stored.
	Size int64 `json:"size"`
	// SHA256 is the hex SHA-256 of the file as stored.
	SHA256 string `json:"sha256"`
	// Lines is the number of statements (NDJSON lines) in the file.
	Lines int64 `json:"lines"`
	// RawSize is the size of the uncompressed NDJSON content.
	RawSize int64 `json:"raw_size"`
	// RawSHA256 is the hex SHA-256 of the uncompressed NDJSON content.
	RawSHA256 string `json:"raw_sha256"`
	// Closed is when the file was closed.
	Closed time.Time `json:"closed"`
}

func (e FileEntry) dataFile() dataFile { return dataFile{Day: e.Day, Part: e.Part, Gzip: e.Gzip} }

// readManifest reads the manifest of an organization directory. A missing
// manifest is reported with an error matching fs.ErrNotExist.
func readManifest(orgDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(orgDir, manifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrCorrupt, filepath.Base(orgDir), err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%w: manifest %s has version %d", ErrCorrupt, filepath.Base(orgDir), m.Version)
	}
	return &m, nil
}

// writeManifest replaces the manifest atomically.
func writeManifest(orgDir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	final := filepath.Join(orgDir, manifestName)
	tmp := final + tmpSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return fsync.Dir(orgDir)
}

func parseDay(s string) (time.Time, error) {
	return time.Parse(dayLayout, s)
}
