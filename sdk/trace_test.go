package sdk_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/learningflow/lrsbridge/sdk"
	"github.com/learningflow/lrsbridge/sdk/sinktest"
)

// tracingSink makes spans in Deliver the way a plugin author would: one
// span with an attribute and an event, a child span, and an error status
// when told to fail.
type tracingSink struct{ fail bool }

func (s tracingSink) Deliver(ctx context.Context, req sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	ctx, span := sdk.Tracer(ctx, "example.com/tracingsink").Start(ctx, "post statements",
		trace.WithAttributes(attribute.Int("statements", len(req.Statements)), attribute.Bool("gzip", true)))
	defer span.End()
	span.AddEvent("connected", trace.WithAttributes(attribute.String("endpoint", "lrs.example.com")))
	_, child := sdk.Tracer(ctx, "example.com/tracingsink").Start(ctx, "encode")
	child.End()
	if s.fail {
		span.SetStatus(codes.Error, "lrs answered 503")
		return sdk.DeliverResponse{}, errors.New("lrs answered 503")
	}
	return sdk.DeliverResponse{}, nil
}

func (tracingSink) Close(context.Context) error { return nil }

// serveTestMode serves p in this process over real gRPC and returns the
// host side's Provider.
func serveTestMode(t *testing.T, p sdk.Provider) sdk.Provider {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan sdk.ReattachConfig, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		sdk.Serve(p, sdk.WithTestMode(ctx, func(rc sdk.ReattachConfig) { ready <- rc }), sdk.WithLogger(slog.New(slog.DiscardHandler)))
	}()
	var rc sdk.ReattachConfig
	select {
	case rc = <-ready:
	case <-served:
		cancel()
		t.Fatal("test-mode plugin server stopped before it listened")
	}
	proc, err := sdk.Launch(testCtx(t), sdk.LaunchConfig{Reattach: &rc})
	if err != nil {
		cancel()
		<-served
		t.Fatalf("Launch = %v", err)
	}
	t.Cleanup(func() {
		proc.Kill()
		cancel()
		<-served
	})
	return proc.Provider()
}

type spanView struct {
	Name   string
	Parent string // name of the parent span, "" for none
	Error  bool
	Attrs  map[string]string
}

// TestTracePropagatesOverPluginConnection delivers under a host span: the
// plugin's server span and the sink's own spans come back into the host's
// recorder, in the host's trace, with their parent relations, attributes,
// events and status; each keeps the plugin's span id as an attribute.
func TestTracePropagatesOverPluginConnection(t *testing.T) {
	for _, fail := range []bool{false, true} {
		name := map[bool]string{false: "delivered", true: "failed"}[fail]
		t.Run(name, func(t *testing.T) {
			rec := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

			p := serveTestMode(t, sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
				return tracingSink{fail: fail}, nil
			}))
			sink, err := p.Configure(testCtx(t), sdk.ConfigureRequest{Instance: "acme/lrs", Org: "acme"})
			if err != nil {
				t.Fatalf("Configure = %v", err)
			}
			ctx, host := tp.Tracer("test").Start(testCtx(t), "host batch")
			_, err = sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(2)})
			host.End()
			if (err != nil) != fail {
				t.Fatalf("Deliver = %v; want failure %v", err, fail)
			}

			ended := rec.Ended()
			byID := map[trace.SpanID]string{}
			for _, s := range ended {
				byID[s.SpanContext().SpanID()] = s.Name()
			}
			var got []spanView
			for _, s := range ended {
				if s.SpanContext().TraceID() != host.SpanContext().TraceID() {
					t.Errorf("span %q is in trace %s; want the host's %s", s.Name(), s.SpanContext().TraceID(), host.SpanContext().TraceID())
				}
				v := spanView{Name: s.Name(), Parent: byID[s.Parent().SpanID()], Error: s.Status().Code == codes.Error, Attrs: map[string]string{}}
				for _, kv := range s.Attributes() {
					if kv.Key == "lrsbridge.plugin.span_id" {
						v.Attrs[string(kv.Key)] = "set"
						continue
					}
					v.Attrs[string(kv.Key)] = kv.Value.Emit()
				}
				if s.Name() == "post statements" {
					if len(s.Events()) != 1 || s.Events()[0].Name != "connected" {
						t.Errorf("span %q events = %v; want one event \"connected\"", s.Name(), s.Events())
					}
					if s.InstrumentationScope().Name != "example.com/tracingsink" {
						t.Errorf("span %q scope = %q; want the plugin's tracer name", s.Name(), s.InstrumentationScope().Name)
					}
					if !s.EndTime().After(s.StartTime()) && !s.EndTime().Equal(s.StartTime()) {
						t.Errorf("span %q ends before it starts", s.Name())
					}
				}
				got = append(got, v)
			}
			method := "/lrsbridge.sink.v1.SinkService/Deliver"
			want := []spanView{
				{Name: "encode", Parent: "post statements", Attrs: map[string]string{"lrsbridge.plugin.span_id": "set"}},
				{Name: "post statements", Parent: method, Error: fail, Attrs: map[string]string{"statements": "2", "gzip": "true", "lrsbridge.plugin.span_id": "set"}},
				{Name: method, Parent: "host batch", Error: fail, Attrs: map[string]string{"rpc.system": "grpc", "rpc.method": method, "lrsbridge.plugin.span_id": "set"}},
				{Name: "host batch", Attrs: map[string]string{}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("spans (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTraceNotSampledSendsNoSpans: a host span that is not sampled still
// propagates its trace context, but the plugin records nothing and sends
// nothing back; a call without a span works as before.
func TestTraceNotSampledSendsNoSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	seen := make(chan trace.SpanContext, 2)
	p := serveTestMode(t, sdk.ProviderFunc(func(context.Context, sdk.ConfigureRequest) (sdk.Sink, error) {
		return deliverFunc(func(ctx context.Context) { seen <- trace.SpanContextFromContext(ctx) }), nil
	}))
	sink, err := p.Configure(testCtx(t), sdk.ConfigureRequest{Instance: "acme/lrs", Org: "acme"})
	if err != nil {
		t.Fatalf("Configure = %v", err)
	}
	ctx, host := tp.Tracer("test").Start(testCtx(t), "host batch")
	if _, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(1)}); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	host.End()
	if _, err := sink.Deliver(testCtx(t), sdk.DeliverRequest{Statements: sinktest.Statements(1)}); err != nil {
		t.Fatalf("Deliver without a span = %v", err)
	}
	if sc := <-seen; sc.TraceID() != host.SpanContext().TraceID() || sc.IsSampled() {
		t.Errorf("plugin saw trace %s sampled %v; want the host's %s, not sampled", sc.TraceID(), sc.IsSampled(), host.SpanContext().TraceID())
	}
	if sc := <-seen; sc.IsValid() {
		t.Errorf("plugin saw trace %s for a call without a span; want none", sc.TraceID())
	}
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("%d spans recorded; want none", n)
	}
}

type deliverFunc func(ctx context.Context)

func (f deliverFunc) Deliver(ctx context.Context, _ sdk.DeliverRequest) (sdk.DeliverResponse, error) {
	f(ctx)
	return sdk.DeliverResponse{}, nil
}

func (deliverFunc) Close(context.Context) error { return nil }

// TestTraceSpansInRealProcess delivers to the test plugin binary: the
// server span made in that process comes back under the host's span.
func TestTraceSpansInRealProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a plugin process")
	}
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	proc := launch(t, nil)
	sink := configure(t, proc.Provider(), "traced", map[string]any{"mode": "deliver"})
	ctx, host := tp.Tracer("test").Start(testCtx(t), "host batch")
	if _, err := sink.Deliver(ctx, sdk.DeliverRequest{Statements: sinktest.Statements(1)}); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	host.End()
	var found bool
	for _, s := range rec.Ended() {
		if s.Name() == "/lrsbridge.sink.v1.SinkService/Deliver" {
			found = true
			if s.SpanContext().TraceID() != host.SpanContext().TraceID() || s.Parent().SpanID() != host.SpanContext().SpanID() {
				t.Errorf("plugin server span is in %s under %s; want the host span %s/%s", s.SpanContext().TraceID(), s.Parent().SpanID(),
					host.SpanContext().TraceID(), host.SpanContext().SpanID())
			}
			if time.Duration(s.EndTime().Sub(s.StartTime())) < 0 {
				t.Errorf("plugin server span ends before it starts")
			}
		}
	}
	if !found {
		t.Errorf("no span of the plugin process came back; recorded %d spans", len(rec.Ended()))
	}
}
