package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sealed(its []Item, first uint64, at time.Time) []byte {
	n, _ := recordSize(its)
	b := make([]byte, n)
	encodeRecord(b, its, at)
	sealRecord(b, first)
	return b
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Unix(1700000000, 123456789)
	tests := []struct {
		name  string
		items []Item
		first uint64
	}{
		{"one", items("s1"), 1},
		{"several", items("s1", "s2", "s3"), 42},
		{"empty id and data", []Item{{}}, 7},
		{"large data", []Item{{ID: "big", Data: make([]byte, 70000)}}, 1 << 40},
		{"tagged", []Item{{ID: "s1", Data: []byte("{}"), Tag: 2}, {ID: "s2", Data: []byte("{}")}, {ID: "s3", Tag: 255}}, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := sealed(tt.items, tt.first, at)
			got, h, err := decodeRecord(append(b, "next record"...))
			if err != nil {
				t.Fatalf("decodeRecord: %v", err)
			}
			if h.length != len(b) {
				t.Errorf("length %d, want %d", h.length, len(b))
			}
			var want []Entry
			for i, it := range tt.items {
				want = append(want, Entry{Seq: tt.first + uint64(i), ID: it.ID, Data: it.Data, Tag: it.Tag, Appended: at})
			}
			wantMagic := "LLRQ" // records without tags keep the first form
			if tagged(tt.items) {
				wantMagic = "LLRT"
			}
			if string(b[:4]) != wantMagic {
				t.Errorf("magic %q, want %q", b[:4], wantMagic)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRecordDamageDetected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		items []Item
	}{
		{"untagged", items("s1", "s2")},
		{"tagged", []Item{{ID: "s1", Data: []byte("{}"), Tag: 1}, {ID: "s2", Data: []byte("{}")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkDamageDetected(t, sealed(tc.items, 5, time.Now()))
		})
	}
}

func checkDamageDetected(t *testing.T, b []byte) {
	// Every single-bit flip anywhere in the record is caught.
	for i := range b {
		for bit := range 8 {
			c := append([]byte(nil), b...)
			c[i] ^= 1 << bit
			if _, err := checkRecord(c); err == nil {
				t.Fatalf("flip of bit %d of byte %d not detected", bit, i)
			}
		}
	}
	// Every truncation is reported as short (or a bad length).
	for n := range len(b) {
		_, err := checkRecord(b[:n])
		if !errors.Is(err, errShort) && !errors.Is(err, errLength) {
			t.Fatalf("record cut to %d bytes: %v, want errShort", n, err)
		}
	}
}

// FuzzRecord checks that the decoder never panics, that whatever it accepts
// re-encodes to the same bytes, and that a damaged copy of an accepted record
// is refused.
func FuzzRecord(f *testing.F) {
	f.Add(sealed(items("s1"), 1, time.Unix(0, 0)), 3)
	f.Add(sealed(items("s1", "s2", "s3"), 99, time.Unix(5, 0)), 40)
	f.Add([]byte{}, 0)
	f.Add([]byte("LLRQ\x10\x00\x00\x00garbage"), 1)
	f.Add(sealed([]Item{{ID: "s1", Data: []byte("{}"), Tag: 1}, {ID: "s2"}}, 7, time.Unix(9, 0)), 21)
	f.Fuzz(func(t *testing.T, b []byte, flip int) {
		es, h, err := decodeRecord(b)
		if err != nil {
			return
		}
		if h.length > len(b) || len(es) != h.count || h.count == 0 {
			t.Fatalf("accepted record with length %d of %d bytes and %d/%d entries", h.length, len(b), len(es), h.count)
		}
		its := make([]Item, len(es))
		for i, e := range es {
			its[i] = Item{ID: e.ID, Data: e.Data, Tag: e.Tag}
		}
		again := sealed(its, h.first, es[0].Appended)
		if h.tagged && !tagged(its) {
			// A tagged record whose tags are all 0 is written untagged:
			// the same entries in the first form.
			back, _, err := decodeRecord(again)
			if err != nil || !cmp.Equal(es, back, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })) {
				t.Fatalf("tagged record with zero tags re-encodes to different entries: %v", err)
			}
		} else if string(again) != string(b[:h.length]) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, b[:h.length])
		}
		if flip < 0 {
			flip = -flip
		}
		c := append([]byte(nil), b[:h.length]...)
		c[flip%len(c)] ^= 0x10
		if _, err := checkRecord(c); err == nil {
			t.Fatalf("byte %d flipped and still accepted", flip%len(c))
		}
	})
}

// decodeRecord checks the record at the start of b and returns its entries.
// The entries' Data alias b.
func decodeRecord(b []byte) ([]Entry, recordHead, error) {
	h, err := checkRecord(b)
	if err != nil {
		return nil, h, err
	}
	at := time.Unix(0, h.appended)
	out := make([]Entry, 0, h.count)
	walkItems(b, h, func(i int, id []byte, tag byte, data []byte) {
		out = append(out, Entry{Seq: h.first + uint64(i), ID: string(id), Data: data, Tag: tag, Appended: at})
	})
	return out, h, nil
}
