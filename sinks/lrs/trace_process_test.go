package lrs

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sinks/lrs/lrstest"
)

// TestPluginProcessTraceReachesLRS follows one batch from a host span
// through the real lrs plugin process to a loopback LRS: the LRS sees a
// traceparent in the host's trace, and the plugin's request span comes back
// into the host's tracing, under the plugin's server span, carrying the
// plugin span id the LRS saw.
func TestPluginProcessTraceReachesLRS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the lrs plugin")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the plugin with")
	}
	bin := filepath.Join(t.TempDir(), "lrs")
	if out, err := exec.Command(gobin, "build", "-o", bin, "github.com/learningflow/lrsbridge/plugins/lrs").CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	seen := &traceparents{next: lrstest.New(lrstest.Options{Credentials: []lrstest.Credential{{Key: testKey, Secret: testSecret}}})}
	srv := httptest.NewServer(seen)
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc, err := sdk.Launch(ctx, sdk.LaunchConfig{Path: bin})
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(proc.Kill)
	sink, err := proc.Provider().Configure(ctx, sdk.ConfigureRequest{
		Instance: "acme/lrs-1", Org: "acme", Config: baseConfig(srv.URL + "/xapi/"), Egress: loopbackPolicy,
	})
	if err != nil {
		t.Fatalf("Configure: %v", err)
	}

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	bctx, host := tp.Tracer("test").Start(ctx, "host batch")
	if _, err := sink.Deliver(bctx, sdk.DeliverRequest{Statements: stmts(0, 2)}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	host.End()

	headers := seen.all()
	if len(headers) != 1 {
		t.Fatalf("LRS saw %d requests; want 1", len(headers))
	}
	lrsSaw := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
		propagation.HeaderCarrier{"Traceparent": []string{headers[0]}}))
	if lrsSaw.TraceID() != host.SpanContext().TraceID() {
		t.Fatalf("LRS saw traceparent %q; want the host's trace %s", headers[0], host.SpanContext().TraceID())
	}
	var post, server sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "POST":
			post = s
		case "/lrsbridge.sink.v1.SinkService/Deliver":
			server = s
		}
	}
	if post == nil || server == nil {
		t.Fatalf("recorded %d spans without the plugin's request span or server span", len(rec.Ended()))
	}
	if server.Parent().SpanID() != host.SpanContext().SpanID() || post.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("plugin spans are not nested host batch > server > POST")
	}
	var pluginID string
	for _, kv := range post.Attributes() {
		if kv.Key == "lrsbridge.plugin.span_id" {
			pluginID = kv.Value.AsString()
		}
	}
	if pluginID != lrsSaw.SpanID().String() {
		t.Errorf("request span keeps plugin span id %q; want the one the LRS saw, %s", pluginID, lrsSaw.SpanID())
	}
}
