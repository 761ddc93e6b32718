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
// A queue's directory is created by its first Append: opening the queues
// of idle integrations writes nothing.
// In a queue directory:
//
//   - meta.json: the original organization and sink, so that Store.Queues
//     can list the queues after a restart;
//   - NNNNNNNNNNNNNNNNNNNN.seg: segment files, named by the sequence number
//     of their first record; the last one is appended to, and a new one is
//     started when it reaches Options.SegmentBytes. While a queue is open
//     (with fsync), its last segment ends in zeros written ahead of the
//     records to come (see Durability); a full segment, and the last one
//     at Close, hold only their header and records;
//   - ack.log: the persisted ack cursor.
//
// # Records
//
// Every Append writes one record holding all its items, so a batch is
// stored whole or not at all. A record carries a CRC-32C (Castagnoli) over
// its length and body, the sequence number of its first item and the append
// time. An item may carry a one-byte Tag of the producer's and the span
// context of the call that recorded it (Item.Trace); a record holding
// either is written in a second layout with its own magic, and a record
// without them keeps the first layout, so that such queues stay readable
// by older hosts. See record.go for the byte layout.
//
// # Durability
//
// With SyncAlways (the default) Append returns after fdatasync of the
// segment. Producers of one queue commit in groups: the records of the
// Append calls that arrive while a commit runs are gathered in one buffer
// and go out together with one write and one fdatasync, done by the first
// of them; each producer is woken once, by the commit that covers its
// record. SyncGroup lets that first producer wait up to
// Options.GroupWindow, but only while other producers are on their way
// into Append: a lone producer never waits. New files and removals are made
// durable with a directory fsync. Next hands out only durable records.
//
// Records are written over zeros: a commit that needs room extends the
// segment file with zeros (16 KiB at first, then as much as the file
// holds, at most 1 MiB at a time and never past Options.SegmentBytes), in
// the same write and fdatasync as its records. The commits after it change
// neither the file's size nor its block map, so their fdatasync flushes
// data only: no inode write and, on ext4 (which allocates the blocks of
// appended data as unwritten extents and converts them in a kernel worker
// when they are written), no wait for that worker, which a busy CPU delays
// by milliseconds. SyncNone writes no zeros.
//
// Each queue has its own locks and files, so a slow disk write or fsync of
// one queue never holds up another; the store-wide locks cover only the
// table of open queues, the descriptor budget and the quota arithmetic.
//
// # Descriptors
//
// Queue files are opened when used and kept open among the most recently
// used, up to Options.MaxOpenFiles; beyond it the least recently used idle
// files are closed. An idle queue holds no descriptor, so the number of
// open files is bounded by the budget, not by the number of queues. A
// segment's writes and their fsync happen within one use of its file, so a
// descriptor is never closed between a write and the fsync that reports
// its errors.
//
// # Recovery
//
// Opening a queue reads its segments and checks every record, then closes
// them again. What it finds in the last segment is fsynced before Next
// hands it out or a commit writes after it, not at open, so that starting
// with many queues costs no fsync per queue. Zeros where a record would
// start end a segment's records, in any segment (a crash can leave the
// zeros of a full segment before they are cut off): they are the zeros
// written ahead, kept in the last segment for the records to come. A
// record missing from the end of an older segment shows as a sequence gap
// before the next one, which is an error. In the last
// segment, a damaged or incomplete record followed by no valid record is a
// torn tail, left by a crash in the middle of an Append that therefore never
// returned (in the zeros written ahead or not): it is cut off and logged.
// Damage anywhere else (a bad checksum
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
// deleted once the cursor passes its end, by the Ack that moved it but
// outside the queue's lock (deleting 16 MiB and the directory fsync take
// milliseconds, which recording into the queue does not wait for), in
// order. After a crash delivery resumes at
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
