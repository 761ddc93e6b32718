package queue

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// A group is the records of concurrent Append calls committed together:
// one write per segment they land in and one fdatasync per segment.
//
// The first Append to find no open group opens one and leads it. Later
// Appends add their record to the open group and wait for its done channel
// only, so each waiter is woken exactly once, by the commit that covers it.
// Once it has its turn (the previous group committed), the leader closes
// its group to newcomers, writes and syncs it, settles every record,
// closes done, and hands the turn to the group that opened meanwhile, if
// any. Records therefore queue up while an fsync runs and go out together
// in the next one.
type group struct {
	buf  []byte     // the records, back to back, sealed by the leader
	recs []groupRec // in buf order
	turn chan struct{}
	done chan struct{}
	// gathered is closed when no SyncGroup producer is on its way any
	// more; nil unless the leader waits for that.
	gathered chan struct{}
}

// groupRec is one Append's record in a group.
type groupRec struct {
	off, length int // in group.buf
	count       int
	payload     int64
	sizes       []int64 // per item when count > 1
	appended    int64

	// Set by the leader: where the record went, or why it did not.
	first   uint64
	seg     *segment
	fileOff int64
	err     error
}

// bufPool recycles the buffers of committed groups.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuf bounds the buffers kept for reuse, so that one huge batch
// does not pin its memory.
const maxPooledBuf = 1 << 20

func newGroup() *group {
	g := &group{turn: make(chan struct{}), done: make(chan struct{})}
	g.buf = (*bufPool.Get().(*[]byte))[:0]
	return g
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
	gathering := q.pol == SyncGroup
	if gathering {
		q.arriving.Add(1)
	}
	if err := q.s.reserve(q, payload); err != nil {
		if gathering {
			q.mu.Lock()
			q.arrived()
			q.mu.Unlock()
		}
		return fmt.Errorf("append to queue %s: %w", q.name, err)
	}
	now := time.Now()
	q.mu.Lock()
	if gathering {
		q.arrived()
	}
	var err error
	switch {
	case q.closed:
		err = ErrClosed
	case q.err != nil:
		err = fmt.Errorf("append to queue %s: %w", q.name, q.err)
	}
	if err != nil {
		q.mu.Unlock()
		q.s.account(q, -payload)
		return err
	}
	g, lead := q.cur, false
	if g == nil {
		g, lead = newGroup(), true
		q.cur, q.last = g, g
		if !q.flushing {
			q.flushing = true
			close(g.turn)
		}
	}
	idx, off := len(g.recs), len(g.buf)
	g.buf = slices.Grow(g.buf, size)[:off+size]
	encodeRecord(g.buf[off:], items, now)
	r := groupRec{off: off, length: size, count: len(items), payload: payload, appended: now.UnixNano()}
	if len(items) > 1 {
		r.sizes = make([]int64, len(items))
		for i, it := range items {
			r.sizes[i] = int64(len(it.ID) + len(it.Data))
		}
	}
	g.recs = append(g.recs, r)
	q.mu.Unlock()
	if lead {
		q.lead(g)
	}
	<-g.done
	return g.recs[idx].err
}

// arrived counts a SyncGroup producer as no longer on its way, telling a
// waiting leader when none is left. Called with q.mu held.
func (q *fileQueue) arrived() {
	if q.arriving.Add(-1) == 0 && q.cur != nil && q.cur.gathered != nil {
		close(q.cur.gathered)
		q.cur.gathered = nil
	}
}

// lead commits g once it is g's turn.
func (q *fileQueue) lead(g *group) {
	<-g.turn
	q.mu.Lock()
	if q.pol == SyncGroup && q.arriving.Load() > 0 && !q.closed {
		// Producers are on their way: give them up to the window to join.
		// A lone producer never waits here.
		ch := make(chan struct{})
		g.gathered = ch
		q.mu.Unlock()
		t := time.NewTimer(q.s.opts.GroupWindow)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		q.mu.Lock()
		g.gathered = nil
	}
	q.cur = nil // later records open the next group
	first, tail, created, stuck := q.nextSeq, q.tail(), q.created, q.err
	q.mu.Unlock()

	var (
		segs []*segment // segments created by this commit
		ok   int        // records of g durable (or written, with SyncNone)
		err  = stuck
	)
	if err == nil {
		err = q.recoveredDurable()
	}
	if err == nil && !created {
		err = q.s.ensureDir(q.key, q.name)
	}
	if err == nil && (tail == nil || tail.end != first) {
		// A new queue, or one whose files all went behind the cursor.
		if tail, err = q.newSegment(first); err == nil {
			segs = append(segs, tail)
		}
	}
	size := int64(0)
	if tail != nil {
		size = tail.size
	}
	seq := first
	var sticky error // a failure that stops the queue
	for err == nil && ok < len(g.recs) {
		// One run: the records that go into the current segment.
		start, runSize := ok, size
		end := ok
		for ; end < len(g.recs); end++ {
			r := &g.recs[end]
			if runSize > segHeaderLen && runSize+int64(r.length) > q.s.opts.SegmentBytes {
				break
			}
			sealRecord(g.buf[r.off:r.off+r.length], seq)
			r.first, r.seg, r.fileOff = seq, tail, runSize
			seq += uint64(r.count)
			runSize += int64(r.length)
		}
		if end > start {
			from, to := g.recs[start].off, g.recs[end-1].off+g.recs[end-1].length
			if err, sticky = q.writeRun(tail, size, g.buf[from:to]); err != nil {
				break
			}
			ok, size = end, runSize
			q.mu.Lock()
			tail.size, tail.end = size, g.recs[end-1].first+uint64(g.recs[end-1].count)
			q.mu.Unlock()
		}
		if ok < len(g.recs) {
			// The next record does not fit: the full segment is durable
			// (writeRun synced it), start the next one.
			q.trim(tail)
			var next *segment
			if next, err = q.newSegment(seq); err != nil {
				break
			}
			segs = append(segs, next)
			tail, size = next, segHeaderLen
		}
	}
	if err != nil {
		err = fmt.Errorf("append to queue %s: %w", q.name, err)
	}
	q.settle(g, segs, ok, err, sticky)
}

// Prefill sizes: a segment's file is extended with zeros ahead of its
// records by prefillMin bytes at first, then by as much as it already has,
// up to prefillMax at a time, and never past Options.SegmentBytes.
const (
	prefillMin = 16 << 10
	prefillMax = 1 << 20
)

// zeroBlock is what prefills write, a block at a time. It is never
// written to.
var zeroBlock [64 << 10]byte

// prefill returns the length to extend seg's file to, with zeros, when a
// write ends at end, or seg.alloc when no extension is needed.
//
// Records are written over zeros written (and fdatasynced) by an earlier
// commit, so that most commits change neither the file's size nor its
// block map: their fdatasync then flushes data only. An append that
// extends the file also makes fdatasync write the inode, and on file
// systems that allocate blocks as unwritten extents (ext4 with
// dioread_nolock) it waits for a kernel worker to convert them, which a
// busy CPU delays by milliseconds. Zeros written ahead keep these costs to
// one commit in every prefill. SyncNone writes no zeros: without fsync
// they save nothing.
func (q *fileQueue) prefill(seg *segment, end int64) int64 {
	if q.pol == SyncNone || end <= seg.alloc {
		return seg.alloc
	}
	step := min(max(seg.alloc, prefillMin), prefillMax)
	return max(end, min(seg.alloc+step, q.s.opts.SegmentBytes))
}

// writeRun writes b at off of seg and, unless the policy is SyncNone,
// fdatasyncs it; it extends the file with zeros ahead of the records first
// when needed (see prefill). On a write error it undoes the partial write;
// sticky is set when the queue cannot take records any more (the undo or
// the fsync failed).
func (q *fileQueue) writeRun(seg *segment, off int64, b []byte) (err, sticky error) {
	f, err := q.s.files.get(seg.h)
	if err != nil {
		return err, nil
	}
	defer q.s.files.put(seg.h)
	end := off + int64(len(b))
	alloc := q.prefill(seg, end)
	_, err = f.WriteAt(b, off)
	if err == nil && alloc > seg.alloc {
		// alloc > seg.alloc only when end > seg.alloc: the zeros go after
		// the records.
		for from := end; from < alloc; {
			n := min(alloc-from, int64(len(zeroBlock)))
			if _, zerr := f.WriteAt(zeroBlock[:n], from); zerr != nil {
				// No room for zeros (a full disk): go on without them.
				err = f.Truncate(end)
				alloc = end
				break
			}
			from += n
		}
	}
	if err != nil {
		// Undo a partial write so that the next record follows the last
		// good one; if that fails too, stop taking records.
		if terr := f.Truncate(off); terr != nil {
			return err, fmt.Errorf("undo failed write: %w", terr)
		}
		seg.alloc = off
		return err, nil
	}
	seg.alloc = max(alloc, end)
	if q.pol == SyncNone {
		return nil, nil
	}
	if q.beforeSync != nil {
		q.beforeSync()
	}
	if err := datasync(f); err != nil {
		err = fmt.Errorf("sync queue segment: %w", err)
		return err, err
	}
	return nil, nil
}

// trim cuts the zeros written ahead of the records off seg, a full
// segment, and fdatasyncs it, so that only the last segment of a queue
// ends in zeros (as a host of an earlier version expects, which reads them
// in the last segment as a torn tail and cuts them itself). A failure
// changes nothing for this host, which reads zeros at the end of any
// segment as its end: it is logged and the commit goes on.
func (q *fileQueue) trim(seg *segment) {
	if seg.alloc <= seg.size {
		return
	}
	f, err := q.s.files.get(seg.h)
	if err == nil {
		err = f.Truncate(seg.size)
		if err == nil && q.pol != SyncNone {
			err = datasync(f)
		}
		q.s.files.put(seg.h)
	}
	if err != nil {
		q.s.log.Warn("queue: could not cut the zeros off a full segment; they are read as its end", "queue", q.name,
			"segment", segName(seg.first), "error", err.Error())
		return
	}
	seg.alloc = seg.size
}

// settle publishes the outcome of g's commit: its first ok records are
// durable (written, with SyncNone), the others failed with err. It wakes
// g's producers and hands the turn to the next group.
func (q *fileQueue) settle(g *group, segs []*segment, ok int, err, sticky error) {
	var refund int64
	q.mu.Lock()
	if len(segs) > 0 {
		q.created = true
		q.segs = append(q.segs, segs...)
	}
	if sticky != nil && q.err == nil {
		q.err = sticky
	}
	for i := range g.recs {
		r := &g.recs[i]
		if i >= ok {
			r.err = err
			refund += r.payload
			continue
		}
		q.recs = append(q.recs, recMeta{
			first: r.first, count: r.count, seg: r.seg, off: r.fileOff, length: r.length,
			appended: r.appended, size: r.payload, sizes: r.sizes,
		})
		q.pendingN += r.count
		q.pendingB += r.payload
		q.nextSeq = r.first + uint64(r.count)
	}
	if q.nextSeq > q.durable {
		q.durable = q.nextSeq
		q.wake()
	}
	close(g.done)
	if q.cur != nil {
		close(q.cur.turn)
	} else {
		q.flushing = false
	}
	q.mu.Unlock()
	if refund != 0 {
		q.s.account(q, -refund)
	}
	if cap(g.buf) <= maxPooledBuf {
		b := g.buf[:0]
		g.buf = nil
		bufPool.Put(&b)
	}
}
