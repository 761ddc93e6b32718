package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// DeadLetter is a statement that could not be delivered to a sink instance
// and was set aside with the reason.
type DeadLetter struct {
	// ID identifies the dead letter (not the statement).
	ID string `json:"id"`
	// Org is the organization.
	Org string `json:"org"`
	// Sink is the integration id the statement was for.
	Sink string `json:"sink"`
	// StatementID is the statement's id.
	StatementID string `json:"statement_id"`
	// Class is why it was set aside: "rejected" (the sink refused it
	// permanently) or "expired" (it kept failing for longer than
	// delivery.max_age).
	Class string `json:"class"`
	// Reason is the sink's message, for example the LRS's answer.
	Reason string `json:"reason"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
	// Recorded is when the statement was recorded.
	Recorded time.Time `json:"recorded"`
	// Statement is the statement's canonical JSON.
	Statement json.RawMessage `json:"statement"`
}

// Dead-letter classes.
const (
	DeadLetterRejected = "rejected"
	DeadLetterExpired  = "expired"
)

// DeadLetterFilter selects dead letters. Zero fields match everything.
type DeadLetterFilter struct {
	// Sink selects one integration.
	Sink string
	// IDs selects dead letters by id.
	IDs []string
	// Limit caps the number returned (newest last). Zero means no cap.
	Limit int
}

func (f DeadLetterFilter) match(d *DeadLetter) bool {
	if f.Sink != "" && d.Sink != f.Sink {
		return false
	}
	if len(f.IDs) > 0 {
		for _, id := range f.IDs {
			if id == d.ID {
				return true
			}
		}
		return false
	}
	return true
}

// deadLetters stores dead letters per organization in an append-only NDJSON
// file, fsynced before the statement leaves its queue. Removal (replay,
// purge) rewrites the file atomically.
type deadLetters struct {
	dir string
	mu  sync.Mutex // serialises writers per store; dead letters are rare
	// counted holds the number of dead letters per organization and
	// integration, read from the file on first use and kept up to date by
	// add and remove, so that status does not read the file each time.
	counted map[string]map[string]int
}

func (d *deadLetters) file(org string) string {
	return filepath.Join(d.dir, org+".ndjson")
}

// add appends dead letters for org durably.
func (d *deadLetters) add(org string, list []DeadLetter) error {
	if len(list) == 0 {
		return nil
	}
	for i := range list {
		if list[i].ID == "" {
			list[i].ID = xapi.NewUUID()
		}
	}
	data, err := encodeDeadLetters(list)
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
	// merge into it (list skips the torn line and keeps them).
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

// encodeDeadLetters returns list as NDJSON.
func encodeDeadLetters(list []DeadLetter) ([]byte, error) {
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

// list returns the dead letters of org matching f, oldest first. A torn
// last line (a crash during add) is skipped.
func (d *deadLetters) list(org string, f DeadLetterFilter) ([]DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.readLocked(org)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
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

func (d *deadLetters) readLocked(org string) ([]DeadLetter, error) {
	data, err := os.ReadFile(d.file(org))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	var out []DeadLetter
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var dl DeadLetter
		if err := json.Unmarshal(line, &dl); err != nil {
			continue // torn tail of an interrupted append
		}
		out = append(out, dl)
	}
	return out, sc.Err()
}

// remove deletes the dead letters of org matching f and returns them.
func (d *deadLetters) remove(org string, f DeadLetterFilter) ([]DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	all, err := d.readLocked(org)
	if err != nil {
		return nil, err
	}
	var keep, removed []DeadLetter
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
	data, err := encodeDeadLetters(keep)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(d.file(org), data, 0o600); err != nil {
		return nil, fmt.Errorf("rewrite dead letters of %s: %w", org, err)
	}
	if c := d.counted[org]; c != nil {
		for _, dl := range removed {
			c[dl.Sink]--
		}
	}
	return removed, nil
}

// counts returns the number of dead letters per sink of org.
func (d *deadLetters) counts(org string) map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.counted[org]
	if c == nil {
		all, err := d.readLocked(org)
		if err != nil {
			return nil
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
	return maps.Clone(c)
}
