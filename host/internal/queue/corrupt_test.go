package queue

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecoverDamage(t *testing.T) {
	t.Parallel()
	// Every test queue holds records s0..s9 of one item each, spread over
	// segments of segBytes, written with SyncAlways and closed.
	const segBytes = 4096
	recLen := func(id string) int64 { n, _ := recordSize(items(id)); return int64(n) }
	type files struct {
		dir  string
		segs []string // segment paths in order
	}
	last := func(f files) string { return f.segs[len(f.segs)-1] }
	flip := func(t *testing.T, path string, off int64) {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 {
			off += int64(len(b))
		}
		b[off] ^= 0x40
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	appendBytes := func(t *testing.T, path string, extra []byte) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(extra); err != nil {
			t.Fatal(err)
		}
	}
	size := func(t *testing.T, path string) int64 {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	tests := []struct {
		name    string
		records int // records written, over two segments when > 4
		damage  func(t *testing.T, f files)
		want    []string // ids recovered; nil when opening must fail
		corrupt string   // file (relative to the queue dir) named in the CorruptError
		offset  int64
	}{
		{
			name:    "intact",
			records: 10,
			damage:  func(*testing.T, files) {},
			want:    seqIDs("s", 0, 10),
		},
		{
			name:    "garbage at the end",
			records: 10,
			damage: func(t *testing.T, f files) {
				appendBytes(t, last(f), []byte("this is not a record, just noise at the end"))
			},
			want: seqIDs("s", 0, 10),
		},
		{
			name:    "zeros at the end",
			records: 10,
			damage:  func(t *testing.T, f files) { appendBytes(t, last(f), make([]byte, 4096)) },
			want:    seqIDs("s", 0, 10),
		},
		{
			name:    "partial last record",
			records: 10,
			damage: func(t *testing.T, f files) {
				if err := os.Truncate(last(f), size(t, last(f))-5); err != nil {
					t.Fatal(err)
				}
			},
			want: seqIDs("s", 0, 9),
		},
		{
			name:    "only the last record's header",
			records: 10,
			damage: func(t *testing.T, f files) {
				if err := os.Truncate(last(f), size(t, last(f))-recLen("s9")+recordHeaderLen); err != nil {
					t.Fatal(err)
				}
			},
			want: seqIDs("s", 0, 9),
		},
		{
			name:    "bad checksum in the last record",
			records: 10,
			damage:  func(t *testing.T, f files) { flip(t, last(f), -3) },
			want:    seqIDs("s", 0, 9),
		},
		{
			name:    "bad checksum in the first record of the last segment",
			records: 3,
			damage:  func(t *testing.T, f files) { flip(t, last(f), segHeaderLen+20) },
			corrupt: segName(1),
			offset:  segHeaderLen,
		},
		{
			name:    "bad length in the middle",
			records: 3,
			damage:  func(t *testing.T, f files) { flip(t, last(f), segHeaderLen+recLen("s0")+5) },
			corrupt: segName(1),
			offset:  segHeaderLen + recLen("s0"),
		},
		{
			name:    "bad checksum at the end of an older segment",
			records: 100,
			damage:  func(t *testing.T, f files) { flip(t, f.segs[0], -3) },
			corrupt: segName(1),
		},
		{
			name:    "older segment missing",
			records: 100,
			damage: func(t *testing.T, f files) {
				if err := os.Remove(f.segs[1]); err != nil {
					t.Fatal(err)
				}
			},
			corrupt: "", // filled in below: the segment after the gap
		},
		{
			name:    "torn header of a new segment",
			records: 3,
			damage: func(t *testing.T, f files) {
				if err := os.WriteFile(filepath.Join(f.dir, segName(4)), []byte("LBQ"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: seqIDs("s", 0, 3),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{Dir: dir, SegmentBytes: segBytes}
			s := openStore(t, opts)
			q := openQueue(t, s, "org", "sink")
			for i := range tt.records {
				appendIDs(t, q, seqIDs("s", i, i+1)...)
			}
			qdir := queueDir(t, s, "org", "sink")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			var f files
			f.dir = qdir
			for _, n := range segments(t, qdir) {
				f.segs = append(f.segs, filepath.Join(qdir, n))
			}
			if tt.records > 10 && len(f.segs) < 3 {
				t.Fatalf("setup: %d segments, want at least 3", len(f.segs))
			}
			if tt.name == "older segment missing" {
				tt.corrupt = filepath.Base(f.segs[2])
			}
			tt.damage(t, f)

			s = openStore(t, opts)
			q, err := s.Queue("org", "sink")
			if tt.want == nil {
				var ce *CorruptError
				if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
					t.Fatalf("Queue = %v, want a CorruptError", err)
				}
				if want := filepath.Join(dirName("org", "sink"), tt.corrupt); ce.File != want || (tt.offset != 0 && ce.Offset != tt.offset) {
					t.Errorf("CorruptError at %s:%d, want %s:%d", ce.File, ce.Offset, want, tt.offset)
				}
				return
			}
			if err != nil {
				t.Fatalf("Queue: %v", err)
			}
			if got := q.Stats().Pending; got != len(tt.want) {
				t.Errorf("Pending = %d, want %d", got, len(tt.want))
			}
			// The queue takes new records after the recovered ones, and
			// they survive another reopen.
			reopenTakesNew(t, s, q, opts, tt.want)
		})
	}
}

// reopenTakesNew appends "new" to q, the queue org/sink of s, closes s,
// opens it again with opts and checks that the queue hands out want, then
// "new": a recovered queue takes new records after the ones it kept, and
// they survive another reopen.
func reopenTakesNew(t *testing.T, s *Store, q Queue, opts Options, want []string) {
	t.Helper()
	appendIDs(t, q, "new")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, opts)
	q = openQueue(t, s, "org", "sink")
	if diff := cmp.Diff(append(want, "new"), drain(t, q)); diff != "" {
		t.Errorf("recovered entries (-want +got):\n%s", diff)
	}
}

func TestAckLogDamage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		damage func(b []byte) []byte
		want   []string
	}{
		{"intact", func(b []byte) []byte { return b }, seqIDs("s", 5, 10)},
		{"torn last entry", func(b []byte) []byte { return b[:len(b)-3] }, seqIDs("s", 4, 10)},
		{"garbage after", func(b []byte) []byte { return append(b, "garbage!"...) }, seqIDs("s", 5, 10)},
		{"bad checksum in the last entry", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, seqIDs("s", 4, 10)},
		{"missing", func([]byte) []byte { return nil }, seqIDs("s", 0, 10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, Options{Dir: dir})
			q := openQueue(t, s, "org", "sink")
			appendIDs(t, q, seqIDs("s", 0, 10)...)
			es := next(t, q, 5, 0)
			for _, e := range es[:4] {
				if err := q.Ack(e.Seq); err != nil {
					t.Fatal(err)
				}
			}
			// Cut the ack log written so far (cursors 2..5) before the
			// last Ack and Close add their entries.
			path := filepath.Join(queueDir(t, s, "org", "sink"), ackName)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Ack(es[4].Seq); err != nil {
				t.Fatal(err)
			}
			last, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			b = tt.damage(append(b, last[len(b):len(b)+ackEntryLen]...))
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s = openStore(t, Options{Dir: dir})
			q = openQueue(t, s, "org", "sink")
			if diff := cmp.Diff(tt.want, drain(t, q)); diff != "" {
				t.Errorf("entries after reopen (-want +got):\n%s", diff)
			}
		})
	}
}
