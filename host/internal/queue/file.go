package queue

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// segment is one segment file of a queue.
type segment struct {
	first uint64   // sequence number of its first record, also in its name
	end   uint64   // sequence number after its last record
	size  int64    // bytes written
	f     *os.File // write handle of the last segment; nil for the others
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
// Lock order: Store.mu, fileQueue.mu, fileQueue.fmu, Store.quotaMu; readMu
// is taken alone or after fileQueue.mu.
type fileQueue struct {
	s    *Store
	key  Key
	dir  string
	name string // directory name, for errors
	pol  SyncPolicy

	mu        sync.Mutex
	cond      *sync.Cond // signalled when a sync ends
	closed    bool
	err       error // sticky failure of a write that could not be undone, or of fsync
	nextSeq   uint64
	durable   uint64 // sequence numbers below it are durable and may be handed out
	syncing   bool
	segs      []*segment // the last one is written to
	recs      []recMeta  // records holding sequence numbers >= cursor, in order
	cursor    uint64     // lowest unacknowledged sequence number
	acked     map[uint64]struct{}
	inflight  map[uint64]struct{}
	released  []uint64 // sorted, all below fresh
	fresh     uint64   // lowest sequence number not handed out since open
	pendingN  int
	pendingB  int64
	notify    chan struct{}
	ack       *ackLog
	ackedDisk uint64 // cursor last written to the ack log

	fmu sync.RWMutex // held for writing to close a segment's write handle, for reading to fsync it

	// quotaBytes is guarded by Store.quotaMu.
	quotaBytes int64

	readMu     sync.Mutex
	readSeg    *segment
	readF      *os.File
	readClosed bool
}

var _ Queue = (*fileQueue)(nil)

func openFileQueue(s *Store, k Key, dir, name string) (*fileQueue, error) {
	q := &fileQueue{
		s: s, key: k, dir: dir, name: name, pol: s.opts.Sync,
		acked: map[uint64]struct{}{}, inflight: map[uint64]struct{}{}, notify: make(chan struct{}),
	}
	q.cond = sync.NewCond(&q.mu)
	ack, cursor, err := openAckLog(dir, q.pol != SyncNone)
	if err != nil {
		return nil, err
	}
	q.ack = ack
	if err := q.recover(max(cursor, 1)); err != nil {
		ack.f.Close()
		if q.tail() != nil && q.tail().f != nil {
			q.tail().f.Close()
		}
		return nil, err
	}
	s.account(q, q.pendingB)
	return q, nil
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
// ack cursor.
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
		if err := os.Remove(filepath.Join(q.dir, segName(q.segs[0].first))); err != nil {
			return err
		}
		q.segs = q.segs[1:]
		removed = true
	}
	if removed && q.pol != SyncNone {
		if err := syncDir(q.dir); err != nil {
			return err
		}
	}
	if t := q.tail(); t != nil && t.end >= q.nextSeq {
		f, err := os.OpenFile(filepath.Join(q.dir, segName(t.first)), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		t.f = f
		// What a killed process wrote is in the page cache; make it
		// durable before handing it out.
		if q.pol != SyncNone {
			if err := datasync(f); err != nil {
				return err
			}
		}
	} else if err := q.newSegment(q.nextSeq); err != nil {
		return err
	}
	q.durable = q.nextSeq
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
	seg := &segment{first: first, end: first}
	hf, ok := parseSegHeader(b)
	if !ok || hf != first {
		// A crash while the segment was created can leave it without a
		// full header; it then holds no record.
		if last && len(b) <= segHeaderLen {
			q.s.log.Warn("queue: rewriting torn segment header", "queue", q.name, "segment", name)
			if err := os.WriteFile(path, segHeader(first), 0o600); err != nil {
				return nil, err
			}
			seg.size = segHeaderLen
			return seg, nil
		}
		return nil, q.corrupt(name, 0, "bad segment header")
	}
	off := segHeaderLen
	for off < len(b) {
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
			break
		}
		return nil, q.corrupt(name, int64(off), err.Error())
	}
	seg.size = int64(min(off, len(b)))
	return seg, nil
}

// validRecordAfter reports whether a well-formed record starts anywhere in
// b after off: if one does, the damage at off is not a torn tail.
func validRecordAfter(b []byte, off int) bool {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], recordMagic)
	for p := off + 1; p < len(b); {
		i := bytes.Index(b[p:], m[:])
		if i < 0 {
			return false
		}
		if _, err := checkRecord(b[p+i:]); err == nil {
			return true
		}
		p += i + 1
	}
	return false
}

// newSegment creates the segment whose first record will be first and
// makes it the one written to. Its name is durable before it is used.
func (q *fileQueue) newSegment(first uint64) error {
	path := filepath.Join(q.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(segHeader(first))
	if err == nil && q.pol != SyncNone {
		err = datasync(f)
		if err == nil {
			err = syncDir(q.dir)
		}
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("create segment: %w", err)
	}
	q.segs = append(q.segs, &segment{first: first, end: first, size: segHeaderLen, f: f})
	return nil
}

// roll makes everything written so far durable, then starts a new segment
// at first. It is called with q.mu held.
func (q *fileQueue) roll(first uint64) error {
	old := q.tail()
	if q.pol != SyncNone {
		if err := datasync(old.f); err != nil {
			q.err = fmt.Errorf("sync queue segment: %w", err)
			return q.err
		}
		if q.durable < q.nextSeq {
			q.durable = q.nextSeq
			q.wake()
			q.cond.Broadcast()
		}
	}
	if err := q.newSegment(first); err != nil {
		return err
	}
	q.fmu.Lock()
	err := old.f.Close()
	old.f = nil
	q.fmu.Unlock()
	if err != nil {
		return fmt.Errorf("close segment: %w", err)
	}
	return nil
}

// wake tells blocked Next calls to look again. Called with q.mu held.
func (q *fileQueue) wake() {
	close(q.notify)
	q.notify = make(chan struct{})
}

// Append implements Queue.
func (q *fileQueue) Append(ctx context.Context, items []Item) error {
	if len(items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size, payload := recordSize(items)
	if size > MaxRecordBytes {
		return fmt.Errorf("append to queue %s: %w", q.name, ErrTooLarge)
	}
	buf := make([]byte, size)
	now := time.Now()
	encodeRecord(buf, items, now)
	if err := q.s.reserve(q, payload); err != nil {
		return fmt.Errorf("append to queue %s: %w", q.name, err)
	}
	q.mu.Lock()
	if err := q.writeRecord(buf, items, now, payload); err != nil {
		q.mu.Unlock()
		q.s.account(q, -payload)
		return err
	}
	target := q.nextSeq
	if q.pol == SyncNone {
		q.durable = target
		q.wake()
		q.mu.Unlock()
		return nil
	}
	err := q.waitDurable(target)
	q.mu.Unlock()
	return err
}

// writeRecord writes the record in buf, called with q.mu held. On error
// nothing is stored.
func (q *fileQueue) writeRecord(buf []byte, items []Item, now time.Time, payload int64) error {
	if q.closed {
		return ErrClosed
	}
	if q.err != nil {
		return fmt.Errorf("append to queue %s: %w", q.name, q.err)
	}
	first := q.nextSeq
	sealRecord(buf, first)
	seg := q.tail()
	if seg.size > segHeaderLen && seg.size+int64(len(buf)) > q.s.opts.SegmentBytes {
		if err := q.roll(first); err != nil {
			return fmt.Errorf("append to queue %s: %w", q.name, err)
		}
		seg = q.tail()
	}
	off := seg.size
	if _, err := seg.f.WriteAt(buf, off); err != nil {
		// Undo a partial write so that the next record follows the last
		// good one; if that fails too, stop taking records.
		if terr := seg.f.Truncate(off); terr != nil {
			q.err = fmt.Errorf("undo failed write: %w", terr)
		}
		return fmt.Errorf("append to queue %s: %w", q.name, err)
	}
	seg.size += int64(len(buf))
	n := uint64(len(items))
	r := recMeta{first: first, count: len(items), seg: seg, off: off, length: len(buf), appended: now.UnixNano(), size: payload}
	if len(items) > 1 {
		r.sizes = make([]int64, len(items))
		for i, it := range items {
			r.sizes[i] = int64(len(it.ID) + len(it.Data))
		}
	}
	q.recs = append(q.recs, r)
	q.nextSeq += n
	seg.end = q.nextSeq
	q.pendingN += len(items)
	q.pendingB += payload
	return nil
}

// waitDurable returns once every sequence number below target is durable,
// taking its turn at leading an fsync. Called with q.mu held.
func (q *fileQueue) waitDurable(target uint64) error {
	for q.durable < target {
		if q.err != nil {
			return fmt.Errorf("append to queue %s: %w", q.name, q.err)
		}
		if q.syncing {
			q.cond.Wait()
			continue
		}
		q.syncOnce()
	}
	return nil
}

// syncOnce fsyncs what has been written so far, letting other producers
// write meanwhile. Called with q.mu held; returns with it held.
func (q *fileQueue) syncOnce() {
	q.syncing = true
	if q.pol == SyncGroup && !q.closed {
		q.mu.Unlock()
		time.Sleep(q.s.opts.GroupWindow)
		q.mu.Lock()
	}
	upto, seg := q.nextSeq, q.tail()
	q.mu.Unlock()
	var err error
	q.fmu.RLock()
	if seg.f != nil { // else roll closed it after syncing it whole
		err = datasync(seg.f)
	}
	q.fmu.RUnlock()
	q.mu.Lock()
	q.syncing = false
	if err != nil {
		if q.err == nil {
			q.err = fmt.Errorf("sync queue segment: %w", err)
		}
	} else if upto > q.durable {
		q.durable = upto
		q.wake()
	}
	q.cond.Broadcast()
}

// find returns the index in q.recs of the record holding seq.
func (q *fileQueue) find(seq uint64) int {
	i := sort.Search(len(q.recs), func(i int) bool { return q.recs[i].first+uint64(q.recs[i].count) > seq })
	if i == len(q.recs) || q.recs[i].first > seq {
		panic(fmt.Sprintf("queue: sequence %d not indexed", seq))
	}
	return i
}

// pick is one record to read and the sequence numbers wanted from it.
type pick struct {
	rec  recMeta
	seqs []uint64
}

// Next implements Queue.
func (q *fileQueue) Next(ctx context.Context, maxItems int, maxBytes int64) ([]Entry, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		picks := q.pick(maxItems, maxBytes)
		if len(picks) > 0 {
			q.mu.Unlock()
			out, err := q.read(picks)
			if err != nil {
				var seqs []uint64
				for _, p := range picks {
					seqs = append(seqs, p.seqs...)
				}
				q.Release(seqs...)
				return nil, err
			}
			return out, nil
		}
		ch := q.notify
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		}
	}
}

// pick chooses the entries Next hands out and marks them in flight. Called
// with q.mu held.
func (q *fileQueue) pick(maxItems int, maxBytes int64) []pick {
	var (
		out   []pick
		n     int
		bytes int64
	)
	take := func(seq uint64) bool {
		if maxItems > 0 && n >= maxItems {
			return false
		}
		r := &q.recs[q.find(seq)]
		z := r.itemSize(seq)
		if maxBytes > 0 && n > 0 && bytes+z > maxBytes {
			return false
		}
		n++
		bytes += z
		if len(out) == 0 || out[len(out)-1].rec.first != r.first {
			out = append(out, pick{rec: *r})
		}
		p := &out[len(out)-1]
		p.seqs = append(p.seqs, seq)
		q.inflight[seq] = struct{}{}
		return true
	}
	for len(q.released) > 0 {
		if !take(q.released[0]) {
			return out
		}
		q.released = q.released[1:]
	}
	for q.fresh < q.durable {
		if _, ok := q.acked[q.fresh]; ok || q.fresh < q.cursor {
			q.fresh++
			continue
		}
		if !take(q.fresh) {
			return out
		}
		q.fresh++
	}
	return out
}

// read reads the picked records, coalescing neighbours in one segment into
// one read, and returns the wanted entries.
func (q *fileQueue) read(picks []pick) ([]Entry, error) {
	q.readMu.Lock()
	defer q.readMu.Unlock()
	if q.readClosed {
		return nil, ErrClosed
	}
	var out []Entry
	for i := 0; i < len(picks); {
		j := i + 1
		for j < len(picks) && picks[j].rec.seg == picks[i].rec.seg &&
			picks[j].rec.off == picks[j-1].rec.off+int64(picks[j-1].rec.length) {
			j++
		}
		seg := picks[i].rec.seg
		if q.readSeg != seg {
			if q.readF != nil {
				q.readF.Close()
				q.readF, q.readSeg = nil, nil
			}
			f, err := os.Open(filepath.Join(q.dir, segName(seg.first)))
			if err != nil {
				return nil, fmt.Errorf("read queue %s: %w", q.name, err)
			}
			q.readF, q.readSeg = f, seg
		}
		start := picks[i].rec.off
		buf := make([]byte, picks[j-1].rec.off+int64(picks[j-1].rec.length)-start)
		if _, err := q.readF.ReadAt(buf, start); err != nil {
			return nil, fmt.Errorf("read queue %s: %w", q.name, err)
		}
		for _, p := range picks[i:j] {
			b := buf[p.rec.off-start:]
			ents, h, err := decodeRecord(b[:p.rec.length])
			if err == nil && (h.first != p.rec.first || h.count != p.rec.count) {
				err = errors.New("record moved")
			}
			if err != nil {
				return nil, q.corrupt(segName(seg.first), p.rec.off, err.Error())
			}
			for _, s := range p.seqs {
				out = append(out, ents[s-p.rec.first])
			}
		}
		i = j
	}
	return out, nil
}

// Ack implements Queue.
func (q *fileQueue) Ack(seqs ...uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	var (
		freed   int64
		unknown []uint64
	)
	for _, s := range seqs {
		if _, ok := q.acked[s]; ok || s < q.cursor {
			continue
		}
		if _, ok := q.inflight[s]; ok {
			delete(q.inflight, s)
		} else if i, ok := slices.BinarySearch(q.released, s); ok {
			q.released = slices.Delete(q.released, i, i+1)
		} else {
			unknown = append(unknown, s)
			continue
		}
		z := q.recs[q.find(s)].itemSize(s)
		freed += z
		q.pendingN--
		q.pendingB -= z
		q.acked[s] = struct{}{}
	}
	var err error
	if _, ok := q.acked[q.cursor]; ok {
		for {
			if _, ok := q.acked[q.cursor]; !ok {
				break
			}
			delete(q.acked, q.cursor)
			q.cursor++
		}
		err = q.advance()
	}
	if freed != 0 {
		q.s.account(q, -freed)
	}
	if len(unknown) > 0 {
		err = errors.Join(err, fmt.Errorf("ack %v: %w", unknown, ErrUnknownSeq))
	}
	return err
}

// advance persists the moved cursor and reclaims what is behind it: index
// entries and whole segments. Called with q.mu held.
func (q *fileQueue) advance() error {
	i := 0
	for i < len(q.recs) && q.recs[i].first+uint64(q.recs[i].count) <= q.cursor {
		i++
	}
	// Reslicing is amortised: when append next grows the array it copies
	// only the live records.
	clear(q.recs[:i])
	q.recs = q.recs[i:]
	if err := q.ack.write(q.cursor); err != nil {
		return fmt.Errorf("ack queue %s: %w", q.name, err)
	}
	q.ackedDisk = q.cursor
	removed := false
	for len(q.segs) > 1 && q.segs[0].end <= q.cursor {
		seg := q.segs[0]
		q.readMu.Lock()
		if q.readSeg == seg {
			q.readF.Close()
			q.readF, q.readSeg = nil, nil
		}
		q.readMu.Unlock()
		if err := os.Remove(filepath.Join(q.dir, segName(seg.first))); err != nil {
			return fmt.Errorf("ack queue %s: remove segment: %w", q.name, err)
		}
		q.segs = q.segs[1:]
		removed = true
	}
	if removed && q.pol != SyncNone {
		// Segments must disappear in order: recovery takes the first
		// remaining one as a lower bound of the cursor.
		if err := syncDir(q.dir); err != nil {
			return fmt.Errorf("ack queue %s: %w", q.name, err)
		}
	}
	return nil
}

// Release implements Queue.
func (q *fileQueue) Release(seqs ...uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	woke := false
	for _, s := range seqs {
		if _, ok := q.inflight[s]; !ok {
			continue
		}
		delete(q.inflight, s)
		if i, ok := slices.BinarySearch(q.released, s); !ok {
			q.released = slices.Insert(q.released, i, s)
		}
		woke = true
	}
	if woke && !q.closed {
		q.wake()
	}
}

// Stats implements Queue.
func (q *fileQueue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := Stats{Pending: q.pendingN, PendingBytes: q.pendingB}
	if q.pendingN > 0 && len(q.recs) > 0 {
		st.Oldest = time.Unix(0, q.recs[0].appended)
	}
	return st
}

// Close implements Queue.
func (q *fileQueue) Close() error {
	err := q.shutdown()
	q.s.forget(q)
	return err
}

// shutdown waits for the fsyncs producers wait for, persists the cursor
// and closes the files. It does not touch Store.mu.
func (q *fileQueue) shutdown() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.wake()
	for q.syncing || (q.pol != SyncNone && q.durable < q.nextSeq && q.err == nil) {
		if q.syncing {
			q.cond.Wait()
			continue
		}
		q.syncOnce()
	}
	q.cond.Broadcast()
	var errs []error
	if q.err != nil {
		errs = append(errs, fmt.Errorf("close queue %s: %w", q.name, q.err))
	}
	errs = append(errs, q.ack.close(q.cursor))
	q.fmu.Lock()
	if t := q.tail(); t != nil && t.f != nil {
		errs = append(errs, t.f.Close())
		t.f = nil
	}
	q.fmu.Unlock()
	q.mu.Unlock()
	q.readMu.Lock()
	if q.readF != nil {
		q.readF.Close()
		q.readF, q.readSeg = nil, nil
	}
	q.readClosed = true
	q.readMu.Unlock()
	q.s.dropAccount(q)
	return errors.Join(errs...)
}
