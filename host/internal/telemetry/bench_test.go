package telemetry_test

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"testing"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// benchMode is one side of the telemetry micro-benchmarks.
type benchMode struct {
	name    string
	metrics bool             // an SDK meter provider instead of the no-op one
	sampler sdktrace.Sampler // an SDK tracer provider with this sampler; nil: the no-op one
}

// benchModes are the sides of the micro-benchmarks, as the host's
// telemetry benchmarks have them: "off" (the no-op providers the host gets
// when the application sets none), "metrics" (the SDK meter, no tracing),
// "sampled" (the SDK meter and 1 % of traces, parent-based) and "on"
// (every span sampled).
var benchModes = []benchMode{
	{name: "off"},
	{name: "metrics", metrics: true},
	{name: "sampled", metrics: true, sampler: sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))},
	{name: "on", metrics: true, sampler: sdktrace.AlwaysSample()},
}

// benchTelemetry returns a Telemetry of mode m: the SDK providers, where
// the mode has them, with a batching span processor and a periodic metric
// reader, both with exporters that discard.
func benchTelemetry(b *testing.B, m benchMode, attrs telemetry.Attributes) *telemetry.Telemetry {
	b.Helper()
	opts := telemetry.Options{
		MeterProvider:  metricnoop.NewMeterProvider(),
		TracerProvider: tracenoop.NewTracerProvider(),
		Attributes:     attrs,
	}
	if m.metrics {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(discardMetrics{})))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		opts.MeterProvider = mp
	}
	if m.sampler != nil {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(m.sampler), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		opts.TracerProvider = tp
	}
	tel, err := telemetry.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return tel
}

// discardMetrics is a metric exporter that drops everything.
type discardMetrics struct{}

func (discardMetrics) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}
func (discardMetrics) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}
func (discardMetrics) Export(context.Context, *metricdata.ResourceMetrics) error { return nil }
func (discardMetrics) ForceFlush(context.Context) error                          { return nil }
func (discardMetrics) Shutdown(context.Context) error                            { return nil }

// BenchmarkRecordPath measures what telemetry adds to one RecordEvent call
// that queues 2 statements for one integration: the record span, the
// recorded counter, the span context stored with the statements (encoded
// once per call) and the record duration, in each of benchModes, from one
// goroutine and from 8 at once (parallel=8, as the host's benchmarks
// record). Compare the modes in the same run, and with the host's
// BenchmarkTelemetryRecord. "span" is the floor of "on": one bare span of
// the same SDK tracer provider, started and ended, which nothing in the
// host can make cheaper.
func BenchmarkRecordPath(b *testing.B) {
	ctx := context.Background()
	record := func(tel *telemetry.Telemetry, in *telemetry.Integration, buf []byte) []byte {
		_, rec := tel.StartRecord(ctx, "acme", "quiz.completed")
		buf = telemetry.AppendSpanContext(buf[:0], rec.SpanContext())
		in.Recorded(2)
		rec.End(2, nil)
		return buf
	}
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			tel := benchTelemetry(b, m, telemetry.Attributes{})
			in := tel.Integration("acme", "acme/lrs-1", "lrs")
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				buf = record(tel, in, buf)
			}
		})
	}
	for _, m := range benchModes {
		b.Run(m.name+"/parallel=8", func(b *testing.B) {
			tel := benchTelemetry(b, m, telemetry.Attributes{})
			in := tel.Integration("acme", "acme/lrs-1", "lrs")
			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var buf []byte
				for pb.Next() {
					buf = record(tel, in, buf)
				}
			})
		})
	}
	b.Run("span", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tracer := tp.Tracer(telemetry.ScopeName)
		b.ReportAllocs()
		for b.Loop() {
			_, span := tracer.Start(ctx, telemetry.SpanRecordEvent)
			span.End()
		}
	})
}

// BenchmarkDeliveryPath measures what telemetry adds to one delivery call of
// 50 statements from 50 records: parsing the stored span contexts, the batch
// span with its links, the batch metrics and the delivered counter.
func BenchmarkDeliveryPath(b *testing.B) {
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			tel := benchTelemetry(b, m, telemetry.Attributes{})
			in := tel.Integration("acme", "acme/lrs-1", "lrs")
			ctx := context.Background()
			stored := make([][]byte, 50)
			for i := range stored {
				sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{byte(i + 1)}, SpanID: trace.SpanID{byte(i + 1)}, TraceFlags: trace.FlagsSampled})
				stored[i] = telemetry.AppendSpanContext(nil, sc)
			}
			records := make([]trace.SpanContext, len(stored))
			b.ReportAllocs()
			for b.Loop() {
				for i, s := range stored {
					records[i], _ = telemetry.ParseSpanContext(s)
				}
				_, batch := in.StartBatch(ctx, len(records), records)
				in.Delivered(ctx, len(records), 0)
				batch.End(nil, telemetry.BatchResult{Delivered: len(records)})
			}
		})
	}
}

// BenchmarkSeriesMemory measures the heap the SDK keeps per organization
// when 10,000 organizations (one integration each) move every metric once
// and the metrics are collected: run with -benchtime=1x. The figure is
// heap-B/org; with ModeLimited only Limit organizations have series of
// their own, so it is the cost of the rest folded into _other.
func BenchmarkSeriesMemory(b *testing.B) {
	const orgs = 10000
	for _, mode := range []telemetry.Mode{telemetry.ModeAll, telemetry.ModeLimited, telemetry.ModeOff} {
		b.Run(string(mode), func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				reader := sdkmetric.NewManualReader()
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
				tel, err := telemetry.New(telemetry.Options{MeterProvider: mp, TracerProvider: tracenoop.NewTracerProvider(), Attributes: telemetry.Attributes{Mode: mode}})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				snaps := make([]telemetry.IntegrationSnapshot, 0, orgs)
				for i := range orgs {
					org := fmt.Sprintf("org-%05d", i)
					in := tel.Integration(org, org+"/lrs", "lrs")
					_, rec := tel.StartRecord(ctx, org, "")
					in.Recorded(1)
					rec.End(1, nil)
					_, batch := in.StartBatch(ctx, 1, nil)
					in.Delivered(ctx, 1, 1)
					batch.End(nil, telemetry.BatchResult{Delivered: 1})
					in.Retried(ctx, 1, nil)
					in.DeadLettered(ctx, 1, telemetry.DeadLetterRejected)
					snaps = append(snaps, telemetry.IntegrationSnapshot{Org: org, Integration: org + "/lrs", Sink: "lrs", QueueDepth: 1, State: "active", Breaker: telemetry.BreakerClosed})
				}
				unregister, err := tel.ObserveIntegrations(func() iter.Seq[telemetry.IntegrationSnapshot] {
					return func(yield func(telemetry.IntegrationSnapshot) bool) {
						for _, s := range snaps {
							if !yield(s) {
								return
							}
						}
					}
				})
				if err != nil {
					b.Fatal(err)
				}
				var rm metricdata.ResourceMetrics
				if err := reader.Collect(ctx, &rm); err != nil {
					b.Fatal(err)
				}
				rm = metricdata.ResourceMetrics{}
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/orgs, "heap-B/org")
				_ = unregister()
				_ = mp.Shutdown(ctx)
				runtime.KeepAlive(snaps)
				runtime.KeepAlive(tel)
			}
		})
	}
}

var _ metric.MeterProvider = metricnoop.NewMeterProvider()
