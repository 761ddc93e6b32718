package host

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/deadletter"
	"github.com/learningflow/lrsbridge/sdk/xapi"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
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

// settled collects until the points named by want have want's values (a
// batch's statements leave the queue just before they are counted), or
// gives up after a while and returns the last collection for the caller
// to report.
func (s *telemetrySinks) settled(t testing.TB, want map[string]float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := s.collect(t)
		if cmp.Equal(want, pick(got, want)) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
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
func telemetryScenario(t *testing.T, mode AttributeMode) (duringOutage map[string]float64, sinks *telemetrySinks) {
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
	// The breaker and the integration state are read one after the
	// other: wait for a collection that saw both open.
	open := norm(map[string]float64{
		"lrsbridge.breakers{lrsbridge.breaker.state=open,lrsbridge.integration=outage,lrsbridge.org=acme,lrsbridge.sink=mock}":                 1,
		"lrsbridge.integrations{lrsbridge.integration.state=breaker_open,lrsbridge.integration=outage,lrsbridge.org=acme,lrsbridge.sink=mock}": 1,
	})
	if mode == AttributesOff {
		open = norm(map[string]float64{
			"lrsbridge.breakers{lrsbridge.breaker.state=open,lrsbridge.sink=mock}":                 1,
			"lrsbridge.integrations{lrsbridge.integration.state=breaker_open,lrsbridge.sink=mock}": 1,
		})
	}
	eventually(t, 30*time.Second, "the outage's breaker to open", func() bool {
		duringOutage = sinks.collect(t)
		return cmp.Equal(open, pick(duringOutage, open))
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
	return duringOutage, sinks
}

// TestTelemetryMetrics follows every metric through the scenario with the
// organizations' own attributes.
func TestTelemetryMetrics(t *testing.T) {
	t.Parallel()
	during, sinks := telemetryScenario(t, AttributesAll)

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

		"lrsbridge.events.refused{error.type=unknown_org,lrsbridge.event.kind=quiz.completed,lrsbridge.org=_other}": 1,
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
	end := sinks.settled(t, want)
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

// TestTelemetryUnknownOrgsTakeNoPlace: ids of organizations the host does
// not know, sent by an untrusted caller, never become attribute values nor
// take a place in the limit of organizations that keep their own.
func TestTelemetryUnknownOrgsTakeNoPlace(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.Telemetry.Attributes = TelemetryAttributes{Mode: AttributesLimited, Limit: 1}
	addOrg(&cfg, "acme", mockSink("mock", filepath.Join(t.TempDir(), "r.ndjson"), nil))
	sinks, opts := withTelemetry(t)
	h := newHost(t, cfg, opts...)
	ctx := context.Background()
	for i := range 5 {
		bogus := "intruder-" + strconv.Itoa(i)
		if err := h.Record(ctx, bogus, statement(bogus, i)); !errors.Is(err, ErrOrgUnknown) {
			t.Fatalf("Record(%s) = %v, want ErrOrgUnknown", bogus, err)
		}
		if _, err := h.RecordEvent(ctx, Event{ID: "e", Org: bogus, Kind: "quiz.completed"}); err == nil {
			t.Fatalf("RecordEvent(%s) = nil, want a refusal", bogus)
		}
	}
	if err := h.Record(ctx, "acme", statement("acme", 1)); err != nil {
		t.Fatal(err)
	}
	want := norm(map[string]float64{
		"lrsbridge.statements.recorded{lrsbridge.integration=mock,lrsbridge.org=acme,lrsbridge.sink=mock}":          1,
		"lrsbridge.record.duration{lrsbridge.org=acme}":                                                             1,
		"lrsbridge.record.duration{error.type=refused,lrsbridge.org=_other}":                                        10,
		"lrsbridge.events.refused{error.type=unknown_org,lrsbridge.event.kind=quiz.completed,lrsbridge.org=_other}": 5,
	})
	end := sinks.settled(t, want)
	if diff := cmp.Diff(want, pick(end, want)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	for k := range end {
		if strings.Contains(k, "intruder") {
			t.Errorf("an unknown organization's id is an attribute value: %s", k)
		}
	}
}

// TestTelemetryAttributesOff runs the scenario with the organization
// attributes off: no metric carries an organization or an integration,
// and the counts add up per sink plugin.
func TestTelemetryAttributesOff(t *testing.T) {
	t.Parallel()
	_, sinks := telemetryScenario(t, AttributesOff)
	want := norm(map[string]float64{
		"lrsbridge.statements.recorded{lrsbridge.sink=mock}":                                            20,
		"lrsbridge.statements.recorded{lrsbridge.sink=lrs}":                                             2,
		"lrsbridge.statements.delivered{lrsbridge.sink=mock}":                                           19,
		"lrsbridge.statements.dead_lettered{lrsbridge.dead_letter.reason=rejected,lrsbridge.sink=mock}": 1,
		"lrsbridge.queue.depth{lrsbridge.sink=mock}":                                                    0,
		"lrsbridge.integrations{lrsbridge.integration.state=active,lrsbridge.sink=mock}":                2,
		"lrsbridge.events.refused{error.type=unknown_org,lrsbridge.event.kind=quiz.completed}":          1,
	})
	end := sinks.settled(t, want)
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
	if diff := cmp.Diff(want, pick(end, want)); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// TestTelemetryPluginCrash counts the starts, restart and exits of a real
// plugin process that crashes on its second batch, and the statements
// retried because it exited.
func TestTelemetryPluginCrash(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	cfg := testConfig(t)
	addOrg(&cfg, "acme", mockSink("mock", filepath.Join(t.TempDir(), "r.ndjson"), map[string]any{"crash_on_batch": 2}))
	sinks, opts := withTelemetry(t)
	h := newHost(t, cfg, opts...)
	ctx := context.Background()
	for i := range 2 {
		if err := h.Record(ctx, "acme", statements("acme", i*5, 5)...); err != nil {
			t.Fatal(err)
		}
		waitIdle(t, h, 60*time.Second)
	}
	const in = "lrsbridge.integration=mock,lrsbridge.org=acme,lrsbridge.sink=mock"
	want := norm(map[string]float64{
		"lrsbridge.plugin.starts{lrsbridge.plugin=mock}":                               2,
		"lrsbridge.plugin.restarts{lrsbridge.plugin=mock}":                             1,
		"lrsbridge.plugin.exits{lrsbridge.plugin=mock,lrsbridge.plugin.exit=crash}":    1,
		"lrsbridge.statements.retried{error.type=plugin_exited," + in + "}":            5,
		"lrsbridge.statements.delivered{" + in + "}":                                   10,
		"lrsbridge.delivery.batch.duration{error.type=plugin_exited," + in + "}":       1,
		"lrsbridge.plugin.exits{lrsbridge.plugin=mock,lrsbridge.plugin.exit=shutdown}": 0,
	})
	running := sinks.settled(t, want)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	// The watcher of the stopped process reports its exit before
	// Shutdown returns.
	end := sinks.collect(t)

	if diff := cmp.Diff(want, pick(running, want)); diff != "" {
		t.Errorf("before shutdown (-want +got):\n%s", diff)
	}
	stopped := norm(map[string]float64{
		"lrsbridge.plugin.exits{lrsbridge.plugin=mock,lrsbridge.plugin.exit=crash}":    1,
		"lrsbridge.plugin.exits{lrsbridge.plugin=mock,lrsbridge.plugin.exit=shutdown}": 1,
	})
	if diff := cmp.Diff(stopped, pick(end, stopped)); diff != "" {
		t.Errorf("after shutdown (-want +got):\n%s", diff)
	}
}

// headerLog remembers one request header of every request it passes on.
type headerLog struct {
	name string
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (l *headerLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	l.seen = append(l.seen, r.Header.Get(l.name))
	l.mu.Unlock()
	l.next.ServeHTTP(w, r)
}

func (l *headerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seen)
}

// TestTelemetryFollowsOneEvent follows one event through real plugin
// processes: the record span, the delivery spans (children of it and
// linked to it), a span made inside the mock plugin's process, the lrs
// plugin's request span, and the traceparent a loopback LRS receives all
// share one trace id.
func TestTelemetryFollowsOneEvent(t *testing.T) {
	needsProcesses(t)
	t.Parallel()
	cfg := testConfig(t)
	store := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: "k", Secret: "s"}}})
	seen := &headerLog{name: "traceparent", next: store}
	srv := httptest.NewServer(seen)
	t.Cleanup(srv.Close)
	addOrg(&cfg, "acme", mockSink("mock", filepath.Join(t.TempDir(), "r.ndjson"), nil), lrsSink(srv.URL+store.BasePath(), "s"))
	sinks, opts := withTelemetry(t)
	h := newHost(t, cfg, opts...)

	stmts, err := h.RecordEvent(context.Background(), Event{
		ID: "evt-1", Org: "acme", Kind: "quiz.completed", Time: "2025-03-14T09:12:30Z",
		User:   &User{ID: "u-1842"},
		Course: &Course{ID: "c-77", Title: "Biology 101", Lang: "en"},
		Payload: json.RawMessage(`{"quiz_id":"qz-5","title":"Cell biology check","attempt_id":"att-88","score":7,"max_score":10,
			"pass_percent":60,"started_at":"2025-03-14T09:00:00Z","finished_at":"2025-03-14T09:12:30Z",
			"questions":[{"id":"q1","type":"choice","prompt":"Which?","response":"b","correct":true}]}`),
	})
	if err != nil {
		t.Fatalf("RecordEvent: %v", err)
	}
	waitIdle(t, h, 60*time.Second)

	byName := func() map[string][]sdktrace.ReadOnlySpan {
		out := map[string][]sdktrace.ReadOnlySpan{}
		for _, s := range sinks.spans.Ended() {
			out[s.Name()] = append(out[s.Name()], s)
		}
		return out
	}
	var spans map[string][]sdktrace.ReadOnlySpan
	eventually(t, 30*time.Second, "the delivery spans to end", func() bool {
		spans = byName()
		return len(spans["lrsbridge.deliver"]) >= 2
	})
	if len(spans["lrsbridge.record_event"]) != 1 {
		t.Fatalf("%d record_event spans, want 1", len(spans["lrsbridge.record_event"]))
	}
	record := spans["lrsbridge.record_event"][0]
	traceID := record.SpanContext().TraceID()
	attrs := func(s sdktrace.ReadOnlySpan) map[string]string {
		out := map[string]string{}
		for _, kv := range s.Attributes() {
			out[string(kv.Key)] = kv.Value.Emit()
		}
		return out
	}
	wantRecord := map[string]string{
		"lrsbridge.org": "acme", "lrsbridge.event.kind": "quiz.completed", "lrsbridge.statement.count": strconv.Itoa(len(stmts)),
	}
	if diff := cmp.Diff(wantRecord, attrs(record)); diff != "" {
		t.Errorf("record span attributes (-want +got):\n%s", diff)
	}

	integrations := map[string]bool{}
	for _, d := range spans["lrsbridge.deliver"] {
		a := attrs(d)
		integrations[a["lrsbridge.integration"]] = true
		if d.SpanContext().TraceID() != traceID || d.Parent().SpanID() != record.SpanContext().SpanID() {
			t.Errorf("delivery span of %s is not a child of the record span", a["lrsbridge.integration"])
		}
		linked := false
		for _, l := range d.Links() {
			linked = linked || l.SpanContext.SpanID() == record.SpanContext().SpanID()
		}
		if !linked {
			t.Errorf("delivery span of %s is not linked to the record span", a["lrsbridge.integration"])
		}
		if a["lrsbridge.statements.delivered"] != strconv.Itoa(len(stmts)) {
			t.Errorf("delivery span of %s says %s delivered, want %d", a["lrsbridge.integration"], a["lrsbridge.statements.delivered"], len(stmts))
		}
	}
	if diff := cmp.Diff(map[string]bool{"mock": true, "lrs": true}, integrations); diff != "" {
		t.Errorf("delivery spans by integration (-want +got):\n%s", diff)
	}
	for _, name := range []string{"mock deliver", "POST"} {
		if len(spans[name]) == 0 {
			t.Fatalf("no %q span from the plugin processes; spans: %v", name, slices.Sorted(maps.Keys(spans)))
		}
		for _, s := range spans[name] {
			if s.SpanContext().TraceID() != traceID {
				t.Errorf("%q span in trace %s, want %s", name, s.SpanContext().TraceID(), traceID)
			}
		}
	}
	headers := seen.all()
	posts := 0
	for _, tp := range headers {
		if tp == "" {
			continue // the connection test's GET /about is not in a trace
		}
		posts++
		sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
			propagation.HeaderCarrier{"Traceparent": []string{tp}}))
		if sc.TraceID() != traceID {
			t.Errorf("the LRS saw traceparent %q, want trace %s", tp, traceID)
		}
	}
	if posts == 0 {
		t.Errorf("the LRS saw no traceparent in %d requests", len(headers))
	}
}

// TestTelemetryFollowsAReplay checks issue 14: dead letters queued again by
// ReplayDeadLetters (or ReplayDeadLettersInto) carry the span context of
// a replay span (one per call), so that their delivery is in the replay's
// trace: the delivery span is its child and linked to it.
func TestTelemetryFollowsAReplay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		replay func(*Host) (int, error)
	}{
		{"ReplayDeadLetters", func(h *Host) (int, error) {
			return h.ReplayDeadLetters(context.Background(), "acme", DeadLetterFilter{})
		}},
		{"ReplayDeadLettersInto", func(h *Host) (int, error) {
			return h.ReplayDeadLettersInto(context.Background(), "acme", DeadLetterFilter{}, "mock")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testReplaySpan(t, tc.replay)
		})
	}
}

// testReplaySpan replays three dead letters with replayAll and checks the
// replay span and the delivery spans of the replayed statements.
func testReplaySpan(t *testing.T, replayAll func(*Host) (int, error)) {
	cfg := testConfig(t)
	rec := filepath.Join(t.TempDir(), "r.ndjson")
	addOrg(&cfg, "acme", mockSink("mock", rec, nil))
	sinks, opts := withTelemetry(t)
	h := newHost(t, cfg, opts...)
	ctx := context.Background()
	var letters []deadletter.Letter
	for i := range 3 {
		b, err := xapi.Marshal(statement("acme", i), xapi.V200)
		if err != nil {
			t.Fatal(err)
		}
		letters = append(letters, deadletter.Letter{Org: "acme", Sink: "mock", StatementID: statement("acme", i).ID,
			Class: DeadLetterRejected, Statement: b})
	}
	if err := h.dead.Add(ctx, "acme", letters); err != nil {
		t.Fatal(err)
	}
	if n, err := replayAll(h); err != nil || n != 3 {
		t.Fatalf("replay = %d, %v; want 3, nil", n, err)
	}
	waitIdle(t, h, 30*time.Second)
	var replays, delivers []sdktrace.ReadOnlySpan
	eventually(t, 30*time.Second, "the delivery span to end", func() bool {
		replays, delivers = nil, nil
		for _, s := range sinks.spans.Ended() {
			switch s.Name() {
			case "lrsbridge.replay_dead_letters":
				replays = append(replays, s)
			case "lrsbridge.deliver":
				delivers = append(delivers, s)
			}
		}
		return len(delivers) > 0
	})
	if len(replays) != 1 {
		t.Fatalf("%d replay spans, want 1", len(replays))
	}
	replay := replays[0]
	got := map[string]string{}
	for _, kv := range replay.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	if diff := cmp.Diff(map[string]string{"lrsbridge.org": "acme", "lrsbridge.statement.count": "3"}, got); diff != "" {
		t.Errorf("replay span attributes (-want +got):\n%s", diff)
	}
	delivered := 0
	for _, d := range delivers {
		if d.SpanContext().TraceID() != replay.SpanContext().TraceID() || d.Parent().SpanID() != replay.SpanContext().SpanID() {
			t.Errorf("delivery span %s is not a child of the replay span", d.SpanContext().SpanID())
		}
		linked := false
		for _, l := range d.Links() {
			linked = linked || l.SpanContext.SpanID() == replay.SpanContext().SpanID()
		}
		if !linked {
			t.Errorf("delivery span %s is not linked to the replay span", d.SpanContext().SpanID())
		}
		for _, kv := range d.Attributes() {
			if kv.Key == "lrsbridge.statements.delivered" {
				delivered += int(kv.Value.AsInt64())
			}
		}
	}
	if delivered != 3 {
		t.Errorf("delivery spans say %d delivered, want the 3 replayed", delivered)
	}
}
