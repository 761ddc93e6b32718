package lrs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// traceparents wraps an LRS handler and keeps the traceparent header of
// every request.
type traceparents struct {
	next http.Handler
	mu   sync.Mutex
	seen []string
}

func (h *traceparents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Get("traceparent"))
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
}

func (h *traceparents) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.seen...)
}

// TestDeliverSendsTraceparent: a delivery under a span sends the span's
// trace to the LRS in traceparent and records a client span with the
// method, address, path and status, and nothing of the URL's query or the
// credentials; a delivery without a span sends no header.
func TestDeliverSendsTraceparent(t *testing.T) {
	l := lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})
	tp := &traceparents{next: l}
	srv := httptest.NewServer(tp)
	t.Cleanup(srv.Close)
	s := newTestSink(t, baseConfig(srv.URL+"/xapi/"), loopbackPolicy)

	rec := tracetest.NewSpanRecorder()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = provider.Shutdown(context.Background()) })
	ctx, host := provider.Tracer("test").Start(context.Background(), "host batch")
	if _, err := s.Deliver(ctx, sdk.DeliverRequest{Statements: stmts(0, 2)}); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	host.End()
	if _, err := s.Deliver(context.Background(), sdk.DeliverRequest{Statements: stmts(2, 3)}); err != nil {
		t.Fatalf("Deliver without a span = %v", err)
	}

	seen := tp.all()
	if len(seen) != 2 {
		t.Fatalf("LRS saw %d requests; want 2", len(seen))
	}
	got := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": []string{seen[0]}})
	sc := trace.SpanContextFromContext(got)
	if sc.TraceID() != host.SpanContext().TraceID() {
		t.Errorf("traceparent %q has trace %s; want the host's %s", seen[0], sc.TraceID(), host.SpanContext().TraceID())
	}
	if seen[1] != "" {
		t.Errorf("traceparent without a span = %q; want none", seen[1])
	}

	var client sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.SpanKind() == trace.SpanKindClient {
			client = sp
		}
	}
	if client == nil {
		t.Fatal("no client span recorded")
	}
	if client.SpanContext().SpanID() != sc.SpanID() || client.Parent().SpanID() != host.SpanContext().SpanID() {
		t.Errorf("client span %s under %s; want the traceparent's span %s under the host span", client.SpanContext().SpanID(), client.Parent().SpanID(), sc.SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range client.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	delete(attrs, "server.port")
	want := map[string]string{
		"http.request.method":       http.MethodPost,
		"server.address":            "127.0.0.1",
		"url.path":                  "/xapi/statements",
		"http.response.status_code": "200",
	}
	if diff := cmp.Diff(want, attrs); diff != "" {
		t.Errorf("client span attributes (-want +got):\n%s", diff)
	}
}
