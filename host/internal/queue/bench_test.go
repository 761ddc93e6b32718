package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchStatement is a typical recorded statement, about 600 bytes of
// canonical JSON.
var benchStatement = []byte(`{"actor":{"account":{"homePage":"https://acme.learningflow.example","name":"u-7f3c2a91"},"objectType":"Agent"},` +
	`"context":{"contextActivities":{"parent":[{"id":"https://acme.learningflow.example/courses/safety-101","objectType":"Activity"}]},` +
	`"platform":"LearningFlow","registration":"6f1c1e52-6b0e-4a8f-9a53-1c2f0b8d9e77"},"id":"3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f",` +
	`"object":{"definition":{"name":{"en-US":"Module 3 quiz"},"type":"http://adlnet.gov/expapi/activities/assessment"},` +
	`"id":"https://acme.learningflow.example/courses/safety-101/quiz-3","objectType":"Activity"},` +
	`"result":{"completion":true,"duration":"PT4M12S","score":{"max":10,"min":0,"raw":8,"scaled":0.8},"success":true},` +
	`"timestamp":"2026-05-01T10:15:30.123Z","verb":{"display":{"en-US":"completed"},"id":"http://adlnet.gov/expapi/verbs/completed"}}`)

// BenchmarkAppend measures Append of one statement per call with 1 and 8
// concurrent producers under each sync policy, while a consumer drains the
// queue (as delivery does, which also keeps the disk use bounded). Beside
// them, in the same run, raw-fdatasync is the disk's limit for the same
// records: a minimal group commit (producers add their bytes to a shared
// buffer; one of them writes it with one write and one fdatasync) without
// checksums, index or consumer. Each reports statements per second and the
// p50 and p99 latency of single calls.
func BenchmarkAppend(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("raw-fdatasync/producers=%d", producers), func(b *testing.B) {
			benchProducers(b, producers, newRawLog(b).append)
		})
		for _, pol := range []SyncPolicy{SyncAlways, SyncGroup, SyncNone} {
			b.Run(fmt.Sprintf("sync=%s/producers=%d", pol, producers), func(b *testing.B) {
				benchAppend(b, pol, producers)
			})
		}
	}
}

func benchAppend(b *testing.B, pol SyncPolicy, producers int) {
	q := benchQueue(b, pol)
	benchProducers(b, producers, func(id string) error {
		return q.Append(context.Background(), []Item{{ID: id, Data: benchStatement}})
	})
}

// benchQueue opens a queue in a fresh store with a consumer draining it,
// as delivery does (which also keeps the disk use bounded); both end with
// the benchmark.
func benchQueue(b *testing.B, pol SyncPolicy) Queue {
	s, err := Open(Options{Dir: b.TempDir(), Sync: pol})
	if err != nil {
		b.Fatal(err)
	}
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for {
			es, err := q.Next(ctx, 256, 0)
			if err != nil {
				return
			}
			q.Ack(seqsOf(es)...)
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-consumerDone
		s.Close()
	})
	return q
}

// BenchmarkAppendVsRaw interleaves the queue (SyncAlways, the default,
// with a consumer draining it) and the raw-fdatasync baseline of
// BenchmarkAppend in rounds of 200 statements, so that both see the same
// disk and the same neighbours even on a noisy machine, and reports the
// ratio of their throughputs (x-raw, 1 means parity) beside the p99 of
// each.
//
// The baseline appends to its file, as the queue did before it wrote its
// records over zeros written ahead (see the package doc). A second
// baseline in the same rounds writes over a file filled with zeros and
// fsynced beforehand, the disk's limit for that way of writing:
// x-raw-prefilled is the queue's throughput ÷ its throughput.
func BenchmarkAppendVsRaw(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			q := benchQueue(b, SyncAlways)
			raw := newRawLog(b)
			pre := newRawLog(b)
			pre.prefill(b, int64(b.N)*int64(len(benchStatement)+100))
			queued := func(id string) error { return q.Append(context.Background(), []Item{{ID: id, Data: benchStatement}}) }
			var qt, rt, pt time.Duration
			var qlat, rlat, plat []time.Duration
			b.SetBytes(int64(len(benchStatement)))
			b.ReportAllocs()
			b.ResetTimer()
			const round = 200
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				d, l := runProducers(b, producers, n, raw.append)
				rt, rlat = rt+d, append(rlat, l...)
				d, l = runProducers(b, producers, n, queued)
				qt, qlat = qt+d, append(qlat, l...)
				d, l = runProducers(b, producers, n, pre.append)
				pt, plat = pt+d, append(plat, l...)
			}
			b.StopTimer()
			p99 := func(l []time.Duration) float64 {
				slices.Sort(l)
				return float64(l[min(len(l)-1, len(l)*99/100)].Microseconds())
			}
			b.ReportMetric(float64(b.N)/qt.Seconds(), "queue-stmts/s")
			b.ReportMetric(float64(b.N)/rt.Seconds(), "raw-stmts/s")
			b.ReportMetric(rt.Seconds()/qt.Seconds(), "x-raw")
			b.ReportMetric(pt.Seconds()/qt.Seconds(), "x-raw-prefilled")
			b.ReportMetric(p99(qlat), "queue-p99-µs")
			b.ReportMetric(p99(rlat), "raw-p99-µs")
			b.ReportMetric(p99(plat), "raw-prefilled-p99-µs")
		})
	}
}

// runProducers makes n calls of add from producers goroutines and returns
// the time they took and the latency of each call.
func runProducers(b *testing.B, producers, n int, add func(id string) error) (time.Duration, []time.Duration) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := add(fmt.Sprintf("3c6e0b8a-9c0b-4e1a-8f2d-%012d", i)); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat
}

// benchProducers runs b.N calls of add, one statement each, from producers
// goroutines, and reports statements/s, p50 and p99.
func benchProducers(b *testing.B, producers int, add func(id string) error) {
	b.SetBytes(int64(len(benchStatement)))
	b.ReportAllocs()
	b.ResetTimer()
	elapsed, lat := runProducers(b, producers, b.N, add)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "stmts/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

// rawLog is the baseline of BenchmarkAppend: an append-only file with the
// simplest group commit.
type rawLog struct {
	f       *os.File
	mu      sync.Mutex
	buf     []byte        // bytes waiting for the next write
	done    chan struct{} // closed when buf is durable
	syncing bool
	off     int64
}

func newRawLog(b *testing.B) *rawLog {
	f, err := os.Create(filepath.Join(b.TempDir(), "raw.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return &rawLog{f: f, done: make(chan struct{})}
}

// prefill fills the log's file with n zero bytes and fsyncs it, so that
// the appends that follow write over them.
func (l *rawLog) prefill(b *testing.B, n int64) {
	for off := int64(0); off < n; off += int64(len(zeroBlock)) {
		if _, err := l.f.WriteAt(zeroBlock[:min(n-off, int64(len(zeroBlock)))], off); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// append adds the same bytes a queue record of one statement holds and
// returns once they are durable.
func (l *rawLog) append(id string) error {
	l.mu.Lock()
	l.buf = append(l.buf, id...)
	l.buf = append(l.buf, benchStatement...)
	l.buf = append(l.buf, make([]byte, recordHeaderLen+bodyFixedLen+3)...)
	done := l.done
	if l.syncing {
		l.mu.Unlock()
		<-done
		return nil
	}
	for {
		// Lead: write and sync what has gathered, then whatever gathered
		// meanwhile, until nothing waits.
		l.syncing = true
		buf, off := l.buf, l.off
		l.buf, l.done = nil, make(chan struct{})
		l.off += int64(len(buf))
		l.mu.Unlock()
		if _, err := l.f.WriteAt(buf, off); err != nil {
			return err
		}
		if err := datasync(l.f); err != nil {
			return err
		}
		close(done)
		l.mu.Lock()
		if len(l.buf) == 0 {
			l.syncing = false
			l.mu.Unlock()
			return nil
		}
		done = l.done
	}
}

// BenchmarkAppendQueues measures 8 producers each appending to its own
// queue (eight organizations) under SyncAlways: queues do not wait for
// one another's fsyncs.
func BenchmarkAppendQueues(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const producers = 8
	qs := make([]Queue, producers)
	for i := range qs {
		if qs[i], err = s.Queue(fmt.Sprintf("org-%d", i), "lrs"); err != nil {
			b.Fatal(err)
		}
	}
	var nextOp atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(benchStatement)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := strings.Repeat("x", 36)
			for nextOp.Add(1) <= int64(b.N) {
				if err := qs[p].Append(context.Background(), []Item{{ID: id, Data: benchStatement}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "stmts/s")
}

// BenchmarkManyQueues opens 10,000 queues (one per configured
// integration), appends one statement to 1,000 of them (the active ones),
// then restarts the store and opens all 10,000 again, as a host does at
// start. It reports the time of each start, the descriptors the process
// holds open beyond those it held before (against the budget, in the same
// run) and the heap per configured queue.
func BenchmarkManyQueues(b *testing.B) {
	const configured, active, budget = 10000, 1000, 256
	for b.Loop() {
		dir := b.TempDir()
		fds0 := openFDs(b)
		var m0 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)

		t0 := time.Now()
		s, err := Open(Options{Dir: dir, MaxOpenFiles: budget})
		if err != nil {
			b.Fatal(err)
		}
		qs := make([]Queue, configured)
		for i := range qs {
			if qs[i], err = s.Queue(fmt.Sprintf("org-%05d", i), "lrs"); err != nil {
				b.Fatal(err)
			}
		}
		firstStart := time.Since(t0)
		for i := 0; i < configured; i += configured / active {
			if err := qs[i].Append(context.Background(), []Item{{ID: "3c6e0b8a-9c0b-4e1a-8f2d-7a6b5c4d3e2f", Data: benchStatement}}); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}

		t0 = time.Now()
		if s, err = Open(Options{Dir: dir, MaxOpenFiles: budget}); err != nil {
			b.Fatal(err)
		}
		for i := range qs {
			if qs[i], err = s.Queue(fmt.Sprintf("org-%05d", i), "lrs"); err != nil {
				b.Fatal(err)
			}
		}
		restart := time.Since(t0)
		pending := 0
		for _, q := range qs {
			pending += q.Stats().Pending
		}
		if pending != active {
			b.Fatalf("%d statements pending after the restart, want %d", pending, active)
		}
		var m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m1)
		fds := openFDs(b) - fds0
		runtime.KeepAlive(qs)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(firstStart.Seconds()*1000, "start-ms")
		b.ReportMetric(restart.Seconds()*1000, "restart-ms")
		b.ReportMetric(float64(fds), "open-fds")
		b.ReportMetric(budget, "fd-budget")
		b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/configured, "heap-B/queue")
	}
}

// openFDs counts the process's open descriptors.
func openFDs(b *testing.B) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// BenchmarkNext measures handing out and acknowledging batches of 100
// statements appended 100 or 1,000 per record (a Record call of a
// thousand is one record, read in ten batches), as delivery reads them.
// Entries share the buffer of their read and one string of IDs, so the
// bytes allocated per statement stay near the statement's size (B/op is per
// statement), and a record of a thousand is read and checked once, not
// once per batch.
func BenchmarkNext(b *testing.B) {
	for _, per := range []int{100, 1000} {
		b.Run(fmt.Sprintf("per-record=%d", per), func(b *testing.B) { benchNext(b, per) })
	}
}

func benchNext(b *testing.B, per int) {
	const batchSize = 100
	s, err := Open(Options{Dir: b.TempDir(), Sync: SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		b.Fatal(err)
	}
	record := make([]Item, per)
	for i := range record {
		record[i] = Item{ID: fmt.Sprintf("3c6e0b8a-9c0b-4e1a-8f2d-%012d", i), Data: benchStatement}
	}
	ctx := context.Background()
	b.SetBytes(int64(len(benchStatement)))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		if err := q.Append(ctx, record); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for range per / batchSize {
			es, err := q.Next(ctx, batchSize, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := q.Ack(seqsOf(es)...); err != nil {
				b.Fatal(err)
			}
			done += len(es)
		}
	}
}
