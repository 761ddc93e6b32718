package archive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Reader reads archives written by Sink, for example to resend them to an
// LRS. It only reads, takes no lock and may be used while a sink appends.
// It is safe for concurrent use.
type Reader struct {
	dir string
}

// Open returns a Reader of the archive directory dir.
func Open(dir string) (*Reader, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open archive: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open archive: %s is not a directory", dir)
	}
	return &Reader{dir: dir}, nil
}

// Orgs lists the organizations that have an archive in the directory, sorted.
func (r *Reader) Orgs() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	var orgs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		m, err := readManifest(filepath.Join(r.dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		orgs = append(orgs, m.Org)
	}
	slices.Sort(orgs)
	return orgs, nil
}

// Manifest returns the manifest of org's archive.
func (r *Reader) Manifest(org string) (*Manifest, error) {
	m, err := readManifest(filepath.Join(r.dir, orgDirName(org)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOrg, org)
	}
	if err != nil {
		return nil, err
	}
	if m.Org != org {
		return nil, fmt.Errorf("%w: %q", ErrUnknownOrg, org)
	}
	return m, nil
}

// Record is one archived statement.
type Record struct {
	// ID is the statement id.
	ID string
	// JSON is the statement as archived. The callee owns it.
	JSON []byte
	// Day is the UTC day of the file the statement is in, as YYYY-MM-DD.
	Day string
	// File is the file name inside the organization's directory.
	File string
	// Line is the 1-based line number in the (uncompressed) file.
	Line int64
}

// Replay calls fn with every statement of org's archive in the order it was
// archived, from the files whose UTC day overlaps [from, to); a zero from or
// to leaves that side open. The day is that of the file, so a day is
// replayed whole or not at all.
//
// Closed files are verified against the manifest (size and SHA-256 of the
// file as stored) before any of their statements is passed on, and their line
// count is checked at the end; a mismatch stops the replay with an error
// wrapping ErrCorrupt. The file being written is read up to its last
// complete line. A line that is not a JSON object stops the replay with
// ErrCorrupt. An error from fn stops the replay and is returned as is.
func (r *Reader) Replay(ctx context.Context, org string, from, to time.Time, fn func(Record) error) error {
	orgDir := filepath.Join(r.dir, orgDirName(org))
	m, err := r.Manifest(org)
	if err != nil {
		return err
	}
	files, err := replayFiles(orgDir, m)
	if err != nil {
		return err
	}
	for _, f := range files {
		day, err := parseDay(f.Day)
		if err != nil {
			return fmt.Errorf("%w: %s: bad day", ErrCorrupt, f.File)
		}
		if !from.IsZero() && !day.Add(24*time.Hour).After(from) {
			continue
		}
		if !to.IsZero() && !day.Before(to) {
			continue
		}
		if f.SHA256 == "" {
			_, err := os.Lstat(filepath.Join(orgDir, f.File))
			if err == nil {
				if err := r.replayFile(ctx, orgDir, f, fn); err != nil {
					return err
				}
				continue
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("replay %s: %w", f.File, err)
			}
			// The writer closed the file since the directory was listed:
			// replay the closed file instead.
			m, err = r.Manifest(org)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(m.Files, func(e FileEntry) bool { return e.Day == f.Day && e.Part == f.Part })
			if i < 0 {
				return fmt.Errorf("replay %s: %w", f.File, fs.ErrNotExist)
			}
			f = m.Files[i]
		}
		if err := verifyStored(orgDir, f); err != nil {
			return err
		}
		if err := r.replayFile(ctx, orgDir, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// replayFiles lists the files to replay in order: the manifest's closed files
// and the unclosed plain files on disk (entries without a checksum).
func replayFiles(orgDir string, m *Manifest) ([]FileEntry, error) {
	files := slices.Clone(m.Files)
	type key struct {
		day  string
		part int
	}
	closed := make(map[key]bool, len(files))
	for _, e := range files {
		closed[key{e.Day, e.Part}] = true
	}
	entries, err := os.ReadDir(orgDir)
	if err != nil {
		return nil, fmt.Errorf("list archive: %w", err)
	}
	for _, ent := range entries {
		f, ok := parseDataFile(ent.Name())
		if !ok || f.Gzip || closed[key{f.Day, f.Part}] {
			continue
		}
		files = append(files, FileEntry{File: f.name(), Day: f.Day, Part: f.Part})
	}
	slices.SortFunc(files, func(a, b FileEntry) int {
		if a.dataFile().less(b.dataFile()) {
			return -1
		}
		if b.dataFile().less(a.dataFile()) {
			return 1
		}
		return 0
	})
	return files, nil
}

// verifyStored checks a closed file's size and SHA-256 against its manifest
// entry.
func verifyStored(orgDir string, e FileEntry) error {
	sum, err := hashFile(filepath.Join(orgDir, e.File), false)
	if err != nil {
		return fmt.Errorf("verify %s: %w", e.File, err)
	}
	if sum.size != e.Size || sum.sum != e.SHA256 {
		return fmt.Errorf("%w: %s does not match its checksum in the manifest", ErrCorrupt, e.File)
	}
	return nil
}

// replayFile passes the statements of one file to fn, checking the line
// count of a closed file at the end.
func (r *Reader) replayFile(ctx context.Context, orgDir string, e FileEntry, fn func(Record) error) error {
	var n int64
	err := readLines(filepath.Join(orgDir, e.File), e.Gzip, func(line []byte, num int64) error {
		if num%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id, ok := lineID(line)
		if !ok {
			return fmt.Errorf("%w: %s line %d is not a json object", ErrCorrupt, e.File, num)
		}
		n = num
		return fn(Record{ID: id, JSON: slices.Clone(line), Day: e.Day, File: e.File, Line: num})
	})
	if err != nil {
		return err
	}
	if e.SHA256 != "" && n != e.Lines {
		return fmt.Errorf("%w: %s has %d lines, the manifest says %d", ErrCorrupt, e.File, n, e.Lines)
	}
	return ctx.Err()
}
