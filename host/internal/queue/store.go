package queue

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/filename"
	"github.com/learningflow/lrsbridge/internal/flock"
	"github.com/learningflow/lrsbridge/internal/fsync"
)

// SyncPolicy says when Append returns relative to fsync.
type SyncPolicy int

const (
	// SyncAlways, the default, returns from Append only after the record
	// has been fdatasync'ed. Concurrent producers of a queue commit in
	// groups: the records that arrive while one commit runs go out
	// together in the next, with one write and one fdatasync.
	SyncAlways SyncPolicy = iota
	// SyncGroup is SyncAlways with a collection window: the producer that
	// leads a commit first waits, up to GroupWindow, for the producers
	// already inside Append to join it. A lone producer never waits. It
	// trades a little latency for fewer fsyncs.
	SyncGroup
	// SyncNone never fsyncs. Records survive a crash of the process (they
	// are in the kernel's page cache) but not of the machine. For tests.
	SyncNone
)

// String returns "always", "group" or "none".
func (p SyncPolicy) String() string {
	switch p {
	case SyncAlways:
		return "always"
	case SyncGroup:
		return "group"
	case SyncNone:
		return "none"
	}
	return fmt.Sprintf("SyncPolicy(%d)", int(p))
}

// Options configure a Store.
type Options struct {
	// Dir is the data directory holding the queues. Required; created if
	// missing.
	Dir string
	// Sync is the durability policy of Append. Default SyncAlways.
	Sync SyncPolicy
	// GroupWindow is the longest a SyncGroup commit waits for producers
	// on their way into Append. Default 2ms.
	GroupWindow time.Duration
	// SegmentBytes is the size at which a queue starts a new segment file.
	// Default 16 MiB. A record is never split, so a segment may grow past it
	// by one record.
	SegmentBytes int64
	// MaxQueueBytes, MaxOrgBytes and MaxTotalBytes are quotas on pending
	// bytes (len(ID)+len(Data) of appended, unacknowledged items) of one
	// queue, of all open queues of one organization and of all open queues
	// of the store. 0 means unlimited. Data recovered when a queue is
	// opened counts even when it exceeds a quota.
	MaxQueueBytes, MaxOrgBytes, MaxTotalBytes int64
	// MaxOpenFiles is the store's descriptor budget: how many queue files
	// (segments and ack logs) it keeps open at most. Files are opened when a
	// queue writes or reads them and stay open among the most recently
	// used; beyond the budget the least recently used idle ones are
	// closed, so idle queues hold no descriptor whatever their number.
	// Files in use at one moment (a write and its fsync, a read) are never
	// closed and may pass the budget briefly. Default 256; a budget below
	// the number of queues appending at the same time costs an open and a
	// close per commit.
	MaxOpenFiles int
	// Logger receives recovery notices (torn tails cut). Nil discards.
	Logger *slog.Logger
}

// Key names one queue: an organization and one of its sink instances.
type Key struct{ Org, Sink string }

// Store is the embedded, file-backed queue implementation: it opens queues
// under a directory and enforces the quotas across them. It is safe for
// concurrent use. One process at a time may open a directory.
type Store struct {
	opts  Options
	log   *slog.Logger
	lockf *os.File
	files *fileCache

	mu     sync.Mutex // guards queues and closed
	queues map[Key]*fileQueue
	closed bool

	quotaMu sync.Mutex // guards the byte counts below and fileQueue.quotaBytes
	org     map[string]int64
	total   int64
}

const (
	lockName   = ".lock"
	metaName   = "meta.json"
	tmpPrefix  = ".tmp-"
	trashPrefx = ".trash-"
)

// Open opens (creating if needed) the store in opts.Dir and locks it
// against other processes. Directories left over from an interrupted queue
// creation or removal are cleaned up; queues themselves are recovered when
// Queue opens them.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("open queue store: no directory")
	}
	if opts.Sync < SyncAlways || opts.Sync > SyncNone {
		return nil, fmt.Errorf("open queue store: unknown sync policy %d", int(opts.Sync))
	}
	if opts.GroupWindow <= 0 {
		opts.GroupWindow = 2 * time.Millisecond
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 16 << 20
	}
	if opts.SegmentBytes < 4096 {
		opts.SegmentBytes = 4096
	}
	if opts.MaxOpenFiles <= 0 {
		opts.MaxOpenFiles = 256
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open queue store: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(opts.Dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open queue store: %w", err)
	}
	if err := flock.Lock(lf); err != nil {
		lf.Close()
		if errors.Is(err, flock.ErrHeld) {
			err = ErrLocked
		} else {
			err = fmt.Errorf("lock queue directory: %w", err)
		}
		return nil, fmt.Errorf("open queue store %s: %w", filepath.Base(opts.Dir), err)
	}
	s := &Store{opts: opts, log: log, lockf: lf, files: newFileCache(opts.MaxOpenFiles), queues: map[Key]*fileQueue{}, org: map[string]int64{}}
	ents, err := os.ReadDir(opts.Dir)
	if err != nil {
		flock.Release(lf)
		return nil, fmt.Errorf("open queue store: %w", err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) || strings.HasPrefix(e.Name(), trashPrefx) {
			if err := os.RemoveAll(filepath.Join(opts.Dir, e.Name())); err != nil {
				flock.Release(lf)
				return nil, fmt.Errorf("open queue store: clean up: %w", err)
			}
		}
	}
	return s, nil
}

// Queue opens the queue of (org, sink) and recovers it from its files: a
// torn tail is cut, and damage anywhere else is returned as an error
// wrapping ErrCorrupt. A queue that does not exist yet is created lazily:
// nothing is written until its first Append, so opening the queues of many
// idle integrations costs no disk write and no descriptor. Opening an
// existing queue reads its files and closes them again; it fsyncs only a
// queue that holds unacknowledged records. Calls with the same key return
// the same open queue until it is closed. org and sink may be any non-empty
// strings.
func (s *Store) Queue(org, sink string) (Queue, error) {
	if org == "" || sink == "" {
		return nil, errors.New("open queue: empty org or sink")
	}
	k := Key{org, sink}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if q := s.queues[k]; q != nil {
		return q, nil
	}
	name := dirName(org, sink)
	dir := filepath.Join(s.opts.Dir, name)
	exists, err := s.checkDir(k, dir)
	if err != nil {
		return nil, fmt.Errorf("open queue %s: %w", name, err)
	}
	q := newFileQueue(s, k, dir, name)
	if exists {
		if q, err = openFileQueue(s, k, dir, name); err != nil {
			return nil, fmt.Errorf("open queue %s: %w", name, err)
		}
	}
	s.queues[k] = q
	return q, nil
}

// OpenFiles returns the number of queue files the store has open now.
func (s *Store) OpenFiles() int { return s.files.stats() }

// meta is the content of a queue's meta.json: the original key, so that
// Queues can list queues after a restart whatever their directory names.
type meta struct {
	Version int    `json:"version"`
	Org     string `json:"org"`
	Sink    string `json:"sink"`
}

// checkDir reports whether the queue directory dir exists, and checks
// that it belongs to k.
func (s *Store) checkDir(k Key, dir string) (bool, error) {
	m, err := readMeta(dir)
	if err == nil {
		if m.Org != k.Org || m.Sink != k.Sink {
			return true, fmt.Errorf("directory belongs to another queue")
		}
		return true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if _, serr := os.Stat(dir); serr == nil {
		return false, fmt.Errorf("directory without %s: %w", metaName, err)
	}
	return false, nil
}

// ensureDir creates the directory of the queue k, called name, atomically
// (a temporary directory renamed into place) if it does not exist.
func (s *Store) ensureDir(k Key, name string) error {
	dir := filepath.Join(s.opts.Dir, name)
	if exists, err := s.checkDir(k, dir); err != nil || exists {
		return err
	}
	tmp := filepath.Join(s.opts.Dir, tmpPrefix+name+"-"+rand.Text()[:8])
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(meta{Version: 1, Org: k.Org, Sink: k.Sink})
	if err := writeFileSync(filepath.Join(tmp, metaName), b); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := fsync.Dir(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return fsync.Dir(s.opts.Dir)
}

func readMeta(dir string) (meta, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read %s: %w", metaName, err)
	}
	if m.Version != 1 || m.Org == "" || m.Sink == "" {
		return m, fmt.Errorf("read %s: unsupported content", metaName)
	}
	return m, nil
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
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
	return f.Close()
}

// Remove closes the queue of (org, sink) if it is open (its users then get
// ErrClosed) and deletes it with all its files. Removing a queue that does
// not exist is not an error.
func (s *Store) Remove(org, sink string) error {
	k := Key{org, sink}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if q := s.queues[k]; q != nil {
		delete(s.queues, k)
		q.shutdown() // the files go anyway; a flush error does not matter
	}
	name := dirName(org, sink)
	dir := filepath.Join(s.opts.Dir, name)
	m, err := readMeta(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && (m.Org != org || m.Sink != sink) {
		return fmt.Errorf("remove queue %s: directory belongs to another queue", name)
	}
	// Rename first so that a crash in the middle of RemoveAll leaves a
	// trash directory, which Open deletes, rather than half a queue.
	trash := filepath.Join(s.opts.Dir, trashPrefx+name+"-"+rand.Text()[:8])
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("remove queue %s: %w", name, err)
	}
	if err := fsync.Dir(s.opts.Dir); err != nil {
		return fmt.Errorf("remove queue %s: %w", name, err)
	}
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove queue %s: %w", name, err)
	}
	return nil
}

// Queues lists the queues found in the directory (and those open), sorted
// by org and sink, so that the host can resume delivery after a restart.
// Directories that are not queues are skipped.
func (s *Store) Queues() []Key {
	var out []Key
	ents, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		s.log.Warn("list queues", "err", err)
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := readMeta(filepath.Join(s.opts.Dir, e.Name()))
		if err != nil {
			s.log.Warn("skipping directory that is not a queue", "dir", e.Name(), "err", err)
			continue
		}
		if dirName(m.Org, m.Sink) != e.Name() {
			s.log.Warn("skipping queue directory with a foreign name", "dir", e.Name())
			continue
		}
		out = append(out, Key{m.Org, m.Sink})
	}
	s.mu.Lock()
	for k := range s.queues {
		out = append(out, k)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Key) int { return cmp.Or(strings.Compare(a.Org, b.Org), strings.Compare(a.Sink, b.Sink)) })
	return slices.Compact(out)
}

// Close closes every open queue and releases the directory. Later calls
// return ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	var errs []error
	for k, q := range s.queues {
		errs = append(errs, q.shutdown())
		delete(s.queues, k)
	}
	errs = append(errs, flock.Release(s.lockf))
	return errors.Join(errs...)
}

// forget drops q from the open queues after its Close.
func (s *Store) forget(q *fileQueue) {
	s.mu.Lock()
	if s.queues[q.key] == q {
		delete(s.queues, q.key)
	}
	s.mu.Unlock()
}

// reserve accounts n more pending bytes to q, its org and the store, or
// returns a *QuotaError when that would exceed a quota.
func (s *Store) reserve(q *fileQueue, n int64) error {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	o := s.opts
	switch {
	case o.MaxQueueBytes > 0 && q.quotaBytes+n > o.MaxQueueBytes:
		return &QuotaError{Quota: QuotaQueue, Limit: o.MaxQueueBytes, Used: q.quotaBytes, Need: n}
	case o.MaxOrgBytes > 0 && s.org[q.key.Org]+n > o.MaxOrgBytes:
		return &QuotaError{Quota: QuotaOrg, Limit: o.MaxOrgBytes, Used: s.org[q.key.Org], Need: n}
	case o.MaxTotalBytes > 0 && s.total+n > o.MaxTotalBytes:
		return &QuotaError{Quota: QuotaTotal, Limit: o.MaxTotalBytes, Used: s.total, Need: n}
	}
	s.add(q, n)
	return nil
}

// add accounts n pending bytes (negative to release) without a quota check.
func (s *Store) add(q *fileQueue, n int64) {
	q.quotaBytes += n
	s.total += n
	if v := s.org[q.key.Org] + n; v != 0 {
		s.org[q.key.Org] = v
	} else {
		delete(s.org, q.key.Org)
	}
}

func (s *Store) account(q *fileQueue, n int64) {
	s.quotaMu.Lock()
	s.add(q, n)
	s.quotaMu.Unlock()
}

// dropAccount releases everything q holds, when it closes.
func (s *Store) dropAccount(q *fileQueue) {
	s.quotaMu.Lock()
	s.add(q, -q.quotaBytes)
	s.quotaMu.Unlock()
}

// maxNameLen bounds queue directory names, well below the 255 bytes most
// file systems allow.
const maxNameLen = 160

// dirName returns the directory name of a queue. The mapping is injective
// and safe on every file system:
//   - in org and sink, lower-case ASCII letters, digits and '-' are kept and
//     every other byte (upper-case letters too, for case-insensitive file
//     systems) becomes '_' and two lower-case hex digits;
//   - the two are joined with '.', which the escaping never produces;
//   - a name longer than maxNameLen is cut and gets '~' and the hex SHA-256
//     of the length-prefixed key appended ('~' never appears otherwise).
//
// The result has no path separator, is never "." or "..", and never starts
// with '.', so it cannot escape the store directory or clash with the
// store's own files. The key itself is kept in meta.json and checked on
// open.
func dirName(org, sink string) string {
	var b strings.Builder
	b.WriteString(filename.Escape(org))
	b.WriteByte('.')
	b.WriteString(filename.Escape(sink))
	n := b.String()
	if len(n) <= maxNameLen {
		return n
	}
	h := sha256.New()
	fmt.Fprintf(h, "%d:%s%d:%s", len(org), org, len(sink), sink)
	sum := hex.EncodeToString(h.Sum(nil))
	return n[:maxNameLen-1-len(sum)] + "~" + sum
}
