package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/internal/flock"
	"github.com/learningflow/lrsbridge/internal/fsync"
	"github.com/learningflow/lrsbridge/sdk"
)

// registry shares one store per organization directory between the sink
// instances of a process, so that two instances archiving the same
// organization into the same directory never write the same file
// independently.
var registry = struct {
	mu     sync.Mutex
	stores map[string]*store
}{stores: make(map[string]*store)}

// store writes one organization's archive. All methods except acquire and
// release are called with mu held.
type store struct {
	mu sync.Mutex

	key         string // registry key: the absolute organization directory
	dir         string // organization directory
	org         string
	rotateBytes int64
	gzip        bool
	now         func() time.Time
	refs        int // guarded by registry.mu

	lock     *os.File
	man      *Manifest
	maxPart  map[string]int // highest part number seen per day
	active   *os.File
	file     dataFile // the active file, when active != nil
	size     int64    // bytes of the active file known to be durable
	ids      map[string]struct{}
	idsDay   string
	broken   error // a write failed; reload before the next batch
	closed   bool
	pending  []byte
	batchIDs map[string]struct{}
}

// acquire returns the store of org in cfg.Dir, opening it if no instance of
// this process has it open.
func acquire(org string, cfg Config, now func() time.Time) (*store, error) {
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("archive dir: %w", err)
	}
	dir := filepath.Join(root, orgDirName(org))
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if s, ok := registry.stores[dir]; ok {
		if s.rotateBytes != cfg.RotateBytes || s.gzip != cfg.Gzip {
			return nil, fmt.Errorf("archive for org %q in %s is already open with other settings", org, cfg.Dir)
		}
		s.refs++
		return s, nil
	}
	s := &store{
		key:         dir,
		dir:         dir,
		org:         org,
		rotateBytes: cfg.RotateBytes,
		gzip:        cfg.Gzip,
		now:         now,
		refs:        1,
	}
	if err := s.open(root); err != nil {
		return nil, err
	}
	registry.stores[dir] = s
	return s, nil
}

// release drops one reference and closes the store with the last one.
func (s *store) release() error {
	registry.mu.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(registry.stores, s.key)
	}
	registry.mu.Unlock()
	if !last {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	err := s.closeActiveFD()
	if cerr := flock.Release(s.lock); err == nil {
		err = cerr
	}
	return err
}

// open creates the organization directory if needed, locks it and loads it.
func (s *store) open(root string) error {
	if err := os.MkdirAll(root, 0o750); err != nil {
		return fmt.Errorf("archive dir: %w", err)
	}
	switch err := os.Mkdir(s.dir, 0o750); {
	case err == nil:
		if err := fsync.Dir(root); err != nil {
			return fmt.Errorf("archive dir: %w", err)
		}
	case errors.Is(err, fs.ErrExist):
	default:
		return fmt.Errorf("archive dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("archive lock: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return err
	}
	s.lock = lock
	if err := s.load(); err != nil {
		s.closeActiveFD()
		flock.Release(lock)
		return err
	}
	return nil
}

// load reads the manifest and the directory and brings the archive into a
// consistent state after whatever happened before: temporaries of an
// interrupted close or manifest write are removed, a plain file whose
// compressed copy is already in the manifest is removed, torn tails are cut
// off, every unclosed file but the newest is closed, and the newest one
// becomes the active file if it belongs to today.
func (s *store) load() error {
	m, err := readManifest(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m = &Manifest{Version: manifestVersion, Org: s.org, Files: []FileEntry{}}
		if err := writeManifest(s.dir, m); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
	case err != nil:
		return err
	case m.Org != s.org:
		return fmt.Errorf("%w: directory %s belongs to another organization", ErrCorrupt, filepath.Base(s.dir))
	}
	s.man = m
	s.maxPart = make(map[string]int)
	closed := make(map[string]bool, len(m.Files))
	for _, e := range m.Files {
		closed[e.File] = true
		s.maxPart[e.Day] = max(s.maxPart[e.Day], e.Part)
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("read archive dir: %w", err)
	}
	var unclosed []dataFile
	removed := false
	for _, ent := range entries {
		name := ent.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			// A temporary of an interrupted close or manifest write: never
			// part of the archive.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove temporary: %w", err)
			}
			removed = true
			continue
		}
		f, ok := parseDataFile(name)
		if !ok {
			continue
		}
		s.maxPart[f.Day] = max(s.maxPart[f.Day], f.Part)
		if closed[name] || f.Gzip {
			// Closed, or the compressed copy of an unclosed plain file that
			// closing the plain file adopts after checking it.
			continue
		}
		gz := f
		gz.Gzip = true
		if closed[gz.name()] {
			// Closed and compressed; the crash came before the plain file
			// was removed.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("remove closed file: %w", err)
			}
			removed = true
			continue
		}
		unclosed = append(unclosed, f)
	}
	if removed {
		if err := fsync.Dir(s.dir); err != nil {
			return err
		}
	}
	slices.SortFunc(unclosed, func(a, b dataFile) int {
		if a.less(b) {
			return -1
		}
		return 1
	})
	today := s.today()
	var activeIDs []string
	for i, f := range unclosed {
		size, ids, err := s.repair(f)
		if err != nil {
			return err
		}
		if i < len(unclosed)-1 || f.Day != today {
			if err := s.finalize(f); err != nil {
				return err
			}
			continue
		}
		af, err := os.OpenFile(filepath.Join(s.dir, f.name()), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("open active file: %w", err)
		}
		s.active, s.file, s.size = af, f, size
		activeIDs = ids
	}
	return s.loadIndex(today, activeIDs)
}

func (s *store) today() string { return s.now().UTC().Format(dayLayout) }

// loadIndex builds the set of statement ids stored on day: the ids of the
// day's closed files (read back from disk) and extra.
func (s *store) loadIndex(day string, extra []string) error {
	ids := make(map[string]struct{}, len(extra))
	for _, id := range extra {
		ids[id] = struct{}{}
	}
	for _, e := range s.man.Files {
		if e.Day != day {
			continue
		}
		err := readLines(filepath.Join(s.dir, e.File), e.Gzip, func(line []byte, _ int64) error {
			id, ok := lineID(line)
			if ok {
				ids[id] = struct{}{}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("index %s: %w", e.File, err)
		}
	}
	s.ids, s.idsDay = ids, day
	return nil
}

// repair cuts a torn tail off an unclosed plain file: an unterminated last
// line, and any run of lines at the end that are not JSON statements (what
// is left of a write that never completed). Lines before the last good one
// are kept whatever they contain. It returns the size after repair and the
// ids of the statements in the file.
func (s *store) repair(f dataFile) (int64, []string, error) {
	path := filepath.Join(s.dir, f.name())
	fh, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, nil, fmt.Errorf("repair: %w", err)
	}
	defer fh.Close()
	var (
		ids       []string
		off, good int64
	)
	r := bufio.NewReaderSize(fh, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		off += int64(len(line))
		if n := len(line); n > 0 && line[n-1] == '\n' {
			if id, ok := lineID(line[:n-1]); ok {
				good = off
				ids = append(ids, id)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, nil, fmt.Errorf("repair %s: %w", f.name(), err)
		}
	}
	if good < off {
		if err := fh.Truncate(good); err != nil {
			return 0, nil, fmt.Errorf("repair %s: %w", f.name(), err)
		}
		if err := fh.Sync(); err != nil {
			return 0, nil, fmt.Errorf("repair %s: %w", f.name(), err)
		}
	}
	return good, ids, nil
}

// finalize closes a plain file that is no longer written: it compresses it
// (when configured), records it in the manifest and removes the plain copy.
// Every step is durable before the next starts, so a crash at any point
// leaves a state load completes.
func (s *store) finalize(f dataFile) error {
	plainPath := filepath.Join(s.dir, f.name())
	raw, err := hashFile(plainPath, false)
	if err != nil {
		return fmt.Errorf("close %s: %w", f.name(), err)
	}
	entry := FileEntry{
		File:      f.name(),
		Day:       f.Day,
		Part:      f.Part,
		Size:      raw.size,
		SHA256:    raw.sum,
		Lines:     raw.lines,
		RawSize:   raw.size,
		RawSHA256: raw.sum,
		Closed:    s.now().UTC(),
	}
	if s.gzip {
		gz := f
		gz.Gzip = true
		gzPath := filepath.Join(s.dir, gz.name())
		stored, err := s.compress(plainPath, gzPath, raw.sum)
		if err != nil {
			return fmt.Errorf("close %s: %w", f.name(), err)
		}
		entry.File, entry.Gzip, entry.Size, entry.SHA256 = gz.name(), true, stored.size, stored.sum
	}
	s.man.Files = append(s.man.Files, entry)
	if err := writeManifest(s.dir, s.man); err != nil {
		s.man.Files = s.man.Files[:len(s.man.Files)-1]
		return fmt.Errorf("close %s: write manifest: %w", f.name(), err)
	}
	if s.gzip {
		if err := os.Remove(plainPath); err != nil {
			return fmt.Errorf("close %s: %w", f.name(), err)
		}
		if err := fsync.Dir(s.dir); err != nil {
			return fmt.Errorf("close %s: %w", f.name(), err)
		}
	}
	return nil
}

// compress writes the gzip copy of plainPath to gzPath through a temporary
// file that is linked into place, so that gzPath never exists half-written
// and an existing file is never replaced. If gzPath exists already (a crash
// came after linking it but before the manifest was written), it is adopted
// when its content matches rawSum.
func (s *store) compress(plainPath, gzPath, rawSum string) (fileSum, error) {
	if _, err := os.Lstat(gzPath); err == nil {
		content, err := hashFile(gzPath, true)
		if err != nil {
			return fileSum{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(gzPath), err)
		}
		if content.sum != rawSum {
			return fileSum{}, fmt.Errorf("%w: %s exists with other content", ErrCorrupt, filepath.Base(gzPath))
		}
		return hashFile(gzPath, false)
	}
	tmp := gzPath + tmpSuffix
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fileSum{}, err
	}
	in, err := os.Open(plainPath)
	if err != nil {
		return fileSum{}, err
	}
	defer in.Close()
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fileSum{}, err
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	if err != nil {
		out.Close()
		return fileSum{}, err
	}
	_, err = io.Copy(zw, in)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, gzPath)
	}
	if rerr := os.Remove(tmp); err == nil {
		err = rerr
	}
	if err == nil {
		err = fsync.Dir(s.dir)
	}
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{size: cw.n, sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// openNew creates the next part of day with O_EXCL, so that no existing file
// is ever reopened for writing by mistake.
func (s *store) openNew(day string) error {
	f := dataFile{Day: day, Part: s.maxPart[day] + 1}
	fh, err := os.OpenFile(filepath.Join(s.dir, f.name()), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.name(), err)
	}
	s.maxPart[day] = f.Part
	if err := fsync.Dir(s.dir); err != nil {
		fh.Close()
		return fmt.Errorf("create %s: %w", f.name(), err)
	}
	s.active, s.file, s.size = fh, f, 0
	return nil
}

// closeActive closes and finalizes the active file.
func (s *store) closeActive() error {
	if s.active == nil {
		return nil
	}
	f := s.file
	if err := s.closeActiveFD(); err != nil {
		return err
	}
	return s.finalize(f)
}

// closeActiveFD closes the active file's descriptor without finalizing it;
// the file stays the active file for the next open.
func (s *store) closeActiveFD() error {
	if s.active == nil {
		return nil
	}
	err := s.active.Sync()
	if cerr := s.active.Close(); err == nil {
		err = cerr
	}
	s.active = nil
	return err
}

// deliver appends a batch. See the package documentation for the guarantees.
func (s *store) deliver(ctx context.Context, stmts []sdk.Statement) ([]sdk.Verdict, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.broken != nil {
		s.closeActiveFD()
		if err := s.load(); err != nil {
			return nil, fmt.Errorf("reopen archive: %w", err)
		}
		s.broken = nil
	}
	day := s.today()
	if s.active != nil && s.file.Day != day {
		if err := s.closeActive(); err != nil {
			s.broken = err
			return nil, err
		}
	}
	if s.idsDay != day {
		if err := s.loadIndex(day, nil); err != nil {
			return nil, err
		}
	}
	verdicts := make([]sdk.Verdict, len(stmts))
	failed := false
	s.pending = s.pending[:0]
	if s.batchIDs == nil {
		s.batchIDs = make(map[string]struct{})
	}
	clear(s.batchIDs)
	for i, st := range stmts {
		line, err := statementLine(st)
		if err != nil {
			verdicts[i].Err = sdk.Permanent(err)
			failed = true
			continue
		}
		_, stored := s.ids[st.ID]
		_, inBatch := s.batchIDs[st.ID]
		if stored || inBatch {
			verdicts[i].AlreadyStored = true
			failed = true
			continue
		}
		if s.active != nil && s.rotateBytes > 0 {
			used := s.size + int64(len(s.pending))
			if used > 0 && used+int64(len(line))+1 > s.rotateBytes {
				if err := s.flush(); err != nil {
					return nil, err
				}
				if err := s.closeActive(); err != nil {
					s.broken = err
					return nil, err
				}
			}
		}
		if s.active == nil {
			if err := s.openNew(day); err != nil {
				s.broken = err
				return nil, err
			}
		}
		s.pending = append(s.pending, line...)
		s.pending = append(s.pending, '\n')
		s.batchIDs[st.ID] = struct{}{}
	}
	if err := s.flush(); err != nil {
		return nil, err
	}
	if !failed {
		return nil, nil
	}
	return verdicts, nil
}

// flush writes and fsyncs the pending lines, then adds their ids to the
// index. On failure the file is cut back to its last durable size and the
// store reloads before the next batch.
func (s *store) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	_, err := s.active.Write(s.pending)
	if err == nil {
		err = s.active.Sync()
	}
	if err != nil {
		// Best effort: the reload before the next batch cuts any torn tail
		// anyway.
		_ = s.active.Truncate(s.size)
		s.broken = err
		return fmt.Errorf("append to %s: %w", s.file.name(), err)
	}
	s.size += int64(len(s.pending))
	for id := range s.batchIDs {
		s.ids[id] = struct{}{}
	}
	clear(s.batchIDs)
	s.pending = s.pending[:0]
	return nil
}

// statementLine returns the NDJSON line (without newline) for st: its JSON
// as given when that is a single line, compacted otherwise. The JSON must be
// an object whose "id" is st.ID.
func statementLine(st sdk.Statement) ([]byte, error) {
	if st.ID == "" {
		return nil, errors.New("statement has no id")
	}
	line := st.JSON
	if bytes.ContainsAny(line, "\r\n") {
		var buf bytes.Buffer
		if err := json.Compact(&buf, line); err != nil {
			return nil, fmt.Errorf("statement %s is not valid json: %w", st.ID, err)
		}
		line = buf.Bytes()
	}
	id, ok := lineID(line)
	if !ok {
		return nil, fmt.Errorf("statement %s is not a valid json object", st.ID)
	}
	if id != st.ID {
		return nil, fmt.Errorf("statement %s has id %q in its json", st.ID, id)
	}
	return line, nil
}

// lineID reports whether line is a JSON object and returns its "id" member.
// Canonical statements start with the id, which is read without decoding the
// whole statement.
func lineID(line []byte) (string, bool) {
	const prefix = `{"id":"`
	if rest, ok := bytes.CutPrefix(line, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i >= 0 && plainASCII(rest[:i]) {
			if !json.Valid(line) {
				return "", false
			}
			return string(rest[:i]), true
		}
	}
	if len(line) == 0 || line[0] != '{' {
		return "", false
	}
	var v struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return "", false
	}
	return v.ID, true
}

// plainASCII reports whether b holds only printable ASCII other than the
// backslash, so that its JSON string form is itself.
func plainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// fileSum is the size, SHA-256 and line count of a file's content.
type fileSum struct {
	size  int64
	sum   string
	lines int64
}

// hashFile hashes a file as stored, or its decompressed content when gunzip
// is true.
func hashFile(path string, gunzip bool) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	var r io.Reader = f
	if gunzip {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fileSum{}, err
		}
		defer zr.Close()
		r = zr
	}
	h := sha256.New()
	lc := &lineCounter{h: h}
	n, err := io.Copy(lc, r)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{size: n, sum: hex.EncodeToString(h.Sum(nil)), lines: lc.lines}, nil
}

// lineCounter hashes what is written to it and counts newlines.
type lineCounter struct {
	h     hash.Hash
	lines int64
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return c.h.Write(p)
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// readLines calls fn with each complete line of a data file (without the
// newline) and its 1-based number. An unterminated last line is ignored: it
// is a write in progress or a torn tail.
func readLines(path string, gunzip bool, fn func(line []byte, n int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if gunzip {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(path), err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	for {
		line, err := br.ReadBytes('\n')
		if k := len(line); k > 0 && line[k-1] == '\n' {
			n++
			if ferr := fn(line[:k-1], n); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if gunzip {
				return fmt.Errorf("%w: %s: %w", ErrCorrupt, filepath.Base(path), err)
			}
			return err
		}
	}
}
