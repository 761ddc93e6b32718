package host

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/learningflow/lrsbridge/host/internal/jsstore/jstest"
)

// BenchmarkRecordBackend measures Record through the host, one statement
// per call, with 1 and 8 producers, on the file backend (queue.sync
// always) and on the jetstream backend (one embedded server that syncs
// every write, the same durability), in the same run.
func BenchmarkRecordBackend(b *testing.B) {
	for _, backend := range []Backend{BackendFile, BackendJetStream} {
		for _, producers := range []int{1, 8} {
			b.Run(fmt.Sprintf("backend=%s/producers=%d", backend, producers), func(b *testing.B) {
				cfg := testConfig(b)
				cfg.Queue.Sync = SyncAlways
				if backend == BackendJetStream {
					useJetStream(&cfg, jstest.Run(b, jstest.Options{SyncAlways: true}).URL())
				}
				addOrg(&cfg, "acme", mockSink("mock", filepath.Join(b.TempDir(), "r.ndjson"), nil))
				h := newHost(b, cfg)
				sts := statements("acme", 0, 1000)
				lat := make([][]time.Duration, producers)
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				per := (b.N + producers - 1) / producers
				for p := range producers {
					wg.Go(func() {
						for i := range per {
							began := time.Now()
							if err := h.Record(context.Background(), "acme", sts[(p*per+i)%len(sts)]); err != nil {
								b.Error(err)
								return
							}
							lat[p] = append(lat[p], time.Since(began))
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				reportLatency(b, lat, per*producers)
			})
		}
	}
}
