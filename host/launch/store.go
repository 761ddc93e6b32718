package launch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/learningflow/lrsbridge/sdk/lrsserver"
)

// fileStore is an lrsserver.MemoryStore made durable by a journal file:
// every change is appended as one JSON line and synced before it is
// applied; opening replays the file. A torn last line (a crash during a
// write) is dropped.
type fileStore struct {
	*lrsserver.MemoryStore
	mu   sync.Mutex
	f    *os.File
	sync bool
}

// openFileStore opens or creates the journal at path.
func openFileStore(path string, syncWrites bool) (*fileStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("launch store: %w", err)
	}
	s := &fileStore{sync: syncWrites}
	s.MemoryStore = lrsserver.NewMemoryStore(s.append)
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
	s.f = f
	return s, nil
}

// append writes one change; the MemoryStore calls it under its lock.
func (s *fileStore) append(c lrsserver.Change) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("launch store is closed")
	}
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("launch store: %w", err)
	}
	if s.sync {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("launch store: %w", err)
		}
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
