package host

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// BenchmarkRecordBackend measures Record through the host (while the
// host delivers to a mock sink) with 1 and 8 producers and 1 and 100
// statements per call, on the file backend (queue.sync always) and on the
// jetstream backend with one embedded server and with a three-node
// cluster in this process (replicas 3), every server syncing each write:
// the same durability. The backends of one setting run one after another,
// so that they meet about the same load on a shared machine. It reports
// statements per second and the p50 and p99 latency of one call.
func BenchmarkRecordBackend(b *testing.B) {
	backends := []struct {
		name  string
		nodes int // 0: the file backend
	}{{"file", 0}, {"jetstream-1", 1}, {"jetstream-3", 3}}
	for _, producers := range []int{1, 8} {
		for _, per := range []int{1, 100} {
			for _, be := range backends {
				b.Run(fmt.Sprintf("producers=%d/per-call=%d/backend=%s", producers, per, be.name), func(b *testing.B) {
					benchRecordBackend(b, be.nodes, producers, per)
				})
			}
		}
	}
}

func benchRecordBackend(b *testing.B, nodes, producers, per int) {
	cfg := testConfig(b)
	cfg.Queue.Sync = SyncAlways
	switch nodes {
	case 0:
	case 1:
		useJetStream(&cfg, jstest.Run(b, jstest.Options{SyncAlways: true}).URL())
	default:
		useJetStream(&cfg, jstest.RunCluster(b, nodes, jstest.Options{SyncAlways: true}).URL())
		cfg.Queue.NATS.Replicas = nodes
	}
	addOrg(&cfg, "acme", mockSink("mock", filepath.Join(b.TempDir(), "r.ndjson"), nil))
	h := newHost(b, cfg)
	sts := statements("acme", 0, 1000)
	calls := max(1, b.N/per)
	lat := make([][]time.Duration, producers)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= calls {
					return
				}
				from := (i * per) % len(sts)
				batch := sts[from:min(from+per, len(sts))]
				began := time.Now()
				if err := h.Record(context.Background(), "acme", batch...); err != nil {
					b.Error(err)
					return
				}
				lat[p] = append(lat[p], time.Since(began))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	reportLatency(b, lat, calls*per) // the latency of one call
}
