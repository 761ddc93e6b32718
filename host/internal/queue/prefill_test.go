package queue

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrefillSize(t *testing.T) {
	t.Parallel()
	const segBytes = 16 << 20
	tests := []struct {
		name  string
		pol   SyncPolicy
		alloc int64 // the file's length before the write
		end   int64 // where the write ends
		want  int64
	}{
		{name: "fits", pol: SyncAlways, alloc: 64 << 10, end: 1000, want: 64 << 10},
		{name: "fits exactly", pol: SyncAlways, alloc: 64 << 10, end: 64 << 10, want: 64 << 10},
		{name: "new segment", pol: SyncAlways, alloc: segHeaderLen, end: 500, want: segHeaderLen + prefillMin},
		{name: "doubles", pol: SyncAlways, alloc: 64 << 10, end: 64<<10 + 1, want: 128 << 10},
		{name: "capped step", pol: SyncAlways, alloc: 8 << 20, end: 8<<20 + 1, want: 8<<20 + prefillMax},
		{name: "large record", pol: SyncAlways, alloc: 64 << 10, end: 4 << 20, want: 4 << 20},
		{name: "capped at the segment size", pol: SyncAlways, alloc: segBytes - 1000, end: segBytes - 500, want: segBytes},
		{name: "record past the segment size", pol: SyncAlways, alloc: segBytes, end: segBytes + 700, want: segBytes + 700},
		{name: "group", pol: SyncGroup, alloc: segHeaderLen, end: 500, want: segHeaderLen + prefillMin},
		{name: "no zeros without fsync", pol: SyncNone, alloc: segHeaderLen, end: 500, want: segHeaderLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fileQueue{s: &Store{opts: Options{SegmentBytes: segBytes}}, pol: tt.pol}
			if got := q.prefill(&segment{alloc: tt.alloc}, tt.end); got != tt.want {
				t.Errorf("prefill(alloc %d, end %d) = %d, want %d", tt.alloc, tt.end, got, tt.want)
			}
		})
	}
}

// recordsEnd returns where the records of the segment file b end.
func recordsEnd(t *testing.T, b []byte) int {
	t.Helper()
	off := segHeaderLen
	for off < len(b) {
		h, err := checkRecord(b[off:])
		if err != nil {
			break
		}
		off += h.length
	}
	return off
}

// TestPrefillFiles checks the files a queue leaves: the last segment ends
// in zeros written ahead of the records while the queue is open, full
// segments and, after Close, the last one hold only their records (as a
// host of an earlier version writes them), and without fsync no zeros are
// written.
func TestPrefillFiles(t *testing.T) {
	t.Parallel()
	for _, pol := range []SyncPolicy{SyncAlways, SyncGroup, SyncNone} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{Dir: dir, Sync: pol, SegmentBytes: 64 << 10}
			s := openStore(t, opts)
			q := openQueue(t, s, "org", "sink")
			qdir := queueDir(t, s, "org", "sink")
			ids := seqIDs("s", 0, 700) // about 100 KiB: two segments
			appendIDs(t, q, ids...)
			segs := segments(t, qdir)
			if len(segs) < 2 {
				t.Fatalf("%d segments, want at least 2", len(segs))
			}
			for i, name := range segs {
				b, err := os.ReadFile(filepath.Join(qdir, name))
				if err != nil {
					t.Fatal(err)
				}
				end := recordsEnd(t, b)
				if !zeros(b[end:]) {
					t.Errorf("%s: bytes after the records are not zeros", name)
				}
				wantTail := i == len(segs)-1 && pol != SyncNone
				if gotTail := end < len(b); gotTail != wantTail {
					t.Errorf("%s: %d bytes of records, %d in the file; want zeros after them: %v", name, end, len(b), wantTail)
				}
				if len(b) > int(opts.SegmentBytes) {
					t.Errorf("%s: %d bytes, over the segment size", name, len(b))
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, name := range segments(t, qdir) {
				b, err := os.ReadFile(filepath.Join(qdir, name))
				if err != nil {
					t.Fatal(err)
				}
				if end := recordsEnd(t, b); end != len(b) {
					t.Errorf("after Close, %s: %d bytes of records, %d in the file", name, end, len(b))
				}
			}
			s = openStore(t, opts)
			q = openQueue(t, s, "org", "sink")
			appendIDs(t, q, "new")
			if diff := cmp.Diff(append(ids, "new"), drain(t, q)); diff != "" {
				t.Errorf("after reopen (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPrefillAfterCrash opens queues as a killed process leaves them, its
// last segment ending in zeros written ahead of its records, with a record
// torn in them or not, and an older segment whose zeros were never cut
// off: every record is read, nothing else, and new records follow them.
func TestPrefillAfterCrash(t *testing.T) {
	t.Parallel()
	const segBytes = 4096
	rec := func(t *testing.T, id string, first uint64) []byte {
		t.Helper()
		its := items(id)
		n, _ := recordSize(its)
		b := make([]byte, n)
		encodeRecord(b, its, time.Unix(1764547200, 0))
		sealRecord(b, first)
		return b
	}
	write := func(t *testing.T, path string, extra ...[]byte) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(bytes.Join(extra, nil)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		records int
		damage  func(t *testing.T, segs []string)
		want    []string
		corrupt bool
	}{
		{
			name:    "zeros after the last record",
			records: 10,
			damage:  func(t *testing.T, segs []string) { write(t, segs[len(segs)-1], make([]byte, prefillMin)) },
			want:    seqIDs("s", 0, 10),
		},
		{
			name:    "record torn in the zeros",
			records: 10,
			damage: func(t *testing.T, segs []string) {
				r := rec(t, "torn", 11)
				write(t, segs[len(segs)-1], r[:len(r)/2], make([]byte, prefillMin))
			},
			want: seqIDs("s", 0, 10),
		},
		{
			name:    "record header alone in the zeros",
			records: 10,
			damage: func(t *testing.T, segs []string) {
				write(t, segs[len(segs)-1], rec(t, "torn", 11)[:recordHeaderLen], make([]byte, prefillMin))
			},
			want: seqIDs("s", 0, 10),
		},
		{
			name:    "record with its first bytes still zero",
			records: 10,
			damage: func(t *testing.T, segs []string) {
				r := rec(t, "torn", 11)
				clear(r[:len(r)/2])
				write(t, segs[len(segs)-1], r, make([]byte, prefillMin))
			},
			want: seqIDs("s", 0, 10),
		},
		{
			name:    "zeros left after an older segment",
			records: 100,
			damage:  func(t *testing.T, segs []string) { write(t, segs[0], make([]byte, 1000)) },
			want:    seqIDs("s", 0, 100),
		},
		{
			name:    "older segment's last record zeroed",
			records: 100,
			damage: func(t *testing.T, segs []string) {
				b, err := os.ReadFile(segs[0])
				if err != nil {
					t.Fatal(err)
				}
				// Zero the last record: a sequence gap, not an end.
				off := segHeaderLen
				last := off
				for off < len(b) {
					h, err := checkRecord(b[off:])
					if err != nil {
						t.Fatal(err)
					}
					last, off = off, off+h.length
				}
				clear(b[last:])
				if err := os.WriteFile(segs[0], b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			corrupt: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Dir: t.TempDir(), SegmentBytes: segBytes}
			s := openStore(t, opts)
			q := openQueue(t, s, "org", "sink")
			for i := range tt.records {
				appendIDs(t, q, seqIDs("s", i, i+1)...)
			}
			qdir := queueDir(t, s, "org", "sink")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var segs []string
			for _, n := range segments(t, qdir) {
				segs = append(segs, filepath.Join(qdir, n))
			}
			tt.damage(t, segs)

			s = openStore(t, opts)
			q, err := s.Queue("org", "sink")
			if tt.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Queue = %v, want an error wrapping ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Queue: %v", err)
			}
			reopenTakesNew(t, s, q, opts, tt.want)
		})
	}
}

// FuzzRecoverTail appends arbitrary bytes to the last segment of a queue
// holding three records, as a crash in the middle of writing into the
// zeros ahead of them may leave it, and opens it: the queue either opens
// with the three records first and takes new ones after whatever it kept,
// or fails with an error wrapping ErrCorrupt. It never panics and never
// loses the three.
func FuzzRecoverTail(f *testing.F) {
	its := items("x")
	n, _ := recordSize(its)
	valid := make([]byte, n)
	encodeRecord(valid, its, time.Unix(1764547200, 0))
	sealRecord(valid, 4)
	f.Add([]byte{})
	f.Add(make([]byte, 100))
	f.Add(valid)
	f.Add(valid[:n/2])
	f.Add(append(valid[:n/2:n/2], make([]byte, 64)...))
	f.Add(append(append([]byte{}, valid...), 0, 0, 0, 1))
	f.Add([]byte("LLRQ garbage"))

	// The queue's files, made once and copied for every input.
	want := seqIDs("s", 0, 3)
	tmpl := f.TempDir()
	s, err := Open(Options{Dir: tmpl, Sync: SyncNone})
	if err != nil {
		f.Fatal(err)
	}
	q, err := s.Queue("org", "sink")
	if err != nil {
		f.Fatal(err)
	}
	appendIDs(f, q, want...)
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	name := dirName("org", "sink")
	files := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(tmpl, name))
	if err != nil {
		f.Fatal(err)
	}
	last := ""
	for _, e := range ents {
		if files[e.Name()], err = os.ReadFile(filepath.Join(tmpl, name, e.Name())); err != nil {
			f.Fatal(err)
		}
		if filepath.Ext(e.Name()) == ".seg" {
			last = max(last, e.Name())
		}
	}

	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		for fn, b := range files {
			if fn == last {
				b = append(bytes.Clone(b), tail...)
			}
			if err := os.WriteFile(filepath.Join(dir, name, fn), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		q, err := s.Queue("org", "sink")
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Queue = %v, want success or an error wrapping ErrCorrupt", err)
			}
			return
		}
		appendIDs(t, q, "new")
		got := drain(t, q)
		if len(got) < len(want)+1 || !cmp.Equal(want, got[:len(want)]) || got[len(got)-1] != "new" {
			t.Fatalf("entries %v, want %v first and \"new\" last", got, want)
		}
		if len(got) > len(want)+1 {
			// Only a whole valid record with the next sequence number
			// can add an entry.
			if diff := cmp.Diff(append(want, "x", "new"), got); diff != "" {
				t.Fatalf("entries beyond the appended ones (-want +got):\n%s", diff)
			}
		}
		if err := q.Close(); err != nil {
			t.Fatal(fmt.Errorf("close: %w", err))
		}
	})
}
