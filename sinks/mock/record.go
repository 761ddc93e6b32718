package mock

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/learningflow/lrsbridge/sdk"
)

// recorders shares one open recording per file between the instances of a
// process, so that batches of instances recording to the same file never
// interleave.
var recorders = struct {
	mu    sync.Mutex
	files map[string]*recorder
}{files: make(map[string]*recorder)}

// recorder appends batches to a recording file.
type recorder struct {
	key  string
	refs int // guarded by recorders.mu

	mu sync.Mutex
	f  *os.File
}

// openRecorder opens (or shares) the recording at path for appending.
func openRecorder(path string) (*recorder, error) {
	key := filepath.Clean(path)
	recorders.mu.Lock()
	defer recorders.mu.Unlock()
	if r, ok := recorders.files[key]; ok {
		r.refs++
		return r, nil
	}
	// Non-blocking, so that a FIFO put in place of the recording cannot
	// stall the plugin; only a regular file is written to.
	f, err := os.OpenFile(key, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, sdk.ErrSettingPath
	}
	r := &recorder{key: key, refs: 1, f: f}
	recorders.files[key] = r
	return r, nil
}

// write appends a batch of lines with one write, so that a reader sees
// whole batches (or a torn last line while the write is in progress).
func (r *recorder) write(lines []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.f.Write(lines)
	return err
}

// release drops a reference and closes the file with the last one.
func (r *recorder) release() error {
	recorders.mu.Lock()
	r.refs--
	last := r.refs == 0
	if last {
		delete(recorders.files, r.key)
	}
	recorders.mu.Unlock()
	if !last {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}
