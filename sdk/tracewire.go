package sdk

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/learningflow/lrsbridge/sdk/internal/sinkpb"
)

// spanToProto converts a finished span of the plugin for the trailer.
func spanToProto(s sdktrace.ReadOnlySpan) *sinkpb.Span {
	sc, parent := s.SpanContext(), s.Parent()
	tid, sid, pid := sc.TraceID(), sc.SpanID(), parent.SpanID()
	pb := &sinkpb.Span{
		TraceId:        tid[:],
		SpanId:         sid[:],
		ParentSpanId:   pid[:],
		Name:           s.Name(),
		Kind:           sinkpb.SpanKind(s.SpanKind()),
		StartUnixNanos: uint64(s.StartTime().UnixNano()),
		EndUnixNanos:   uint64(s.EndTime().UnixNano()),
		Attributes:     attributesToProto(s.Attributes()),
		StatusError:    s.Status().Code == codes.Error,
		StatusMessage:  s.Status().Description,
		Scope:          s.InstrumentationScope().Name,
	}
	for i, e := range s.Events() {
		if i == maxSpanEvents {
			break
		}
		pb.Events = append(pb.Events, &sinkpb.SpanEvent{
			Name:          e.Name,
			TimeUnixNanos: uint64(e.Time.UnixNano()),
			Attributes:    attributesToProto(e.Attributes),
		})
	}
	return pb
}

func attributesToProto(attrs []attribute.KeyValue) []*sinkpb.SpanAttribute {
	out := make([]*sinkpb.SpanAttribute, 0, min(len(attrs), maxSpanAttributes))
	for _, kv := range attrs[:min(len(attrs), maxSpanAttributes)] {
		a := &sinkpb.SpanAttribute{Key: string(kv.Key)}
		switch kv.Value.Type() {
		case attribute.BOOL:
			a.Value = &sinkpb.SpanAttribute_BoolValue{BoolValue: kv.Value.AsBool()}
		case attribute.INT64:
			a.Value = &sinkpb.SpanAttribute_IntValue{IntValue: kv.Value.AsInt64()}
		case attribute.FLOAT64:
			a.Value = &sinkpb.SpanAttribute_DoubleValue{DoubleValue: kv.Value.AsFloat64()}
		default:
			a.Value = &sinkpb.SpanAttribute_StringValue{StringValue: truncate(kv.Value.Emit())}
		}
		out = append(out, a)
	}
	return out
}

func attributesFromProto(pbs []*sinkpb.SpanAttribute) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, min(len(pbs), maxSpanAttributes))
	for _, a := range pbs[:min(len(pbs), maxSpanAttributes)] {
		if a.GetKey() == "" {
			continue
		}
		switch v := a.GetValue().(type) {
		case *sinkpb.SpanAttribute_BoolValue:
			out = append(out, attribute.Bool(a.GetKey(), v.BoolValue))
		case *sinkpb.SpanAttribute_IntValue:
			out = append(out, attribute.Int64(a.GetKey(), v.IntValue))
		case *sinkpb.SpanAttribute_DoubleValue:
			out = append(out, attribute.Float64(a.GetKey(), v.DoubleValue))
		case *sinkpb.SpanAttribute_StringValue:
			out = append(out, attribute.String(a.GetKey(), truncate(v.StringValue)))
		}
	}
	return out
}

func truncate(s string) string {
	if len(s) > maxAttributeLen {
		return s[:maxAttributeLen]
	}
	return s
}

// pluginSpanIDKey names the plugin's own id of a re-created span, which is
// the id an LRS saw in its traceparent header.
const pluginSpanIDKey = attribute.Key("lrsbridge.plugin.span_id")

// replaySpans re-creates under parent (the host's recording span of the
// call) the spans a plugin sent back. The plugin is not trusted with the
// host's traces: spans of another trace are ignored, the count is bounded,
// and a span whose parent is neither the call's span nor another span of
// the batch hangs from the call's span. The re-created spans get new ids
// from the host's provider; the plugin's id is kept as an attribute.
func replaySpans(ctx context.Context, parent trace.Span, data []byte) {
	if len(data) > 2*maxCallSpansBytes {
		return
	}
	var batch sinkpb.SpanBatch
	if err := proto.Unmarshal(data, &batch); err != nil {
		return
	}
	psc := parent.SpanContext()
	tid, root := psc.TraceID(), psc.SpanID()
	spans := batch.GetSpans()[:min(len(batch.GetSpans()), maxCallSpans)]
	ids := make(map[trace.SpanID]bool, len(spans))
	children := make(map[trace.SpanID][]*sinkpb.Span, len(spans))
	var top []*sinkpb.Span
	var kept []*sinkpb.Span
	for _, s := range spans {
		if len(s.GetTraceId()) != len(tid) || trace.TraceID(s.GetTraceId()) != tid || len(s.GetSpanId()) != len(root) {
			continue
		}
		id := trace.SpanID(s.GetSpanId())
		if !ids[id] {
			ids[id] = true
			kept = append(kept, s)
		}
	}
	for _, s := range kept {
		var pid trace.SpanID
		copy(pid[:], s.GetParentSpanId())
		if pid != root && ids[pid] && pid != trace.SpanID(s.GetSpanId()) {
			children[pid] = append(children[pid], s)
		} else {
			top = append(top, s)
		}
	}
	tp := parent.TracerProvider()
	ctx = trace.ContextWithSpan(ctx, parent)
	done := make(map[trace.SpanID]bool, len(ids))
	var replay func(ctx context.Context, s *sinkpb.Span)
	replay = func(ctx context.Context, s *sinkpb.Span) {
		id := trace.SpanID(s.GetSpanId())
		if done[id] {
			return
		}
		done[id] = true
		scope := s.GetScope()
		if scope == "" {
			scope = traceScope
		}
		attrs := append(attributesFromProto(s.GetAttributes()), pluginSpanIDKey.String(id.String()))
		ctx, span := tp.Tracer(scope).Start(ctx, s.GetName(),
			trace.WithTimestamp(time.Unix(0, int64(s.GetStartUnixNanos()))),
			trace.WithSpanKind(trace.SpanKind(s.GetKind())),
			trace.WithAttributes(attrs...))
		for i, e := range s.GetEvents() {
			if i == maxSpanEvents {
				break
			}
			span.AddEvent(e.GetName(), trace.WithTimestamp(time.Unix(0, int64(e.GetTimeUnixNanos()))),
				trace.WithAttributes(attributesFromProto(e.GetAttributes())...))
		}
		if s.GetStatusError() {
			span.SetStatus(codes.Error, truncate(s.GetStatusMessage()))
		}
		for _, c := range children[id] {
			replay(ctx, c)
		}
		span.End(trace.WithTimestamp(time.Unix(0, int64(s.GetEndUnixNanos()))))
	}
	for _, s := range top {
		replay(ctx, s)
	}
	if n := batch.GetDropped(); n > 0 {
		parent.AddEvent("plugin spans dropped", trace.WithAttributes(attribute.Int64("lrsbridge.plugin.spans_dropped", int64(n))))
	}
}
