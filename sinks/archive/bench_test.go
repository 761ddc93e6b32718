package archive_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/archive"
)

// BenchmarkDeliver measures appending with fsync per batch: each iteration
// delivers one batch of new statements (about 230 bytes each).
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			s, err := archive.New("acme", archive.Config{Dir: b.TempDir(), RotateBytes: archive.DefaultRotateBytes, Gzip: true})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close(context.Background())
			batch := make([]sdk.Statement, size)
			ctx := context.Background()
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range batch {
					batch[i] = stmt(n)
					n++
				}
				b.StartTimer()
				resp, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: batch})
				if err != nil || resp.Verdicts != nil {
					b.Fatalf("Deliver: %v %+v", err, resp.Verdicts)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "statements/s")
		})
	}
}
