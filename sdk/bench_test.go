package sdk_test

import (
	"context"
	"fmt"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/internal/proccpu"
	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/internal/scripted"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// BenchmarkDeliver compares delivering through a real plugin process with
// calling the same sink directly, per batch size. The sink does no work, so
// the plugin figures are the cost of the protocol. plugin-traced calls
// under a sampled span of an SDK tracer provider (no-op exporter): the
// trace context goes with the call and the plugin's server span comes
// back in the trailer. plugin-cpu-ns/op is the plugin process's CPU time
// per call (Linux; clock ticks, so use a -benchtime of thousands).
func BenchmarkDeliver(b *testing.B) {
	proc := launch(b, nil)
	cfg := map[string]any{"mode": scripted.ModeDeliver}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	targets := []struct {
		name     string
		provider sdk.Provider
		traced   bool
	}{
		{"direct", scripted.Provider(), false},
		{"plugin", proc.Provider(), false},
		{"plugin-traced", proc.Provider(), true},
	}
	for _, n := range []int{1, 10, 100, 500} {
		sts := sinktest.Statements(n)
		for _, tg := range targets {
			b.Run(fmt.Sprintf("batch=%d/%s", n, tg.name), func(b *testing.B) {
				sink := configure(b, tg.provider, fmt.Sprintf("bench/%d/%s", n, tg.name), cfg)
				ctx := context.Background()
				if tg.traced {
					var span trace.Span
					ctx, span = tp.Tracer("bench").Start(ctx, "deliver")
					defer span.End()
				}
				req := sdk.DeliverRequest{Statements: sts}
				b.SetBytes(int64(len(sts[0].JSON) * n))
				b.ReportAllocs()
				b.ResetTimer()
				c0 := proccpu.Seconds(proc.Pid())
				for b.Loop() {
					if _, err := sink.Deliver(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "statements/s")
				b.ReportMetric((proccpu.Seconds(proc.Pid())-c0)*1e9/float64(b.N), "plugin-cpu-ns/op")
			})
		}
	}
}
