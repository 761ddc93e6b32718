package queue

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Item is one statement to queue: its id and its canonical JSON bytes.
type Item struct {
	ID   string
	Data []byte
	// Tag is a byte the producer keeps with the item, opaque to the queue
	// and handed back in Entry.Tag (the host notes there what it learned
	// about the statement when it recorded it). It is not counted in the
	// quotas.
	Tag byte
	// Trace is the encoded span context of the call that recorded the
	// statement (see the host's telemetry), or nil. It is stored as it is
	// and does not count towards the quotas.
	Trace []byte
}

// Entry is a queued item with its sequence number (per queue, starting at 1
// and increasing by one for every item) and the time it was appended.
type Entry struct {
	Seq      uint64
	ID       string
	Data     []byte
	Tag      byte // the Item's Tag
	Appended time.Time
	// Trace is the Item's Trace; nil for items queued without one, and
	// for every item written by a host before span contexts were kept.
	Trace []byte
}

// Stats is a snapshot of a queue's backlog.
type Stats struct {
	// Pending is the number of items appended and not acknowledged.
	Pending int
	// PendingBytes is the size of those items: the sum of len(ID)+len(Data).
	PendingBytes int64
	// Oldest is the append time of the oldest pending item; zero when
	// nothing is pending.
	Oldest time.Time
}

// Queue is one durable FIFO for one (organization, sink instance).
//
// A Queue is safe for concurrent use: any number of producers may call
// Append at the same time, while one consumer calls Next, Ack and Release.
// Stats may be called from anywhere. After Close every method but Stats
// returns ErrClosed (Release does nothing).
type Queue interface {
	// Append stores items and returns once they are durable according to
	// the store's SyncPolicy. It is all or nothing: the items are written as
	// one record, so either all of them are stored or none is. It returns
	// an error wrapping ErrFull (and a *QuotaError naming the quota) when a
	// quota would be exceeded, ErrTooLarge when the batch cannot be one
	// record, and ErrClosed after Close. ctx is checked before anything is
	// written; once the record is written Append waits for its fsync.
	// Any other error (an I/O error) leaves the outcome unknown: the items
	// may be delivered after a restart.
	Append(ctx context.Context, items []Item) error

	// Next returns up to maxItems entries and maxBytes bytes (counted as in
	// Stats; at least one entry when any is available, even one larger
	// than maxBytes; a limit <= 0 means no limit) of the unacknowledged
	// entries, in sequence order, skipping the entries handed out and not
	// yet acknowledged or released, so that the consumer can pipeline.
	// Only durable entries are handed out. Next blocks until at least one
	// entry is available, ctx is done (it returns ctx.Err()) or the queue
	// is closed (ErrClosed). The returned entries are the caller's to keep;
	// to save a copy per entry, the entries of one call share the buffers
	// they were read into (each Data is its own slice of them, with its
	// capacity cut, so appending to one never touches another).
	Next(ctx context.Context, maxItems int, maxBytes int64) ([]Entry, error)

	// Ack marks entries delivered (or dead-lettered). Their space is
	// reclaimed once every entry before them is acknowledged too: the
	// persisted ack cursor only moves over a contiguous prefix, and a
	// segment file is deleted once every entry in it is behind the cursor.
	// Acknowledging an entry twice is not an error; acknowledging a
	// sequence number never handed out by Next returns ErrUnknownSeq.
	Ack(seqs ...uint64) error

	// Release returns handed-out entries so that Next gives them out again
	// (for a retry), before any later entry. Unknown, acknowledged or not
	// handed-out sequence numbers are ignored.
	Release(seqs ...uint64)

	// Stats reports the pending count and bytes and the oldest pending
	// append time.
	Stats() Stats

	// Close flushes and closes the queue's files. It is idempotent. Blocked
	// Next calls return ErrClosed.
	Close() error
}

// ErrFull is returned (wrapped, see QuotaError) by Append when storing the
// items would exceed a quota on pending bytes. Nothing already accepted is
// dropped; the caller may retry once the consumer has caught up.
var ErrFull = errors.New("queue full")

// ErrClosed is returned by the methods of a closed Queue or Store.
var ErrClosed = errors.New("queue closed")

// ErrCorrupt is wrapped by the error returned when a queue's files are
// damaged somewhere other than a torn tail: a record with a bad checksum or
// a broken sequence in the middle of the data. The queue is not opened, so
// that nothing is silently skipped; see CorruptError for the location.
var ErrCorrupt = errors.New("queue data corrupt")

// ErrTooLarge is returned by Append when the items do not fit in one record
// (MaxRecordBytes).
var ErrTooLarge = errors.New("batch too large for one queue record")

// ErrUnknownSeq is returned by Ack for a sequence number that was never
// handed out by Next.
var ErrUnknownSeq = errors.New("unknown queue sequence number")

// ErrLocked is returned by Open when another process holds the data
// directory (on Unix, where the lock is an flock).
var ErrLocked = errors.New("queue directory locked by another process")

// Quota names one of the quotas on pending bytes.
type Quota string

// The quotas, from the narrowest to the widest.
const (
	QuotaQueue Quota = "queue"
	QuotaOrg   Quota = "org"
	QuotaTotal Quota = "total"
)

// QuotaError tells which quota an Append would have exceeded. It wraps
// ErrFull.
type QuotaError struct {
	Quota Quota
	Limit int64 // the quota, in bytes
	Used  int64 // pending bytes under that quota when the Append came
	Need  int64 // bytes the Append asked for
}

// Error implements error.
func (e *QuotaError) Error() string {
	return "queue full: " + string(e.Quota) + " quota exceeded"
}

// Unwrap returns ErrFull.
func (e *QuotaError) Unwrap() error { return ErrFull }

// CorruptError locates damaged queue data. It wraps ErrCorrupt.
type CorruptError struct {
	File   string // file name relative to the store directory
	Offset int64  // byte offset of the damaged record
	Reason string
}

// Error implements error.
func (e *CorruptError) Error() string {
	return "queue data corrupt: " + e.File + " at offset " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }
