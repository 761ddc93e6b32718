package launch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

// compactGarbage is how many bytes of the journal must be superseded (old
// versions of documents, deleted documents) before the journal is
// rewritten; it is also rewritten only once the superseded bytes outweigh
// the live ones, so a rewrite costs at most about as much as what was
// appended since the last one.
const compactGarbage = 16 << 20

// fileStore is an lrsserver.MemoryStore made durable by a journal file:
// every change is appended as one JSON line and synced before it is
// applied; opening replays the file. A torn last line (a crash during a
// write) is dropped.
//
// Documents are rewritten often (a course saves its bookmark and
// suspend data every few seconds), so the journal would grow without
// bound; once enough of it is superseded, the change that crossed the
// mark rewrites it from the store's content (a temporary file synced and
// renamed over the journal: a crash leaves the old journal or the new
// one, and a leftover temporary file is removed at the next open).
type fileStore struct {
	*lrsserver.MemoryStore
	path string
	sync bool
	// minGarbage is compactGarbage; tests make it smaller.
	minGarbage int64

	mu      sync.Mutex
	f       *os.File
	size    int64     // bytes in the journal
	live    liveBytes // of them, the ones the store's content needs
	retryAt int64     // after a failed rewrite, the size to try again at
	broken  error     // set when the journal can no longer be trusted
	pending []byte    // scratch buffer for one line
}

// liveBytes counts the journal bytes the store's content still needs:
// every statement line, and the last line of every document still there.
type liveBytes struct {
	docs  map[lrsserver.DocKey]int64
	total int64
	// shares are, per namespace in journal order, each statement's share
	// of its line (a line's bytes split evenly among its statements), so
	// that forgetting statements knows the bytes it frees.
	shares map[string][]stmtShare
}

// stmtShare is one statement's part of the journal.
type stmtShare struct {
	stored time.Time
	bytes  int64
}

// account notes that change c took n bytes of the journal.
func (l *liveBytes) account(c lrsserver.Change, n int64) {
	if l.docs == nil {
		l.docs = make(map[lrsserver.DocKey]int64)
	}
	switch {
	case c.Key != nil:
		if old, ok := l.docs[*c.Key]; ok {
			l.total -= old
			delete(l.docs, *c.Key)
		}
		if c.Doc != nil {
			l.docs[*c.Key] = n
			l.total += n
		}
	case c.DeleteSet != nil:
		for k, old := range l.docs {
			if k.Set() == c.DeleteSet.Set() {
				l.total -= old
				delete(l.docs, k)
			}
		}
	case c.ForgetBefore != nil:
		// The line itself is garbage from the start; what it forgets is
		// garbage from now on.
		for ns, list := range l.shares {
			keep := list[:0]
			for _, sh := range list {
				if sh.stored.Before(*c.ForgetBefore) {
					l.total -= sh.bytes
				} else {
					keep = append(keep, sh)
				}
			}
			if len(keep) == 0 {
				delete(l.shares, ns)
			} else {
				l.shares[ns] = keep
			}
		}
	default:
		l.total += n
		if len(c.Records) == 0 {
			return
		}
		if l.shares == nil {
			l.shares = make(map[string][]stmtShare)
		}
		each := n / int64(len(c.Records))
		for i, r := range c.Records {
			b := each
			if i == 0 {
				b += n - each*int64(len(c.Records)) // the remainder
			}
			l.shares[c.NS] = append(l.shares[c.NS], stmtShare{stored: r.Stored, bytes: b})
		}
	}
}

// openFileStore opens or creates the journal at path.
func openFileStore(path string, syncWrites bool) (*fileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("launch store: %w", err)
	}
	s := &fileStore{path: path, sync: syncWrites, minGarbage: compactGarbage}
	s.MemoryStore = lrsserver.NewMemoryStore(s.append)
	if leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), compactPattern(path))); err == nil {
		for _, name := range leftovers {
			_ = os.Remove(name) // a rewrite cut short by a crash
		}
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("launch store: %w", err)
	}
	good := 0
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			break // torn last line
		}
		line := data[off : off+end]
		var c lrsserver.Change
		if err := json.Unmarshal(line, &c); err != nil {
			return nil, fmt.Errorf("launch store %s: line at byte %d is not a change record: %v; move the file aside to start empty", filepath.Base(path), off, err)
		}
		s.Apply(c)
		s.live.account(c, int64(end+1))
		off += end + 1
		good = off
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("launch store: %w", err)
	}
	if err := f.Truncate(int64(good)); err != nil {
		f.Close()
		return nil, fmt.Errorf("launch store: %w", err)
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("launch store: %w", err)
	}
	s.f, s.size = f, int64(good)
	s.maybeCompact()
	return s, nil
}

// compactPattern is the glob of the temporary files of a rewrite of the
// journal at path.
func compactPattern(path string) string { return "." + filepath.Base(path) + ".compact-*" }

// append writes one change; the MemoryStore calls it under its lock.
func (s *fileStore) append(c lrsserver.Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("launch store is closed")
	}
	if s.broken != nil {
		return s.broken
	}
	s.pending = append(append(s.pending[:0], b...), '\n')
	if _, err := s.f.Write(s.pending); err != nil {
		return fmt.Errorf("launch store: %w", err)
	}
	if s.sync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("launch store: %w", err)
		}
	}
	s.size += int64(len(s.pending))
	s.live.account(c, int64(len(s.pending)))
	return nil
}

// AddStatements implements lrsserver.StatementStore.
func (s *fileStore) AddStatements(ctx context.Context, ns string, recs []lrsserver.Record, voids []string) error {
	err := s.MemoryStore.AddStatements(ctx, ns, recs, voids)
	s.maybeCompact()
	return err
}

// UpdateDocument implements lrsserver.DocumentStore.
func (s *fileStore) UpdateDocument(ctx context.Context, key lrsserver.DocKey, fn func(cur *lrsserver.Document) (*lrsserver.Document, error)) error {
	err := s.MemoryStore.UpdateDocument(ctx, key, fn)
	s.maybeCompact()
	return err
}

// ForgetStatements forgets the statements stored before t (see
// lrsserver.MemoryStore.ForgetStatements); the journal sheds them at its
// next rewrite.
func (s *fileStore) ForgetStatements(t time.Time) (int, error) {
	n, err := s.MemoryStore.ForgetStatements(t)
	s.maybeCompact()
	return n, err
}

// DeleteDocuments implements lrsserver.DocumentStore.
func (s *fileStore) DeleteDocuments(ctx context.Context, key lrsserver.DocKey) error {
	err := s.MemoryStore.DeleteDocuments(ctx, key)
	s.maybeCompact()
	return err
}

// needsCompaction reports whether the journal is worth rewriting; s.mu
// is held.
func (s *fileStore) needsCompaction() bool {
	garbage := s.size - s.live.total
	return s.f != nil && s.broken == nil && s.size >= s.retryAt && garbage >= s.minGarbage && garbage > s.live.total
}

// maybeCompact rewrites the journal when enough of it is superseded. A
// failed rewrite leaves the journal as it was (and is tried again once as
// much again was appended): the change that triggered it is stored
// already, so it does not fail the call.
func (s *fileStore) maybeCompact() {
	s.mu.Lock()
	need := s.needsCompaction()
	s.mu.Unlock()
	if !need {
		return
	}
	if err := s.MemoryStore.Compact(s.rewrite); err != nil {
		s.mu.Lock()
		s.retryAt = s.size + s.minGarbage
		s.mu.Unlock()
	}
}

// rewrite replaces the journal with the lines of state; the MemoryStore
// calls it under its lock, so nothing is appended meanwhile.
func (s *fileStore) rewrite(state iter.Seq[lrsserver.Change]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.needsCompaction() {
		return nil // another call rewrote it first
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, compactPattern(s.path))
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	var live liveBytes
	var size int64
	w := bufio.NewWriterSize(tmp, 1<<20)
	for c := range state {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
		size += int64(len(b) + 1)
		live.account(c, int64(len(b)+1))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	done = true
	// From here on the journal is the new file, whose handle is tmp.
	old := s.f
	s.f, s.size, s.live, s.retryAt = tmp, size, live, 0
	_ = old.Close()
	if err := fsync.Dir(dir); err != nil {
		// The rename may not survive a crash: the old journal would come
		// back without what is appended from now on. Refuse changes.
		s.broken = fmt.Errorf("launch store: the journal was rewritten but its directory could not be synced (%v); restart the host", err)
		return s.broken
	}
	return nil
}

// Close closes the journal.
func (s *fileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
