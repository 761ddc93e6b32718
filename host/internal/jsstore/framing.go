package jsstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
)

// Message formats of the queue stream. A message without hdrFormat is in
// the first format: one statement, its id in hdrStatementID and its JSON
// as the body (written by hosts before group commit). A message with
// hdrFormat formatFramed holds one or more items, framed (see
// encodeItems), published on its queue's subject with the item count as
// the last token.
const (
	hdrFormat    = "Lrs-Format"
	formatFramed = "2"
)

// maxMsgItems bounds the items of one message. Entry.Seq keeps the index
// of an item in its message in the low seqShift bits, so it must stay
// below 1<<seqShift.
const maxMsgItems = maxBatch

// seqShift is how many low bits of Entry.Seq hold the item's index in its
// message; the stream sequence is above them.
const seqShift = 10

// entrySeq is the Entry.Seq of the item at index i of the message with
// stream sequence seq: unique and increasing within a queue.
func entrySeq(seq uint64, i int) uint64 { return seq<<seqShift | uint64(i) }

// streamSeq is the stream sequence of the message holding the entry with
// Entry.Seq seq.
func streamSeq(seq uint64) uint64 { return seq >> seqShift }

// encodeItems frames items as one message body: the item count, then per
// item its id, tag, trace and data, each variable-length field preceded by
// its length (unsigned varints).
func encodeItems(items []queue.Item) []byte {
	n := binary.MaxVarintLen64
	for _, it := range items {
		n += itemSize(it)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(items)))
	for _, it := range items {
		b = appendItem(b, it)
	}
	return b
}

// itemSize bounds the framed size of it.
func itemSize(it queue.Item) int {
	return 3*binary.MaxVarintLen32 + 1 + len(it.ID) + len(it.Trace) + len(it.Data)
}

func appendItem(b []byte, it queue.Item) []byte {
	b = binary.AppendUvarint(b, uint64(len(it.ID)))
	b = append(b, it.ID...)
	b = append(b, it.Tag)
	b = binary.AppendUvarint(b, uint64(len(it.Trace)))
	b = append(b, it.Trace...)
	b = binary.AppendUvarint(b, uint64(len(it.Data)))
	return append(b, it.Data...)
}

// decodeItems reads the items framed by encodeItems. Data and Trace are
// slices of body with their capacity cut; an empty trace is nil. The error
// says what is wrong and at which byte.
func decodeItems(body []byte) ([]queue.Item, error) {
	r := reader{b: body}
	n, err := r.uvarint("item count")
	if err != nil {
		return nil, err
	}
	if n == 0 || n > maxMsgItems {
		return nil, fmt.Errorf("item count %d, want 1 to %d", n, maxMsgItems)
	}
	items := make([]queue.Item, n)
	for i := range items {
		id, err := r.bytes(i, "id")
		if err != nil {
			return nil, err
		}
		if r.off >= len(r.b) {
			return nil, fmt.Errorf("item %d: truncated before its tag (byte %d)", i, r.off)
		}
		tag := r.b[r.off]
		r.off++
		tr, err := r.bytes(i, "trace")
		if err != nil {
			return nil, err
		}
		data, err := r.bytes(i, "data")
		if err != nil {
			return nil, err
		}
		if len(tr) == 0 {
			tr = nil
		}
		items[i] = queue.Item{ID: string(id), Tag: tag, Trace: tr, Data: data}
	}
	if r.off != len(r.b) {
		return nil, fmt.Errorf("%d bytes after the last item (byte %d)", len(r.b)-r.off, r.off)
	}
	return items, nil
}

// reader walks a framed body.
type reader struct {
	b   []byte
	off int
}

func (r *reader) uvarint(what string) (uint64, error) {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		return 0, fmt.Errorf("%s: bad or truncated length at byte %d", what, r.off)
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(i int, field string) ([]byte, error) {
	at := r.off
	n, err := r.uvarint(fmt.Sprintf("item %d %s", i, field))
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("item %d %s: length %d at byte %d runs past the end of the message (%d bytes)", i, field, n, at, len(r.b))
	}
	s := r.b[r.off : r.off+int(n) : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// CorruptMessageError is a queue message that cannot be read: it names the
// queue and the message's stream sequence. It wraps queue.ErrCorrupt. The
// message stays in the stream and is not delivered.
type CorruptMessageError struct {
	Queue  queue.Key
	Stream string
	Seq    uint64 // stream sequence
	Err    error  // what is wrong
}

// Error implements error.
func (e *CorruptMessageError) Error() string {
	return "queue message of " + e.Queue.Org + "/" + e.Queue.Sink + " at stream " + e.Stream +
		" sequence " + strconv.FormatUint(e.Seq, 10) + " cannot be read: " + e.Err.Error() +
		" (it stays in the stream and is not delivered; inspect it with: nats stream get " + e.Stream + " " +
		strconv.FormatUint(e.Seq, 10) + ")"
}

// Unwrap returns queue.ErrCorrupt and the cause.
func (e *CorruptMessageError) Unwrap() []error { return []error{queue.ErrCorrupt, e.Err} }

// errUnknownFormat is the cause of a CorruptMessageError for a message in
// a format this host does not know (written by a newer one).
var errUnknownFormat = errors.New("unknown message format")

// messageEntries returns the queue entries of the message with stream
// sequence seq, appended at ts, in either format.
func messageEntries(key queue.Key, stream string, seq uint64, ts time.Time, hdr nats.Header, body []byte) ([]queue.Entry, error) {
	switch f := hdr.Get(hdrFormat); f {
	case "":
		return []queue.Entry{{Seq: entrySeq(seq, 0), ID: hdr.Get(hdrStatementID), Data: body, Appended: ts}}, nil
	case formatFramed:
		items, err := decodeItems(body)
		if err != nil {
			return nil, &CorruptMessageError{Queue: key, Stream: stream, Seq: seq, Err: err}
		}
		es := make([]queue.Entry, len(items))
		for i, it := range items {
			es[i] = queue.Entry{Seq: entrySeq(seq, i), ID: it.ID, Data: it.Data, Tag: it.Tag, Trace: it.Trace, Appended: ts}
		}
		return es, nil
	default:
		return nil, &CorruptMessageError{Queue: key, Stream: stream, Seq: seq, Err: fmt.Errorf("%w %q", errUnknownFormat, f)}
	}
}
