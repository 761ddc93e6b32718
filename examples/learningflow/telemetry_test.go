package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/learningflow/lrsbridge/host"
)

// scrape gets url and parses the answer as the Prometheus text format,
// with the classic (legacy) name rules.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		if !strings.HasPrefix(l.GetName(), "otel_scope_") {
			out[l.GetName()] = l.GetValue()
		}
	}
	return out
}

// TestMetricsEndpoint records host-style measurements through the demo's
// MeterProvider, scrapes /metrics from a loopback server and parses it:
// names, types, units and labels come out the Prometheus way, and other
// paths still reach the panel.
func TestMetricsEndpoint(t *testing.T) {
	tel, err := setupTelemetry(context.Background(), false, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if tel.TracerProvider != nil {
		t.Error("TracerProvider is set without -trace")
	}
	meter := tel.MeterProvider.Meter("github.com/learningflow/lrsbridge/host")
	delivered, _ := meter.Int64Counter("lrsbridge.statements.delivered", metric.WithUnit("{statement}"))
	duration, _ := meter.Float64Histogram("lrsbridge.delivery.batch.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 1))
	depth, _ := meter.Int64ObservableGauge("lrsbridge.queue.depth", metric.WithUnit("{statement}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(7, metric.WithAttributes(attribute.String("lrsbridge.org", "acme")))
			return nil
		}))
	_ = depth
	org := metric.WithAttributes(attribute.String("lrsbridge.org", "acme"), attribute.String("lrsbridge.sink", "lrs"))
	delivered.Add(context.Background(), 3, org)
	duration.Record(context.Background(), 0.25, org)

	panel := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "panel") })
	srv := httptest.NewServer(tel.withMetrics(panel))
	t.Cleanup(srv.Close)
	fams := scrape(t, srv.URL+"/metrics")

	type sample struct {
		Type   dto.MetricType
		Labels map[string]string
		Value  float64
		Count  uint64
	}
	got := map[string]sample{}
	for _, name := range []string{"lrsbridge_statements_delivered_total", "lrsbridge_delivery_batch_duration_seconds", "lrsbridge_queue_depth"} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Errorf("family %s missing or not one series; families: %v", name, keys(fams))
			continue
		}
		m := f.GetMetric()[0]
		s := sample{Type: f.GetType(), Labels: labels(m)}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			s.Value = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			s.Value = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			s.Value, s.Count = m.GetHistogram().GetSampleSum(), m.GetHistogram().GetSampleCount()
		}
		got[name] = s
	}
	acme := map[string]string{"lrsbridge_org": "acme", "lrsbridge_sink": "lrs"}
	want := map[string]sample{
		"lrsbridge_statements_delivered_total":      {Type: dto.MetricType_COUNTER, Labels: acme, Value: 3},
		"lrsbridge_delivery_batch_duration_seconds": {Type: dto.MetricType_HISTOGRAM, Labels: acme, Value: 0.25, Count: 1},
		"lrsbridge_queue_depth":                     {Type: dto.MetricType_GAUGE, Labels: map[string]string{"lrsbridge_org": "acme"}, Value: 7},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scraped series (-want +got):\n%s", diff)
	}
	if f := fams["target_info"]; f == nil || labels(f.GetMetric()[0])["service_name"] != "learningflow-demo" {
		t.Errorf("target_info does not name the service learningflow-demo")
	}
	if code, body := call(t, context.Background(), http.MethodGet, srv.URL+"/", "", nil, nil); code != http.StatusOK || body != "panel" {
		t.Errorf("GET / = %d %q; want the panel", code, body)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTraceToStdout: with -trace and no OTLP variable, finished spans are
// printed.
func TestTraceToStdout(t *testing.T) {
	var out syncBuffer
	tel, err := setupTelemetry(context.Background(), true, []string{"HOME=/nowhere"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "lrsbridge.record_event")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if tel.TraceTarget != "stdout" || !strings.Contains(out.String(), `"Name":"lrsbridge.record_event"`) {
		t.Errorf("target %q, printed %q; want the span printed", tel.TraceTarget, out.String())
	}
}

// TestTraceToOTLP: with -trace and OTEL_EXPORTER_OTLP_ENDPOINT set, spans
// are sent by OTLP/HTTP to a loopback collector.
func TestTraceToOTLP(t *testing.T) {
	var (
		mu    sync.Mutex
		names []string
		paths []string
	)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		paths = append(paths, r.URL.Path)
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	t.Cleanup(collector.Close)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	tel, err := setupTelemetry(context.Background(), true, os.Environ(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "lrsbridge.deliver")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"lrsbridge.deliver"}, names); diff != "" {
		t.Errorf("spans the collector received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/v1/traces"}, paths); diff != "" {
		t.Errorf("paths posted to (-want +got):\n%s", diff)
	}
	if tel.TraceTarget != collector.URL {
		t.Errorf("TraceTarget = %q; want %q", tel.TraceTarget, collector.URL)
	}
}

func TestEnvValue(t *testing.T) {
	env := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:4318/v1/traces", "OTHER=x"}
	if got := envValue(env, otlpEndpointVars...); got != "http://127.0.0.1:4318/v1/traces" {
		t.Errorf("envValue = %q", got)
	}
	if got := envValue([]string{"OTEL_EXPORTER_OTLP_ENDPOINT="}, otlpEndpointVars...); got != "" {
		t.Errorf("envValue of an empty variable = %q; want none", got)
	}
}

// TestHostMetricsScraped: the demo hands its providers to the host, so
// that the host's own metrics are scraped from /metrics.
func TestHostMetricsScraped(t *testing.T) {
	tel, err := setupTelemetry(context.Background(), false, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	cfg := host.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Plugins.Dir = plugins(t)
	cfg.Queue.Sync = "none"
	cfg.Orgs = map[string]host.OrgConfig{"acme": {
		OrgSettings: host.OrgSettings{BaseIRI: "https://acme.learningflow.example"},
		Sinks:       []host.SinkConfig{{ID: "mock", Label: "Mock", Plugin: "mock", Config: map[string]any{}}},
	}}
	h, err := host.New(cfg, hostOptions(slog.New(slog.DiscardHandler), tel)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	var ev host.Event
	if err := json.Unmarshal([]byte(quizEvent("acme", "e-1")), &ev); err != nil {
		t.Fatal(err)
	}
	stmts, err := h.RecordEvent(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tel.withMetrics(http.NotFoundHandler()))
	t.Cleanup(srv.Close)
	want := map[string]float64{
		"lrsbridge_statements_recorded_total":  float64(len(stmts)),
		"lrsbridge_statements_delivered_total": float64(len(stmts)),
		"lrsbridge_queue_depth":                0,
	}
	var got map[string]float64
	// A batch's statements leave the queue just before they are counted:
	// scrape until the count is there, or report the last scrape.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fams := scrape(t, srv.URL+"/metrics")
		got = map[string]float64{}
		for _, name := range []string{"lrsbridge_statements_recorded_total", "lrsbridge_statements_delivered_total", "lrsbridge_queue_depth"} {
			f := fams[name]
			if f == nil || len(f.GetMetric()) != 1 {
				continue
			}
			m := f.GetMetric()[0]
			got[name] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if l := labels(m); l["lrsbridge_org"] != "acme" || l["lrsbridge_integration"] != "mock" {
				t.Errorf("%s labels %v, want acme's mock integration", name, l)
			}
		}
		if cmp.Equal(want, got) || time.Now().After(deadline) {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host metrics scraped (-want +got):\n%s", diff)
	}
}
