package sdk_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// BenchmarkDeliver compares delivering through a real plugin process with
// calling the same sink directly, per batch size. The sink does no work, so
// the plugin figures are the cost of the protocol.
func BenchmarkDeliver(b *testing.B) {
	proc := launch(b, nil)
	cfg := map[string]any{"mode": scripted.ModeDeliver}
	targets := []struct {
		name     string
		provider sdk.Provider
	}{
		{"direct", scripted.Provider()},
		{"plugin", proc.Provider()},
	}
	for _, n := range []int{1, 10, 100, 500} {
		sts := sinktest.Statements(n)
		for _, tg := range targets {
			b.Run(fmt.Sprintf("batch=%d/%s", n, tg.name), func(b *testing.B) {
				sink := configure(b, tg.provider, fmt.Sprintf("bench/%d/%s", n, tg.name), cfg)
				ctx := context.Background()
				req := sdk.DeliverRequest{Statements: sts}
				b.SetBytes(int64(len(sts[0].JSON) * n))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := sink.Deliver(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "statements/s")
			})
		}
	}
}
