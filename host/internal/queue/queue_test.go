package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNextOrderAndLimits(t *testing.T) {
	t.Parallel()
	size := int64(len("s1") + len(item("s1").Data))
	tests := []struct {
		name     string
		batches  [][]string
		maxItems int
		maxBytes int64
		want     [][]string // successive Next results, each acked before the next
	}{
		{
			name:     "one at a time",
			batches:  [][]string{{"s1"}, {"s2"}, {"s3"}},
			maxItems: 1,
			want:     [][]string{{"s1"}, {"s2"}, {"s3"}},
		},
		{
			name:     "count limit spans records",
			batches:  [][]string{{"s1", "s2"}, {"s3"}, {"s4", "s5", "s6"}},
			maxItems: 4,
			want:     [][]string{{"s1", "s2", "s3", "s4"}, {"s5", "s6"}},
		},
		{
			name:     "byte limit",
			batches:  [][]string{{"s1"}, {"s2"}, {"s3"}, {"s4"}, {"s5"}},
			maxBytes: 2*size + 1,
			want:     [][]string{{"s1", "s2"}, {"s3", "s4"}, {"s5"}},
		},
		{
			name:     "at least one entry over the byte limit",
			batches:  [][]string{{"s1", "s2"}},
			maxBytes: 1,
			want:     [][]string{{"s1"}, {"s2"}},
		},
		{
			name:    "no limits",
			batches: [][]string{{"s1", "s2"}, {"s3"}},
			want:    [][]string{{"s1", "s2", "s3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
			for _, b := range tt.batches {
				if err := q.Append(context.Background(), items(b...)); err != nil {
					t.Fatal(err)
				}
			}
			var got [][]string
			var seq uint64
			for q.Stats().Pending > 0 {
				es := next(t, q, tt.maxItems, tt.maxBytes)
				for _, e := range es {
					seq++
					if e.Seq != seq {
						t.Errorf("entry %s has seq %d, want %d", e.ID, e.Seq, seq)
					}
				}
				got = append(got, idsOf(es))
				if err := q.Ack(seqsOf(es)...); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Next results (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPipelineReleaseAck(t *testing.T) {
	t.Parallel()
	q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
	appendIDs(t, q, seqIDs("s", 1, 10)...)

	a := next(t, q, 3, 0) // s1..s3 in flight
	b := next(t, q, 3, 0) // skips them: s4..s6
	if diff := cmp.Diff([]string{"s4", "s5", "s6"}, idsOf(b)); diff != "" {
		t.Fatalf("second batch while the first is in flight (-want +got):\n%s", diff)
	}
	q.Release(a[1].Seq, a[2].Seq) // retry s2, s3
	c := next(t, q, 4, 0)
	if diff := cmp.Diff([]string{"s2", "s3", "s7", "s8"}, idsOf(c)); diff != "" {
		t.Fatalf("released entries come first, in order (-want +got):\n%s", diff)
	}
	if err := q.Ack(a[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(a[0].Seq); err != nil {
		t.Errorf("second Ack of the same entry: %v", err)
	}
	if err := q.Ack(1000); !errors.Is(err, ErrUnknownSeq) {
		t.Errorf("Ack(1000) = %v, want ErrUnknownSeq", err)
	}
	if err := q.Ack(9); !errors.Is(err, ErrUnknownSeq) {
		t.Errorf("Ack of a sequence never handed out = %v, want ErrUnknownSeq", err)
	}
	if err := q.Ack(append(seqsOf(b), seqsOf(c)...)...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"s9"}, drain(t, q)); diff != "" {
		t.Errorf("rest (-want +got):\n%s", diff)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
	if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
		t.Errorf("empty (-want +got):\n%s", diff)
	}
	before := time.Now()
	appendIDs(t, q, "a", "b", "c")
	size := func(ids ...string) int64 {
		var n int64
		for _, id := range ids {
			n += int64(len(id) + len(item(id).Data))
		}
		return n
	}
	st := q.Stats()
	if st.Oldest.Before(before) || st.Oldest.After(time.Now()) {
		t.Errorf("Oldest = %v, want between %v and now", st.Oldest, before)
	}
	st.Oldest = time.Time{}
	if diff := cmp.Diff(Stats{Pending: 3, PendingBytes: size("a", "b", "c")}, st); diff != "" {
		t.Errorf("after 3 appends (-want +got):\n%s", diff)
	}
	es := next(t, q, 0, 0)
	if err := q.Ack(es[1].Seq); err != nil { // out of order: "b" only
		t.Fatal(err)
	}
	st = q.Stats()
	st.Oldest = time.Time{}
	if diff := cmp.Diff(Stats{Pending: 2, PendingBytes: size("a", "c")}, st); diff != "" {
		t.Errorf("after acking b (-want +got):\n%s", diff)
	}
	if err := q.Ack(es[0].Seq, es[2].Seq); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
		t.Errorf("all acked (-want +got):\n%s", diff)
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	for _, pol := range []SyncPolicy{SyncAlways, SyncGroup, SyncNone} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, Options{Dir: dir, Sync: pol, SegmentBytes: 4096})
			q := openQueue(t, s, "org", "sink")
			appendIDs(t, q, seqIDs("s", 0, 40)...)
			es := next(t, q, 20, 0)
			// Acknowledge s0..s9 and, out of order, s15: the persisted
			// cursor stops at s10, so s15 comes again.
			if err := q.Ack(append(seqsOf(es[:10]), es[15].Seq)...); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Next(context.Background(), 1, 0); !errors.Is(err, ErrClosed) {
				t.Errorf("Next after Store.Close = %v, want ErrClosed", err)
			}
			if err := q.Append(context.Background(), items("late")); !errors.Is(err, ErrClosed) {
				t.Errorf("Append after Store.Close = %v, want ErrClosed", err)
			}

			s = openStore(t, Options{Dir: dir, Sync: pol, SegmentBytes: 4096})
			q = openQueue(t, s, "org", "sink")
			if got := q.Stats().Pending; got != 30 {
				t.Errorf("Pending after reopen = %d, want 30", got)
			}
			appendIDs(t, q, "s40")
			got := drain(t, q)
			if diff := cmp.Diff(seqIDs("s", 10, 41), got); diff != "" {
				t.Errorf("after reopen (-want +got):\n%s", diff)
			}
			es = nil
			if err := q.Close(); err != nil {
				t.Fatal(err)
			}
			q = openQueue(t, s, "org", "sink")
			if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
				t.Errorf("after everything acked and a reopen (-want +got):\n%s", diff)
			}
			appendIDs(t, q, "s41")
			es = next(t, q, 0, 0)
			if len(es) != 1 || es[0].Seq != 42 {
				t.Errorf("new entry after reopen = %+v, want seq 42", es)
			}
		})
	}
}

func TestNextBlocks(t *testing.T) {
	t.Parallel()
	t.Run("until append", func(t *testing.T) {
		t.Parallel()
		q := openQueue(t, openStore(t, Options{}), "org", "sink")
		got := make(chan []Entry, 1)
		go func() {
			es, _ := q.Next(context.Background(), 10, 0)
			got <- es
		}()
		select {
		case es := <-got:
			t.Fatalf("Next returned %v on an empty queue", es)
		case <-time.After(20 * time.Millisecond):
		}
		appendIDs(t, q, "s1")
		if diff := cmp.Diff([]string{"s1"}, idsOf(<-got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("until release", func(t *testing.T) {
		t.Parallel()
		q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
		appendIDs(t, q, "s1")
		es := next(t, q, 1, 0)
		got := make(chan []Entry, 1)
		go func() {
			es, _ := q.Next(context.Background(), 10, 0)
			got <- es
		}()
		q.Release(es[0].Seq)
		if diff := cmp.Diff([]string{"s1"}, idsOf(<-got)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("context canceled", func(t *testing.T) {
		t.Parallel()
		q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := q.Next(ctx, 10, 0)
			errc <- err
		}()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("Next = %v, want context.Canceled", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		t.Parallel()
		q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
		errc := make(chan error, 1)
		go func() {
			_, err := q.Next(context.Background(), 10, 0)
			errc <- err
		}()
		time.Sleep(10 * time.Millisecond)
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("Next = %v, want ErrClosed", err)
		}
	})
}

func TestQuotas(t *testing.T) {
	t.Parallel()
	size := int64(len("x0") + len(item("x0").Data)) // every id below has 2 bytes
	tests := []struct {
		name  string
		opts  Options
		fill  []Key // one append to each, in order; the last one fails
		quota Quota
	}{
		{
			name:  "queue",
			opts:  Options{MaxQueueBytes: 2 * size},
			fill:  []Key{{"o1", "a"}, {"o1", "b"}, {"o1", "a"}, {"o1", "b"}, {"o1", "a"}},
			quota: QuotaQueue,
		},
		{
			name:  "org",
			opts:  Options{MaxQueueBytes: 10 * size, MaxOrgBytes: 3 * size},
			fill:  []Key{{"o1", "a"}, {"o2", "a"}, {"o1", "b"}, {"o1", "a"}, {"o2", "b"}, {"o1", "c"}},
			quota: QuotaOrg,
		},
		{
			name:  "total",
			opts:  Options{MaxOrgBytes: 10 * size, MaxTotalBytes: 3 * size},
			fill:  []Key{{"o1", "a"}, {"o2", "a"}, {"o3", "a"}, {"o4", "a"}},
			quota: QuotaTotal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.opts.Sync = SyncNone
			s := openStore(t, tt.opts)
			for i, k := range tt.fill {
				q := openQueue(t, s, k.Org, k.Sink)
				err := q.Append(context.Background(), items(fmt.Sprintf("x%d", i)))
				if i < len(tt.fill)-1 {
					if err != nil {
						t.Fatalf("append %d to %v: %v", i, k, err)
					}
					continue
				}
				if !errors.Is(err, ErrFull) {
					t.Fatalf("append over the quota = %v, want ErrFull", err)
				}
				var qe *QuotaError
				if !errors.As(err, &qe) || qe.Quota != tt.quota {
					t.Fatalf("append over the quota = %v, want a QuotaError for %q", err, tt.quota)
				}
				before := q.Stats()
				// Acknowledging an entry of the first queue (same org)
				// makes room.
				first := openQueue(t, s, tt.fill[0].Org, tt.fill[0].Sink)
				es := next(t, first, 1, 0)
				if err := first.Ack(es[0].Seq); err != nil {
					t.Fatal(err)
				}
				if err := q.Append(context.Background(), items("y0")); err != nil {
					t.Errorf("append after an ack: %v", err)
				}
				want := before.Pending + 1
				if k == tt.fill[0] {
					want--
				}
				if got := q.Stats().Pending; got != want {
					t.Errorf("Pending = %d, want %d", got, want)
				}
			}
		})
	}
	t.Run("closing a queue releases its share", func(t *testing.T) {
		t.Parallel()
		s := openStore(t, Options{Sync: SyncNone, MaxTotalBytes: size})
		a := openQueue(t, s, "o1", "a")
		appendIDs(t, a, "x1")
		b := openQueue(t, s, "o1", "b")
		if err := b.Append(context.Background(), items("x2")); !errors.Is(err, ErrFull) {
			t.Fatalf("Append = %v, want ErrFull", err)
		}
		a.Close()
		appendIDs(t, b, "x2")
		// Reopening a counts its recovered backlog even past the quota.
		a = openQueue(t, s, "o1", "a")
		if got := a.Stats().Pending; got != 1 {
			t.Errorf("Pending of reopened queue = %d, want 1", got)
		}
		if err := b.Append(context.Background(), items("x3")); !errors.Is(err, ErrFull) {
			t.Fatalf("Append = %v, want ErrFull", err)
		}
	})
}

func TestConcurrentProducers(t *testing.T) {
	t.Parallel()
	for _, pol := range []SyncPolicy{SyncAlways, SyncGroup, SyncNone} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			const producers, perProducer = 8, 150
			s := openStore(t, Options{Sync: pol, SegmentBytes: 16 << 10})
			q := openQueue(t, s, "org", "sink")
			other := openQueue(t, s, "org", "other")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perProducer {
						batch := items(fmt.Sprintf("p%d-%d", p, i))
						if i%10 == 0 {
							batch = items(fmt.Sprintf("p%d-%d", p, i), fmt.Sprintf("p%d-%d-b", p, i))
						}
						if err := q.Append(ctx, batch); err != nil {
							t.Errorf("Append: %v", err)
							return
						}
						if err := other.Append(ctx, items("o")); err != nil {
							t.Errorf("Append other: %v", err)
							return
						}
					}
				}()
			}
			want := producers * (perProducer + perProducer/10)
			seen := map[string]bool{}
			last := map[string]int{}
			var lastSeq uint64
			for len(seen) < want {
				nctx, ncancel := context.WithTimeout(ctx, 20*time.Second)
				es, err := q.Next(nctx, 64, 0)
				ncancel()
				if err != nil {
					t.Fatalf("Next after %d entries: %v", len(seen), err)
				}
				for _, e := range es {
					if seen[e.ID] {
						t.Fatalf("%s delivered twice", e.ID)
					}
					seen[e.ID] = true
					if e.Seq != lastSeq+1 {
						t.Fatalf("seq %d after %d", e.Seq, lastSeq)
					}
					lastSeq = e.Seq
					var p, i int
					var rest string
					fmt.Sscanf(e.ID, "p%d-%d%s", &p, &i, &rest)
					key := fmt.Sprint(p)
					if l, ok := last[key]; ok && i < l {
						t.Fatalf("producer %d: %s after item %d", p, e.ID, l)
					}
					last[key] = i
				}
				if err := q.Ack(seqsOf(es)...); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
				t.Errorf("after draining (-want +got):\n%s", diff)
			}
			if got, want := other.Stats().Pending, producers*perProducer; got != want {
				t.Errorf("other queue Pending = %d, want %d", got, want)
			}
		})
	}
}

func TestSegmentsRollAndDelete(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir, Sync: SyncAlways, SegmentBytes: 4096})
	q := openQueue(t, s, "org", "sink")
	qdir := queueDir(t, s, "org", "sink")
	appendIDs(t, q, seqIDs("s", 0, 100)...)
	segs := segments(t, qdir)
	if len(segs) < 3 {
		t.Fatalf("%d segments after 100 appends of ~100 bytes into 4 KiB segments, want several", len(segs))
	}
	for _, name := range segs {
		fi, err := os.Stat(filepath.Join(qdir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 4096 {
			t.Errorf("segment %s has %d bytes, over the 4096 limit", name, fi.Size())
		}
	}
	// Acknowledging the first half deletes the segments wholly behind it.
	es := next(t, q, 50, 0)
	if err := q.Ack(seqsOf(es)...); err != nil {
		t.Fatal(err)
	}
	mid := segments(t, qdir)
	if len(mid) >= len(segs) || mid[len(mid)-1] != segs[len(segs)-1] {
		t.Errorf("segments after acking half: %v, before %v", mid, segs)
	}
	if diff := cmp.Diff(seqIDs("s", 50, 100), drain(t, q)); diff != "" {
		t.Errorf("rest (-want +got):\n%s", diff)
	}
	if got := segments(t, qdir); len(got) != 1 {
		t.Errorf("segments after acking everything: %v, want only the current one", got)
	}
	s.Close()
	s = openStore(t, Options{Dir: dir, Sync: SyncAlways, SegmentBytes: 4096})
	q = openQueue(t, s, "org", "sink")
	appendIDs(t, q, "s100")
	if es := next(t, q, 0, 0); len(es) != 1 || es[0].Seq != 101 {
		t.Errorf("after reopen: %+v, want s100 with seq 101", es)
	}
}

func TestStoreKeys(t *testing.T) {
	t.Parallel()
	long := string(make([]byte, 300))
	keys := []Key{
		{"acme", "lrs-1"},
		{"Acme", "lrs-1"},
		{"acme.lrs", "1"},
		{"acme", "lrs.1"},
		{"../..", "/etc/passwd"},
		{".", ".."},
		{"a/b", "c\\d"},
		{"a_2fb", "c"},
		{"ünïcode", "sink 1"},
		{long, "x"},
		{long + "y", "x"},
	}
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir, Sync: SyncNone})
	names := map[string]Key{}
	for _, k := range keys {
		n := dirName(k.Org, k.Sink)
		if prev, ok := names[n]; ok {
			t.Errorf("keys %q and %q share directory %q", prev, k, n)
		}
		names[n] = k
		if filepath.Base(n) != n || n[0] == '.' || len(n) > maxNameLen {
			t.Errorf("dirName(%q) = %q: not a plain, visible, short name", k, n)
		}
		q := openQueue(t, s, k.Org, k.Sink)
		appendIDs(t, q, "for "+n)
	}
	if err := s.Remove("a/b", "c\\d"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, Options{Dir: dir, Sync: SyncNone})
	got := s.Queues()
	var want []Key
	for _, k := range keys {
		if k != (Key{"a/b", "c\\d"}) {
			want = append(want, k)
		}
	}
	sortKeys(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Queues after restart (-want +got):\n%s", diff)
	}
	for _, k := range want {
		q := openQueue(t, s, k.Org, k.Sink)
		if diff := cmp.Diff([]string{"for " + dirName(k.Org, k.Sink)}, drain(t, q)); diff != "" {
			t.Errorf("queue %q (-want +got):\n%s", k, diff)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ents), len(want)+1; got != want { // + .lock
		t.Errorf("%d entries in the store directory, want %d", got, want)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{Sync: SyncNone, MaxTotalBytes: 1 << 20})
	q := openQueue(t, s, "org", "sink")
	appendIDs(t, q, "s1")
	if err := s.Remove("org", "sink"); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(context.Background(), items("s2")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append to a removed queue = %v, want ErrClosed", err)
	}
	if _, err := os.Stat(queueDir(t, s, "org", "sink")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("queue directory after Remove: %v", err)
	}
	if got := s.Queues(); len(got) != 0 {
		t.Errorf("Queues after Remove = %v", got)
	}
	if err := s.Remove("org", "sink"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	q = openQueue(t, s, "org", "sink")
	if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
		t.Errorf("recreated queue (-want +got):\n%s", diff)
	}
	s.quotaMu.Lock()
	total := s.total
	s.quotaMu.Unlock()
	if total != 0 {
		t.Errorf("store accounts %d pending bytes after Remove", total)
	}
}

func TestLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openStore(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
}

// TestNoHeadOfLineBlocking holds one queue's fsync and checks that another
// queue of the same store still appends, syncs and delivers.
func TestNoHeadOfLineBlocking(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{Sync: SyncAlways})
	slow := openQueue(t, s, "org-a", "lrs")
	fast := openQueue(t, s, "org-b", "lrs")
	sq := slow.(*fileQueue)
	entered, release := make(chan struct{}), make(chan struct{})
	sq.beforeSync = func() { // the slow queue's fsync cannot start
		close(entered)
		<-release
	}
	slowDone := make(chan error, 1)
	go func() { slowDone <- slow.Append(context.Background(), items("slow")) }()
	<-entered // the slow Append is stuck before its fsync
	appendIDs(t, fast, "f1", "f2")
	if diff := cmp.Diff([]string{"f1", "f2"}, drain(t, fast)); diff != "" {
		t.Errorf("other queue while one is stuck (-want +got):\n%s", diff)
	}
	select {
	case err := <-slowDone:
		t.Fatalf("slow Append returned %v before its fsync", err)
	default:
	}
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"slow"}, drain(t, slow)); diff != "" {
		t.Errorf("slow queue (-want +got):\n%s", diff)
	}
}

func TestPartialRecordAck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	q := openQueue(t, s, "org", "sink")
	if err := q.Append(context.Background(), items("a", "b", "c", "d")); err != nil {
		t.Fatal(err)
	}
	es := next(t, q, 0, 0)
	if err := q.Ack(es[0].Seq, es[1].Seq, es[3].Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Options{Dir: dir})
	q = openQueue(t, s, "org", "sink")
	st := q.Stats()
	if want := int64(len("c") + len(item("c").Data) + len("d") + len(item("d").Data)); st.Pending != 2 || st.PendingBytes != want {
		t.Errorf("Stats = %+v, want 2 pending of %d bytes", st, want)
	}
	if diff := cmp.Diff([]string{"c", "d"}, drain(t, q)); diff != "" {
		t.Errorf("after reopen, the cursor inside a record (-want +got):\n%s", diff)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	q := openQueue(t, openStore(t, Options{Sync: SyncNone}), "org", "sink")
	err := q.Append(context.Background(), []Item{{ID: "big", Data: make([]byte, MaxRecordBytes)}})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append = %v, want ErrTooLarge", err)
	}
	if got := q.Stats().Pending; got != 0 {
		t.Errorf("Pending = %d after a refused Append", got)
	}
}

func TestTagsSurviveReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	q := openQueue(t, s, "org", "sink")
	ctx := context.Background()
	batches := [][]Item{
		items("a", "b"), // untagged: the first record form
		{tag(item("c"), 1), item("d"), tag(item("e"), 2)},
	}
	for _, b := range batches {
		if err := q.Append(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Options{Dir: dir})
	q = openQueue(t, s, "org", "sink")
	type idTag struct {
		ID  string
		Tag byte
	}
	var got []idTag
	for _, e := range next(t, q, 10, 0) {
		got = append(got, idTag{e.ID, e.Tag})
	}
	want := []idTag{{"a", 0}, {"b", 0}, {"c", 1}, {"d", 0}, {"e", 2}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries after reopen (-want +got):\n%s", diff)
	}
}

func tag(it Item, t byte) Item {
	it.Tag = t
	return it
}

// TestTraceKept checks that an item's span context comes back with its
// entry, also after a reopen, next to items queued without one.
func TestTraceKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	q := openQueue(t, s, "org", "sink")
	traced := item("t1")
	traced.Trace = []byte("span context of t1")
	ctx := context.Background()
	if err := q.Append(ctx, items("p1")); err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, []Item{traced, item("p2")}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"p1": "", "t1": "span context of t1", "p2": ""}
	traces := func(q Queue) map[string]string {
		t.Helper()
		es, err := q.Next(ctx, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range es {
			got[e.ID] = string(e.Trace)
		}
		return got
	}
	if diff := cmp.Diff(want, traces(q)); diff != "" {
		t.Errorf("traces (-want +got):\n%s", diff)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Options{Dir: dir})
	if diff := cmp.Diff(want, traces(openQueue(t, s, "org", "sink"))); diff != "" {
		t.Errorf("traces after reopen (-want +got):\n%s", diff)
	}
}

// TestAppendWhileSegmentsRemoved holds the deletion of acknowledged
// segments and appends meanwhile: recording into a queue does not wait for
// its delivered segments to be deleted, and they are deleted, in order,
// by the Ack that retired them.
func TestAppendWhileSegmentsRemoved(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{Sync: SyncAlways, SegmentBytes: 4096})
	q := openQueue(t, s, "org", "sink")
	qdir := queueDir(t, s, "org", "sink")
	appendIDs(t, q, seqIDs("s", 0, 100)...)
	before := segments(t, qdir)
	if len(before) < 3 {
		t.Fatalf("%d segments, want at least 3", len(before))
	}
	removing, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	defer let() // a failed test lets the deletion go, so that the store closes
	fq := q.(*fileQueue)
	fq.beforeRemove = func() {
		close(removing)
		<-release
	}
	es := next(t, q, 0, 0)
	acked := make(chan error, 1)
	go func() { acked <- q.Ack(seqsOf(es)...) }()
	<-removing
	// The deletion waits for release: an Append that waited for it would
	// never return, and the guard below fails the test instead of hanging.
	appended := make(chan error, 1)
	go func() { appended <- q.Append(context.Background(), items("s100")) }()
	select {
	case err := <-appended:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Append waited for the deletion of delivered segments")
	}
	if got := segments(t, qdir); len(got) < len(before) {
		t.Errorf("segments %v deleted before the deletion was let go", got)
	}
	let()
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	got := segments(t, qdir)
	if len(got) != 1 || got[0] != before[len(before)-1] {
		t.Errorf("segments after the Ack: %v, want only the last of %v", got, before)
	}
	if diff := cmp.Diff([]string{"s100"}, drain(t, q)); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}
