package telemetry_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
)

// env is a Telemetry wired to in-memory SDK readers.
type env struct {
	tel    *telemetry.Telemetry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
}

func newEnv(t testing.TB, attrs telemetry.Attributes) *env {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	tel, err := telemetry.New(telemetry.Options{MeterProvider: mp, TracerProvider: tp, Attributes: attrs})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return &env{tel: tel, reader: reader, spans: rec}
}

// point is one data point, flattened for comparison: Value is the sum of a
// counter or histogram or the value of a gauge; Count is a histogram's
// count.
type point struct {
	Metric string
	Attrs  string
	Value  float64
	Count  uint64
}

// collect reads every data point, sorted.
func (e *env) collect(t testing.TB) []point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect = %v", err)
	}
	var out []point
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{Metric: m.Name, Attrs: attrString(dp.Attributes), Value: float64(dp.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{Metric: m.Name, Attrs: attrString(dp.Attributes), Value: float64(dp.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{Metric: m.Name, Attrs: attrString(dp.Attributes), Value: dp.Value})
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out = append(out, point{Metric: m.Name, Attrs: attrString(dp.Attributes), Value: float64(dp.Sum), Count: dp.Count})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					// Durations vary from run to run: compare counts only.
					out = append(out, point{Metric: m.Name, Attrs: attrString(dp.Attributes), Count: dp.Count})
				}
			default:
				t.Fatalf("metric %s has unexpected data %T", m.Name, m.Data)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Metric != out[j].Metric {
			return out[i].Metric < out[j].Metric
		}
		return out[i].Attrs < out[j].Attrs
	})
	return out
}

// attrString renders an attribute set as "k=v,k=v" in key order.
func attrString(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, ",")
}
