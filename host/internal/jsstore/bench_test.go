package jsstore_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore"
	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
	"github.com/learningflow/lrsbridge/host/internal/queue"
	"github.com/learningflow/lrsbridge/host/internal/queue/queuetest"
)

// benchBackend opens a queue store for a benchmark.
type benchBackend struct {
	name string
	open func(b *testing.B) queuetestStore
}

type queuetestStore interface {
	Queue(org, sink string) (queue.Queue, error)
	Close() error
}

// benchBackends are compared in one run: the file store with fsync per
// (group) commit, and JetStream on one server and on a three-node cluster
// in this process, with the servers' sync_interval: always (the same
// durability setting) and, for one server, the servers' default.
func benchBackends() []benchBackend {
	js := func(nodes int, always bool) func(b *testing.B) queuetestStore {
		return func(b *testing.B) queuetestStore {
			var c *jstest.Cluster
			if nodes == 1 {
				c = jstest.Run(b, jstest.Options{SyncAlways: always})
			} else {
				c = jstest.RunCluster(b, nodes, jstest.Options{SyncAlways: always})
			}
			cfg := testConfig(c.URL())
			cfg.Replicas = nodes
			cfg.MaxTotalBytes = 1 << 30
			s, err := jsstore.Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}
	}
	return []benchBackend{
		{"file-sync=always", func(b *testing.B) queuetestStore {
			s, err := queue.Open(queue.Options{Dir: b.TempDir(), Sync: queue.SyncAlways})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"js-R1-sync=always", js(1, true)},
		{"js-R1-sync=default", js(1, false)},
		{"js-R3-sync=always", js(3, true)},
	}
}

// BenchmarkRecord measures Append (recording) throughput and per-call
// latency with 1 and 8 producers and 1 and 100 statements per call, while a
// consumer drains the queue, for each backend. It reports statements per
// second and the p50 and p99 latency of one Append.
func BenchmarkRecord(b *testing.B) {
	for _, be := range benchBackends() {
		for _, producers := range []int{1, 8} {
			for _, per := range []int{1, 100} {
				b.Run(fmt.Sprintf("%s/producers=%d/per-call=%d", be.name, producers, per), func(b *testing.B) {
					s := be.open(b)
					defer s.Close()
					benchRecord(b, s, producers, per, true)
				})
			}
		}
	}
}

// BenchmarkRecordUndrained is BenchmarkRecord's 8 producers of one
// statement with nothing consuming the queue, on the file store and on
// one JetStream server syncing every write: recording alone, without the
// servers' removal of acknowledged messages (a tombstone written and
// synced per message) competing for the disk.
func BenchmarkRecordUndrained(b *testing.B) {
	for _, be := range benchBackends()[:2] {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			defer s.Close()
			benchRecord(b, s, 8, 1, false)
		})
	}
}

func benchRecord(b *testing.B, s queuetestStore, producers, per int, drain bool) {
	q, err := s.Queue("acme", "lrs")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	consumerDone := make(chan struct{})
	go func() {
		defer close(consumerDone)
		for drain {
			es, err := q.Next(ctx, 256, 0)
			if err != nil {
				return
			}
			seqs := make([]uint64, len(es))
			for i, e := range es {
				seqs[i] = e.Seq
			}
			q.Ack(seqs...)
		}
	}()
	calls := max(1, b.N/per)
	lat := make([]time.Duration, calls)
	var nextOp atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(len(queuetest.BenchStatement)))
	b.ResetTimer()
	start := time.Now()
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]queue.Item, per)
			for {
				i := nextOp.Add(1) - 1
				if i >= int64(calls) {
					return
				}
				for j := range batch {
					batch[j] = queue.Item{ID: fmt.Sprintf("3c6e0b8a-9c0b-4e1a-8f2d-%012d", int(i)*per+j), Data: queuetest.BenchStatement}
				}
				t0 := time.Now()
				if err := q.Append(ctx, batch); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-consumerDone
	slices.Sort(lat)
	b.ReportMetric(float64(calls*per)/elapsed.Seconds(), "stmts/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

// BenchmarkDeliver measures delivery throughput: Next of up to 100
// statements and Ack, over a queue filled beforehand with calls of 1
// statement (on JetStream one message each, the worst case) and of 100.
func BenchmarkDeliver(b *testing.B) {
	for _, per := range []int{1, 100} {
		for _, be := range benchBackends() {
			b.Run(fmt.Sprintf("per-call=%d/%s", per, be.name), func(b *testing.B) {
				s := be.open(b)
				defer s.Close()
				q, err := s.Queue("acme", "lrs")
				if err != nil {
					b.Fatal(err)
				}
				batch := make([]queue.Item, per)
				for i := 0; i < b.N; i += len(batch) {
					for j := range batch {
						batch[j] = queue.Item{ID: fmt.Sprint(i + j), Data: queuetest.BenchStatement}
					}
					if err := q.Append(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
				}
				b.SetBytes(int64(len(queuetest.BenchStatement)))
				b.ResetTimer()
				start := time.Now()
				for n := 0; n < b.N; {
					es, err := q.Next(context.Background(), 100, 0)
					if err != nil {
						b.Fatal(err)
					}
					seqs := make([]uint64, len(es))
					for i, e := range es {
						seqs[i] = e.Seq
					}
					if err := q.Ack(seqs...); err != nil {
						b.Fatal(err)
					}
					n += len(es)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "stmts/s")
			})
		}
	}
}

// BenchmarkIntegrationMemory measures the heap the servers (and this
// process's queue objects) use per 1,000 integrations: one pinned durable
// consumer each, created b.N times (at most 1,000 on one server and 200 on
// the three-node cluster, where each consumer is a replicated group on
// every node and takes far longer to create) and scaled to 1,000.
func BenchmarkIntegrationMemory(b *testing.B) {
	for _, tc := range []struct {
		nodes, most int
	}{{1, 1000}, {3, 200}} {
		b.Run(fmt.Sprintf("nodes=%d", tc.nodes), func(b *testing.B) {
			var c *jstest.Cluster
			if tc.nodes == 1 {
				c = jstest.Run(b, jstest.Options{})
			} else {
				c = jstest.RunCluster(b, tc.nodes, jstest.Options{})
			}
			cfg := testConfig(c.URL())
			cfg.Replicas = tc.nodes
			s, err := jsstore.Open(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			n := min(b.N, tc.most)
			before := heap()
			b.ResetTimer()
			for i := range n {
				if _, err := s.Queue(fmt.Sprintf("org-%d", i), "lrs"); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(n), "create-ms/integration")
			after := heap()
			b.ReportMetric(float64(after-before)/float64(n)*1000/(1<<20), "heap-MiB/1k-integrations")
		})
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
