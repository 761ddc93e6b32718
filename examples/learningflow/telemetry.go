package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/learningflow/lrsbridge/host"
)

// telemetry is the demo's OpenTelemetry setup, the part an application
// embedding the host owns: the host only uses the OpenTelemetry API, and
// the application picks the SDK and the exporters.
//
// Metrics go to a Prometheus registry of their own (not the process-wide
// default one) through OpenTelemetry's Prometheus exporter, and Metrics
// serves them in the Prometheus text format. The exporter rather than
// prometheus/client_golang alone: the host measures with the OpenTelemetry
// API, and the exporter is the bridge from it to Prometheus (it uses
// client_golang's registry and handler underneath). Names are translated
// the Prometheus way: lrsbridge.statements.delivered with unit {statement}
// becomes lrsbridge_statements_delivered_total, a duration in s gets
// _seconds.
type telemetry struct {
	// MeterProvider receives the host's measurements.
	MeterProvider *metric.MeterProvider
	// TracerProvider receives the host's spans; nil unless tracing was
	// asked for.
	TracerProvider *sdktrace.TracerProvider
	// Metrics serves GET /metrics.
	Metrics http.Handler
	// TraceTarget says where spans go: "", "stdout" or the OTLP endpoint.
	TraceTarget string
}

// otlpEndpointVars are the standard variables that send spans by OTLP.
var otlpEndpointVars = []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"}

// setupTelemetry makes the providers. With trace set, finished spans are
// sent by OTLP over HTTP when one of the OTEL_EXPORTER_OTLP_..._ENDPOINT
// variables is set in environ (the exporter reads the other standard
// OTEL_EXPORTER_OTLP_ variables itself), and printed as JSON to spans
// otherwise. Close with Shutdown.
func setupTelemetry(ctx context.Context, trace bool, environ []string, spans io.Writer) (*telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName("learningflow-demo")))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithSuffixes))
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t := &telemetry{
		MeterProvider: metric.NewMeterProvider(metric.WithReader(exp), metric.WithResource(res)),
		Metrics:       promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	if !trace {
		return t, nil
	}
	var sx sdktrace.SpanExporter
	if endpoint := envValue(environ, otlpEndpointVars...); endpoint != "" {
		sx, err = otlptracehttp.New(ctx)
		t.TraceTarget = endpoint
	} else {
		sx, err = stdouttrace.New(stdouttrace.WithWriter(spans))
		t.TraceTarget = "stdout"
	}
	if err != nil {
		_ = t.MeterProvider.Shutdown(ctx)
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	t.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithBatcher(sx), sdktrace.WithResource(res))
	return t, nil
}

// Shutdown flushes the spans and metrics still buffered and stops the
// providers.
func (t *telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	if t.TracerProvider != nil {
		errs = append(errs, t.TracerProvider.Shutdown(ctx))
	}
	errs = append(errs, t.MeterProvider.Shutdown(ctx))
	return errors.Join(errs...)
}

// withMetrics serves the metrics at /metrics and everything else with next.
func (t *telemetry) withMetrics(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.Metrics)
	mux.Handle("/", next)
	return mux
}

// envValue returns the value of the first of names set (not empty) in
// environ.
func envValue(environ []string, names ...string) string {
	for _, name := range names {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// hostOptions returns the host's options: the logger, and the providers so
// that the host's metrics appear at /metrics and its spans are traced with
// -trace.
func hostOptions(log *slog.Logger, t *telemetry) []host.Option {
	opts := []host.Option{host.WithLogger(log), host.WithMeterProvider(t.MeterProvider)}
	if t.TracerProvider != nil { // a nil *TracerProvider is not a nil interface
		opts = append(opts, host.WithTracerProvider(t.TracerProvider))
	}
	return opts
}
