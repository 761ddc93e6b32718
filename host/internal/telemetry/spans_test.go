package telemetry_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/host/internal/telemetry"
	"github.com/learningflow/lrsbridge/sdk"
)

func hasAttr(attrs []attribute.KeyValue, key attribute.Key) bool {
	for _, kv := range attrs {
		if kv.Key == key {
			return true
		}
	}
	return false
}

func attrMap(attrs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(attrs))
	for _, kv := range attrs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func spanNamed(t *testing.T, spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	t.Helper()
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// TestBatchSpanLinksRecordSpans follows two recorded events through the
// queue encoding into one batch: the batch span is in the first record's
// trace, links both record spans, and carries no event content.
func TestBatchSpanLinksRecordSpans(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{Mode: telemetry.ModeOff})
	ctx := context.Background()

	var stored [][]byte // what the queue keeps per statement
	for _, kind := range []string{"lesson_completed", "quiz_answered"} {
		_, rec := e.tel.StartRecord(ctx, "acme", kind)
		for range 2 {
			stored = append(stored, telemetry.AppendSpanContext(nil, rec.SpanContext()))
		}
		rec.End(2, nil)
	}
	var records []trace.SpanContext
	for _, b := range stored {
		sc, err := telemetry.ParseSpanContext(b)
		if err != nil {
			t.Fatalf("ParseSpanContext = %v", err)
		}
		records = append(records, sc)
	}
	in := e.tel.Integration("acme", "acme/lrs-1", "lrs")
	bctx, batch := in.StartBatch(ctx, len(records), records)
	if got, want := trace.SpanContextFromContext(bctx).TraceID(), records[0].TraceID(); got != want {
		t.Errorf("batch context trace id = %s; want the first record's %s", got, want)
	}
	batch.End(errors.New("connection reset"), telemetry.BatchResult{Retried: 4})

	ended := e.spans.Ended()
	recs := spanNamed(t, ended, telemetry.SpanRecordEvent)
	batches := spanNamed(t, ended, telemetry.SpanDeliver)
	if len(recs) != 2 || len(batches) != 1 {
		t.Fatalf("ended %d record spans and %d batch spans; want 2 and 1", len(recs), len(batches))
	}
	bs := batches[0]
	if bs.Parent().SpanID() != recs[0].SpanContext().SpanID() || bs.SpanContext().TraceID() != recs[0].SpanContext().TraceID() {
		t.Errorf("batch span parent = %s/%s; want the first record span %s/%s", bs.Parent().TraceID(), bs.Parent().SpanID(),
			recs[0].SpanContext().TraceID(), recs[0].SpanContext().SpanID())
	}
	var linked []trace.SpanID
	for _, l := range bs.Links() {
		linked = append(linked, l.SpanContext.SpanID())
	}
	wantLinks := []trace.SpanID{recs[0].SpanContext().SpanID(), recs[1].SpanContext().SpanID()}
	if diff := cmp.Diff(wantLinks, linked); diff != "" {
		t.Errorf("batch span links (-want +got):\n%s", diff)
	}
	wantBatch := map[string]string{
		"lrsbridge.org": "acme", "lrsbridge.integration": "acme/lrs-1", "lrsbridge.sink": "lrs",
		"lrsbridge.statement.count": "4", "error.type": "retryable",
		"lrsbridge.statements.delivered": "0", "lrsbridge.statements.already_stored": "0",
		"lrsbridge.statements.retried": "4", "lrsbridge.statements.dead_lettered": "0",
	}
	if diff := cmp.Diff(wantBatch, attrMap(bs.Attributes())); diff != "" {
		t.Errorf("batch span attributes (-want +got):\n%s", diff)
	}
	if bs.Status().Code != codes.Error || bs.Status().Description != "retryable" {
		t.Errorf("batch span status = %+v; want an error described by its class only", bs.Status())
	}
	wantRec := map[string]string{"lrsbridge.org": "acme", "lrsbridge.event.kind": "lesson_completed", "lrsbridge.statement.count": "2"}
	if diff := cmp.Diff(wantRec, attrMap(recs[0].Attributes())); diff != "" {
		t.Errorf("record span attributes (-want +got):\n%s", diff)
	}
	if recs[0].SpanKind() != trace.SpanKindProducer || bs.SpanKind() != trace.SpanKindClient {
		t.Errorf("span kinds = %v, %v; want producer, client", recs[0].SpanKind(), bs.SpanKind())
	}
}

// TestRecordSpanErrorHidesText checks that a refused record names the
// class of its error, never the error's text (which can quote the event).
func TestRecordSpanErrorHidesText(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{})
	_, rec := e.tel.StartRecord(context.Background(), "acme", "")
	rec.End(0, errors.New(`field "actor.mbox": "mailto:learner@example.com" is not valid`))
	spans := spanNamed(t, e.spans.Ended(), telemetry.SpanRecord)
	if len(spans) != 1 {
		t.Fatalf("%d record spans; want 1", len(spans))
	}
	s := spans[0]
	if s.Status().Code != codes.Error || s.Status().Description != "refused" {
		t.Errorf("status = %+v; want error %q", s.Status(), "refused")
	}
	for _, kv := range s.Attributes() {
		if bytes.Contains([]byte(kv.Value.Emit()), []byte("learner")) {
			t.Errorf("attribute %s carries the error text", kv.Key)
		}
	}
	if len(s.Events()) != 0 {
		t.Errorf("span has %d events; want none (no recorded error text)", len(s.Events()))
	}
}

func TestBatchWithoutRecordsIsARoot(t *testing.T) {
	e := newEnv(t, telemetry.Attributes{})
	in := e.tel.Integration("acme", "acme/lrs-1", "lrs")
	_, b := in.StartBatch(context.Background(), 1, []trace.SpanContext{{}})
	b.End(sdk.Permanent(errors.New("400")), telemetry.BatchResult{DeadLettered: 1})
	spans := spanNamed(t, e.spans.Ended(), telemetry.SpanDeliver)
	if len(spans) != 1 || spans[0].Parent().IsValid() || len(spans[0].Links()) != 0 {
		t.Fatalf("batch spans = %d, want 1 root span without links", len(spans))
	}
}

func TestSpanContextRoundTrip(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:     trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
		TraceFlags: trace.FlagsSampled,
	})
	b := telemetry.AppendSpanContext([]byte("prefix"), sc)
	if len(b) != len("prefix")+telemetry.SpanContextLen {
		t.Fatalf("encoded length %d; want %d", len(b)-len("prefix"), telemetry.SpanContextLen)
	}
	got, err := telemetry.ParseSpanContext(b[len("prefix"):])
	if err != nil {
		t.Fatalf("ParseSpanContext = %v", err)
	}
	if !got.Equal(sc.WithRemote(true)) {
		t.Errorf("round trip = %v; want %v", got, sc)
	}
	if b := telemetry.AppendSpanContext(nil, trace.SpanContext{}); len(b) != 0 {
		t.Errorf("an invalid span context encodes to %d bytes; want 0", len(b))
	}
}

func TestParseSpanContextErrors(t *testing.T) {
	valid := telemetry.AppendSpanContext(nil, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
	}))
	badVersion := bytes.Clone(valid)
	badVersion[0] = 1
	zeroTrace := make([]byte, telemetry.SpanContextLen)
	tests := []struct {
		name string
		in   []byte
	}{
		{"short", valid[:25]},
		{"long", append(bytes.Clone(valid), 0)},
		{"version", badVersion},
		{"zero ids", zeroTrace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := telemetry.ParseSpanContext(tt.in); !errors.Is(err, telemetry.ErrSpanContext) {
				t.Errorf("ParseSpanContext = %v; want ErrSpanContext", err)
			}
		})
	}
}

// FuzzParseSpanContext: any input either fails cleanly or encodes back to
// itself (up to flags other than sampled, which are not kept).
func FuzzParseSpanContext(f *testing.F) {
	f.Add(telemetry.AppendSpanContext(nil, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	})))
	f.Add([]byte{})
	f.Add(make([]byte, telemetry.SpanContextLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := telemetry.ParseSpanContext(b)
		if err != nil {
			if !errors.Is(err, telemetry.ErrSpanContext) {
				t.Fatalf("error %v does not wrap ErrSpanContext", err)
			}
			return
		}
		out := telemetry.AppendSpanContext(nil, sc)
		if len(b) == 0 {
			if len(out) != 0 {
				t.Fatalf("empty input encodes back to %x", out)
			}
			return
		}
		want := bytes.Clone(b)
		want[25] &= byte(trace.FlagsSampled)
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip of %x = %x", b, out)
		}
	})
}

// TestUnsampledRecordsStoreNothing checks that a record span the sampler
// drops hands out no span context to store, and that a batch links only
// the sampled records it carries and is a child of the first of them,
// whatever comes before it.
func TestUnsampledRecordsStoreNothing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	// Sample the record spans of "acme" only; batch spans follow their
	// parent, or are sampled when they have none.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.ParentBased(&sampleFirst{n: 1})))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel, err := telemetry.New(telemetry.Options{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, kept := tel.StartRecord(ctx, "acme", "")
	_, dropped := tel.StartRecord(ctx, "acme", "")
	if !kept.SpanContext().IsSampled() {
		t.Fatalf("the sampled record's span context = %v; want it sampled", kept.SpanContext())
	}
	if sc := dropped.SpanContext(); sc.IsValid() {
		t.Errorf("the unsampled record's span context = %v; want the zero SpanContext", sc)
	}
	if b := telemetry.AppendSpanContext(nil, dropped.SpanContext()); len(b) != 0 {
		t.Errorf("the unsampled record stores %d bytes; want none", len(b))
	}
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9}, SpanID: trace.SpanID{9}})
	in := tel.Integration("acme", "acme/lrs-1", "lrs")
	records := []trace.SpanContext{unsampled, kept.SpanContext(), kept.SpanContext(), unsampled, kept.SpanContext()}
	_, b := in.StartBatch(ctx, len(records), records)
	b.End(nil, telemetry.BatchResult{Delivered: len(records)})
	kept.End(3, nil)
	dropped.End(0, nil)

	batches := spanNamed(t, rec.Ended(), telemetry.SpanDeliver)
	if len(batches) != 1 {
		t.Fatalf("%d batch spans; want 1", len(batches))
	}
	bs := batches[0]
	if bs.Parent().SpanID() != kept.SpanContext().SpanID() {
		t.Errorf("batch span parent = %s; want the sampled record %s", bs.Parent().SpanID(), kept.SpanContext().SpanID())
	}
	var linked []trace.SpanID
	for _, l := range bs.Links() {
		linked = append(linked, l.SpanContext.SpanID())
	}
	if diff := cmp.Diff([]trace.SpanID{kept.SpanContext().SpanID()}, linked); diff != "" {
		t.Errorf("batch span links (-want +got):\n%s", diff)
	}
}

// sampleFirst samples the first n root spans it is asked about and drops
// the others.
type sampleFirst struct {
	n    int32
	seen atomic.Int32
}

func (s *sampleFirst) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if s.seen.Add(1) <= s.n {
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (s *sampleFirst) Description() string { return "sampleFirst" }

// TestRecordDurationExemplars checks which Record calls offer their trace
// as an exemplar of lrsbridge.record.duration: a failed one does, with its
// own trace id; a successful one shorter than RecordExemplarAbove does
// not. The recorded counter never offers one.
func TestRecordDurationExemplars(t *testing.T) {
	exemplars := func(t *testing.T, e *env) map[string][]trace.TraceID {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := e.reader.Collect(context.Background(), &rm); err != nil {
			t.Fatalf("Collect = %v", err)
		}
		out := map[string][]trace.TraceID{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				switch d := m.Data.(type) {
				case metricdata.Histogram[float64]:
					for _, dp := range d.DataPoints {
						for _, ex := range dp.Exemplars {
							out[m.Name] = append(out[m.Name], trace.TraceID(ex.TraceID))
						}
					}
				case metricdata.Sum[int64]:
					for _, dp := range d.DataPoints {
						for _, ex := range dp.Exemplars {
							out[m.Name] = append(out[m.Name], trace.TraceID(ex.TraceID))
						}
					}
				}
			}
		}
		return out
	}

	t.Run("failed", func(t *testing.T) {
		e := newEnv(t, telemetry.Attributes{})
		in := e.tel.Integration("acme", "acme/lrs-1", "lrs")
		_, rec := e.tel.StartRecord(context.Background(), "acme", "")
		tid := rec.SpanContext().TraceID()
		in.Recorded(1)
		rec.End(0, errors.New("queue full"))
		want := map[string][]trace.TraceID{telemetry.MetricRecordDuration: {tid}}
		if diff := cmp.Diff(want, exemplars(t, e)); diff != "" {
			t.Errorf("exemplars (-want +got):\n%s", diff)
		}
	})

	t.Run("fast", func(t *testing.T) {
		// Only a call the test saw end within RecordExemplarAbove is
		// known to be fast; on a busy machine one may take longer, so
		// try a few.
		for range 20 {
			e := newEnv(t, telemetry.Attributes{})
			in := e.tel.Integration("acme", "acme/lrs-1", "lrs")
			began := time.Now()
			_, rec := e.tel.StartRecord(context.Background(), "acme", "")
			in.Recorded(1)
			rec.End(1, nil)
			if time.Since(began) >= telemetry.RecordExemplarAbove {
				continue
			}
			if got := exemplars(t, e); len(got) != 0 {
				t.Errorf("exemplars of a fast call = %v; want none", got)
			}
			return
		}
		t.Fatalf("no Record call of 20 took less than %v", telemetry.RecordExemplarAbove)
	})
}

// TestBatchSpanLinksEachRecordOnce checks the links of a batch span over
// record span contexts in the orders a queue can hold them: each distinct
// sampled record once, in the order first seen, repeats skipped whether
// next to each other or not, unsampled ones left out, at most 128.
func TestBatchSpanLinksEachRecordOnce(t *testing.T) {
	sc := func(id trace.SpanID, sampled bool) trace.SpanContext {
		cfg := trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: id, Remote: true}
		if sampled {
			cfg.TraceFlags = trace.FlagsSampled
		}
		return trace.NewSpanContext(cfg)
	}
	// Ids that differ in their first byte only fall on the same slot of
	// the link set.
	a, b, c := trace.SpanID{1, 0, 0, 0, 0, 0, 0, 9}, trace.SpanID{2, 0, 0, 0, 0, 0, 0, 9}, trace.SpanID{3}
	many := func(n int) (records []trace.SpanContext, ids []trace.SpanID) {
		for i := range n {
			id := trace.SpanID{0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i + 1)}
			records = append(records, sc(id, true))
			ids = append(ids, id)
		}
		return records, ids
	}
	twoHundred, twoHundredIDs := many(200)
	tests := []struct {
		name    string
		records []trace.SpanContext
		want    []trace.SpanID
	}{
		{name: "repeats next to each other", records: []trace.SpanContext{sc(a, true), sc(a, true), sc(b, true), sc(b, true)}, want: []trace.SpanID{a, b}},
		{name: "repeats apart", records: []trace.SpanContext{sc(a, true), sc(b, true), sc(a, true), sc(c, true), sc(b, true)}, want: []trace.SpanID{a, b, c}},
		{name: "unsampled left out", records: []trace.SpanContext{sc(a, false), sc(b, true), sc(c, false)}, want: []trace.SpanID{b}},
		{name: "at most 128", records: append(twoHundred, twoHundred...), want: twoHundredIDs[:128]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, telemetry.Attributes{})
			in := e.tel.Integration("acme", "acme/lrs-1", "lrs")
			_, batch := in.StartBatch(context.Background(), len(tt.records), tt.records)
			batch.End(nil, telemetry.BatchResult{Delivered: len(tt.records)})
			spans := spanNamed(t, e.spans.Ended(), telemetry.SpanDeliver)
			if len(spans) != 1 {
				t.Fatalf("%d batch spans; want 1", len(spans))
			}
			var got []trace.SpanID
			for _, l := range spans[0].Links() {
				got = append(got, l.SpanContext.SpanID())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}
