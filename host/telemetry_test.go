package host

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/learningflow/lrsbridge/sdk/xapi"
)

// telemetrySinks are in-memory OpenTelemetry readers for a host.
type telemetrySinks struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
}

// withTelemetry returns the options that point a host at new in-memory
// readers.
func withTelemetry(t testing.TB) (*telemetrySinks, []Option) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() {
		_ = mp.Shutdown(context.Background())
		_ = tp.Shutdown(context.Background())
	})
	return &telemetrySinks{reader: reader, spans: spans}, []Option{WithMeterProvider(mp), WithTracerProvider(tp)}
}

// collect reads every data point as "metric{k=v,...}": the value of a
// counter or gauge, the count of a histogram (durations vary from run to
// run).
func (s *telemetrySinks) collect(t testing.TB) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("Collect = %v", err)
	}
	out := map[string]float64{}
	put := func(name string, set attribute.Set, v float64) {
		var parts []string
		for _, kv := range set.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
		}
		out[name+"{"+strings.Join(parts, ",")+"}"] = v
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					put(m.Name, dp.Attributes, float64(dp.Value))
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					put(m.Name, dp.Attributes, float64(dp.Value))
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					put(m.Name, dp.Attributes, dp.Value)
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					put(m.Name, dp.Attributes, float64(dp.Count))
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					put(m.Name, dp.Attributes, float64(dp.Count))
				}
			default:
				t.Fatalf("metric %s has unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

// norm sorts the attributes of a point's key written by hand, for
// example "m{b=1,a=2}" becomes "m{a=2,b=1}", as collect writes them.
func norm(want map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(want))
	for k, v := range want {
		name, attrs, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
		parts := strings.Split(attrs, ",")
		key := func(p string) string { k, _, _ := strings.Cut(p, "="); return k }
		sort.Slice(parts, func(i, j int) bool { return key(parts[i]) < key(parts[j]) })
		out[name+"{"+strings.Join(parts, ",")+"}"] = v
	}
	return out
}

// pick returns the points of points named by want's keys (0 if absent).
func pick(points, want map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(want))
	for k := range want {
		out[k] = points[k]
	}
	return out
}

// only keeps the points of the named metrics.
func only(points map[string]float64, names ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range points {
		for _, n := range names {
			if strings.HasPrefix(k, n+"{") {
				out[k] = v
			}
		}
	}
	return out
}

// telemetryScenario runs records, an outage with retries and an open
// breaker, a 400 with a dead letter, an already stored statement and
// refused events, with the given attribute mode. It returns the points
// collected while the breaker was open and at the end.
func telemetryScenario(t *testing.T, mode AttributeMode) (duringOutage, end map[string]float64) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Telemetry.Attributes.Mode = mode
	cfg.Delivery.Parallel = 1
	cfg.Delivery.BreakerFailures = 2
	dir := t.TempDir()
	victim := statement("acme", 4)
	addOrg(&cfg, "acme",
		mockSink("ok", filepath.Join(dir, "ok.ndjson"), map[string]any{"reject": []any{map[string]any{"id": victim.ID}}}),
		mockSink("outage", filepath.Join(dir, "outage.ndjson"), map[string]any{"fail_first": 4}))
	_, endpoint := newLRS(t)
	addOrg(&cfg, "beta", lrsSink(endpoint, "s"))
	sinks, opts := withTelemetry(t)
	h := newHost(t, cfg, opts...)
	ctx := context.Background()

	// One call, so that every batch of the outage carries all ten.
	if err := h.Record(ctx, "acme", statements("acme", 0, 10)...); err != nil {
		t.Fatal(err)
	}
	open := "lrsbridge.breakers{lrsbridge.breaker.state=open,lrsbridge.integration=outage,lrsbridge.org=acme,lrsbridge.sink=mock}"
	if mode == AttributesOff {
		open = "lrsbridge.breakers{lrsbridge.breaker.state=open,lrsbridge.sink=mock}"
	}
	eventually(t, 30*time.Second, "the outage's breaker to open", func() bool {
		duringOutage = sinks.collect(t)
		return duringOutage[open] == 1
	})
	waitIdle(t, h, 30*time.Second)

	// The LRS answers 409 for a different statement with a stored id.
	first := statement("beta", 1)
	if err := h.Record(ctx, "beta", first); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)
	changed := statement("beta", 1)
	changed.Verb = xapi.Verb{ID: "http://adlnet.gov/expapi/verbs/completed", Display: xapi.LanguageMap{"en-US": "completed"}}
	if err := h.Record(ctx, "beta", changed); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, h, 30*time.Second)

	for _, ev := range []Event{
		{ID: "e1", Org: "nobody", Kind: "quiz.completed"},
		{ID: "e2", Org: "acme", Kind: "no.such.kind", Time: "2025-03-14T09:12:30Z", User: &User{ID: "u-1"}},
		{ID: "e3", Org: "acme", Kind: "quiz.completed", Time: "2025-03-14T09:12:30Z", User: &User{ID: "u-1"}, Payload: json.RawMessage(`{}`)},
	} {
		if _, err := h.RecordEvent(ctx, ev); err == nil {
			t.Fatalf("RecordEvent(%s) = nil, want a refusal", ev.ID)
		}
	}
	return duringOutage, sinks.collect(t)
}

// TestTelemetryMetrics follows every metric through the scenario with the
// organizations' own attributes.
func TestTelemetryMetrics(t *testing.T) {
	t.Parallel()
	during, end := telemetryScenario(t, AttributesAll)

	const (
		ok     = "lrsbridge.integration=ok,lrsbridge.org=acme,lrsbridge.sink=mock"
		outage = "lrsbridge.integration=outage,lrsbridge.org=acme,lrsbridge.sink=mock"
		beta   = "lrsbridge.integration=lrs,lrsbridge.org=beta,lrsbridge.sink=lrs"
	)
	wantDuring := norm(map[string]float64{
		"lrsbridge.breakers{lrsbridge.breaker.state=open," + outage + "}":                 1,
		"lrsbridge.integrations{" + outage + ",lrsbridge.integration.state=breaker_open}": 1,
		"lrsbridge.queue.depth{" + outage + "}":                                           10,
	})
	if diff := cmp.Diff(wantDuring, pick(during, wantDuring)); diff != "" {
		t.Errorf("while the breaker was open (-want +got):\n%s", diff)
	}
	if n := during["lrsbridge.statements.retried{error.type=retryable,"+outage+"}"]; n < 20 || int(n)%10 != 0 {
		t.Errorf("while the breaker was open, %v statements retried; want the ten of each of at least two failed batches", n)
	}
	if age := during["lrsbridge.queue.oldest_age{"+outage+"}"]; age <= 0 {
		t.Errorf("oldest age %v during the outage, want > 0", age)
	}

	want := norm(map[string]float64{
		"lrsbridge.statements.recorded{" + ok + "}":     10,
		"lrsbridge.statements.recorded{" + outage + "}": 10,
		"lrsbridge.statements.recorded{" + beta + "}":   2,

		"lrsbridge.statements.delivered{" + ok + "}":     9,
		"lrsbridge.statements.delivered{" + outage + "}": 10,
		"lrsbridge.statements.delivered{" + beta + "}":   2,

		"lrsbridge.statements.already_stored{" + beta + "}": 1,

		"lrsbridge.statements.retried{error.type=retryable," + outage + "}": 40,

		"lrsbridge.statements.dead_lettered{lrsbridge.dead_letter.reason=rejected," + ok + "}": 1,

		"lrsbridge.events.refused{error.type=unknown_org,lrsbridge.event.kind=quiz.completed,lrsbridge.org=nobody}": 1,
		"lrsbridge.events.refused{error.type=unknown_kind,lrsbridge.event.kind=no.such.kind,lrsbridge.org=acme}":    1,
		"lrsbridge.events.refused{error.type=invalid_event,lrsbridge.event.kind=quiz.completed,lrsbridge.org=acme}": 1,

		// Histograms: the number of calls.
		"lrsbridge.delivery.batch.duration{error.type=retryable," + outage + "}": 4,
		"lrsbridge.delivery.batch.duration{" + outage + "}":                      1,
		"lrsbridge.delivery.batch.size{" + outage + "}":                          5,
		"lrsbridge.record.duration{lrsbridge.org=beta}":                          2,

		"lrsbridge.queue.depth{" + ok + "}":     0,
		"lrsbridge.queue.depth{" + outage + "}": 0,
		"lrsbridge.queue.depth{" + beta + "}":   0,

		"lrsbridge.breakers{lrsbridge.breaker.state=closed," + ok + "}":     1,
		"lrsbridge.breakers{lrsbridge.breaker.state=closed," + outage + "}": 1,
		"lrsbridge.breakers{lrsbridge.breaker.state=closed," + beta + "}":   1,

		"lrsbridge.integrations{" + ok + ",lrsbridge.integration.state=active}":     1,
		"lrsbridge.integrations{" + outage + ",lrsbridge.integration.state=active}": 1,
		"lrsbridge.integrations{" + beta + ",lrsbridge.integration.state=active}":   1,
	})
	if diff := cmp.Diff(want, pick(end, want)); diff != "" {
		t.Errorf("metrics at the end (-want +got):\n%s", diff)
	}
	// Every Record and RecordEvent call was timed: two Record calls of
	// acme's (one) and beta's (two), and the three refused events (with
	// their error class).
	calls := 0.0
	for k, v := range only(end, "lrsbridge.record.duration") {
		if !strings.Contains(k, "lrsbridge.org=") {
			t.Errorf("record duration without organization: %s", k)
		}
		calls += v
	}
	if calls != 6 {
		t.Errorf("record.duration counts %v calls, want 6: %v", calls, only(end, "lrsbridge.record.duration"))
	}
}

// TestTelemetryAttributesOff runs the scenario with the organization
// attributes off: no metric carries an organization or an integration,
// and the counts add up per sink plugin.
func TestTelemetryAttributesOff(t *testing.T) {
	t.Parallel()
	_, end := telemetryScenario(t, AttributesOff)
	var keys []string
	for k := range end {
		if strings.Contains(k, "lrsbridge.org=") || strings.Contains(k, "lrsbridge.integration=") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		t.Errorf("metrics carry organizations with attributes off:\n%s", strings.Join(keys, "\n"))
	}
	want := norm(map[string]float64{
		"lrsbridge.statements.recorded{lrsbridge.sink=mock}":                                            20,
		"lrsbridge.statements.recorded{lrsbridge.sink=lrs}":                                             2,
		"lrsbridge.statements.delivered{lrsbridge.sink=mock}":                                           19,
		"lrsbridge.statements.dead_lettered{lrsbridge.dead_letter.reason=rejected,lrsbridge.sink=mock}": 1,
		"lrsbridge.queue.depth{lrsbridge.sink=mock}":                                                    0,
		"lrsbridge.integrations{lrsbridge.integration.state=active,lrsbridge.sink=mock}":                2,
		"lrsbridge.events.refused{error.type=unknown_org,lrsbridge.event.kind=quiz.completed}":          1,
	})
	if diff := cmp.Diff(want, pick(end, want)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}
