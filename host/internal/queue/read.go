package queue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/learningflow/lrsbridge/internal/fsync"
)

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
	if err := q.recoveredDurable(); err != nil {
		return nil, err
	}
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		picks, n := q.pick(maxItems, maxBytes)
		if len(picks) > 0 {
			q.mu.Unlock()
			out, err := q.read(picks, n)
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
		if q.notify == nil {
			q.notify = make(chan struct{})
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

// recoveredDurable makes the records found at recovery durable, once, and
// lets Next hand them out.
func (q *fileQueue) recoveredDurable() error {
	q.mu.Lock()
	f := q.syncRecovered
	q.mu.Unlock()
	if f == nil {
		return nil
	}
	if err := f(); err != nil {
		return err
	}
	q.mu.Lock()
	if q.syncRecovered != nil {
		q.syncRecovered = nil
		if q.recoveredEnd > q.durable {
			q.durable = q.recoveredEnd
			q.wake()
		}
	}
	q.mu.Unlock()
	return nil
}

// pick chooses the entries Next hands out and marks them in flight,
// returning them grouped by record and their number. Called with q.mu held.
func (q *fileQueue) pick(maxItems int, maxBytes int64) ([]pick, int) {
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
		if q.inflight == nil {
			q.inflight = map[uint64]struct{}{}
		}
		q.inflight[seq] = struct{}{}
		return true
	}
	for len(q.released) > 0 {
		if !take(q.released[0]) {
			return out, n
		}
		q.released = q.released[1:]
	}
	for q.fresh < q.durable {
		if _, ok := q.acked[q.fresh]; ok || q.fresh < q.cursor {
			q.fresh++
			continue
		}
		if !take(q.fresh) {
			return out, n
		}
		q.fresh++
	}
	return out, n
}

// read reads the picked records, coalescing neighbours in one segment into
// one read, and returns the n wanted entries. The entries' Data share the
// read buffers (one per run of neighbouring records, nothing is copied per
// entry) and their IDs share one string. A record of which items remain
// after this batch is kept in q.lastRead for the next.
func (q *fileQueue) read(picks []pick, n int) ([]Entry, error) {
	out := make([]Entry, 0, n)
	var idBuf []byte // every ID, back to back; one string at the end
	idEnd := make([]int, 0, n)
	for i := 0; i < len(picks); {
		if kept := q.lastRead.Load(); kept != nil && kept.rec.first == picks[i].rec.first &&
			kept.rec.seg == picks[i].rec.seg && kept.rec.off == picks[i].rec.off {
			out, idBuf, idEnd = appendAt(out, idBuf, idEnd, kept.b, kept.head, kept.offs, picks[i].seqs)
			q.keep(picks[i], kept)
			i++
			continue
		}
		j := i + 1
		for j < len(picks) && picks[j].rec.seg == picks[i].rec.seg &&
			picks[j].rec.off == picks[j-1].rec.off+int64(picks[j-1].rec.length) {
			j++
		}
		seg := picks[i].rec.seg
		start := picks[i].rec.off
		buf := make([]byte, picks[j-1].rec.off+int64(picks[j-1].rec.length)-start)
		if q.beforeRead != nil {
			q.beforeRead()
		}
		f, err := q.s.files.get(seg.h)
		if err == nil {
			_, err = f.ReadAt(buf, start)
			q.s.files.put(seg.h)
		}
		if errors.Is(err, ErrClosed) {
			return nil, ErrClosed
		}
		if err != nil {
			return nil, fmt.Errorf("read queue %s: %w", q.name, err)
		}
		for _, p := range picks[i:j] {
			b := buf[p.rec.off-start:]
			b = b[:p.rec.length:p.rec.length]
			h, err := checkRecord(b)
			if err == nil && (h.first != p.rec.first || h.count != p.rec.count) {
				err = errors.New("record moved")
			}
			if err != nil {
				return nil, q.corrupt(segName(seg.first), p.rec.off, err.Error())
			}
			if p.seqs[len(p.seqs)-1] == p.rec.first+uint64(p.rec.count)-1 {
				// Nothing of the record is left to hand out after
				// this batch: nothing to keep.
				out, idBuf, idEnd = appendItems(out, idBuf, idEnd, b, h, p.seqs)
				q.keep(p, nil)
				continue
			}
			r := &readRecord{rec: p.rec, b: b, head: h, offs: itemOffsets(b, h)}
			out, idBuf, idEnd = appendAt(out, idBuf, idEnd, b, h, r.offs, p.seqs)
			q.keep(p, r)
		}
		i = j
	}
	ids := string(idBuf)
	prev := 0
	for k := range out {
		out[k].ID = ids[prev:idEnd[k]]
		prev = idEnd[k]
	}
	return out, nil
}

// keep makes r, just read for p, q.lastRead if items of it may remain to
// be handed out after p's, and drops it once p handed out its last item.
func (q *fileQueue) keep(p pick, r *readRecord) {
	if p.seqs[len(p.seqs)-1] == p.rec.first+uint64(p.rec.count)-1 {
		if kept := q.lastRead.Load(); kept != nil && kept.rec.first == p.rec.first {
			q.lastRead.CompareAndSwap(kept, nil)
		}
		return
	}
	q.lastRead.Store(r)
}

// Ack implements Queue.
func (q *fileQueue) Ack(seqs ...uint64) error {
	err := q.ack1(seqs)
	// Segments behind the cursor are deleted outside q.mu, so that
	// recording into the queue does not wait for it.
	return errors.Join(err, q.removeAcked())
}

// ack1 is Ack but for the deletion of the segments it retires.
func (q *fileQueue) ack1(seqs []uint64) error {
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
		if q.acked == nil {
			q.acked = map[uint64]struct{}{}
		}
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
	if len(q.recs) == 0 {
		q.recs = nil // an idle queue keeps no index array
	}
	if len(q.acked) == 0 {
		q.acked = nil
	}
	if err := q.ack.write(q.cursor); err != nil {
		return fmt.Errorf("ack queue %s: %w", q.name, err)
	}
	q.ackedDisk = q.cursor
	for len(q.segs) > 1 && q.segs[0].end <= q.cursor {
		seg := q.segs[0]
		q.s.files.drop(seg.h)
		q.retired = append(q.retired, seg)
		q.segs = q.segs[1:]
	}
	return nil
}

// removeAcked deletes the retired segments, in order, and makes their
// removal durable with one directory fsync. Deleting a segment of 16 MiB
// and the fsync take milliseconds, so it runs outside q.mu: Append and
// Next go on meanwhile. q.rmMu keeps the deletions in order (recovery
// takes the first remaining segment as a lower bound of the cursor); a
// segment that could not be deleted is tried again, before any later one,
// by the next call.
func (q *fileQueue) removeAcked() error {
	q.rmMu.Lock()
	defer q.rmMu.Unlock()
	q.mu.Lock()
	gone := q.retired
	q.retired = nil
	q.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	if q.beforeRemove != nil {
		q.beforeRemove()
	}
	var err error
	done := 0
	for _, seg := range gone {
		if err = os.Remove(filepath.Join(q.dir, segName(seg.first))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("ack queue %s: remove segment: %w", q.name, err)
			break
		}
		err = nil
		done++
	}
	if done < len(gone) {
		q.mu.Lock()
		q.retired = append(gone[done:len(gone):len(gone)], q.retired...)
		q.mu.Unlock()
	}
	if done > 0 && q.pol != SyncNone {
		if serr := fsync.Dir(q.dir); serr != nil && !errors.Is(serr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("ack queue %s: %w", q.name, serr))
		}
	}
	return err
}

// Release implements Queue.
func (q *fileQueue) Release(seqs ...uint64) {
	q.lastRead.Store(nil)
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

// shutdown lets the groups already formed commit (their producers wait for
// them), persists the cursor and lets the files go. It does not touch
// Store.mu.
func (q *fileQueue) shutdown() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	q.wake()
	last := q.last
	q.mu.Unlock()
	if last != nil {
		<-last.done // groups commit in order, so every one has
	}
	rmErr := q.removeAcked()
	q.mu.Lock()
	errs := []error{rmErr}
	if q.err != nil {
		errs = append(errs, fmt.Errorf("close queue %s: %w", q.name, q.err))
	}
	if q.ack != nil {
		errs = append(errs, q.ack.close(q.cursor, q.ackedDisk))
	}
	if t := q.tail(); t != nil && t.alloc > t.size && q.err == nil {
		// Leave the segment as a host of an earlier version writes it.
		// Without fsync: zeros left by a crash are read as the end.
		if f, err := q.s.files.get(t.h); err == nil {
			errs = append(errs, f.Truncate(t.size))
			q.s.files.put(t.h)
		}
	}
	errs = append(errs, q.dropFiles())
	q.mu.Unlock()
	q.s.dropAccount(q)
	return errors.Join(errs...)
}
