package jsstore

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/nats-io/nats.go"
)

var framingKey = queue.Key{Org: "acme", Sink: "lrs"}

func framedHeader() nats.Header {
	h := nats.Header{}
	h.Set(hdrFormat, formatFramed)
	return h
}

func TestFramingRoundTrip(t *testing.T) {
	ts := time.Date(2026, 5, 1, 10, 15, 30, 0, time.UTC)
	tests := []struct {
		name  string
		items []queue.Item
	}{
		{"one statement", []queue.Item{{ID: "st-1", Data: []byte(`{"id":"st-1"}`)}}},
		{"tags, traces and empty fields", []queue.Item{
			{ID: "st-1", Data: []byte(`{}`), Tag: 7, Trace: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
			{ID: "", Data: nil},
			{ID: "st-3", Data: bytes.Repeat([]byte("x"), 300), Tag: 255},
		}},
		{"most items", func() []queue.Item {
			out := make([]queue.Item, maxMsgItems)
			for i := range out {
				out[i] = queue.Item{ID: strings.Repeat("i", i%5), Data: []byte{byte(i)}}
			}
			return out
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := encodeItems(tt.items)
			got, err := messageEntries(framingKey, "LRSBRIDGE", 42, ts, framedHeader(), body)
			if err != nil {
				t.Fatal(err)
			}
			var want []queue.Entry
			for i, it := range tt.items {
				want = append(want, queue.Entry{Seq: 42<<seqShift | uint64(i), ID: it.ID, Data: it.Data, Tag: it.Tag, Trace: it.Trace, Appended: ts})
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			for i := range got {
				if streamSeq(got[i].Seq) != 42 {
					t.Errorf("entry %d: streamSeq(%d) = %d, want 42", i, got[i].Seq, streamSeq(got[i].Seq))
				}
				if cap(got[i].Data) != len(got[i].Data) {
					t.Errorf("entry %d: Data has capacity %d beyond its length %d", i, cap(got[i].Data), len(got[i].Data))
				}
			}
		})
	}
}

// TestFramingFirstFormat reads a message written before group commit: one
// statement, its id in a header, no format header.
func TestFramingFirstFormat(t *testing.T) {
	ts := time.Date(2026, 5, 1, 10, 15, 30, 0, time.UTC)
	h := nats.Header{}
	h.Set(hdrStatementID, "st-1")
	got, err := messageEntries(framingKey, "LRSBRIDGE", 9, ts, h, []byte(`{"id":"st-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []queue.Entry{{Seq: 9 << seqShift, ID: "st-1", Data: []byte(`{"id":"st-1"}`), Appended: ts}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

// TestFramingCorrupt: a damaged message gives a CorruptMessageError that
// names the queue and the stream sequence and wraps queue.ErrCorrupt.
func TestFramingCorrupt(t *testing.T) {
	good := encodeItems([]queue.Item{{ID: "st-1", Data: []byte(`{"id":"st-1"}`)}, {ID: "st-2", Data: []byte(`{}`)}})
	tests := []struct {
		name   string
		format string
		body   []byte
		reason string // in the error
	}{
		{"empty", formatFramed, nil, "item count"},
		{"no items", formatFramed, []byte{0}, "item count 0"},
		{"too many items", formatFramed, []byte{0xe9, 0x07}, "item count 1001"},
		{"truncated", formatFramed, good[:len(good)-1], "runs past the end"},
		{"truncated before a tag", formatFramed, good[:1+1+4], "before its tag"},
		{"trailing bytes", formatFramed, append(bytes.Clone(good), 'x'), "after the last item"},
		{"huge length", formatFramed, []byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "runs past the end"},
		{"bad varint", formatFramed, []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "bad or truncated length"},
		{"unknown format", "3", good, "unknown message format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{}
			h.Set(hdrFormat, tt.format)
			es, err := messageEntries(framingKey, "LRSBRIDGE", 77, time.Now(), h, tt.body)
			if err == nil {
				t.Fatalf("entries %v, want an error", es)
			}
			if !errors.Is(err, queue.ErrCorrupt) {
				t.Errorf("error %v does not wrap queue.ErrCorrupt", err)
			}
			var ce *CorruptMessageError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is not a *CorruptMessageError", err)
			}
			if diff := cmp.Diff(&CorruptMessageError{Queue: framingKey, Stream: "LRSBRIDGE", Seq: 77}, ce, cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".Err"
			}, cmp.Ignore())); diff != "" {
				t.Errorf("error location (-want +got):\n%s", diff)
			}
			msg := err.Error()
			for _, want := range []string{"acme/lrs", "LRSBRIDGE", "sequence 77", tt.reason} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}

func TestSubjectCounts(t *testing.T) {
	subjects := map[string]uint64{
		"lrs.acme.lrs":      2, // first format
		"lrs.acme.lrs.1":    3,
		"lrs.acme.lrs.40":   2,
		"lrs.acme.lrs-2.5":  1, // another queue
		"lrs.acme.lrs-2":    4,
		"lrs.acme.5":        1, // the queue of sink "5"
		"lrs.acme.lrs.junk": 9,
	}
	tests := []struct {
		base string
		want int64
	}{
		{"lrs.acme.lrs", 2 + 3 + 80},
		{"lrs.acme.lrs-2", 4 + 5},
		{"lrs.acme.5", 1},
		{"lrs.acme.other", 0},
	}
	for _, tt := range tests {
		if got := pendingStatements(subjects, tt.base); got != tt.want {
			t.Errorf("pendingStatements(%s) = %d, want %d", tt.base, got, tt.want)
		}
	}
	if got, want := framedSubject("lrs.acme.lrs", 12), "lrs.acme.lrs.12"; got != want {
		t.Errorf("framedSubject = %q, want %q", got, want)
	}
}

// FuzzDecodeItems: any body decodes to items that encode back to it, or
// to a clean error; never a panic.
func FuzzDecodeItems(f *testing.F) {
	f.Add(encodeItems([]queue.Item{{ID: "st-1", Data: []byte(`{}`), Tag: 3, Trace: []byte("t")}}))
	f.Add(encodeItems([]queue.Item{{ID: "a"}, {ID: "b", Data: []byte("xy")}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		items, err := decodeItems(body)
		if err != nil {
			if items != nil {
				t.Fatalf("items %v with error %v", items, err)
			}
			return
		}
		if len(items) == 0 || len(items) > maxMsgItems {
			t.Fatalf("%d items decoded", len(items))
		}
		if again := encodeItems(items); !bytes.Equal(again, body) {
			// Varints have one shortest form; a longer one is still
			// read, so compare what it means instead.
			back, err := decodeItems(again)
			if err != nil {
				t.Fatalf("re-encoded items do not decode: %v", err)
			}
			if diff := cmp.Diff(items, back); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		}
	})
}
