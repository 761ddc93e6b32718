// Package queue is the durable delivery queue of the lrsbridge host: one
// FIFO per (organization, sink instance), kept in files under the host's
// data directory, behind the Queue interface so that another engine can back
// it later.
//
// # Layout
//
// A Store owns a directory. It holds a .lock file (an flock held while the
// store is open) and one directory per queue, named by an injective,
// file-system-safe escaping of the organization and sink (see Store.Queue).
// In a queue directory:
//
//   - meta.json: the original organization and sink, so that Store.Queues
//     can list the queues after a restart;
//   - NNNNNNNNNNNNNNNNNNNN.seg: segment files, named by the sequence number
//     of their first record; the last one is appended to, and a new one is
//     started when it reaches Options.SegmentBytes;
//   - ack.log: the persisted ack cursor.
//
// # Records
//
// Every Append writes one record holding all its items, so a batch is
// stored whole or not at all. A record carries a CRC-32C (Castagnoli) over
// its length and body, the sequence number of its first item and the append
// time. See record.go for the byte layout.
//
// # Durability
//
// With SyncAlways (the default) Append returns after fdatasync of the
// segment. Producers of one queue share fsyncs: one of them syncs everything
// written so far while the others write their records and wait; the next
// sync covers them all (group commit). SyncGroup makes the syncing producer
// wait Options.GroupWindow first to gather more. New files and removals are
// made durable with a directory fsync. Next hands out only durable records.
//
// Each queue has its own locks and files, so a slow disk write or fsync of
// one queue never holds up another; the store-wide locks cover only the
// table of open queues and the quota arithmetic.
//
// # Recovery
//
// Opening a queue reads its segments and checks every record. In the last
// segment, a damaged or incomplete record followed by no valid record is a
// torn tail, left by a crash in the middle of an Append that therefore never
// returned: it is cut off and logged. Damage anywhere else (a bad checksum
// or broken sequence with valid records after it, or in an older segment)
// is an error wrapping ErrCorrupt, with the file and offset: the queue does
// not open rather than skip data silently.
//
// # Acknowledgement
//
// Next hands entries out in order and skips those in flight, so a consumer
// can have several batches out at once; Release puts entries back, Ack
// retires them. The ack cursor (every entry below it is acknowledged) is
// appended to ack.log on every move, without fsync; an older segment is
// deleted once the cursor passes its end. After a crash delivery resumes at
// the persisted cursor (or the first remaining segment, if later): entries
// acknowledged out of order above the cursor, or whose cursor move did not
// reach the disk before a machine crash, are delivered again. Delivery is
// at least once.
//
// # Quotas
//
// Pending bytes (len(ID)+len(Data) of appended, unacknowledged items) are
// bounded per queue, per organization and in total over the open queues.
// An Append that would exceed one fails with an error wrapping ErrFull and
// a *QuotaError naming the quota; nothing already accepted is dropped.
package queue
