package queue

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

// segment is one segment file of a queue.
type segment struct {
	first uint64  // sequence number of its first record, also in its name
	end   uint64  // sequence number after its last record
	size  int64   // bytes of its header and records
	h     *handle // its file, opened through the store's fileCache when used

	// alloc is the length of the file: size, then zeros written ahead of
	// the records to come (see prefill). Only the commit that has the
	// queue's turn, or the queue's recovery or shutdown, uses it.
	alloc int64
}

func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// recMeta locates a record that still holds unacknowledged items.
type recMeta struct {
	first    uint64
	count    int
	seg      *segment
	off      int64
	length   int
	appended int64
	size     int64   // sum of item sizes
	sizes    []int64 // per item when count > 1
}

func (r *recMeta) itemSize(seq uint64) int64 {
	if r.sizes == nil {
		return r.size
	}
	return r.sizes[seq-r.first]
}

// fileQueue is the file-backed Queue.
//
// Appends are committed in groups (see commit.go): the records of
// concurrent Append calls are gathered in one buffer and written with one
// write and one fdatasync by one of the callers, the group's leader.
// Groups commit one after the other, in order.
//
// A queue whose directory does not exist yet holds no file: the directory,
// its meta.json and the first segment are created by the first commit.
// Files are opened through the store's fileCache only while used, so an
// idle queue holds no descriptor.
//
// Lock order: Store.mu, fileQueue.rmMu, fileQueue.mu, fileCache.mu,
// Store.quotaMu.
type fileQueue struct {
	s    *Store
	key  Key
	dir  string
	name string // directory name, for errors
	pol  SyncPolicy

	mu        sync.Mutex
	closed    bool
	err       error // sticky failure of a write that could not be undone, or of fsync
	created   bool  // the directory exists
	nextSeq   uint64
	durable   uint64 // sequence numbers below it are durable and may be handed out
	segs      []*segment
	recs      []recMeta // records holding sequence numbers >= cursor, in order
	cursor    uint64    // lowest unacknowledged sequence number
	acked     map[uint64]struct{}
	inflight  map[uint64]struct{}
	released  []uint64 // sorted, all below fresh
	fresh     uint64   // lowest sequence number not handed out since open
	pendingN  int
	pendingB  int64
	notify    chan struct{} // closed by wake; nil while nobody waits
	ack       *ackLog
	ackedDisk uint64 // cursor last written to the ack log

	cur      *group // the group new records join; nil when none is open
	last     *group // the latest group, which commits after all others
	flushing bool   // a group is being committed or its leader has its turn

	// arriving counts SyncGroup producers between entering Append and
	// joining a group, so that a leader knows whether waiting can gather
	// more.
	arriving atomic.Int32

	// syncRecovered makes what recovery found in the last segment durable
	// (a killed process may have left it in the page cache only), once,
	// before any of it is handed out or anything is written after it; nil
	// when there is nothing to sync. recoveredEnd is the sequence number
	// after the recovered records.
	syncRecovered func() error
	recoveredEnd  uint64

	// beforeSync, when set (by tests), runs before every fdatasync of a
	// segment.
	beforeSync func()
	// beforeRemove, when set (by tests), runs before retired segments
	// are deleted.
	beforeRemove func()
	// beforeRead, when set (by tests), runs before Next reads records
	// from a segment.
	beforeRead func()

	// retired are segments wholly behind the cursor, in order, that
	// removeAcked deletes; rmMu serializes removeAcked. Lock order: rmMu,
	// then mu.
	retired []*segment
	rmMu    sync.Mutex

	// quotaBytes is guarded by Store.quotaMu.
	quotaBytes int64

	// lastRead is the record of many items Next read last, checked, while
	// some of its items are still to be handed out: the next batch reads
	// them from it instead of reading and checking the whole record again
	// (a Record call of a thousand statements is one record, delivered
	// in batches of a hundred). It is dropped when its last item is handed
	// out and when statements are released (a delivery that does not go
	// on), so an idle or stalled queue keeps no record in memory.
	lastRead atomic.Pointer[readRecord]
}

// readRecord is a record read and checked by Next.
type readRecord struct {
	rec  recMeta
	b    []byte // the record; entries handed out alias it
	head recordHead
	offs []int32 // where each item starts in the record's body
}

var _ Queue = (*fileQueue)(nil)

// newFileQueue returns the queue of k, which keeps its files in dir, with
// no records.
func newFileQueue(s *Store, k Key, dir, name string) *fileQueue {
	return &fileQueue{
		s: s, key: k, dir: dir, name: name, pol: s.opts.Sync,
		nextSeq: 1, durable: 1, cursor: 1, fresh: 1, ackedDisk: 1,
		ack: newAckLog(dir, s.files, s.opts.Sync != SyncNone),
	}
}

// openFileQueue opens the queue of k from its existing directory and
// recovers its state from its files.
func openFileQueue(s *Store, k Key, dir, name string) (*fileQueue, error) {
	q := newFileQueue(s, k, dir, name)
	q.created = true
	cursor, err := q.ack.load()
	if err != nil {
		return nil, err
	}
	if err := q.recover(max(cursor, 1)); err != nil {
		q.dropFiles()
		return nil, err
	}
	q.ackedDisk = max(cursor, 1)
	s.account(q, q.pendingB)
	return q, nil
}

// dropFiles lets go of every file of the queue.
func (q *fileQueue) dropFiles() error {
	var err error
	for _, seg := range q.segs {
		if e := q.s.files.drop(seg.h); err == nil {
			err = e
		}
	}
	return err
}

func (q *fileQueue) tail() *segment {
	if len(q.segs) == 0 {
		return nil
	}
	return q.segs[len(q.segs)-1]
}

func (q *fileQueue) corrupt(seg string, off int64, reason string) error {
	return &CorruptError{File: filepath.Join(q.name, seg), Offset: off, Reason: reason}
}

// recover rebuilds the queue's state from its files, given the persisted
// ack cursor. It fsyncs only a last segment that holds unacknowledged
// records, and creates no file: an idle queue costs no write at start.
func (q *fileQueue) recover(cursor uint64) error {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return err
	}
	var firsts []uint64
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(n, 10, 64)
		if err != nil || len(n) != 20 || v == 0 {
			return q.corrupt(e.Name(), 0, "unexpected segment file name")
		}
		firsts = append(firsts, v)
	}
	slices.Sort(firsts)
	if len(firsts) > 0 {
		cursor = max(cursor, firsts[0])
	}
	var end uint64
	for i, first := range firsts {
		last := i == len(firsts)-1
		seg, err := q.scanSegment(first, last, cursor)
		if err != nil {
			return err
		}
		if i > 0 && first != end && first > cursor {
			return q.corrupt(segName(first), 0, fmt.Sprintf("sequence gap: previous segment ends before %d", end))
		}
		end = seg.end
		q.segs = append(q.segs, seg)
	}
	q.cursor = cursor
	q.fresh = cursor
	q.nextSeq = max(end, cursor)

	// Delete segments holding only acknowledged records, but the last.
	removed := false
	for len(q.segs) > 1 && q.segs[0].end <= cursor {
		q.s.files.drop(q.segs[0].h)
		if err := os.Remove(filepath.Join(q.dir, segName(q.segs[0].first))); err != nil {
			return err
		}
		q.segs = q.segs[1:]
		removed = true
	}
	if removed && q.pol != SyncNone {
		if err := fsync.Dir(q.dir); err != nil {
			return err
		}
	}
	q.durable = q.nextSeq
	if t := q.tail(); t != nil && t.end > cursor && q.pol != SyncNone {
		// What a killed process wrote may be in the page cache only: it is
		// made durable before it is handed out (by the first Next) or
		// written after (by the first commit), not here, so that opening
		// many queues costs no fsync.
		q.durable, q.recoveredEnd = cursor, q.nextSeq
		q.syncRecovered = sync.OnceValue(func() error {
			f, err := q.s.files.get(t.h)
			if err != nil {
				return err
			}
			defer q.s.files.put(t.h)
			if err := datasync(f); err != nil {
				return fmt.Errorf("sync recovered segment of queue %s: %w", q.name, err)
			}
			return nil
		})
	}
	for i := range q.recs {
		r := &q.recs[i]
		for s := max(r.first, cursor); s < r.first+uint64(r.count); s++ {
			q.pendingN++
			q.pendingB += r.itemSize(s)
		}
	}
	return nil
}

// scanSegment reads and checks one segment file, appending its records at
// or after cursor to q.recs. A torn tail of the last segment is cut off.
func (q *fileQueue) scanSegment(first uint64, last bool, cursor uint64) (*segment, error) {
	name := segName(first)
	path := filepath.Join(q.dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	seg := &segment{first: first, end: first, h: q.s.files.handle(path, os.O_RDWR)}
	hf, ok := parseSegHeader(b)
	if !ok || hf != first {
		// A crash while the segment was created can leave it without a
		// full header; it then holds no record.
		if last && len(b) <= segHeaderLen {
			q.s.log.Warn("queue: rewriting torn segment header", "queue", q.name, "segment", name)
			if err := os.WriteFile(path, segHeader(first), 0o600); err != nil {
				return nil, err
			}
			seg.size, seg.alloc = segHeaderLen, segHeaderLen
			return seg, nil
		}
		return nil, q.corrupt(name, 0, "bad segment header")
	}
	off := segHeaderLen
	alloc := len(b)
	for off < len(b) {
		if zeros(b[off:]) {
			// The zeros written ahead of the records (see prefill): the
			// end of the records, in any segment. A record lost from the
			// end of an older segment still shows as a sequence gap.
			break
		}
		h, err := checkRecord(b[off:])
		if err == nil && h.first != seg.end {
			err = fmt.Errorf("sequence %d where %d was expected", h.first, seg.end)
		} else if err == nil {
			r := recMeta{first: h.first, count: h.count, seg: seg, off: int64(off), length: h.length, appended: h.appended}
			sizes := itemSizes(b[off:], h)
			for _, z := range sizes {
				r.size += z
			}
			if h.count > 1 {
				r.sizes = sizes
			}
			if h.first+uint64(h.count) > cursor {
				q.recs = append(q.recs, r)
			}
			seg.end += uint64(h.count)
			off += h.length
			continue
		}
		if last && !validRecordAfter(b, off) {
			q.s.log.Warn("queue: cutting torn tail", "queue", q.name, "segment", name,
				"offset", off, "bytes", len(b)-off, "reason", err.Error())
			if err := os.Truncate(path, int64(off)); err != nil {
				return nil, err
			}
			alloc = off
			break
		}
		return nil, q.corrupt(name, int64(off), err.Error())
	}
	seg.size = int64(min(off, len(b)))
	seg.alloc = int64(max(alloc, off))
	return seg, nil
}

// zeros reports whether b holds only zero bytes.
func zeros(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// validRecordAfter reports whether a well-formed record starts anywhere in
// b after off: if one does, the damage at off is not a torn tail.
func validRecordAfter(b []byte, off int) bool {
	for _, magic := range []uint32{recordMagic, recordMagicExtended} {
		var m [4]byte
		binary.LittleEndian.PutUint32(m[:], magic)
		for p := off + 1; p < len(b); {
			i := bytes.Index(b[p:], m[:])
			if i < 0 {
				break
			}
			if _, err := checkRecord(b[p+i:]); err == nil {
				return true
			}
			p += i + 1
		}
	}
	return false
}

// newSegment creates the segment whose first record will be first. Its
// name is durable before it is used. It does not add it to q.segs.
func (q *fileQueue) newSegment(first uint64) (*segment, error) {
	path := filepath.Join(q.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	_, err = f.Write(segHeader(first))
	if err == nil && q.pol != SyncNone {
		err = datasync(f)
		if err == nil {
			err = fsync.Dir(q.dir)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("create segment: %w", err)
	}
	return &segment{first: first, end: first, size: segHeaderLen, alloc: segHeaderLen, h: q.s.files.adopt(f, os.O_RDWR)}, nil
}

// wake tells blocked Next calls to look again. Called with q.mu held.
func (q *fileQueue) wake() {
	if q.notify != nil {
		close(q.notify)
		q.notify = nil
	}
}
