package queue

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"
)

// Segment files start with a fixed header:
//
//	magic   [8]byte  "LBQSEG01"
//	first   uint64   little-endian; sequence number of the first record
//
// and then hold records back to back. A record is one Append:
//
//	magic   uint32   recordMagic, little-endian
//	length  uint32   length of body
//	crc     uint32   CRC-32C (Castagnoli) of length and body
//	body:
//	  first    uint64  sequence number of the first item
//	  appended int64   append time, Unix nanoseconds
//	  count    uvarint number of items (at least 1)
//	  count times: idLen uvarint, id, dataLen uvarint, data
//
// A record whose magic is recordMagicExtended has, in every item, one more
// byte between id and dataLen, the item's Tag, and after the data the
// item's span context: traceLen uvarint, trace (empty for an item without
// one). Append writes that form only when an item has a Tag other than 0 or
// a span context, so queues of producers that use neither are written as
// before (and stay readable by older hosts), and both forms are read.
//
// All integers are little-endian. The checksum covers the length so that a
// damaged length is caught like damaged data.
const (
	segHeaderLen        = 16
	recordMagic         = 0x51524c4c // "LLRQ" read as little-endian bytes
	recordMagicExtended = 0x54524c4c // "LLRT" read as little-endian bytes
	recordHeaderLen     = 12
	bodyFixedLen        = 16

	// MaxRecordBytes bounds the encoded size of one record, which is one
	// Append. Larger batches get ErrTooLarge.
	MaxRecordBytes = 64 << 20
)

var segMagic = [8]byte{'L', 'B', 'Q', 'S', 'E', 'G', '0', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// record errors, wrapped into CorruptError by the callers that know where
// the record lies.
var (
	errShort    = errors.New("truncated record")
	errMagic    = errors.New("bad record magic")
	errLength   = errors.New("bad record length")
	errChecksum = errors.New("record checksum mismatch")
	errBody     = errors.New("malformed record body")
)

// recordSize returns the encoded size of a record holding items, and the
// sum of len(ID)+len(Data) over them.
func recordSize(items []Item) (size int, payload int64) {
	size = recordHeaderLen + bodyFixedLen + uvarintLen(uint64(len(items)))
	for _, it := range items {
		size += uvarintLen(uint64(len(it.ID))) + len(it.ID) + uvarintLen(uint64(len(it.Data))) + len(it.Data)
		payload += int64(len(it.ID) + len(it.Data))
	}
	if extended(items) {
		for _, it := range items {
			size += 1 + uvarintLen(uint64(len(it.Trace))) + len(it.Trace)
		}
	}
	return size, payload
}

// extended reports whether a record of items needs the extended form: an
// item has a tag or a span context.
func extended(items []Item) bool {
	for _, it := range items {
		if it.Tag != 0 || len(it.Trace) > 0 {
			return true
		}
	}
	return false
}

// encodeRecord writes the record for items into buf (which must have
// recordSize bytes) with a zero sequence number and no checksum; sealRecord
// fills those in once the sequence number is known.
func encodeRecord(buf []byte, items []Item, appended time.Time) {
	ext := extended(items)
	magic := uint32(recordMagic)
	if ext {
		magic = recordMagicExtended
	}
	binary.LittleEndian.PutUint32(buf[0:], magic)
	binary.LittleEndian.PutUint32(buf[4:], uint32(len(buf)-recordHeaderLen))
	b := buf[recordHeaderLen:]
	binary.LittleEndian.PutUint64(b[0:], 0)
	binary.LittleEndian.PutUint64(b[8:], uint64(appended.UnixNano()))
	n := bodyFixedLen
	n += binary.PutUvarint(b[n:], uint64(len(items)))
	for _, it := range items {
		n += binary.PutUvarint(b[n:], uint64(len(it.ID)))
		n += copy(b[n:], it.ID)
		if ext {
			b[n] = it.Tag
			n++
		}
		n += binary.PutUvarint(b[n:], uint64(len(it.Data)))
		n += copy(b[n:], it.Data)
		if ext {
			n += binary.PutUvarint(b[n:], uint64(len(it.Trace)))
			n += copy(b[n:], it.Trace)
		}
	}
}

// sealRecord sets the record's first sequence number and its checksum.
func sealRecord(buf []byte, first uint64) {
	binary.LittleEndian.PutUint64(buf[recordHeaderLen:], first)
	c := crc32.Update(crc32.Checksum(buf[4:8], castagnoli), castagnoli, buf[recordHeaderLen:])
	binary.LittleEndian.PutUint32(buf[8:], c)
}

// recordHead is what a scan learns about a record without decoding items.
type recordHead struct {
	length   int // whole record, header included
	first    uint64
	count    int
	appended int64
	extended bool // recordMagicExtended: a tag byte after each id, a trace after each data
}

// checkRecord verifies the record at the start of b (which may be longer
// than the record): magic, length, checksum and body structure. It returns
// errShort when b ends before the record does.
func checkRecord(b []byte) (recordHead, error) {
	var h recordHead
	if len(b) < recordHeaderLen {
		return h, errShort
	}
	switch binary.LittleEndian.Uint32(b[0:]) {
	case recordMagic:
	case recordMagicExtended:
		h.extended = true
	default:
		return h, errMagic
	}
	bodyLen := binary.LittleEndian.Uint32(b[4:])
	if bodyLen < bodyFixedLen+1 || bodyLen > MaxRecordBytes-recordHeaderLen {
		return h, errLength
	}
	total := recordHeaderLen + int(bodyLen)
	if len(b) < total {
		return h, errShort
	}
	c := crc32.Update(crc32.Checksum(b[4:8], castagnoli), castagnoli, b[recordHeaderLen:total])
	if c != binary.LittleEndian.Uint32(b[8:]) {
		return h, errChecksum
	}
	body := b[recordHeaderLen:total]
	h.length = total
	h.first = binary.LittleEndian.Uint64(body[0:])
	h.appended = int64(binary.LittleEndian.Uint64(body[8:]))
	n, k := binary.Uvarint(body[bodyFixedLen:])
	if k <= 0 || n == 0 || n > uint64(len(body)) {
		return h, errBody
	}
	h.count = int(n)
	if h.first == 0 || h.first+n < h.first {
		return h, errBody
	}
	// Walk the items so that a record whose checksum happens to match but
	// whose structure is broken is still refused.
	p := bodyFixedLen + k
	fields := 2
	if h.extended {
		fields = 3
	}
	for i := 0; i < h.count; i++ {
		for j := 0; j < fields; j++ {
			l, k := binary.Uvarint(body[p:])
			if k <= 0 || l > uint64(len(body)-p-k) {
				return h, errBody
			}
			p += k + int(l)
			if j == 0 && h.extended {
				if p >= len(body) {
					return h, errBody
				}
				p++
			}
		}
	}
	if p != len(body) {
		return h, errBody
	}
	return h, nil
}

// appendItems appends to out the entries of the checked record b (whose
// head is h) whose sequence numbers are in seqs (sorted), their Data
// aliasing b. Their IDs are appended to ids, and where each ends to idEnd,
// for the caller to turn into one string.
func appendItems(out []Entry, ids []byte, idEnd []int, b []byte, h recordHead, seqs []uint64) ([]Entry, []byte, []int) {
	at := time.Unix(0, h.appended)
	walkItems(b, h, func(i int, id []byte, tag byte, data, trace []byte) {
		seq := h.first + uint64(i)
		if len(seqs) == 0 || seqs[0] != seq {
			return
		}
		seqs = seqs[1:]
		ids = append(ids, id...)
		idEnd = append(idEnd, len(ids))
		out = append(out, Entry{Seq: seq, Data: data, Tag: tag, Appended: at, Trace: trace})
	})
	return out, ids, idEnd
}

// walkItems calls f with the index, id, tag, data and span context (nil
// when the item has none) of every item of a checked record. data and
// trace alias b, with their capacity cut to their length.
func walkItems(b []byte, h recordHead, f func(i int, id []byte, tag byte, data, trace []byte)) {
	body := b[recordHeaderLen:h.length]
	_, k := binary.Uvarint(body[bodyFixedLen:])
	p := bodyFixedLen + k
	for i := range h.count {
		var id, data, trace []byte
		var tag byte
		id, tag, data, trace, p = itemAt(body, p, h.extended)
		f(i, id, tag, data, trace)
	}
}

// itemAt decodes the item at p of a checked record's body and returns
// where the next one starts.
func itemAt(body []byte, p int, extended bool) (id []byte, tag byte, data, trace []byte, next int) {
	l, k := binary.Uvarint(body[p:])
	p += k
	id = body[p : p+int(l)]
	p += int(l)
	if extended {
		tag = body[p]
		p++
	}
	l, k = binary.Uvarint(body[p:])
	p += k
	data = body[p : p+int(l) : p+int(l)]
	p += int(l)
	if extended {
		l, k = binary.Uvarint(body[p:])
		p += k
		if l > 0 {
			trace = body[p : p+int(l) : p+int(l)]
		}
		p += int(l)
	}
	return id, tag, data, trace, p
}

// itemOffsets returns where each item of a checked record starts in its
// body.
func itemOffsets(b []byte, h recordHead) []int32 {
	body := b[recordHeaderLen:h.length]
	_, k := binary.Uvarint(body[bodyFixedLen:])
	p := bodyFixedLen + k
	offs := make([]int32, h.count)
	for i := range offs {
		offs[i] = int32(p)
		_, _, _, _, p = itemAt(body, p, h.extended)
	}
	return offs
}

// appendAt is appendItems for a record whose item offsets are known: it
// decodes only the items in seqs.
func appendAt(out []Entry, ids []byte, idEnd []int, b []byte, h recordHead, offs []int32, seqs []uint64) ([]Entry, []byte, []int) {
	at := time.Unix(0, h.appended)
	body := b[recordHeaderLen:h.length]
	for _, seq := range seqs {
		id, tag, data, trace, _ := itemAt(body, int(offs[seq-h.first]), h.extended)
		ids = append(ids, id...)
		idEnd = append(idEnd, len(ids))
		out = append(out, Entry{Seq: seq, Data: data, Tag: tag, Appended: at, Trace: trace})
	}
	return out, ids, idEnd
}

// itemSizes returns len(ID)+len(Data) of each item of a checked record.
func itemSizes(b []byte, h recordHead) []int64 {
	out := make([]int64, h.count)
	walkItems(b, h, func(i int, id []byte, _ byte, data, _ []byte) { out[i] = int64(len(id) + len(data)) })
	return out
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// segHeader returns the header of a segment whose first record has
// sequence number first.
func segHeader(first uint64) []byte {
	b := make([]byte, segHeaderLen)
	copy(b, segMagic[:])
	binary.LittleEndian.PutUint64(b[8:], first)
	return b
}

// parseSegHeader returns the first sequence number from a segment header.
func parseSegHeader(b []byte) (uint64, bool) {
	if len(b) < segHeaderLen || [8]byte(b[:8]) != segMagic {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[8:]), true
}
