// Package deadletter keeps statements that could not be delivered, with the
// reason, per organization: an append-only NDJSON file per organization,
// fsynced before the statement leaves its queue. Removal (replay, purge)
// rewrites the file atomically.
package deadletter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// Letter is a statement set aside with the reason. Its fields are those of
// the host's public DeadLetter, so that the two convert into each other.
type Letter struct {
	ID          string          `json:"id"`
	Org         string          `json:"org"`
	Sink        string          `json:"sink"`
	StatementID string          `json:"statement_id"`
	Class       string          `json:"class"`
	Reason      string          `json:"reason"`
	Time        time.Time       `json:"time"`
	Recorded    time.Time       `json:"recorded"`
	Statement   json.RawMessage `json:"statement"`
}

// Classes of dead letters.
const (
	ClassRejected = "rejected"
	ClassExpired  = "expired"
	ClassRemoved  = "removed"
)

// Filter selects dead letters. Zero fields match everything. Its fields
// are those of the host's public DeadLetterFilter.
type Filter struct {
	Sink  string
	IDs   []string
	Limit int
}

func (f Filter) match(d *Letter) bool {
	if f.Sink != "" && d.Sink != f.Sink {
		return false
	}
	return len(f.IDs) == 0 || slices.Contains(f.IDs, d.ID)
}

// Dir is the file-backed store. It is safe for concurrent use; writers
// are serialized (dead letters are rare).
type Dir struct {
	dir string
	mu  sync.Mutex
	// counted holds the number of dead letters per organization and
	// integration, read from the file on first use and kept up to date by
	// Add and Remove, so that status does not read the file each time.
	counted map[string]map[string]int
}

// New returns a store under dir; the directory is created on first Add.
func New(dir string) *Dir { return &Dir{dir: dir} }

func (d *Dir) file(org string) string {
	return filepath.Join(d.dir, org+".ndjson")
}

// Add appends dead letters of org durably, giving each an id when it has
// none. When it returns nil they survive a crash.
func (d *Dir) Add(_ context.Context, org string, list []Letter) error {
	if len(list) == 0 {
		return nil
	}
	for i := range list {
		if list[i].ID == "" {
			list[i].ID = xapi.NewUUID()
		}
	}
	data, err := encode(list)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(d.file(org), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open dead letters of %s: %w", org, err)
	}
	// A crash during an earlier append can leave a last line without its
	// newline; start on a new line so that the new dead letters do not
	// merge into it (List skips the torn line and keeps them).
	if torn, err := endsTorn(f); err != nil {
		f.Close()
		return fmt.Errorf("read dead letters of %s: %w", org, err)
	} else if torn {
		data = append([]byte{'\n'}, data...)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write dead letters of %s: %w", org, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync dead letters of %s: %w", org, err)
	}
	if c := d.counted[org]; c != nil {
		for _, dl := range list {
			c[dl.Sink]++
		}
	}
	return f.Close()
}

func encode(list []Letter) ([]byte, error) {
	var buf bytes.Buffer
	for i := range list {
		line, err := json.Marshal(&list[i])
		if err != nil {
			return nil, fmt.Errorf("encode dead letter: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// endsTorn reports whether f is not empty and does not end with a newline.
func endsTorn(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// List returns the dead letters of org matching f, oldest first; with a
// Limit, the newest Limit of them. A torn last line (a crash during Add) is
// skipped.
func (d *Dir) List(_ context.Context, org string, f Filter) ([]Letter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.readLocked(org)
	if err != nil {
		return nil, err
	}
	var out []Letter
	for i := range all {
		if f.match(&all[i]) {
			out = append(out, all[i])
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

func (d *Dir) readLocked(org string) ([]Letter, error) {
	data, err := os.ReadFile(d.file(org))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	var out []Letter
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var dl Letter
		if err := json.Unmarshal(line, &dl); err != nil {
			continue // torn tail of an interrupted append
		}
		out = append(out, dl)
	}
	return out, sc.Err()
}

// Remove deletes the dead letters of org matching f durably and returns
// them.
func (d *Dir) Remove(_ context.Context, org string, f Filter) ([]Letter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.readLocked(org)
	if err != nil {
		return nil, err
	}
	var keep, removed []Letter
	for i := range all {
		if f.match(&all[i]) {
			removed = append(removed, all[i])
		} else {
			keep = append(keep, all[i])
		}
	}
	if len(removed) == 0 {
		return nil, nil
	}
	data, err := encode(keep)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(d.file(org), data, 0o600); err != nil {
		return nil, fmt.Errorf("rewrite dead letters of %s: %w", org, err)
	}
	if c := d.counted[org]; c != nil {
		for _, dl := range removed {
			c[dl.Sink]--
		}
	}
	return removed, nil
}

// Counts returns the number of dead letters of org per integration.
func (d *Dir) Counts(_ context.Context, org string) (map[string]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counted[org]
	if c == nil {
		all, err := d.readLocked(org)
		if err != nil {
			return nil, err
		}
		c = map[string]int{}
		for _, dl := range all {
			c[dl.Sink]++
		}
		if d.counted == nil {
			d.counted = map[string]map[string]int{}
		}
		d.counted[org] = c
	}
	return maps.Clone(c), nil
}
