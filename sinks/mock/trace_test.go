package mock_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// TestPluginSpansJoinHostTrace runs the mock plugin as a real process and
// delivers under a host span: the span the mock sink makes inside the
// plugin process comes back into the host's tracing, in the host span's
// trace, under the plugin's server span.
func TestPluginSpansJoinHostTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a plugin")
	}
	t.Parallel()
	bin := buildPlugin(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc := launch(t, bin)
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{Instance: "acme/mock", Org: "acme", Config: map[string]any{}})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}
	bctx, host := tp.Tracer("test").Start(ctx, "host batch")
	if _, err := sink.Deliver(bctx, sdk.DeliverRequest{Statements: sinktest.Statements(3)}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	host.End()

	names := map[[8]byte]string{}
	for _, s := range rec.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	type view struct{ Name, Parent, Count string }
	var got []view
	for _, s := range rec.Ended() {
		if s.SpanContext().TraceID() != host.SpanContext().TraceID() {
			t.Errorf("span %q in trace %s; want the host's %s", s.Name(), s.SpanContext().TraceID(), host.SpanContext().TraceID())
		}
		v := view{Name: s.Name(), Parent: names[s.Parent().SpanID()]}
		for _, kv := range s.Attributes() {
			if kv.Key == "lrsbridge.statement.count" {
				v.Count = kv.Value.Emit()
			}
		}
		got = append(got, v)
	}
	want := []view{
		{Name: "mock deliver", Parent: "/lrsbridge.sink.v1.SinkService/Deliver", Count: "3"},
		{Name: "/lrsbridge.sink.v1.SinkService/Deliver", Parent: "host batch"},
		{Name: "host batch"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}
