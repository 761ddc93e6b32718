package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// Example shows the calls the host makes, in the order it makes them:
// one Telemetry per host, one Integration per delivery worker, a record
// span per Record call whose span context is stored with each queued
// statement, and a batch span per delivery call made from the stored span
// contexts.
func Example() {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	tel, err := telemetry.New(telemetry.Options{
		MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// host.New: the gauges read the workers at each collection.
	unregister, _ := tel.ObserveIntegrations(func() iter.Seq[telemetry.IntegrationSnapshot] {
		return slices.Values([]telemetry.IntegrationSnapshot{{
			Org: "acme", Integration: "acme/lrs-1", Sink: "lrs", QueueDepth: 0, State: "active", Breaker: telemetry.BreakerClosed,
		}})
	})
	defer unregister()
	// Starting a worker.
	in := tel.Integration("acme", "acme/lrs-1", "lrs")

	// RecordEvent: a span, the statements queued with its span context.
	_, rec := tel.StartRecord(ctx, "acme", "quiz.completed")
	queued := [][]byte{telemetry.AppendSpanContext(nil, rec.SpanContext())}
	in.Recorded(len(queued))
	rec.End(len(queued), nil)

	// The worker delivers a batch: the span contexts come back from the
	// queue, the batch's context goes to the sink.
	records := make([]trace.SpanContext, len(queued))
	for i, b := range queued {
		records[i], _ = telemetry.ParseSpanContext(b)
	}
	bctx, batch := in.StartBatch(ctx, len(records), records)
	_ = bctx // sink.Deliver(bctx, ...)
	in.Delivered(ctx, 1, 0)
	batch.End(nil, telemetry.BatchResult{Delivered: 1})

	// An outage: the next batch fails as a whole.
	_, batch = in.StartBatch(ctx, 1, nil)
	err = errors.New("connection refused")
	in.Retried(ctx, 1, err)
	batch.End(err, telemetry.BatchResult{Retried: 1})

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name)
	}
	for _, s := range spans.Ended() {
		fmt.Println(s.Name(), s.SpanContext().TraceID() == rec.SpanContext().TraceID())
	}
	// Output:
	// lrsbridge.statements.recorded
	// lrsbridge.statements.delivered
	// lrsbridge.statements.retried
	// lrsbridge.delivery.batch.duration
	// lrsbridge.record.duration
	// lrsbridge.delivery.batch.size
	// lrsbridge.queue.depth
	// lrsbridge.queue.oldest_age
	// lrsbridge.breakers
	// lrsbridge.integrations
	// lrsbridge.record_event true
	// lrsbridge.deliver true
	// lrsbridge.deliver false
}
