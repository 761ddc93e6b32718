package sdk

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

func hostSpan(t testing.TB) (*tracetest.SpanRecorder, context.Context, trace.Span) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "host")
	return rec, ctx, span
}

// TestReplaySpansDistrustsPlugin: spans of another trace are dropped, a
// span whose parent is unknown hangs from the call's span, a parent cycle
// is not replayed, and the count is bounded.
func TestReplaySpansDistrustsPlugin(t *testing.T) {
	rec, ctx, host := hostSpan(t)
	tid := host.SpanContext().TraceID()
	root := host.SpanContext().SpanID()
	other := trace.TraceID{9}
	sp := func(name string, tid trace.TraceID, id, parent trace.SpanID) *sinkpb.Span {
		return &sinkpb.Span{Name: name, TraceId: tid[:], SpanId: id[:], ParentSpanId: parent[:], StartUnixNanos: 1, EndUnixNanos: 2}
	}
	batch := &sinkpb.SpanBatch{Spans: []*sinkpb.Span{
		sp("ok", tid, trace.SpanID{1}, root),
		sp("orphan", tid, trace.SpanID{2}, trace.SpanID{77}),
		sp("foreign", other, trace.SpanID{3}, root),
		sp("cycle-a", tid, trace.SpanID{4}, trace.SpanID{5}),
		sp("cycle-b", tid, trace.SpanID{5}, trace.SpanID{4}),
		{Name: "short ids", TraceId: []byte{1}, SpanId: []byte{1}},
	}, Dropped: 3}
	for i := range 2 * maxCallSpans {
		batch.Spans = append(batch.Spans, sp("many", tid, trace.SpanID{0, byte(i >> 8), byte(i)}, root))
	}
	b, err := proto.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	replaySpans(ctx, host, b)
	host.End()
	names := map[string]int{}
	for _, s := range rec.Ended() {
		names[s.Name()]++
		if s.SpanContext().TraceID() != tid {
			t.Errorf("span %q replayed into trace %s", s.Name(), s.SpanContext().TraceID())
		}
		if s.Name() != "host" && s.Parent().SpanID() != root {
			t.Errorf("span %q hangs from %s; want the call's span", s.Name(), s.Parent().SpanID())
		}
	}
	if names["ok"] != 1 || names["orphan"] != 1 || names["foreign"] != 0 || names["cycle-a"] != 0 || names["short ids"] != 0 {
		t.Errorf("replayed spans %v; want ok and orphan once, no foreign, cycle or short-id spans", names)
	}
	if total := len(rec.Ended()) - 1; total > maxCallSpans {
		t.Errorf("%d spans replayed; want at most %d", total, maxCallSpans)
	}
	if evs := rec.Ended()[len(rec.Ended())-1].Events(); len(evs) != 1 || evs[0].Name != "plugin spans dropped" {
		t.Errorf("host span events = %v; want one saying spans were dropped", evs)
	}
}

// FuzzReplaySpans: whatever bytes a plugin sends, replaying them does not
// panic and adds nothing outside the call's trace.
func FuzzReplaySpans(f *testing.F) {
	tid, sid := trace.TraceID{1}, trace.SpanID{1}
	seed, _ := proto.Marshal(&sinkpb.SpanBatch{Spans: []*sinkpb.Span{{Name: "x", TraceId: tid[:], SpanId: []byte{2, 0, 0, 0, 0, 0, 0, 0}, ParentSpanId: sid[:],
		Attributes: []*sinkpb.SpanAttribute{{Key: "k", Value: &sinkpb.SpanAttribute_IntValue{IntValue: 1}}},
		Events:     []*sinkpb.SpanEvent{{Name: "e"}}}}})
	f.Add(seed)
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, ctx, host := hostSpan(t)
		replaySpans(ctx, host, data)
		host.End()
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() != host.SpanContext().TraceID() {
				t.Fatalf("span %q replayed into another trace", s.Name())
			}
		}
	})
}

// BenchmarkReplaySpans measures re-creating in the host the spans of one
// traced call of the lrs plugin: its server span and the request span under
// it, with their attributes, to a batching span processor with a no-op
// exporter.
func BenchmarkReplaySpans(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, host := tp.Tracer("bench").Start(context.Background(), "host batch")
	defer host.End()
	tid, root := host.SpanContext().TraceID(), host.SpanContext().SpanID()
	server, request := trace.SpanID{1, 2, 3}, trace.SpanID{4, 5, 6}
	attr := func(k, v string) *sinkpb.SpanAttribute {
		return &sinkpb.SpanAttribute{Key: k, Value: &sinkpb.SpanAttribute_StringValue{StringValue: v}}
	}
	data, err := proto.Marshal(&sinkpb.SpanBatch{Spans: []*sinkpb.Span{
		{Name: "POST", TraceId: tid[:], SpanId: request[:], ParentSpanId: server[:], Kind: sinkpb.SpanKind(trace.SpanKindClient),
			StartUnixNanos: 2, EndUnixNanos: 3, Scope: "github.com/learningflow/lrsbridge/sinks/lrs",
			Attributes: []*sinkpb.SpanAttribute{attr("http.request.method", "POST"), attr("server.address", "127.0.0.1"),
				attr("url.path", "/xapi/statements"), {Key: "http.response.status_code", Value: &sinkpb.SpanAttribute_IntValue{IntValue: 200}}}},
		{Name: "/lrsbridge.sink.v1.SinkService/Deliver", TraceId: tid[:], SpanId: server[:], ParentSpanId: root[:],
			Kind: sinkpb.SpanKind(trace.SpanKindServer), StartUnixNanos: 1, EndUnixNanos: 4,
			Attributes: []*sinkpb.SpanAttribute{attr("rpc.system", "grpc"), attr("rpc.method", "/lrsbridge.sink.v1.SinkService/Deliver")}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		replaySpans(ctx, host, data)
	}
}
