package queue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestGroupCommit holds the first fsync of a queue while eight producers
// append, then checks that all eight went out in one more fsync.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	for _, pol := range []SyncPolicy{SyncAlways, SyncGroup} {
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			s := openStore(t, Options{Sync: pol, GroupWindow: time.Millisecond})
			q := openQueue(t, s, "org", "sink").(*fileQueue)
			var syncs atomic.Int32
			entered, release := make(chan struct{}), make(chan struct{})
			q.beforeSync = func() {
				if syncs.Add(1) == 1 {
					close(entered)
					<-release
				}
			}
			errs := make(chan error, 9)
			go func() { errs <- q.Append(context.Background(), items("first")) }()
			<-entered
			const producers = 8
			for p := range producers {
				go func() { errs <- q.Append(context.Background(), items(fmt.Sprintf("p%d", p))) }()
			}
			// Wait until every producer has joined the next group.
			for joined := 0; joined < producers; {
				q.mu.Lock()
				if q.cur != nil {
					joined = len(q.cur.recs)
				}
				q.mu.Unlock()
				time.Sleep(time.Millisecond)
			}
			close(release)
			for range producers + 1 {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if got := syncs.Load(); got != 2 {
				t.Errorf("%d fsyncs for 1 + %d appends, want 2", got, producers)
			}
			if got := len(drain(t, q)); got != producers+1 {
				t.Errorf("drained %d entries, want %d", got, producers+1)
			}
		})
	}
}

// TestGroupLoneProducer checks that SyncGroup does not make a lone
// producer wait out the window: with a window of ten minutes, sequential
// appends still return.
func TestGroupLoneProducer(t *testing.T) {
	t.Parallel()
	s := openStore(t, Options{Sync: SyncGroup, GroupWindow: 10 * time.Minute})
	q := openQueue(t, s, "org", "sink")
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if err := q.Append(context.Background(), items(fmt.Sprintf("s%d", i))); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a lone producer waited for the group window")
	}
	if diff := cmp.Diff(seqIDs("s", 0, 20), drain(t, q)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestLazyQueue checks that a queue costs no file until its first Append,
// and that a store opens without touching its queues.
func TestLazyQueue(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir})
	q := openQueue(t, s, "org", "sink")
	qdir := queueDir(t, s, "org", "sink")
	if _, err := os.Stat(qdir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("queue directory before the first Append: %v, want none", err)
	}
	if diff := cmp.Diff(Stats{}, q.Stats()); diff != "" {
		t.Errorf("Stats of a new queue (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Key{{"org", "sink"}}, s.Queues()); diff != "" {
		t.Errorf("Queues (-want +got):\n%s", diff)
	}
	// Next on the empty queue waits for the first Append.
	got := make(chan []Entry, 1)
	go func() {
		es, err := q.Next(context.Background(), 10, 0)
		if err != nil {
			t.Error(err)
		}
		got <- es
	}()
	appendIDs(t, q, "s1")
	if es := <-got; len(es) != 1 || es[0].ID != "s1" {
		t.Fatalf("Next = %v, want s1", idsOf(es))
	}
	if _, err := os.Stat(qdir); err != nil {
		t.Fatalf("queue directory after the first Append: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(segments(t, qdir)); n != 1 {
		t.Errorf("%d segments, want 1", n)
	}
	s = openStore(t, Options{Dir: dir})
	if n := s.OpenFiles(); n != 0 {
		t.Errorf("%d files open after Open, want 0", n)
	}
	q = openQueue(t, s, "org", "sink")
	if diff := cmp.Diff([]string{"s1"}, drain(t, q)); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
	// A queue that was never appended to leaves nothing behind.
	openQueue(t, s, "org", "idle")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(queueDir(t, s, "org", "idle")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory of a queue never appended to: %v, want none", err)
	}
}

// TestDescriptorBudget appends to and reads from many more queues than the
// budget allows files, concurrently, and checks that the store never keeps
// more idle files than the budget and loses nothing.
func TestDescriptorBudget(t *testing.T) {
	t.Parallel()
	const budget, queues, perQueue = 4, 40, 5
	dir := t.TempDir()
	s := openStore(t, Options{Dir: dir, MaxOpenFiles: budget, SegmentBytes: 4096})
	var wg sync.WaitGroup
	for i := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := s.Queue(fmt.Sprintf("org-%d", i), "lrs")
			if err != nil {
				t.Error(err)
				return
			}
			for j := range perQueue {
				if err := q.Append(context.Background(), items(fmt.Sprintf("q%d-%d", i, j))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := s.OpenFiles(); n > budget {
		t.Errorf("%d files open when idle, budget %d", n, budget)
	}
	for i := range queues {
		q := openQueue(t, s, fmt.Sprintf("org-%d", i), "lrs")
		es := next(t, q, 2, 0) // acknowledge some, so that ack logs are used
		if err := q.Ack(seqsOf(es)...); err != nil {
			t.Fatal(err)
		}
		if n := s.OpenFiles(); n > budget {
			t.Errorf("%d files open when idle, budget %d", n, budget)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, Options{Dir: dir, MaxOpenFiles: budget})
	for i := range queues {
		q := openQueue(t, s, fmt.Sprintf("org-%d", i), "lrs")
		want := []string{fmt.Sprintf("q%d-2", i), fmt.Sprintf("q%d-3", i), fmt.Sprintf("q%d-4", i)}
		if diff := cmp.Diff(want, drain(t, q)); diff != "" {
			t.Errorf("queue %d after reopen (-want +got):\n%s", i, diff)
		}
	}
	if n := s.OpenFiles(); n > budget {
		t.Errorf("%d files open when idle, budget %d", n, budget)
	}
}
