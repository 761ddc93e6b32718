package lrs

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceScope is the instrumentation scope of the sink's spans.
const traceScope = "github.com/learningflow/lrsbridge/sinks/lrs"

// tracingTransport sends the W3C traceparent header of the request's
// context, so that an LRS that traces sees the host's trace, and records a
// client span per request when the context's span records.
//
// It is not otelhttp's transport on purpose: that one records the full URL,
// whose query of an xAPI request can name a learner (agent=...). This span
// carries the method, the server address and port, the path and the status
// code only.
type tracingTransport struct {
	next http.RoundTripper
}

// traced wraps rt with tracingTransport.
func traced(rt http.RoundTripper) http.RoundTripper { return tracingTransport{next: rt} }

func (t tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := trace.SpanFromContext(req.Context())
	if !parent.SpanContext().IsValid() {
		return t.next.RoundTrip(req)
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.String("url.path", req.URL.Path),
	}
	if p, err := strconv.Atoi(req.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	ctx, span := parent.TracerProvider().Tracer(traceScope).Start(req.Context(), req.Method,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	out := req.Clone(ctx)
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(out.Header))
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		// The error text can name addresses of the egress policy; the span
		// keeps the fact only.
		span.SetAttributes(attribute.String("error.type", "transport"))
		span.SetStatus(codes.Error, "transport error")
		return nil, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}
