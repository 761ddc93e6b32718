// Package deadletter keeps statements that could not be delivered, with the
// reason, per organization: an append-only NDJSON file per organization
// (named by the organization id escaped like the queue directories),
// fsynced before the statement leaves its queue.
//
// Removal never holds an organization's dead letters in memory: Replay
// hands them out in chunks and, once a chunk is safe elsewhere, appends a
// durable removal line naming its ids (so a crash at any point loses
// nothing and at worst replays a chunk twice); Remove and the end of a
// Replay rewrite the file atomically without the removed letters,
// streaming it.
package deadletter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/atomicfile"
	"github.com/learningflow/lrsbridge/host/internal/filename"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/internal/fsync"
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

// entryNamespace is the UUID namespace of EntryID.
const entryNamespace = "8d9e9ac2-4d2f-42d7-970e-30c1bc74362c"

// EntryID returns the id of the dead letter made of the queue entry seq of
// org's integration sink, holding the statement statementID and appended
// at appended: a name-based UUID, the same wherever and however often it
// is made. An entry that two instances dead-letter (the second after
// taking the integration over from the first, which died before
// acknowledging it) thus gets one id, and a store that deduplicates by id
// keeps it once; a statement queued again (a replay) is a new entry, and a
// new dead letter if refused again. The time the entry was appended tells
// apart entries of a queue removed and created again, whose sequence
// numbers start over: the same statement refused at the same position of
// the new queue is another dead letter, with an id of its own.
func EntryID(org, sink string, seq uint64, statementID string, appended time.Time) string {
	name := org + "\x00" + sink + "\x00" + strconv.FormatUint(seq, 10) + "\x00" + statementID +
		"\x00" + strconv.FormatInt(appended.UnixNano(), 10)
	id, err := xapi.UUIDv5(entryNamespace, name)
	if err != nil {
		panic("deadletter: " + err.Error()) // the namespace is a valid UUID
	}
	return id
}

// FromEntry returns the dead letter of queue entry e of org's integration
// sink, set aside at now for class and reason. Its statement is e.Data,
// not a copy.
func FromEntry(org, sink string, e queue.Entry, class, reason string, now time.Time) Letter {
	return Letter{
		ID:  EntryID(org, sink, e.Seq, e.ID, e.Appended),
		Org: org, Sink: sink, StatementID: e.ID, Class: class, Reason: reason,
		Time: now, Recorded: e.Appended.UTC(), Statement: e.Data,
	}
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

// goneLine starts a removal line: {"gone":["id",...]}. Letter lines start
// with {"id": (the first field of Letter).
var goneLine = []byte(`{"gone":`)

type gone struct {
	Gone []string `json:"gone"`
}

// ext is the extension of dead-letter files.
const ext = ".ndjson"

// Dir is the file-backed store. It is safe for concurrent use.
type Dir struct {
	dir string
	// rm lets one removal (Replay, Remove, Archive) run at a time per
	// store; it is taken before mu.
	rm sync.Mutex
	// mu serializes appends (Add, removal lines) and the swap of a
	// rewritten file; readers need no lock (they read one open file).
	mu sync.Mutex
	// orgs holds what Add and status need to know of an organization's
	// file, read from it on first use and kept up to date by Add and
	// removals, so that neither reads the file each time.
	orgs map[string]*orgState
	// Window is how many of an integration's last dead letters Add
	// recognises: DefaultWindow unless set before the first Add.
	Window int
}

// DefaultWindow is Dir.Window's default: the most entries a delivery
// worker or a drain hands to Add at once, times a few.
const DefaultWindow = 1000

// New returns a store under dir; the directory is created on first Add.
func New(dir string) *Dir { return &Dir{dir: dir, Window: DefaultWindow} }

// idKey identifies a dead letter's id in recentIDs: the first 16 bytes of
// its SHA-256, so that every id takes the same small room.
type idKey [16]byte

func keyOf(id string) idKey {
	sum := sha256.Sum256([]byte(id))
	return idKey(sum[:16])
}

// recentIDs holds the keys of an integration's last dead letters, at most
// a window of them, the oldest replaced first. A removed letter's key is
// zeroed, which no id's key is.
type recentIDs struct {
	keys []idKey
	next int
}

func (r *recentIDs) has(k idKey) bool { return slices.Contains(r.keys, k) }

func (r *recentIDs) push(k idKey, window int) {
	if len(r.keys) < window {
		r.keys = append(r.keys, k)
		return
	}
	r.keys[r.next] = k
	r.next = (r.next + 1) % len(r.keys)
}

func (r *recentIDs) drop(k idKey) {
	if i := slices.Index(r.keys, k); i >= 0 {
		r.keys[i] = idKey{}
	}
}

// orgState is what Dir keeps in memory of one organization's dead
// letters, per integration: how many there are, for status, and the ids of
// the last Window, for Add (a crash can have left those unacknowledged in
// their queue).
type orgState struct {
	counts map[string]int
	recent map[string]*recentIDs
}

// stateOf returns org's state, reading the file the first time. d.mu is
// held.
func (d *Dir) stateOf(org string) (*orgState, error) {
	if st := d.orgs[org]; st != nil {
		return st, nil
	}
	st := &orgState{counts: map[string]int{}, recent: map[string]*recentIDs{}}
	s, err := d.open(org)
	if err != nil {
		return nil, err
	}
	if s != nil {
		err = s.letters(func(l *Letter, _ []byte) error {
			st.added(l, d.Window)
			return nil
		})
		s.Close()
		if err != nil {
			return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
		}
	}
	if d.orgs == nil {
		d.orgs = map[string]*orgState{}
	}
	d.orgs[org] = st
	return st, nil
}

// added notes a letter stored.
func (st *orgState) added(l *Letter, window int) {
	st.counts[l.Sink]++
	r := st.recent[l.Sink]
	if r == nil {
		r = &recentIDs{}
		st.recent[l.Sink] = r
	}
	r.push(keyOf(l.ID), window)
}

// isRecent reports whether l's id is among its integration's last letters.
func (st *orgState) isRecent(l *Letter) bool {
	r := st.recent[l.Sink]
	return r != nil && r.has(keyOf(l.ID))
}

// forget takes removed letters out of org's state, if it is read, so that
// the same entry refused again is stored again. d.mu is held.
func (d *Dir) forget(org string, removed []Letter) {
	st := d.orgs[org]
	if st == nil {
		return
	}
	for i := range removed {
		st.counts[removed[i].Sink]--
		if r := st.recent[removed[i].Sink]; r != nil {
			r.drop(keyOf(removed[i].ID))
		}
	}
}

func (d *Dir) file(org string) string {
	return filepath.Join(d.dir, filename.Escape(org)+ext)
}

// Migrate renames the files of older versions, named by the raw
// organization id, to their escaped names (merging into a file that
// exists already), and deletes temporary files of interrupted rewrites.
// The host calls it once at start, before any other method.
func (d *Dir) Migrate() error {
	ents, err := os.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read dead letters: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") {
			_ = os.Remove(filepath.Join(d.dir, name)) // an interrupted rewrite
			continue
		}
		org, ok := strings.CutSuffix(name, ext)
		if !ok || e.IsDir() || filepath.Join(d.dir, name) == d.file(org) {
			continue
		}
		if err := d.merge(filepath.Join(d.dir, name), d.file(org)); err != nil {
			return fmt.Errorf("rename the dead letters of %s: %w", org, err)
		}
	}
	return nil
}

// merge moves the file from to the file to, appending when to exists.
func (d *Dir) merge(from, to string) error {
	if _, err := os.Stat(to); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(from, to); err != nil {
			return err
		}
		return fsync.Dir(d.dir)
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := appendSync(to, data); err != nil {
		return err
	}
	return os.Remove(from)
}

// Add appends dead letters of org durably, giving each an id when it has
// none. When it returns nil they survive a crash.
//
// A letter whose id is among its integration's last Window dead letters is
// not stored again: the host makes a letter's id from its queue entry, and
// an entry refused again because a crash (or a stopped worker) came
// between storing its dead letter and acknowledging it has the same id.
// Ids further back are not remembered, so that memory stays bounded by
// Window per integration whatever the number of dead letters.
func (d *Dir) Add(_ context.Context, org string, list []Letter) error {
	if len(list) == 0 {
		return nil
	}
	for i := range list {
		if list[i].ID == "" {
			list[i].ID = xapi.NewUUID()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.stateOf(org)
	if err != nil {
		return err
	}
	fresh := make([]Letter, 0, len(list))
	for _, dl := range list {
		if st.isRecent(&dl) || slices.ContainsFunc(fresh, func(f Letter) bool { return f.ID == dl.ID }) {
			continue
		}
		fresh = append(fresh, dl)
	}
	if len(fresh) == 0 {
		return nil
	}
	data, err := encode(fresh)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	if err := appendSync(d.file(org), data); err != nil {
		return fmt.Errorf("write dead letters of %s: %w", org, err)
	}
	for i := range fresh {
		st.added(&fresh[i], d.Window)
	}
	return nil
}

// appendSync appends data to the file at path and fsyncs it. A crash
// during an earlier append can leave a last line without its newline; the
// new lines start on a line of their own so that they do not merge into it
// (readers skip the torn line and keep them).
func appendSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if torn, err := endsTorn(f); err != nil {
		f.Close()
		return err
	} else if torn {
		data = append([]byte{'\n'}, data...)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
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

// snapshot is one open dead-letter file, read up to the size it had when
// opened, with the ids its removal lines name.
type snapshot struct {
	f    *os.File
	size int64
	gone map[string]bool
}

// open returns a snapshot of org's file, or nil when there is none. The
// caller closes it.
func (d *Dir) open(org string) (*snapshot, error) {
	f, err := os.Open(d.file(org))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	s := &snapshot{f: f, size: st.Size(), gone: map[string]bool{}}
	err = s.lines(func(line []byte) error {
		if bytes.HasPrefix(line, goneLine) {
			var g gone
			if json.Unmarshal(line, &g) == nil { // else a torn removal line: its ids stay
				for _, id := range g.Gone {
					s.gone[id] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	return s, nil
}

func (s *snapshot) Close() error { return s.f.Close() }

// lines calls fn with every non-empty line, in order.
func (s *snapshot) lines(fn func(line []byte) error) error {
	sc := bufio.NewScanner(io.NewSectionReader(s.f, 0, s.size))
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	return sc.Err()
}

// letters calls fn with every dead letter that is not removed, oldest
// first, and its line. A torn line (a crash during Add) is skipped.
func (s *snapshot) letters(fn func(l *Letter, line []byte) error) error {
	return s.lines(func(line []byte) error {
		if bytes.HasPrefix(line, goneLine) {
			return nil
		}
		var l Letter
		if json.Unmarshal(line, &l) != nil || s.gone[l.ID] {
			return nil
		}
		return fn(&l, line)
	})
}

// selector returns the predicate of f over s: with a Limit, only the
// newest Limit matches are selected.
func (s *snapshot) selector(f Filter) (func(*Letter) bool, error) {
	if f.Limit <= 0 {
		return f.match, nil
	}
	n := 0
	if err := s.letters(func(l *Letter, _ []byte) error {
		if f.match(l) {
			n++
		}
		return nil
	}); err != nil {
		return nil, err
	}
	skip := n - f.Limit
	return func(l *Letter) bool {
		if !f.match(l) {
			return false
		}
		skip--
		return skip < 0
	}, nil
}

// List returns the dead letters of org matching f, oldest first; with a
// Limit, the newest Limit of them.
func (d *Dir) List(_ context.Context, org string, f Filter) ([]Letter, error) {
	s, err := d.open(org)
	if s == nil || err != nil {
		return nil, err
	}
	defer s.Close()
	var out []Letter
	err = s.letters(func(l *Letter, _ []byte) error {
		if !f.match(l) {
			return nil
		}
		out = append(out, *l)
		if f.Limit > 0 && len(out) > 2*f.Limit {
			out = slices.Delete(out, 0, len(out)-f.Limit) // keep memory bounded
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// Chunk bounds the dead letters Replay hands out at once.
type Chunk struct {
	// Letters and Bytes bound a chunk by count and by the size of the
	// statements; a single letter larger than Bytes is a chunk of its own.
	Letters int
	Bytes   int
}

// Replay hands the dead letters of org matching f to put, oldest first, in
// chunks bounded by c, and removes durably the ones put reports as done
// (put returns their ids) before it reads the next chunk. Letters put does
// not report stay. It stops at the first error of put, after removing
// what put reported as done, and returns the number removed. Only one
// chunk is held in memory.
func (d *Dir) Replay(ctx context.Context, org string, f Filter, c Chunk, put func([]Letter) (done []string, err error)) (int, error) {
	d.rm.Lock()
	defer d.rm.Unlock()
	s, err := d.open(org)
	if s == nil || err != nil {
		return 0, err
	}
	sel, err := s.selector(f)
	if err != nil {
		s.Close()
		return 0, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	var chunk []Letter
	bytesIn, n := 0, 0
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		done, perr := put(chunk)
		if err := d.markGone(org, chunk, done); err != nil {
			return errors.Join(perr, err)
		}
		n += len(done)
		chunk, bytesIn = nil, 0
		return perr
	}
	err = s.letters(func(l *Letter, _ []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !sel(l) {
			return nil
		}
		if len(chunk) > 0 && (len(chunk) >= c.Letters || bytesIn+len(l.Statement) > c.Bytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		chunk = append(chunk, *l)
		bytesIn += len(l.Statement)
		return nil
	})
	if err == nil {
		err = flush()
	}
	s.Close()
	if n > 0 {
		// Drop the removed letters from the file; on failure the removal
		// lines keep them removed.
		if cerr := d.rewrite(org, func(*Letter) bool { return false }); cerr != nil && err == nil {
			err = cerr
		}
	}
	return n, err
}

// markGone appends a durable removal line for the letters of chunk whose
// ids are in done.
func (d *Dir) markGone(org string, chunk []Letter, done []string) error {
	if len(done) == 0 {
		return nil
	}
	line, err := json.Marshal(gone{Gone: done})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := appendSync(d.file(org), append(line, '\n')); err != nil {
		return fmt.Errorf("remove replayed dead letters of %s: %w", org, err)
	}
	ids := make(map[string]bool, len(done))
	for _, id := range done {
		ids[id] = true
	}
	var removed []Letter
	for i := range chunk {
		if ids[chunk[i].ID] {
			removed = append(removed, Letter{ID: chunk[i].ID, Sink: chunk[i].Sink})
		}
	}
	d.forget(org, removed)
	return nil
}

// Remove deletes the dead letters of org matching f durably and returns
// how many it deleted.
func (d *Dir) Remove(_ context.Context, org string, f Filter) (int, error) {
	d.rm.Lock()
	defer d.rm.Unlock()
	s, err := d.open(org)
	if s == nil || err != nil {
		return 0, err
	}
	sel, err := s.selector(f)
	s.Close()
	if err != nil {
		return 0, fmt.Errorf("read dead letters of %s: %w", org, err)
	}
	var removed []Letter
	err = d.rewrite(org, func(l *Letter) bool {
		if sel(l) {
			removed = append(removed, Letter{ID: l.ID, Sink: l.Sink})
			return true
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	d.forget(org, removed)
	d.mu.Unlock()
	return len(removed), nil
}

// rewrite replaces org's file, streaming, with its dead letters that are
// neither removed nor dropped by drop, oldest first. Appends wait for it.
func (d *Dir) rewrite(org string, drop func(*Letter) bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, err := d.open(org)
	if s == nil || err != nil {
		return err
	}
	defer s.Close()
	err = atomicfile.WriteFrom(d.file(org), 0o600, func(w io.Writer) error {
		return s.letters(func(l *Letter, line []byte) error {
			if drop(l) {
				return nil
			}
			if _, err := w.Write(line); err != nil {
				return err
			}
			_, err := w.Write([]byte{'\n'})
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("rewrite dead letters of %s: %w", org, err)
	}
	return nil
}

// Archive moves org's dead letters into the directory dir (created if
// needed) as deadletter.ndjson, so that a later organization with the
// same id starts without them. It reports whether there was a file to
// move.
func (d *Dir) Archive(_ context.Context, org, dir string) (bool, error) {
	d.rm.Lock()
	defer d.rm.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.orgs, org)
	if _, err := os.Stat(d.file(org)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("archive dead letters of %s: %w", org, err)
	}
	if err := os.Rename(d.file(org), filepath.Join(dir, "deadletter"+ext)); err != nil {
		return false, fmt.Errorf("archive dead letters of %s: %w", org, err)
	}
	if err := fsync.Dir(dir); err != nil {
		return true, err
	}
	return true, fsync.Dir(d.dir)
}

// Counts returns the number of dead letters of org per integration.
func (d *Dir) Counts(_ context.Context, org string) (map[string]int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, err := d.stateOf(org)
	if err != nil {
		return nil, err
	}
	return maps.Clone(st.counts), nil
}
