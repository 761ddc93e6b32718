// Package archive is the archive sink of lrsbridge: it keeps an
// organization's statements on the host operator's own disk, for
// organizations that want their data there rather than (or before) in an
// LRS. It is the embedded default sink.
//
// # Layout
//
// Each organization has a directory in the configured archive directory,
// named by an injective, file-system-safe encoding of the organization id
// (lower-case letters, digits and '-' kept, every other byte written as '_'
// and two hex digits, long ids cut and suffixed with a SHA-256). In it:
//
//   - YYYY-MM-DD.NNNN.ndjson: the file being appended to, one canonical
//     statement per line (the bytes the host handed over), for one UTC day;
//     NNNN numbers the parts of a day when size rotation (rotate_bytes)
//     starts a new one;
//   - YYYY-MM-DD.NNNN.ndjson.gz: closed files (previous days and rotated
//     parts), gzip-compressed unless gzip is off;
//   - manifest.json: the organization id and, for every closed file, its
//     size, SHA-256 and line count (see [Manifest]);
//   - .lock: held by the process that writes the archive.
//
// # Guarantees
//
// Deliver writes a batch and fsyncs the file (and the directory, when it
// created the file) before it reports the batch delivered, so a statement
// reported delivered survives a crash of the process or the machine.
//
// Files are never overwritten: new files are created with O_EXCL, compressed
// copies are written to a temporary file and hard-linked into place, and only
// the manifest is replaced (atomically: temporary file, fsync, rename,
// directory fsync). A file is closed in durable steps (compress, manifest,
// remove the plain copy); a crash between any two is completed on the next
// open.
//
// On open, the tail of every unclosed file is checked: an unterminated last
// line, and lines at the end that are not JSON objects, are what is left of a
// batch that was never reported delivered; they are cut off. Nothing before
// the last good line is touched.
//
// A statement whose id is already stored for the same UTC day, in any part
// of that day, is not written again; its verdict is AlreadyStored. The index
// behind this is the set of the current day's ids held in memory; opening an
// archive rebuilds it by reading the current day's files once (a cost
// proportional to one day's data, nothing stored beside the data). A
// statement resent on a later day than it was first archived is archived
// again; whoever replays an archive into an LRS relies on the LRS treating a
// known id as already stored, as xAPI requires.
//
// # Concurrency
//
// A [Sink] is safe for concurrent use; Deliver calls are serialised. Any
// number of instances for different organizations may run in one process;
// instances of one process for the same organization and directory share
// one writer. A second process opening the same organization's archive gets
// [ErrLocked] (on Unix, where the lock is an flock the kernel drops when the
// process dies).
//
// # Reading
//
// [Open] returns a [Reader] whose Replay passes every statement of an
// organization's archive to a function, in order, verifying each closed
// file against the manifest first.
package archive
