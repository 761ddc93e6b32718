package queue

import (
	"os"
	"sync"
)

// fileCache is a Store's descriptor budget. Every file of every queue
// (segments and ack logs) is a handle; a handle's descriptor is opened when
// a queue uses the file and stays open afterwards among the most recently
// used ones. When more than limit descriptors are open, the least recently
// used idle ones are closed. A descriptor in use (a write, fsync or read in
// progress) is never closed, so the number open may pass the limit by the
// number of files in use at one moment.
//
// A segment's writes and the fdatasync that makes them durable happen
// within one use of its handle, so a descriptor is never closed between a
// write and its fsync and the fsync sees every write error.
type fileCache struct {
	mu    sync.Mutex
	limit int
	open  int    // descriptors open, in use or idle
	idle  handle // sentinel of the list of idle open handles, least recently used first
}

// handle is one queue file under a fileCache. Its fields are guarded by
// fileCache.mu.
type handle struct {
	path       string
	flag       int
	f          *os.File
	refs       int
	gone       bool    // dropped: closed when the last user lets go
	prev, next *handle // in fileCache.idle while open and unused
}

func newFileCache(limit int) *fileCache {
	c := &fileCache{limit: limit}
	c.idle.prev, c.idle.next = &c.idle, &c.idle
	return c
}

// handle returns a handle for the file at path, opened with flag when
// used. Nothing is opened yet.
func (c *fileCache) handle(path string, flag int) *handle {
	return &handle{path: path, flag: flag}
}

// adopt returns a handle for f, already open (a file just created), idle.
func (c *fileCache) adopt(f *os.File, flag int) *handle {
	h := &handle{path: f.Name(), flag: flag, f: f}
	c.mu.Lock()
	c.open++
	c.pushIdle(h)
	c.evict()
	c.mu.Unlock()
	return h
}

// get opens h if needed and returns its file, which stays open until the
// matching put. It returns ErrClosed once h is dropped.
func (c *fileCache) get(h *handle) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.gone {
		return nil, ErrClosed
	}
	if h.f == nil {
		f, err := os.OpenFile(h.path, h.flag, 0o600)
		if err != nil {
			return nil, err
		}
		h.f = f
		c.open++
	} else if h.refs == 0 {
		c.unlink(h)
	}
	h.refs++
	c.evict()
	return h.f, nil
}

// put ends a use of h begun by get.
func (c *fileCache) put(h *handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if h.gone {
		c.closeLocked(h)
		return
	}
	c.pushIdle(h)
	c.evict()
}

// drop retires h: its descriptor is closed now, or when its last user
// lets go. It returns the error of closing it now.
func (c *fileCache) drop(h *handle) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.gone {
		return nil
	}
	h.gone = true
	if h.refs > 0 || h.f == nil {
		return nil
	}
	c.unlink(h)
	return c.closeLocked(h)
}

// stats returns the number of descriptors open.
func (c *fileCache) stats() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

func (c *fileCache) closeLocked(h *handle) error {
	err := h.f.Close()
	h.f = nil
	c.open--
	return err
}

// evict closes idle descriptors, least recently used first, while more
// than limit are open.
func (c *fileCache) evict() {
	for c.open > c.limit && c.idle.next != &c.idle {
		h := c.idle.next
		c.unlink(h)
		c.closeLocked(h) // an idle descriptor has no unsynced writes; a close error changes nothing
	}
}

func (c *fileCache) pushIdle(h *handle) {
	h.prev, h.next = c.idle.prev, &c.idle
	c.idle.prev.next = h
	c.idle.prev = h
}

func (c *fileCache) unlink(h *handle) {
	if h.prev == nil {
		return
	}
	h.prev.next = h.next
	h.next.prev = h.prev
	h.prev, h.next = nil, nil
}
